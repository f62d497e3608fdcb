"""A shared device on the broker: one customer's history never appears in another's trigger.

Each device logs in as one customer, then as another. The identify events, forwarded events and merges
travel between four partitions; the second customer's triggers must cite only their own events (and
the device's events after the second login), exactly as the replay runner finds them.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from momentstream.core.schema import TouchpointEvent
from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, wait_until
from momentstream.runtime.kafka.admin import consumer_lag
from tests.integration.test_kafka_runtime import crm_stream, finish_input, lines_of, replay_triggers

pytestmark = pytest.mark.kafka

MOMENTS = """
version: 1
moments:
  - name: ticket_then_purchase
    pattern:
      - {name: ticket, where: {type: support_ticket}}
      - {name: purchase, where: {type: purchase}, within: 7d}
"""
T0 = datetime(2026, 4, 1, 9, tzinfo=UTC)


def shared_devices(n: int) -> tuple[list[TouchpointEvent], set[str]]:
    """Per device: ann-i's ticket, the device as ann-i, then as bob-i, purchases under the device and bob-i."""
    events: list[TouchpointEvent] = []
    first_owners: set[str] = set()

    def add(event_id: str, customer: str, kind: str, minutes: int, **properties: str) -> None:
        events.append(TouchpointEvent(event_id=event_id, customer_id=customer, type=kind,
                                      ts=T0 + timedelta(minutes=minutes), properties=properties))  # fmt: skip

    for i in range(n):
        ann, bob, dev = f"ann-{i}", f"bob-{i}", f"dev-{i}"
        add(f"t-{ann}", ann, "support_ticket", 0)
        first_owners.add(f"t-{ann}")
        add(f"id1-{dev}", dev, "identify", 10, canonical_id=ann)
        add(f"t-{dev}", dev, "support_ticket", 15)  # ann's, on her device
        first_owners.add(f"t-{dev}")
        add(f"id2-{dev}", dev, "identify", 20, canonical_id=bob)
        if i % 2:
            add(f"t-{bob}", bob, "support_ticket", 25)
        add(f"p-{dev}", dev, "purchase", 30)  # bob's now
        add(f"p-{bob}", bob, "purchase", 40)
    events.sort(key=lambda e: (e.ts, e.customer_id))
    return events, first_owners


def test_a_shared_device_never_shows_one_customer_in_anothers_trigger(kafka_broker: Broker, tmp_path: Path) -> None:
    moments = tmp_path / "moments.yaml"
    moments.write_text(MOMENTS)
    events, anns_events = shared_devices(24)
    env = {"MOMENTSTREAM_MOMENTS": str(moments), "MOMENTSTREAM_SCORING": "false"}
    deployment = Deployment(kafka_broker.bootstrap, partitions=4, extra_env=env)
    deployment.create_topics()
    worker = WorkerProcess(deployment, tmp_path, "shared")
    try:
        worker.wait_ready()
        # The logins first: a forwarded identify travels through the topic, and an own event that overtook it
        # would find it late (a difference of timing, not of identity, that the identity test avoids likewise).
        logins_end = T0 + timedelta(minutes=20)
        deployment.produce(lines_of([e for e in events if e.ts <= logins_end]))
        settings = deployment.settings()
        wait_until(lambda: not any(consumer_lag(settings).values()), 120, "the logins", [worker])
        deployment.produce(lines_of([e for e in events if e.ts > logins_end]))
        finish_input(deployment, events, [worker])
        got = crm_stream(deployment)
        audit = [r.json() for r in deployment.read("audit")]
    finally:
        worker.kill(signal.SIGTERM)
    bobs = [t for t in got.values() if t["customer_id"].startswith("bob-")]
    assert len(bobs) == 12  # the bobs with a ticket of their own
    for trigger in got.values():
        cited = {e["event_id"] for e in trigger["evidence"]}
        if trigger["customer_id"].startswith("bob-"):
            assert not cited & anns_events, trigger
    expected = replay_triggers(events, moments, scoring=False)  # as the worker runs
    assert got.keys() == expected.keys()
    for trigger_id, trigger in got.items():
        assert trigger == expected[trigger_id], {
            k: (v, expected[trigger_id].get(k)) for k, v in trigger.items() if v != expected[trigger_id].get(k)
        }
    relinked = [a for a in audit if a.get("output") == "identity_relinked"]
    assert len(relinked) == 24
    merged_into_bob = [a for a in audit if a.get("output") == "identity_merged" and a["customer_id"].startswith("bob")]
    assert merged_into_bob == []
