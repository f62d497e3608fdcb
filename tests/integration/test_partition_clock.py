"""One far-future event first on a partition must not silence it (the skew bound on a fresh clock).

A login dated 2062 from a device with a wrong clock is the first record of its partition; every other
customer's history follows. It used to set the partition's clock, so all later events were late and
no trigger fired. The clock it sets is tentative now: the next customer takes it back, the login is
held and counted, and everything else gives the replay runner's triggers.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, wait_until
from momentstream.runtime.kafka.admin import consumer_lag
from momentstream.sim.journeys import simulate
from tests.integration.test_kafka_runtime import crm_stream, finish_input, lines_of, replay_triggers

pytestmark = pytest.mark.kafka


def test_a_far_future_event_first_on_a_partition_silences_nobody(kafka_broker: Broker, tmp_path: Path) -> None:
    events = sorted(simulate(customers=60, days=40, seed=5).events, key=lambda e: e.ts)
    wrong = events[0].model_copy(update={"customer_id": "wrong-clock", "event_id": "from-2062", "type": "login",
                                         "ts": events[0].ts.replace(year=2062)})  # fmt: skip
    deployment = Deployment(kafka_broker.bootstrap, partitions=1)
    deployment.create_topics()
    settings = deployment.settings()
    worker = WorkerProcess(deployment, tmp_path, "clock")
    try:
        worker.wait_ready()
        deployment.produce(lines_of([wrong]))
        wait_until(lambda: not any(consumer_lag(settings).values()), 60, "the 2062 login", [worker])
        deployment.produce(lines_of(events))
        finish_input(deployment, events, [worker])
        got = crm_stream(deployment)
        metrics = worker.metrics()
    finally:
        worker.kill(signal.SIGTERM)
    expected = replay_triggers(events)
    assert len(expected) > 20
    assert {k: v for k, v in got.items() if v["customer_id"] != "wrong-clock"} == expected
    assert metrics["momentstream_events_held_total{}"] == 1
    assert metrics.get("momentstream_events_total{result=late}", 0) == 0
