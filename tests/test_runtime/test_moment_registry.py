"""Reloads that must not change anything: broken text, a refused change, an unreadable record."""

from __future__ import annotations

import json

import pytest

from momentstream.demo import default_engine
from momentstream.ops.metrics import WorkerMetrics
from momentstream.ops.settings import load_settings
from momentstream.patterns.rollout import MomentChangeError, registry
from momentstream.resources import bundled_moments_path
from momentstream.runtime.moment_registry import check_moments, reload_moments


@pytest.mark.parametrize(
    "text",
    [
        "moments: [",  # not YAML
        "\x00\xff binary",
        "moments: []",  # no moments
        bundled_moments_path().read_text().replace("within: 4d", "within: 5d"),  # changed, same version
        "moments: [{name: other, pattern: [{name: a, where: {type: x}}]}]",  # drops moments the objectives bind
    ],
)
def test_a_refused_reload_keeps_the_running_moments(text: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = default_engine(None)
    metrics = WorkerMetrics()
    before = engine.moments
    with caplog.at_level("ERROR"):
        assert reload_moments(load_settings(None, report_unknown=False), engine, metrics, text) is False
    assert engine.moments == before
    assert metrics.reloads.labels(result="refused")._value.get() == 1
    assert "the previous ones keep running" in caplog.text


def test_the_recorded_moments_decide_what_a_start_may_run(caplog: pytest.LogCaptureFixture) -> None:
    moments = default_engine(None).moments
    record = json.dumps(registry(moments)).encode()
    assert check_moments(record, moments).kept == [m.name for m in moments]
    changed = {**registry(moments), moments[0].name: {"version": moments[0].version, "fingerprint": "0" * 16}}
    with pytest.raises(MomentChangeError, match="give it version: 2"):
        check_moments(json.dumps(changed).encode(), moments)
    with caplog.at_level("ERROR"):
        assert check_moments(b"\xff not json", moments).added == [m.name for m in moments]
    assert "unreadable" in caplog.text
