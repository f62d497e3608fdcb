"""Identity stitching on the broker: aliases and their customers on different partitions and workers.

The simulator's journeys are split at one instant: before it, a share of customers act under device
ids; at it, each logs in (an ``identify`` event under the device id); after it, they act under their
own ids. The merge records and forwarded events travel through the touchpoints topic between two
workers, one of which is SIGKILLed while the logins are handled. The CRM's deduplicated stream must
be exactly the replay runner's for the same split history.
"""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import pytest

from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, wait_until
from momentstream.runtime.kafka.admin import consumer_lag
from momentstream.sim.identities import split_identities
from momentstream.sim.journeys import simulate
from tests.integration.test_kafka_runtime import crm_stream, finish_input, lines_of, replay_triggers

pytestmark = pytest.mark.kafka


def test_split_ids_across_two_workers_give_the_replay_runners_triggers(kafka_broker: Broker, tmp_path: Path) -> None:
    stitch_split_ids(kafka_broker, tmp_path, customers=80, crash=True)


def stitch_split_ids(kafka_broker: Broker, tmp_path: Path, customers: int, crash: bool) -> None:
    """The scenario of the module's docstring; without ``crash``, one worker runs it with nothing killed."""
    sim = simulate(customers=customers, days=40, seed=21)
    cut = sim.events[0].ts.replace(hour=0, minute=0, second=0) + timedelta(days=20)
    split = split_identities(sim.events, share=0.6, seed=3, cut_at=cut)
    before = [e for e in split.events if e.ts < cut and e.type != "identify"]
    logins = [e for e in split.events if e.type == "identify"]
    after = [e for e in split.events if e.ts >= cut]
    assert len(logins) > customers // 4
    assert len(before) + len(logins) + len(after) == len(split.events)
    deployment = Deployment(kafka_broker.bootstrap, partitions=4, extra_env={"MOMENTSTREAM_MAX_SKEW": "365d"})
    deployment.create_topics()
    settings = deployment.settings()
    workers = [WorkerProcess(deployment, tmp_path, label) for label in (["a", "b"] if crash else ["a"])]
    try:
        for worker in workers:
            worker.wait_ready()
        deployment.produce(lines_of(before))
        wait_until(lambda: not any(consumer_lag(settings).values()), 120, "the anonymous history", workers)
        deployment.produce(lines_of(logins))
        if crash:
            sent = "momentstream_identity_records_total{step=merge_sent}"
            wait_until(lambda: any(w.metrics().get(sent, 0) for w in workers), 60, "a merge sent", workers)
            crashed = next(w for w in workers if w.metrics().get(sent, 0))
            crashed.kill(signal.SIGKILL)  # in the middle of the logins: some merges sent, maybe not saved
            workers = [w for w in workers if w is not crashed] + [WorkerProcess(deployment, tmp_path, "a2")]
            workers[-1].wait_ready()
        wait_until(lambda: not any(consumer_lag(settings).values()), 120, "the logins and merges", workers)
        merged = sum(w.counter("momentstream_identity_records_total") for w in workers)
        deployment.produce(lines_of(after))
        finish_input(deployment, split.events, workers)
        got = crm_stream(deployment)
        audit = [r.json() for r in deployment.read("audit")]
        letters = deployment.read("dead-letter")
    finally:
        for worker in workers:
            worker.kill(signal.SIGTERM)
    assert letters == []
    assert merged > 0
    merges = {a["merge_id"] for a in audit if a.get("output") == "identity_merged"}
    assert merges == {e.event_id for e in logins}  # each login merged, once in effect
    expected = replay_triggers([*before, *logins, *after])
    assert len(expected) > customers // 3
    assert got == expected
    assert replay_triggers([*before, *after]) != expected  # without the logins the ids stay apart
    # A trigger after the login names the customer, never the device.
    assert not any(t["customer_id"] in split.aliases for t in got.values() if t["emitted_at"] >= cut.isoformat())
