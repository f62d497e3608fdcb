"""Worker settings: defaults, file, environment and flags, in that order of strength."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from momentstream.core.schema import describe_error
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


def test_credentials_in_the_broker_address_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValidationError, match="set security_protocol, sasl_mechanism") as err:
        load_settings(broker="kafka://user:secret@broker-1:9092,broker-2:9092")
    assert "secret" not in describe_error(err.value, "(settings)")


SCRAM = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "svc",
         "sasl_password": "pa55-w0rd"}  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "needs sasl_mechanism, sasl_username, sasl_password"),
        ({**SCRAM, "sasl_password": ""}, "needs sasl_password"),
        ({**SCRAM, "sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
        ({**SCRAM, "security_protocol": "sasl_ssl"}, "security_protocol"),
        ({"sasl_username": "svc"}, "sasl_username set, but security_protocol is PLAINTEXT"),
        ({"ssl_ca": "ca.pem"}, "ssl_ca set, but security_protocol is PLAINTEXT"),
        ({**SCRAM, "security_protocol": "SSL"}, "sasl_mechanism, sasl_username, sasl_password set, but"),
        ({"security_protocol": "SSL", "ssl_ca": "/no/such/ca.pem"}, "ssl_ca: no such file"),
        ({"security_protocol": "SSL", "ssl_certificate": __file__}, "ssl_certificate and ssl_key go together"),
        ({"security_protocol": "SSL", "ssl_key": __file__}, "ssl_certificate and ssl_key go together"),
    ],
)
def test_security_settings_that_cannot_work_are_refused_at_load(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as err:
        load_settings(**values)
    assert "pa55-w0rd" not in describe_error(err.value, "(settings)")


def test_secrets_are_never_printed_and_reach_every_client_library() -> None:
    s = load_settings(**SCRAM, ssl_ca=Path(__file__))
    assert s.redacted()["sasl_password"] == "**********"
    assert "pa55-w0rd" not in str(s.redacted()) + repr(s) + repr(s.kafka)
    assert s.kafka.kafka_python()["sasl_plain_password"] == "pa55-w0rd"
    assert s.kafka.librdkafka()["sasl.password"] == "pa55-w0rd"
    assert s.kafka.librdkafka()["ssl.ca.location"] == __file__


def test_a_secrets_directory_and_an_env_file_supply_settings_below_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "momentstream_sasl_password").write_text("from-the-secret-file\n")
    env_file = tmp_path / ".env"
    env_file.write_text("MOMENTSTREAM_SECURITY_PROTOCOL=SASL_SSL\nMOMENTSTREAM_SASL_MECHANISM=PLAIN\n"
                        "MOMENTSTREAM_SASL_USERNAME=from-env-file\nCOMPOSE_PROJECT_NAME=shop\n"
                        "MOMENTSTREAM_SASL_USERNAM=typo\n")  # fmt: skip
    with caplog.at_level("WARNING"):
        s = load_settings(env_file=env_file, secrets_dir=secrets)
    assert s.sasl_password is not None
    assert s.sasl_password.get_secret_value() == "from-the-secret-file"
    assert s.sasl_username == "from-env-file"  # another tool's variable in a shared .env is left alone
    assert "MOMENTSTREAM_SASL_USERNAM names no setting" in caplog.text
    monkeypatch.setenv("MOMENTSTREAM_SASL_USERNAME", "from-environment")
    monkeypatch.setenv("MOMENTSTREAM_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("MOMENTSTREAM_ENV_FILE", str(env_file))
    assert load_settings().sasl_username == "from-environment"


@pytest.mark.parametrize("which", ["env_file", "secrets_dir"])
def test_a_missing_env_file_or_secrets_directory_is_an_error(tmp_path: Path, which: str) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(**{which: tmp_path / "nope"})


ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_the_reference() -> None:
    reference = (ROOT / "docs" / "reference" / "settings.md").read_text()
    missing = [name for name in load_settings().model_dump() if f"`{name}`" not in reference]
    assert not missing


def test_the_sample_settings_file_loads() -> None:
    s = load_settings(ROOT / "deploy" / "worker.yaml")
    assert s.partitions == 8


def test_a_misspelled_or_unknown_variable_is_named_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MOMENTSTREAM_BROKR", "elsewhere:9092")
    monkeypatch.setenv("MOMENTSTREAM_ZOOKEEPER_CONNECT", "zk:2181")
    monkeypatch.setenv("MOMENTSTREAM_KAFKA_HOME", "/opt/kafka")  # the dev broker's, not a worker setting
    with caplog.at_level("WARNING"):
        load_settings(None)
    text = caplog.text
    assert "MOMENTSTREAM_BROKR names no setting and is ignored (did you mean MOMENTSTREAM_BROKER?)" in text
    assert "MOMENTSTREAM_ZOOKEEPER_CONNECT names no setting and is ignored (momentstream worker --help" in text
    assert "KAFKA_HOME" not in text


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"inspect_token": ""}, "at least 16 characters"),
        ({"inspect_token": "short"}, "at least 16 characters"),
        ({"model_snapshot_key": "k" * 15}, "at least 16 characters"),
        ({"inspect_port": 7000, "runtime": "faust"}, "the Faust runtime serves /customers on web_port only"),
        ({"inspect_port": 6066}, "must differ from web_port"),
        ({"heartbeat_timeout": "0s"}, "longer than 0s"),
    ],
)
def test_unsafe_web_and_secret_settings_are_refused_at_load(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(None, **values)
