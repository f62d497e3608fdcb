"""The Kafka commands' argument handling (their effects are covered against a real broker)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from kafka.errors import KafkaTimeoutError

from momentstream.cli.commands import main
from momentstream.cli.kafka import _friendly
from momentstream.ops.redact import install_log_redaction, register_secret


def test_worker_prints_its_effective_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOMENTSTREAM_PARTITIONS", "12")
    assert main(["worker", "--print-settings", "--web-port", "7100", "--clock", "wall"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["partitions"] == 12
    assert doc["web_port"] == 7100
    assert doc["clock"] == "wall"


def test_worker_help_teaches_the_settings_order(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    text = capsys.readouterr().out
    assert "MOMENTSTREAM_" in text
    assert "/metrics" in text


def test_tick_refuses_a_time_without_timezone(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tick", "--at", "2026-05-01T00:00:00"]) == 2
    assert "timezone" in capsys.readouterr().err


def test_a_bad_setting_is_reported_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--print-settings", "--partitions", "0"]) == 2
    assert "partitions" in capsys.readouterr().err


def test_worker_takes_objectives_ttl_skew_and_scoring_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--print-settings", "--objectives", "o.yaml", "--idle-ttl", "400d", "--no-scoring",
                 "--max-skew", "1h"]) == 0  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert (doc["objectives"], doc["idle_ttl"], doc["scoring"], doc["max_skew"]) == ("o.yaml", "400d", False, "1h")


@pytest.mark.parametrize("setting", ["--idle-ttl", "--max-skew"])
def test_a_zero_duration_is_refused(setting: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--print-settings", setting, "0s"]) == 2
    assert setting.strip("-").replace("-", "_") in capsys.readouterr().err


def test_credentials_in_a_kafka_error_are_never_printed(capsys: pytest.CaptureFixture[str]) -> None:

    def failing(_: object) -> int:
        raise KafkaTimeoutError("Unable to bootstrap from ['alice:s3cret@127.0.0.1:9092']")

    assert _friendly(failing)(None) == 1  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "s3cret" not in err
    assert "alice" not in err
    assert "***@127.0.0.1:9092" in err


def logged(logger_name: str, message: str, *args: object) -> str:
    """What a handler of ``logger_name`` writes for one error line, with the process's redaction on."""
    install_log_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        logger.error(message, *args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_credentials_in_a_kafka_clients_log_line_are_never_printed() -> None:
    text = logged(
        "kafka.net.manager", "Bootstrap failed: %s", "Unable to bootstrap from ['alice:s3cret@127.0.0.1:9092']"
    )
    assert "s3cret" not in text
    assert "***@127.0.0.1:9092" in text


def test_print_settings_masks_every_secret_wherever_it_came_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "momentstream_inspect_token").write_text("tok-from-a-secret-file")
    monkeypatch.setenv("MOMENTSTREAM_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("MOMENTSTREAM_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("MOMENTSTREAM_SASL_USERNAME", "svc")
    monkeypatch.setenv("MOMENTSTREAM_SASL_PASSWORD", "pw-from-the-env")
    assert main(["worker", "--print-settings", "--secrets-dir", str(secrets)]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc["sasl_password"] == doc["inspect_token"] == "**********"
    assert doc["sasl_username"] == "svc"
    assert "pw-from-the-env" not in out
    assert "tok-from-a-secret-file" not in out


def test_a_registered_secret_never_reaches_a_log_line() -> None:
    register_secret("pw-seen-by-librdkafka")
    text = logged("confluent_kafka.librdkafka", "config: sasl.password=%s", "pw-seen-by-librdkafka")
    assert "pw-seen-by-librdkafka" not in text
    assert "sasl.password=***" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env-file", "/no/such/.env"], "No such env file"),
        (["--secrets-dir", "/no/such/dir"], "No such secrets directory"),
        (["--settings", "/no/such/worker.yaml"], "No such settings file"),
    ],
)
def test_a_missing_settings_source_is_one_clear_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["worker", "--print-settings", *argv]) == 2
    assert message in capsys.readouterr().err


def test_inspect_without_a_token_says_which_variable_to_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "c-1"]) == 2
    assert "MOMENTSTREAM_INSPECT_TOKEN" in capsys.readouterr().err
