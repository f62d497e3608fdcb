"""Worker settings: defaults, file, environment and flags, in that order of strength."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from momentstream.ops.settings import load_settings


def test_defaults_are_a_working_local_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MOMENTSTREAM_BROKER", "MOMENTSTREAM_PARTITIONS", "MOMENTSTREAM_CLOCK"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert s.bootstrap_servers == ["127.0.0.1:9092"]
    assert s.partitions == 8
    assert s.clock == "stream"
    assert s.lateness_ms == 60_000


def test_flags_beat_environment_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text("broker: file:9092\npartitions: 3\nweb_port: 7000\nlateness: 30s\n")
    monkeypatch.setenv("MOMENTSTREAM_PARTITIONS", "5")
    monkeypatch.setenv("MOMENTSTREAM_WEB_PORT", "7001")
    s = load_settings(path, web_port=7002, broker=None)
    assert s.broker == "file:9092"  # only the file sets it; a None flag does not override
    assert s.partitions == 5
    assert s.web_port == 7002
    assert s.lateness_ms == 30_000


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("partitions", 0),
        ("lateness", "soon"),
        ("clock", "sundial"),
        ("store", "redis"),
        ("unknown_field", 1),
        ("runtime", "flink"),
        ("batch_max_records", 0),
        ("batch_max_wait", "0s"),
        ("batch_max_wait", "-5ms"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        load_settings(**{field: value})


def test_a_missing_settings_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "nope.yaml")


def test_credentials_in_the_broker_address_are_never_printed() -> None:
    s = load_settings(broker="kafka://user:secret@broker-1:9092,broker-2:9092")
    assert s.redacted()["broker"] == "broker-1:9092,broker-2:9092"
    assert "secret" not in str(s.redacted())


ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in load_settings().model_dump() if f"`{name}`" not in readme]
    assert not missing


def test_the_sample_settings_file_loads() -> None:
    s = load_settings(ROOT / "deploy" / "worker.yaml")
    assert s.partitions == 8


def test_a_misspelled_or_unknown_variable_is_named_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MOMENTSTREAM_BROKR", "elsewhere:9092")
    monkeypatch.setenv("MOMENTSTREAM_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("MOMENTSTREAM_KAFKA_HOME", "/opt/kafka")  # the dev broker's, not a worker setting
    with caplog.at_level("WARNING"):
        load_settings(None)
    text = caplog.text
    assert "MOMENTSTREAM_BROKR names no setting and is ignored (did you mean MOMENTSTREAM_BROKER?)" in text
    assert "MOMENTSTREAM_SECURITY_PROTOCOL names no setting and is ignored (momentstream worker --help" in text
    assert "KAFKA_HOME" not in text
