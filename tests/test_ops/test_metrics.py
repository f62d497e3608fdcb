"""The metrics SREs alert on exist under the names the alert rules use."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from momentstream.ops.metrics import WorkerMetrics

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yaml"


def exposed_names() -> set[str]:
    metrics = WorkerMetrics()
    metrics.events.labels(result="processed").inc()
    metrics.dead_letters.labels(reason="invalid_json").inc()
    metrics.triggers.labels(moment="m", kind="match").inc()
    metrics.lag.labels(partition="0").set(1)
    metrics.processing.observe(0.01)
    metrics.model_drifting.labels(objective="churn").set(0)
    return {line.split("{")[0].split(" ")[0] for line in metrics.render().decode().splitlines() if line[:1] != "#"}


def test_alert_rules_only_use_metrics_the_worker_exposes() -> None:
    rules = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    used = {name for rule in rules for name in re.findall(r"momentstream_[a-z_]+", rule["expr"])}
    assert used
    assert used <= exposed_names()


def test_names_follow_prometheus_conventions() -> None:
    for name in exposed_names():
        if name.endswith("_created"):
            continue
        assert name.startswith("momentstream_")
        assert not name.endswith("_count") or name.startswith("momentstream_processing_seconds")


def test_every_metric_is_documented_in_the_readme() -> None:
    """SREs read the README's table; a metric missing from it is one nobody alerts on."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    names = {family.name for family in WorkerMetrics().registry.collect()}
    missing = [n for n in sorted(names) if f"`{n}`" not in readme and f"`{n}_total`" not in readme]
    assert not missing, f"not in README: {missing}"
