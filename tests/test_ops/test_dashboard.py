"""The Grafana dashboard queries only metrics the worker exports, so no panel is silently empty."""

from __future__ import annotations

import json
import re
from pathlib import Path

from momentstream.cli.demo import default_engine
from momentstream.ops.metrics import WorkerMetrics
from momentstream.runtime.kafka.routing import precreate_series

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "momentstream.json"


def exported() -> set[str]:
    """Every sample name a worker of the bundled configuration exports once it has seen a little work."""
    metrics = WorkerMetrics()
    precreate_series(metrics, default_engine(None))
    metrics.lag.labels(partition="0").set(1)
    metrics.processing.observe(0.01)
    for gauge in (metrics.model_auc, metrics.model_drifting, metrics.model_calibration, metrics.model_labels):
        gauge.labels(objective="churn").set(0)
    metrics.precreate(["cart"], [], looped=["cart"])  # a moment with an outcome (the bundled ones have none)
    metrics.uplift.labels(moment="cart", bound="estimate").set(0)
    return {line.split("{")[0].split(" ")[0] for line in metrics.render().decode().splitlines() if line[:1] != "#"}


def test_every_panel_queries_metrics_the_worker_exports() -> None:
    doc = json.loads(DASHBOARD.read_text())
    names = exported()
    panels = doc["panels"]
    assert len(panels) >= 10
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["title"]
        assert panel["targets"]
        for target in panel["targets"]:
            used = set(re.findall(r"\b(?:momentstream|process)_[a-z_]+", target["expr"]))
            assert used, target["expr"]
            assert used <= names, f"panel {panel['title']!r} queries {sorted(used - names)}"


def test_the_dashboard_covers_what_an_sre_looks_at() -> None:
    exprs = " ".join(t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"])
    for needed in ("momentstream_events_total", "momentstream_consumer_lag_records", "momentstream_processing_seconds",
                   "momentstream_triggers_total", "momentstream_triggers_suppressed_total",
                   "momentstream_dead_letters_total", "momentstream_model_roc_auc", "momentstream_model_drifting",
                   "momentstream_customers_tracked", "momentstream_timers_pending",
                   "momentstream_trigger_outcomes_total"):  # fmt: skip
        assert needed in exprs
