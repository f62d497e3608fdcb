"""The batched worker on a real broker: a batch takes what has arrived and never waits to fill.

A worker that waited ``batch_max_wait`` for a full batch held a trickle of events for the whole wait; this
one waits only for a first record. Probes a second apart land at every phase of a 5 s wait, so a worker
that waits to fill answers one of them at least 4 s late; the test allows half the wait.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from momentstream.core.schema import TouchpointEvent
from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, wait_until
from momentstream.runtime.kafka.io import read_topic

pytestmark = pytest.mark.kafka

MOMENTS = """
version: 1
timezone: UTC
moments:
  - name: second_purchase
    version: 1
    pattern:
      - name: first
        where: {type: purchase}
      - name: again
        where: {type: purchase}
        within: 30d
"""
WAIT_S = 5.0
PROBES = 5


def test_a_trickle_of_events_is_not_held_for_the_batch_wait(kafka_broker: Broker, tmp_path: Path) -> None:
    (tmp_path / "moments.yaml").write_text(MOMENTS)
    env = {"MOMENTSTREAM_MOMENTS": str(tmp_path / "moments.yaml"), "MOMENTSTREAM_SCORING": "false",
           "MOMENTSTREAM_LATENESS": "0s", "MOMENTSTREAM_BATCH_MAX_WAIT": f"{WAIT_S:.0f}s"}  # fmt: skip
    deployment = Deployment(kafka_broker.bootstrap, partitions=1, extra_env=env)
    deployment.create_topics()
    settings = deployment.settings()
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    sent: dict[str, float] = {}
    worker = WorkerProcess(deployment, tmp_path, "latency")
    try:
        worker.wait_ready()
        for probe in range(PROBES):
            customer = f"probe-{probe}"
            pair = [TouchpointEvent(event_id=f"{customer}-{i}", customer_id=customer, type="purchase",
                                    ts=t0 + timedelta(days=probe, hours=i)) for i in range(2)]  # fmt: skip
            deployment.produce([e.model_dump_json(exclude_defaults=True).encode() for e in pair])
            sent[customer] = time.time()
            time.sleep(1.0)
        wait_until(lambda: worker.counter("momentstream_events_total") >= 2 * PROBES, 60, "the probes", [worker])
    finally:
        worker.kill(signal.SIGTERM)
    late = {}
    for record in read_topic(settings.kafka, settings.actions_topic, idle_timeout_s=2.0):
        trigger = record.json()["data"]
        late[trigger["customer_id"]] = record.timestamp_ms / 1000 - sent[trigger["customer_id"]]
    assert sorted(late) == sorted(sent)
    assert max(late.values()) < WAIT_S / 2, late
