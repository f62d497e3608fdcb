"""The Kafka commands' argument handling (their effects are covered against a real broker)."""

from __future__ import annotations

import json

import pytest

from momentstream.cli import main


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
