"""The Faust worker against a real Kafka broker: same triggers as the replay runner, bad records
dead-lettered, recovery after SIGKILL, two workers in one group, durable timers on a compressed clock.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from momentstream.cli.demo import default_engine
from momentstream.core.clock import to_ms
from momentstream.core.schema import ERASURE_EVENT_TYPE, TouchpointEvent, Trigger
from momentstream.data import bundled_moments_path, bundled_objectives_path
from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, wait_until
from momentstream.models.objectives import load_objectives
from momentstream.ops.kafka_connection import KafkaConnection
from momentstream.runtime.kafka.admin import changelog_topic, consumer_lag, group_offsets
from momentstream.runtime.kafka.io import produce_lines, producer, read_topic, send_ticks
from momentstream.runtime.kafka.stored import decode_entry
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.journeys import simulate
from momentstream.triggers.consent import suppression_events
from momentstream.triggers.contract import (
    CONTENT_TYPE,
    contract_schema,
    from_cloudevent,
    is_revocation,
    revocation_schema,
)
from tests.test_examples.test_crm_subscriber import load_example

pytestmark = pytest.mark.kafka

CUSTOMERS, DAYS, SEED = 300, 60, 11


@pytest.fixture(scope="module")
def journeys() -> list[TouchpointEvent]:
    """A few thousand simulated events (every archetype, the seed scenario included)."""
    return simulate(CUSTOMERS, DAYS, SEED).events


def lines_of(events: list[TouchpointEvent]) -> list[bytes]:
    """Events as the JSON lines an upstream system would produce."""
    return [e.model_dump_json(exclude_defaults=True).encode() for e in events]


CONTRACT_SCHEMA = contract_schema(strict=True)  # the producer is held to the strict form
REVOCATION_SCHEMA = revocation_schema(strict=True)


def without_score(doc: dict[str, Any]) -> dict[str, Any]:
    """A trigger minus what models say: scores and the expected spend come from models whose learning order
    differs per runtime. The anomaly stays: it is the customer's own rhythm, the same in every runtime."""
    assert doc["score"] is None or {"objective", "score", "tier", "owner", "reasons"} <= set(doc["score"])
    found = {k: v for k, v in doc.items() if k != "score"}
    if found.get("signals") is not None:
        found["signals"] = {k: v for k, v in found["signals"].items() if k != "value"}
    return found


def replay_triggers(
    events: list[TouchpointEvent], moments: Path | None = None, scoring: bool = True
) -> dict[str, dict[str, Any]]:
    """What the replay runner emits for the same events (input ends at the last event time)."""
    runner = ReplayRunner(default_engine(moments, scoring=scoring))
    outputs = list(runner.run(events))
    return {o.trigger_id: without_score(o.model_dump(mode="json")) for o in outputs if isinstance(o, Trigger)}


def deduplicated(records: list[Any]) -> dict[str, dict[str, Any]]:
    """The CRM's view: one trigger per trigger id (at-least-once may repeat some)."""
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        envelope = record.json()
        if is_revocation(envelope):
            jsonschema.validate(envelope, REVOCATION_SCHEMA)
            continue
        jsonschema.validate(envelope, CONTRACT_SCHEMA)
        assert record.headers["content-type"].decode() == CONTENT_TYPE
        assert envelope["source"].startswith("momentstream/")
        trigger = from_cloudevent(envelope)
        assert record.headers["trigger_id"].decode() == trigger.trigger_id == envelope["id"]
        assert record.key == trigger.customer_id.encode() == envelope["subject"].encode()
        doc = without_score(trigger.model_dump(mode="json"))
        previous = found.setdefault(doc["trigger_id"], doc)
        assert previous == doc, "a redelivered trigger must be identical"
    return found


def crm_stream(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Every trigger the worker published: the actions topic and the holdout topic, deduplicated."""
    treated, held = deduplicated(deployment.read("actions")), deduplicated(deployment.read("holdout"))
    assert not any(t["holdout"] for t in treated.values())
    assert all(t["holdout"] for t in held.values())
    return {**treated, **held}


def finish_input(deployment: Deployment, events: list[TouchpointEvent], workers: list[WorkerProcess]) -> None:
    """Wait until every record is processed and committed, then close the input like replay does."""
    settings = deployment.settings()
    wait_until(lambda: not any(consumer_lag(settings).values()), 120, "all events processed", workers,
               detail=lambda: f"uncommitted records per partition: {consumer_lag(settings)}")  # fmt: skip
    last = max(to_ms(e.ts) for e in events)
    ticks_before = sum(w.counter("momentstream_ticks_total") for w in workers)
    send_ticks(settings.kafka, settings.ticks_topic, last, final=True)
    wait_until(
        lambda: sum(w.counter("momentstream_ticks_total") for w in workers) >= ticks_before + deployment.partitions,
        60,
        "final ticks processed",
        workers,
    )


# -- one worker, with malformed records mixed in --------------------------------------------------
BAD_LINES = {
    b"this is not json": "invalid_json",
    b'{"event_id": "bad-1", "customer_id": "c-bad"}': "invalid_event",
    b'{"event_id": "bad-2", "customer_id": "c-bad", "type": "Purchase!", "ts": "2026-01-06T00:00:00Z"}': (
        "invalid_event"
    ),
}
MISKEYED = b'{"event_id": "bad-3", "customer_id": "c-bad", "type": "purchase", "ts": "2026-01-06T00:00:00Z"}'


@pytest.fixture(scope="module")
def single_run(
    kafka_broker: Broker, journeys: list[TouchpointEvent], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Deployment, WorkerProcess]]:
    """One worker fed the journeys with bad records in the middle; input closed at the end."""
    deployment = Deployment(kafka_broker.bootstrap)
    deployment.create_topics()
    lines = lines_of(journeys)
    middle = len(lines) // 2
    deployment.produce(lines[:middle] + list(BAD_LINES) + lines[middle:])
    out = producer(KafkaConnection.plaintext(kafka_broker.bootstrap))
    out.send(deployment.settings().touchpoints_topic, key=b"someone-else", value=MISKEYED)
    out.flush()
    out.close()
    worker = WorkerProcess(deployment, tmp_path_factory.mktemp("single"))
    try:
        worker.wait_ready()
        finish_input(deployment, journeys, [worker])
        yield deployment, worker
    finally:
        worker.kill(signal.SIGTERM)


def test_triggers_equal_the_replay_runner(single_run: tuple[Deployment, WorkerProcess], journeys: list[Any]) -> None:
    deployment, _ = single_run
    expected = replay_triggers(journeys)
    got = crm_stream(deployment)
    assert len(expected) > 50  # the comparison means something
    assert {d["kind"] for d in expected.values()} == {"match", "window_open", "window_expired"}
    assert got.keys() == expected.keys()
    assert got == expected


def test_malformed_records_go_to_the_dead_letter_topic(single_run: tuple[Deployment, WorkerProcess],
                                                        journeys: list[Any]) -> None:  # fmt: skip
    deployment, worker = single_run
    dead = deployment.read("dead-letter")
    by_value = {r.value: r for r in dead}
    assert set(by_value) == {*BAD_LINES, MISKEYED}
    for raw, reason in {**BAD_LINES, MISKEYED: "key_mismatch"}.items():
        headers = by_value[raw].headers
        assert headers["momentstream.reason"].decode() == reason
        assert headers["momentstream.source"].decode().startswith(deployment.settings().touchpoints_topic + "/")
        assert b"c-bad" not in headers["momentstream.error"]  # reasons name fields, never values
    assert worker.counter("momentstream_events_total") == len(journeys) + len(dead)
    assert worker.metrics()["momentstream_events_total{result=processed}"] == len(journeys)
    assert worker.counter("momentstream_dead_letters_total") == len(dead)


def test_the_example_crm_subscriber_routes_each_trigger_once(
    single_run: tuple[Deployment, WorkerProcess], journeys: list[Any]
) -> None:
    deployment, _ = single_run
    settings = deployment.settings()
    crm = load_example()
    subscriber = crm.Subscriber()
    values = crm.kafka_values(settings.kafka.kafka_python(), settings.actions_topic,
                              f"crm-{settings.app_id}", from_beginning=True, idle_s=3.0)  # fmt: skip
    subscriber.run(values)
    routed = [action.trigger_id for _, action in subscriber.routed]
    assert len(routed) == len(set(routed))
    assert set(routed) == {i for i, t in replay_triggers(journeys).items() if not t["holdout"]}
    assert not subscriber.parked


def test_metrics_and_health(single_run: tuple[Deployment, WorkerProcess]) -> None:
    _, worker = single_run
    assert worker.get("/healthz")[0] == 200
    assert worker.readiness() == {"ready": True, "partitions": [0, 1, 2, 3]}
    metrics = worker.metrics()
    triggers = {k: v for k, v in metrics.items() if k.startswith("momentstream_triggers_total{")}
    assert "momentstream_triggers_total{kind=window_open,moment=post_purchase_window}" in triggers
    assert metrics["momentstream_customers_tracked{}"] == CUSTOMERS
    assert metrics["momentstream_processing_seconds_count{}"] > 0
    assert all(v == 0 for k, v in metrics.items() if k.startswith("momentstream_consumer_lag_records{"))
    assert not any("customer" in k.split("{")[1] for k in metrics)  # no customer ids as labels


def test_each_changelog_record_is_in_its_customers_partition(single_run: tuple[Deployment, WorkerProcess]) -> None:
    """A state written to another partition's changelog would be missing when that partition moves."""
    deployment, _ = single_run
    settings = deployment.settings()
    records = list(read_topic(settings.kafka, changelog_topic(settings), idle_timeout_s=2.0))
    assert len({r.key for r in records}) == CUSTOMERS
    assert {r.partition for r in records} == set(range(deployment.partitions))
    assert all(decode_entry(r.value).partition == r.partition for r in records if r.value)


# -- crash recovery -------------------------------------------------------------------------------
def test_sigkill_mid_stream_loses_no_trigger_and_no_timer(
    kafka_broker: Broker, journeys: list[TouchpointEvent], tmp_path: Path
) -> None:
    deployment = Deployment(kafka_broker.bootstrap)
    deployment.create_topics()
    lines = lines_of(journeys)
    half = len(lines) // 2
    deployment.produce(lines[:half])
    first = WorkerProcess(deployment, tmp_path, "first")
    first.wait_ready()
    wait_until(lambda: first.counter("momentstream_events_total") >= half * 0.8, 120, "the first half", [first])
    # The rest arrives as a live stream while the worker runs; it dies in the middle of it.
    settings = deployment.settings()
    feeder = threading.Thread(target=produce_lines, args=(settings.kafka, settings.touchpoints_topic,
                                                          lines[half:]), kwargs={"rate": 500.0})  # fmt: skip
    feeder.start()
    wait_until(lambda: first.counter("momentstream_events_total") >= half + 300, 60, "live records", [first])
    processed_before_kill = first.counter("momentstream_events_total")
    timers_before_kill = first.metrics().get("momentstream_timers_pending{}", 0)
    first.kill(signal.SIGKILL)
    feeder_was_running = feeder.is_alive()
    feeder.join()
    assert feeder_was_running, "the kill must land while records are still arriving"
    # Under steady input the worker must still commit (Faust's own flush waited for an empty buffer).
    # (It committed 82 of some 3,800 processed records before that was fixed; now over a thousand.)
    committed_before_kill = [committed for committed, _ in group_offsets(settings).values()]
    assert all(committed_before_kill), committed_before_kill
    assert sum(committed_before_kill) >= half // 10, (committed_before_kill, half)
    assert half < processed_before_kill < len(lines), processed_before_kill
    assert timers_before_kill > 0, "timers must be pending when the worker dies"

    second = WorkerProcess(deployment, tmp_path, "second")
    try:
        second.wait_ready()
        finish_input(deployment, journeys, [second])
        got = crm_stream(deployment)
    finally:
        second.kill(signal.SIGTERM)
    assert got == replay_triggers(journeys)


# -- the RocksDB store: a worker restarted on its own data directory -----------------------------
def test_a_rocksdb_worker_restarted_on_its_own_data_loses_nothing(
    kafka_broker: Broker, journeys: list[TouchpointEvent], tmp_path: Path
) -> None:
    """State in local RocksDB files (MOMENTSTREAM_STORE=rocksdb), the worker SIGKILLed and started
    again on the same files: it resumes from them and the changelog, and the CRM stream is replay's."""
    deployment = Deployment(kafka_broker.bootstrap, extra_env={"MOMENTSTREAM_STORE": "rocksdb"})
    deployment.create_topics()
    lines = lines_of(journeys)
    half = len(lines) // 2
    deployment.produce(lines[:half])
    first = WorkerProcess(deployment, tmp_path, "rocks")
    try:
        first.wait_ready()
        wait_until(lambda: first.counter("momentstream_events_total") >= half, 120, "the first half", [first])
        time.sleep(2.0)  # let a commit and a table flush happen
    finally:
        first.kill(signal.SIGKILL)
    data = tmp_path / f"{deployment.name}-rocks-data"
    databases = list(data.glob("v*/tables/*.db/CURRENT"))
    assert databases, f"no RocksDB database under {data}"
    deployment.produce(lines[half:])
    second = WorkerProcess(deployment, tmp_path, "rocks")  # same label: same data directory
    try:
        second.wait_ready()
        finish_input(deployment, journeys, [second])
        got = crm_stream(deployment)
    finally:
        second.kill(signal.SIGTERM)
    assert got == replay_triggers(journeys)


# -- two workers in one group, with holdout groups and the contact policy ---------------------------
def policy_moments(text: str) -> str:
    """The bundled moments (quiet hours, channels, priorities) with a 30% holdout and a tighter cap."""
    assert "  max_triggers: 3\n  per: 7d\n" in text, "the bundled policy changed: update this test"
    text = text.replace("  max_triggers: 3\n  per: 7d\n", "  max_triggers: 1\n  per: 30d\n", 1)
    return text.replace("defaults:\n", "defaults:\n  holdout: 0.3\n", 1)


def with_consent(journeys: list[TouchpointEvent]) -> list[TouchpointEvent]:
    """Every 5th customer withdraws email, every 11th every channel (as `momentstream suppress` writes)."""
    customers = sorted({e.customer_id for e in journeys})
    start = journeys[0].ts
    consent = [*suppression_events(customers[::5], ["email"], start, list_name="it"),
               *suppression_events(customers[::11], [], start, list_name="it")]  # fmt: skip
    return sorted([*consent, *journeys], key=lambda e: e.ts)


def policy_records(outputs: list[Any]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(trigger id, suppression reason) and (trigger id, deferred until) of audit records or replay outputs."""
    docs = [o.model_dump(mode="json") if isinstance(o, BaseModel) else o for o in outputs]
    suppressed = {(d["trigger_id"], d["reason"]) for d in docs if d.get("output") == "trigger_suppressed"}
    deferred = {(d["trigger_id"], d["until"]) for d in docs if d.get("output") == "trigger_deferred"}
    return suppressed, deferred


def test_two_workers_split_partitions_and_agree(
    kafka_broker: Broker, journeys: list[TouchpointEvent], tmp_path: Path
) -> None:
    """Also: holdout triggers go to the holdout topic only, and the contact policy decides as in replay."""
    moments = tmp_path / "moments.yaml"
    moments.write_text(policy_moments(bundled_moments_path().read_text()))
    events = with_consent(journeys)
    deployment = Deployment(kafka_broker.bootstrap, extra_env={"MOMENTSTREAM_MOMENTS": str(moments)})
    deployment.create_topics()
    workers = [WorkerProcess(deployment, tmp_path, "a"), WorkerProcess(deployment, tmp_path, "b")]
    try:
        for w in workers:
            w.wait_ready()
        wait_until(lambda: all(w.readiness().get("ready") for w in workers)
                   and sum(len(w.readiness().get("partitions", [])) for w in workers) == 4,
                   90, "both workers owning partitions", workers)  # fmt: skip
        owned = [set(w.readiness()["partitions"]) for w in workers]
        assert owned[0]
        assert owned[1]
        assert not owned[0] & owned[1]
        assert owned[0] | owned[1] == {0, 1, 2, 3}
        deployment.produce(lines_of(events))
        finish_input(deployment, events, workers)
        assert all(w.counter("momentstream_events_total") > 0 for w in workers)
        treated = deduplicated(deployment.read("actions"))
        held = deduplicated(deployment.read("holdout"))
        audit = [record.json() for record in deployment.read("audit")]
        deferred_metric = sum(w.counter("momentstream_triggers_deferred_total") for w in workers)
    finally:
        for w in workers:
            w.kill(signal.SIGTERM)
    assert held
    assert all(t["holdout"] for t in held.values())
    assert not any(t["holdout"] for t in treated.values())
    assert {**treated, **held} == replay_triggers(events, moments)
    replayed = list(ReplayRunner(default_engine(moments)).run(events))
    suppressed, deferred = policy_records(audit)
    assert (suppressed, deferred) == policy_records(replayed)
    assert {reason for _, reason in suppressed} >= {"no_consent", "frequency_cap"}
    assert deferred
    assert deferred_metric >= len(deferred)
    assert ["phone"] in [t["channels"] for t in treated.values()]  # email withdrawn, phone left


# -- durable timers on a compressed wall clock ----------------------------------------------------
SPARSE = {"MOMENTSTREAM_MAX_SKEW": "365d"}
"""A single customer on a fresh partition: its own 18-day gap is the partition clock's too, which the
default 7-day skew bound refuses (tests/test_runtime/test_guard.py); these tests are about timers."""


def seed_scenario(start: Any) -> list[TouchpointEvent]:
    """Support on Monday, a second purchase on Wednesday, then nothing at all."""

    def ev(i: int, kind: str, at: timedelta, **extra: Any) -> TouchpointEvent:
        return TouchpointEvent(event_id=f"seed-{i}", customer_id="c-seed", type=kind, ts=start + at, **extra)

    return [  # alone on its partition, 18 days between two events: more than the default max_skew (SPARSE)
        ev(1, "purchase", timedelta(days=-20), properties={"order_number": 1}),
        ev(2, "support_ticket", timedelta(days=-2)),
        ev(3, "purchase", timedelta(0), properties={"order_number": 2}),
    ]


def test_window_opens_and_closes_in_silence_and_survives_a_crash(kafka_broker: Broker, tmp_path: Path) -> None:
    purchase = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    events = seed_scenario(purchase)
    # 1 wall second = 2 event-time hours: the window opens ~9.5 s and closes ~18.5 s after the start.
    speed, wall_start = 7_200.0, time.time() + 4.0
    deployment = Deployment(kafka_broker.bootstrap, extra_env={
        "MOMENTSTREAM_CLOCK": "wall", "MOMENTSTREAM_CLOCK_SPEED": str(speed),
        "MOMENTSTREAM_CLOCK_ORIGIN": purchase.isoformat(), "MOMENTSTREAM_CLOCK_ORIGIN_WALL": str(wall_start),
        "MOMENTSTREAM_TICK_INTERVAL": "100ms", **SPARSE})  # fmt: skip
    deployment.create_topics()
    deployment.produce(lines_of(events))
    first = WorkerProcess(deployment, tmp_path, "first")

    def kinds() -> list[str]:
        return [r.json()["data"]["kind"] for r in deployment.read("actions", idle_s=0.5)]

    try:
        first.wait_ready()
        wait_until(lambda: "window_open" in kinds(), 60, "the window to open", [first])
    finally:
        first.kill(signal.SIGKILL)  # the close timer is pending in the killed worker's state
    assert "window_expired" not in kinds(), "the kill must land between open and close"
    second = WorkerProcess(deployment, tmp_path, "second")
    try:
        second.wait_ready()
        wait_until(lambda: "window_expired" in kinds(), 60, "the window to close", [second])
        time.sleep(1.0)  # let any duplicate arrive before counting
        got = deduplicated(deployment.read("actions"))
    finally:
        second.kill(signal.SIGTERM)

    triggers = sorted(got.values(), key=lambda d: d["emitted_at"])
    assert [(t["moment"], t["kind"]) for t in triggers] == [
        ("post_purchase_window", "window_open"),
        ("post_purchase_window", "window_expired"),
    ]
    opened = triggers[0]
    assert opened["window"]["opens_at"] == (purchase + timedelta(hours=19)).isoformat().replace("+00:00", "Z")
    assert opened["window"]["closes_at"] == (purchase + timedelta(hours=37)).isoformat().replace("+00:00", "Z")
    assert [e["event_id"] for e in opened["evidence"]] == ["seed-2", "seed-3"]
    assert json.loads(json.dumps(triggers[1]["window"])) == opened["window"]


# -- models survive a restart ---------------------------------------------------------------------
def test_models_survive_a_worker_restart(kafka_broker: Broker, journeys: list[TouchpointEvent], tmp_path: Path) -> None:
    # No periodic snapshot within the test: only the one a clean stop publishes can carry the models over.
    deployment = Deployment(kafka_broker.bootstrap, extra_env={"MOMENTSTREAM_MODEL_SNAPSHOT_INTERVAL": "1h"})
    deployment.create_topics()
    deployment.produce(lines_of(journeys))
    first = WorkerProcess(deployment, tmp_path, "first")
    first.wait_ready()
    settings = deployment.settings()
    wait_until(lambda: not any(consumer_lag(settings).values()), 120, "all events processed", [first])

    def learned(worker: WorkerProcess) -> dict[str, float]:
        return {k: v for k, v in worker.metrics().items() if k.startswith("momentstream_model_labels_learned{")}

    before = learned(first)
    first.kill(signal.SIGTERM)  # a clean stop publishes a final snapshot
    assert before["momentstream_model_labels_learned{objective=expansion}"] > 100  # churn's labels take 60 days

    second = WorkerProcess(deployment, tmp_path, "second")
    try:
        second.wait_ready()
        after = learned(second)  # no new events: everything it knows came from the snapshot
    finally:
        second.kill(signal.SIGTERM)
    assert after == before
    assert "models restored" in second.log_path.read_text()


# -- right to erasure -----------------------------------------------------------------------------
def test_erasure_leaves_nothing_of_the_customer(kafka_broker: Broker, tmp_path: Path) -> None:
    purchase = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    events = seed_scenario(purchase)  # c-seed: a window is due to open 19 h after the purchase
    request = TouchpointEvent(event_id="erase-1", customer_id="c-seed", type=ERASURE_EVENT_TYPE,
                              ts=purchase + timedelta(hours=1))  # fmt: skip
    deployment = Deployment(kafka_broker.bootstrap, extra_env=SPARSE)
    deployment.create_topics()
    settings = deployment.settings()
    worker = WorkerProcess(deployment, tmp_path, "erase")
    try:
        worker.wait_ready()
        deployment.produce(lines_of(events))
        wait_until(lambda: not any(consumer_lag(settings).values()), 60, "the seed events", [worker])
        wait_until(lambda: worker.metrics().get("momentstream_timers_pending{}", 0) > 0, 20, "timers", [worker])
        deployment.produce(lines_of([request]))
        wait_until(lambda: not any(consumer_lag(settings).values()), 60, "the erasure", [worker])
        wait_until(lambda: worker.metrics().get("momentstream_customers_tracked{}", 1) == 0, 20, "forgotten", [worker])
        assert worker.metrics().get("momentstream_timers_pending{}") == 0
        # Past the window's whole life: nothing may fire for the erased customer.
        send_ticks(settings.kafka, settings.ticks_topic, to_ms(purchase + timedelta(days=3)), final=True)
        ticks = deployment.partitions
        wait_until(lambda: worker.counter("momentstream_ticks_total") >= ticks, 30, "final ticks", [worker])
        audit = [r.json() for r in deployment.read("audit")]
        changelog = [r for r in read_topic(settings.kafka, changelog_topic(settings), idle_timeout_s=3.0)
                     if r.key == b"c-seed"]  # fmt: skip
        actions = deployment.read("actions", idle_s=1.0)
    finally:
        worker.kill(signal.SIGTERM)
    (confirmation,) = [a for a in audit if a.get("output") == "customer_erased"]
    assert confirmation["customer_id"] == "c-seed"
    assert confirmation["removed"]["timers"] > 0
    assert changelog
    assert changelog[-1].value == b"", "the last changelog record must be a tombstone, so compaction drops the rest"
    assert not actions


def test_idle_customers_are_evicted_with_a_tombstone(kafka_broker: Broker, tmp_path: Path) -> None:
    """MOMENTSTREAM_IDLE_TTL: once the window has closed and the TTL passed, the worker forgets the customer."""
    purchase = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    events = seed_scenario(purchase)
    deployment = Deployment(kafka_broker.bootstrap, extra_env={"MOMENTSTREAM_IDLE_TTL": "30d", **SPARSE})
    deployment.create_topics()
    settings = deployment.settings()
    worker = WorkerProcess(deployment, tmp_path, "idle")
    try:
        worker.wait_ready()
        deployment.produce(lines_of(events))
        wait_until(lambda: not any(consumer_lag(settings).values()), 60, "the seed events", [worker])
        wait_until(lambda: worker.metrics().get("momentstream_customers_tracked{}", 0) == 1, 20, "tracked", [worker])
        send_ticks(settings.kafka, settings.ticks_topic, to_ms(purchase + timedelta(days=10)))
        wait_until(lambda: worker.counter("momentstream_ticks_total") >= deployment.partitions, 30, "ticks", [worker])
        assert worker.metrics().get("momentstream_customers_tracked{}") == 1, "kept: not yet silent for 30 days"
        # Sampling stops at 30 days of silence (the TTL); the last sample's label is known one label delay later
        # (the longest of the bundled objectives': 90 days for expected spend).
        longest = max(o.label_delay_ms for o in load_objectives(bundled_objectives_path()).objectives)
        forgotten = purchase + timedelta(days=30, milliseconds=longest) + timedelta(days=10)
        send_ticks(settings.kafka, settings.ticks_topic, to_ms(forgotten))
        wait_until(lambda: worker.counter("momentstream_customers_evicted_total") == 1, 30, "the eviction", [worker])
        assert worker.metrics().get("momentstream_customers_tracked{}") == 0
        changelog = [r for r in read_topic(settings.kafka, changelog_topic(settings), idle_timeout_s=3.0)
                     if r.key == b"c-seed"]  # fmt: skip
        kinds = [t["kind"] for t in crm_stream(deployment).values()]
    finally:
        worker.kill(signal.SIGTERM)
    assert changelog[-1].value == b"", "an evicted customer's last changelog record is a tombstone"
    assert sorted(kinds) == ["window_expired", "window_open"]  # its window ran its course first
