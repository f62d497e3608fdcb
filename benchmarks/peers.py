"""momentstream's worker against Quix Streams: one rule, one topic, one broker, one run.

The rule: a support ticket, then a purchase with order_number >= 2 within 4 days; a window opens
19 h after that purchase and closes at 37 h, cancelled by an outreach before it opens. It is written
once as a moments file for momentstream and once as a stateful Quix Streams function (RocksDB state
with its changelog, at-least-once). Both read the same backlog of simulated journeys from the same
8-partition topic, each in its own process, and are timed from their first record to their group's
committed offsets reaching the end of every partition. Both must report the same window openings
(customer, opening time); the script fails otherwise.

Every customer's last record is an ``end_of_input`` event 3 days after the newest event, so the
windows due by then open in both systems (Quix has no timers: a window opens at the customer's next
record; momentstream opens it when the partition's clock passes it).

    python benchmarks/peers.py                  # 3,000 customers, 120 days (~130,000 events)
    python benchmarks/peers.py --quick          # 500 customers, for a smoke check

A third process runs the same rule function in a plain confluent-kafka loop over a dict, with no state
store and no changelog: the floor no Python stream processor goes under, not a rival.

momentstream then drains the same backlog a second time, from topics of its own, with scoring on: the
bundled objectives with the rule bound to the churn objective, so every trigger carries a score from
an online model that learns from delayed labels as the backlog runs. Quix has no scoring to compare;
the row measures what scoring costs against the same rival.

The last lines are ``ratio momentstream/quix: X.XX`` (events/s over events/s, no scoring) and
``ratio momentstream scoring/quix: X.XX``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from momentstream.core.schema import TouchpointEvent
from momentstream.data import bundled_objectives_path
from momentstream.devtools.broker import dev_broker
from momentstream.devtools.cluster import Deployment, WorkerProcess
from momentstream.ops.settings import WorkerSettings, load_settings
from momentstream.ops.textable import format_table
from momentstream.runtime.kafka.admin import consumer_lag
from momentstream.runtime.kafka.io import read_topic
from momentstream.sim.journeys import simulate

RULE = """
version: 1
timezone: UTC
moments:
  - name: peer_rule
    version: 1
    pattern:
      - name: support
        where: {type: support_ticket}
      - name: second_purchase
        where: {type: purchase, properties: {order_number: {gte: 2}}}
        within: 4d
    window:
      anchor: second_purchase
      opens_after: 19h
      closes_after: 37h
      cancel_if: {type: outreach}
"""
OPENS_MS, CLOSES_MS, WITHIN_MS = 19 * 3_600_000, 37 * 3_600_000, 4 * 86_400_000


def journeys(customers: int, days: int) -> list[bytes]:
    """Simulated journeys in event-time order, then one end_of_input record per customer."""
    events = simulate(customers, days, seed=5).events
    end = max(e.ts for e in events) + timedelta(days=3)
    ids = sorted({e.customer_id for e in events})
    closing = [TouchpointEvent(event_id=f"end-{c}", customer_id=c, type="end_of_input", ts=end) for c in ids]
    return [e.model_dump_json(exclude_defaults=True).encode() for e in [*events, *closing]]


# -- Quix Streams ------------------------------------------------------------------------------------
def quix_rule(value: dict, state: object) -> list[dict]:  # type: ignore[type-arg]
    """The rule as a Quix stateful function: the newest unused support ticket and the pending windows."""
    ts = _ms(value["ts"])
    kind = value.get("type")
    support = state.get("support", None)  # type: ignore[attr-defined]
    windows: list[list[int]] = state.get("windows", [])  # type: ignore[attr-defined]
    opened = []
    pending = []
    for anchor, cancelled in windows:
        if ts >= anchor + OPENS_MS:
            if not cancelled:
                opened.append({"customer_id": value["customer_id"], "opens_at": anchor + OPENS_MS})
            continue
        pending.append([anchor, cancelled or kind == "outreach"])
    if kind == "support_ticket":
        support = ts  # the newest ticket since the last match is the one most likely within 4 days
    elif kind == "purchase" and support is not None and ts - support <= WITHIN_MS and _order(value) >= 2:
        pending.append([ts, False])
        support = None  # skip past the match: tickets before it start nothing more
    state.set("support", support)  # type: ignore[attr-defined]
    state.set("windows", pending)  # type: ignore[attr-defined]
    return opened


def _order(value: dict) -> int:  # type: ignore[type-arg]
    return int((value.get("properties") or {}).get("order_number", 0))


def _ms(text: str) -> int:
    from datetime import datetime  # noqa: PLC0415

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def run_quix(bootstrap: str, topic: str, out: str, group: str, state_dir: str) -> None:
    """The Quix Streams application (run in its own process by :func:`time_quix`)."""
    from quixstreams import Application  # noqa: PLC0415

    app = Application(broker_address=bootstrap, consumer_group=group, auto_offset_reset="earliest",
                      state_dir=state_dir, commit_interval=1.0, loglevel="WARNING")  # fmt: skip
    source = app.topic(topic, key_deserializer="str", value_deserializer="json")
    sink = app.topic(out, value_serializer="json")
    frame = app.dataframe(source).apply(quix_rule, stateful=True, expand=True)
    frame.to_topic(sink)
    app.run()


def time_quix(bootstrap: str, deployment: Deployment, records: int, work: Path) -> tuple[float, set[tuple[str, int]]]:
    """(events/s, window openings) of the Quix process."""
    return _time_process(bootstrap, deployment, records, "quix", [str(work / "quix-state")])


def _time_process(bootstrap: str, deployment: Deployment, records: int, name: str,
                  extra: list[str]) -> tuple[float, set[tuple[str, int]]]:  # fmt: skip
    """(events/s, window openings) of this script run with ``--<name>-worker`` in its own process: it reads the
    touchpoints topic in group ``<deployment>-<name>`` and writes its openings to ``<deployment>.<name>-out``."""
    s = deployment.settings()
    group, out = f"{deployment.name}-{name}", f"{deployment.name}.{name}-out"
    proc = subprocess.Popen([sys.executable, __file__, f"--{name}-worker", bootstrap, s.touchpoints_topic, out,
                             group, *extra])  # fmt: skip
    lag_settings = load_settings(None, broker=bootstrap, app_id=group, touchpoints_topic=s.touchpoints_topic,
                                 partitions=deployment.partitions)  # fmt: skip
    try:
        seconds = _drain_seconds(lag_settings, records)
    finally:
        proc.terminate()
        proc.wait(30)
    openings = {(r.json()["customer_id"], r.json()["opens_at"]) for r in read_topic(s.kafka, out,
                                                                                    idle_timeout_s=3.0)}  # fmt: skip
    return records / seconds, openings


# -- the Python floor --------------------------------------------------------------------------------
class _DictState:
    """Quix's state calls over one process's dict: what the rule costs with no durability at all."""

    def __init__(self, store: dict[tuple[bytes, str], object], key: bytes) -> None:
        self.store, self.key = store, key

    def get(self, name: str, default: object = None) -> object:
        return self.store.get((self.key, name), default)

    def set(self, name: str, value: object) -> None:
        self.store[(self.key, name)] = value


def run_floor(bootstrap: str, topic: str, out: str, group: str) -> None:
    """The same rule function in a plain confluent-kafka loop with a dict (run in its own process by
    :func:`time_floor`): no state store, no changelog, offsets auto-committed. Nothing survives a crash;
    it is the floor a Python stream processor cannot go under, not a rival."""
    from confluent_kafka import Consumer, Producer  # noqa: PLC0415

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": True, "auto.commit.interval.ms": 1000})  # fmt: skip
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    consumer.subscribe([topic])
    store: dict[tuple[bytes, str], object] = {}
    while True:
        for message in consumer.consume(2000, 0.5):
            if message.error() is not None:
                continue
            for opened in quix_rule(json.loads(message.value() or b"{}"), _DictState(store, message.key() or b"")):
                producer.produce(out, json.dumps(opened).encode())
        producer.poll(0)


def time_floor(bootstrap: str, deployment: Deployment, records: int) -> tuple[float, set[tuple[str, int]]]:
    """(events/s, window openings) of the plain loop's process."""
    return _time_process(bootstrap, deployment, records, "floor", [])


# -- momentstream ------------------------------------------------------------------------------------
def time_momentstream(
    bootstrap: str, partitions: int, lines: list[bytes], work: Path, scoring: bool
) -> tuple[float, set[tuple[str, int]]]:
    """(events/s, window openings) of one momentstream worker process draining ``lines`` from its own topics."""
    env = {"MOMENTSTREAM_MOMENTS": str(work / "rule.yaml"), "MOMENTSTREAM_SCORING": str(scoring).lower()}
    if scoring:
        env["MOMENTSTREAM_OBJECTIVES"] = str(objectives_file(work))
    deployment = Deployment(bootstrap, partitions=partitions, extra_env=env)
    deployment.create_topics()
    records = deployment.produce(lines)
    worker = WorkerProcess(deployment, work, "peers-scoring" if scoring else "peers")
    s = deployment.settings()
    try:
        seconds = _drain_seconds(s, records)
    finally:
        worker.kill()
    openings = set()
    for record in read_topic(s.kafka, s.actions_topic, idle_timeout_s=3.0):
        trigger = record.json()["data"]
        if trigger["kind"] == "window_open":
            openings.add((trigger["customer_id"], _ms(trigger["window"]["opens_at"])))
    return records / seconds, openings


def objectives_file(work: Path) -> Path:
    """The bundled objectives, their moment bindings replaced by one: the rule's triggers carry the churn score."""
    bundled = bundled_objectives_path().read_text()
    head, found, _ = bundled.partition("\nmoments:")
    assert found, "the bundled objectives file has no moments block"
    path = work / "objectives.yaml"
    path.write_text(head + "\nmoments:\n  peer_rule: {objective: churn}\n")
    return path


def _drain_seconds(group: WorkerSettings, records: int) -> float:
    """Seconds from the group's first commit (start-up and recovery not counted) to its last."""
    deadline = time.monotonic() + 120
    while True:
        try:
            if sum(consumer_lag(group).values()) < records:
                break
        except Exception:  # the group's coordinator is not there until the group first joins
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the consumer never committed: is it running?")
        time.sleep(0.05)
    started = time.perf_counter()
    while any(consumer_lag(group).values()):
        time.sleep(0.2)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 customers instead of 3,000")
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--quix-worker", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--floor-worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quix_worker:
        run_quix(*args.quix_worker)
        return 0
    if args.floor_worker:
        run_floor(*args.floor_worker)
        return 0
    customers = 500 if args.quick else args.customers
    with dev_broker() as broker, tempfile.TemporaryDirectory(prefix="momentstream-peers-") as tmp:
        work = Path(tmp)
        (work / "rule.yaml").write_text(RULE)
        lines = journeys(customers, args.days)
        print(f"broker {broker.bootstrap} ({broker.source}); {len(lines):,} events on {args.partitions} partitions",
              file=sys.stderr)  # fmt: skip
        ours, our_openings = time_momentstream(broker.bootstrap, args.partitions, lines, work, scoring=False)
        print(f"momentstream: {ours:,.0f} events/s, {len(our_openings)} window openings", file=sys.stderr)
        # The rivals read a copy of the backlog on topics of their own: the same records, keyed the same way.
        deployment = Deployment(broker.bootstrap, partitions=args.partitions)
        deployment.create_topics()
        deployment.produce(lines)
        quix, quix_openings = time_quix(broker.bootstrap, deployment, len(lines), work)
        print(f"quix streams: {quix:,.0f} events/s, {len(quix_openings)} window openings", file=sys.stderr)
        floor, floor_openings = time_floor(broker.bootstrap, deployment, len(lines))
        print(f"plain loop: {floor:,.0f} events/s, {len(floor_openings)} window openings", file=sys.stderr)
        scored, scored_openings = time_momentstream(broker.bootstrap, args.partitions, lines, work, scoring=True)
        print(f"momentstream, scoring: {scored:,.0f} events/s, {len(scored_openings)} window openings",
              file=sys.stderr)  # fmt: skip
    rows = [["momentstream worker (batch, no scoring)", len(lines), f"{ours:,.0f}", len(our_openings)],
            ["momentstream worker (batch, scoring: churn model on every trigger)", len(lines), f"{scored:,.0f}",
             len(scored_openings)],
            ["Quix Streams (RocksDB + changelog)", len(lines), f"{quix:,.0f}", len(quix_openings)],
            ["plain confluent-kafka loop + dict (the floor: no durability)", len(lines), f"{floor:,.0f}",
             len(floor_openings)]]  # fmt: skip
    print(format_table(["system", "events", "events/s", "window openings"], rows))
    for name, theirs in (("quix", quix_openings), ("plain loop", floor_openings), ("scoring", scored_openings)):
        if our_openings != theirs:
            only_ours, only_theirs = sorted(our_openings - theirs)[:5], sorted(theirs - our_openings)[:5]
            print(json.dumps({"only_momentstream": only_ours, f"only_{name}": only_theirs}), file=sys.stderr)
            print(f"momentstream and {name} disagree on the window openings", file=sys.stderr)
            return 1
    print(f"ratio momentstream/floor: {ours / floor:.2f}")
    print(f"ratio momentstream/quix: {ours / quix:.2f}")
    print(f"ratio momentstream scoring/quix: {scored / quix:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
