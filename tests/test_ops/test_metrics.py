"""The metrics SREs alert on exist under the names the alert rules use."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import yaml

from momentstream.core.schema import TriggerOutcome
from momentstream.ops.metrics import WorkerMetrics

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yaml"


def exposed_names() -> set[str]:
    metrics = WorkerMetrics()
    metrics.precreate(["m"], ["no_consent"], ["churn"])  # every series a worker creates at start
    metrics.events.labels(result="processed").inc()
    metrics.dead_letters.labels(reason="invalid_json").inc()
    metrics.triggers.labels(moment="m", kind="match").inc()
    metrics.lag.labels(partition="0").set(1)
    metrics.processing.observe(0.01)
    metrics.model_drifting.labels(objective="churn").set(0)
    metrics.uplift.labels(moment="m", bound="high").set(0)
    return {line.split("{")[0].split(" ")[0] for line in metrics.render().decode().splitlines() if line[:1] != "#"}


def test_alert_rules_only_use_metrics_the_worker_exposes() -> None:
    rules = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    used = {name for rule in rules for name in re.findall(r"momentstream_[a-z_]+", rule["expr"])}
    assert used
    assert used <= exposed_names()


STANDARD = ("process_", "python_")
HISTOGRAMS = ("momentstream_processing_seconds", "momentstream_trigger_latency_seconds", "momentstream_trigger_anomaly")
"""prometheus-client's process, platform and GC collectors: the names every Python exporter has."""


def test_names_follow_prometheus_conventions() -> None:
    for name in exposed_names():
        assert not name.endswith("_created"), "created series are off"
        if name.startswith(STANDARD):
            continue
        assert name.startswith("momentstream_")
        assert not name.endswith("_count") or name.startswith(HISTOGRAMS)  # a count is a histogram's only


def test_every_metric_is_documented_in_the_reference() -> None:
    """SREs read the metrics reference (docs/reference/metrics.md); a metric missing from it is one nobody alerts on."""
    reference = (Path(__file__).resolve().parents[2] / "docs" / "reference" / "metrics.md").read_text()
    names = {family.name for family in WorkerMetrics().registry.collect()}
    missing = [n for n in sorted(names) if f"`{n}`" not in reference and f"`{n}_total`" not in reference
               and f"`{n}_info`" not in reference and not n.startswith(STANDARD)]  # fmt: skip
    assert not missing, f"not in docs/reference/metrics.md: {missing}"


def test_closed_outcome_windows_move_the_live_uplift_gauge() -> None:
    m = WorkerMetrics()
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def close(i: int, group: str, converted: bool, feedback: str | None = None) -> None:
        m.count_outcome(TriggerOutcome(trigger_id=f"t{i}", customer_id="c", moment="cart", group=group,  # type: ignore[arg-type]
                                       triggered_at=at, closed_at=at, converted=converted, feedback=feedback))  # type: ignore[arg-type]  # fmt: skip

    for i in range(10):
        close(i, "treated", i < 6, "taken")
    assert b"momentstream_moment_uplift" not in m.render().split(b"# TYPE momentstream_moment_uplift gauge")[1][:40]
    for i in range(10, 20):
        close(i, "control", i < 12)
    text = m.render().decode()
    assert 'momentstream_trigger_outcomes_total{converted="true",group="treated",moment="cart",tier="none"} 6.0' in text
    assert 'momentstream_trigger_feedback_total{result="taken"} 10.0' in text
    low, estimate, high = (float(text.split(f'momentstream_moment_uplift{{bound="{b}",moment="cart"}} ')[1].split()[0])
                           for b in ("low", "estimate", "high"))  # fmt: skip
    assert abs(estimate - 0.4) < 1e-9  # 6/10 treated against 2/10 control
    assert -0.1 < low < estimate < high < 0.8


def test_every_known_series_exists_at_zero_before_anything_happens() -> None:
    """An alert on rate(...) == 0 needs a series to compare: a never-incremented counter must still be there."""
    m = WorkerMetrics()
    m.precreate(["cart", "churn"], ["cooldown", "low_uplift"], ["churn"], ["cart"])
    text = m.render().decode()
    assert 'momentstream_triggers_total{kind="window_open",moment="churn"} 0.0' in text
    assert 'momentstream_triggers_suppressed_total{moment="cart",reason="score_condition"} 0.0' in text
    assert 'momentstream_events_total{result="dead_lettered"} 0.0' in text
    assert 'momentstream_trigger_outcomes_total{converted="true",group="control",moment="cart",tier="none"} 0.0' in text
    assert "momentstream_build_info{" in text
    assert "process_resident_memory_bytes" in text
    assert "_created" not in text


def test_lag_of_a_partition_given_away_is_no_longer_reported() -> None:
    m = WorkerMetrics()
    m.set_lag({0: 5, 1: 7}, {0, 1})
    m.set_lag({1: 3}, {1})  # partition 0 went to another worker in a rebalance
    text = m.render().decode()
    assert 'momentstream_consumer_lag_records{partition="1"} 3.0' in text
    assert 'partition="0"' not in text
    m.set_lag({}, {1})  # watermarks unknown for a moment: the last value stays
    assert 'momentstream_consumer_lag_records{partition="1"} 3.0' in m.render().decode()
