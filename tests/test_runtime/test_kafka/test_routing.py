"""Routing an engine output to its topic counts it: the anomaly of each trigger that goes out, by moment."""

from __future__ import annotations

from datetime import UTC, datetime

from momentstream.core.schema import Signals, Trigger
from momentstream.ops.metrics import WorkerMetrics
from momentstream.ops.settings import load_settings
from momentstream.runtime.kafka.routing import route_output


def trigger(n: int, signals: Signals | None) -> Trigger:
    return Trigger(trigger_id=f"t{n}", customer_id=f"c{n}", moment="gone_quiet", moment_version=1, kind="match",
                   emitted_at=datetime(2026, 2, 2, tzinfo=UTC), evidence=[], signals=signals)  # fmt: skip


def test_a_triggers_anomaly_is_observed_by_moment_and_an_unscored_trigger_is_not() -> None:
    metrics, settings = WorkerMetrics(), load_settings(None, report_unknown=False)
    for n, anomaly in enumerate((0.0, 2.4, 7.5)):
        outgoing = route_output(trigger(n, Signals(anomaly=anomaly, silence=anomaly, burst=-1.0)), settings, metrics,
                                "momentstream/test")  # fmt: skip
        assert outgoing.topic == settings.actions_topic
        assert b'"anomaly":' in outgoing.value  # in the CloudEvent's data, as the CRM reads it
    route_output(trigger(9, None), settings, metrics, "momentstream/test")
    text = metrics.render().decode()
    assert 'momentstream_trigger_anomaly_count{moment="gone_quiet"} 3.0' in text
    assert 'momentstream_trigger_anomaly_sum{moment="gone_quiet"} 9.9' in text
    assert 'momentstream_trigger_anomaly_bucket{le="3.0",moment="gone_quiet"} 2.0' in text
    assert "c9" not in text
    assert "c1" not in text
