"""Reloads that must not change anything: broken text, a refused change, an unreadable record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from momentstream.cli.demo import default_engine
from momentstream.core.engine import Engine
from momentstream.data import bundled_moments_path, bundled_objectives_path
from momentstream.ops.metrics import WorkerMetrics
from momentstream.ops.settings import WorkerSettings, load_settings
from momentstream.patterns.rollout import MomentChangeError, registry
from momentstream.runtime.kafka.moment_registry import check_moments, reload_moments


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


def reload_files(tmp_path: Path, objectives: str) -> tuple[WorkerSettings, Engine]:
    """A worker's settings and engine on copies of the bundled files, the objectives then replaced by ``objectives``."""
    moments_file, objectives_file = tmp_path / "moments.yaml", tmp_path / "objectives.yaml"
    moments_file.write_text(bundled_moments_path().read_text())
    objectives_file.write_text(bundled_objectives_path().read_text())
    settings = load_settings(None, report_unknown=False).model_copy(
        update={"moments": moments_file, "objectives": objectives_file}
    )
    engine = default_engine(moments_file, objectives=objectives_file)
    objectives_file.write_text(objectives)
    return settings, engine


BUNDLED_OBJECTIVES = bundled_objectives_path().read_text()


def test_sighup_reloads_the_objectives_and_keeps_the_learned_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    published: list[object] = []
    monkeypatch.setattr("momentstream.runtime.kafka.moment_registry.publish_registry", lambda *a: published.append(a))
    assert "min: 0.90" in BUNDLED_OBJECTIVES
    settings, engine = reload_files(tmp_path, BUNDLED_OBJECTIVES.replace("min: 0.90", "min: 0.80"))
    assert engine.scorer is not None
    churn = engine.scorer.models["churn"]
    churn.learn({"log_days_since_last_purchase": 1.0}, 1)
    with caplog.at_level("WARNING"):
        assert reload_moments(settings, engine, WorkerMetrics()) is True
    assert engine.scorer.models["churn"] is churn  # the learned model goes on
    assert engine.scorer.config.tiers[0].min == 0.8
    assert "objective tiers or moment bindings changed" in caplog.text
    assert len(published) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("horizon: 30d", "horizon: 45d"), "changed what its model learns from"),
        (("objective: churn", "objective: nope"), "moments.post_purchase_window.objective"),  # no such objective
    ],
)
def test_a_refused_objectives_file_changes_neither_objectives_nor_moments(
    tmp_path: Path, change: tuple[str, str], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert change[0] in BUNDLED_OBJECTIVES
    settings, engine = reload_files(tmp_path, BUNDLED_OBJECTIVES.replace(*change, 1))
    assert engine.scorer is not None
    moments, config, models = engine.moments, engine.scorer.config, dict(engine.scorer.models)
    with caplog.at_level("ERROR"):
        assert reload_moments(settings, engine, WorkerMetrics()) is False
    assert message in caplog.text
    assert (engine.moments, engine.scorer.config, engine.scorer.models) == (moments, config, models)


def test_a_refused_moments_file_puts_the_objectives_back_with_their_models(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    head, tail = BUNDLED_OBJECTIVES.split("\n  - name: advocacy")
    without = head + "\nmoments:" + tail.split("\nmoments:")[1]
    assert "advocacy_moment: {objective: advocacy}" in without
    settings, engine = reload_files(tmp_path, without.replace("advocacy_moment: {objective: advocacy}",
                                                              "gone_moment: {objective: churn}"))  # fmt: skip
    assert engine.scorer is not None
    advocacy = engine.scorer.models["advocacy"]
    with caplog.at_level("ERROR"):
        assert reload_moments(settings, engine, WorkerMetrics()) is False
    assert "gone_moment" in caplog.text
    assert engine.scorer.models["advocacy"] is advocacy
    assert [o.name for o in engine.scorer.config.objectives] == ["churn", "value", "expansion", "advocacy"]
