"""End-to-end figures of one worker process (the default, batched runtime) on a real Kafka broker,
without and with scoring.

1. Throughput: a backlog of simulated journeys (the bundled four moments plus a frequent
   "repeat purchase" moment) is produced first; one worker is started and timed from ready
   until the group's committed offsets reach the end of every partition.
2. Latency: with a fresh worker running, events are offered at a fixed rate; for every
   trigger completed by an event, latency = trigger produced minus the moment its last evidence
   event was sent, where "produced" is the trigger record's timestamp (CreateTime, set by the
   worker's producer). The triggers are read afterwards, so no reader competes with the worker for
   the 2 cores. The load is offered with kafka-python (5 ms linger): on the development VM the
   local broker spent 0.55 of a core taking 2,000 records/s from it, against 1.12 from librdkafka
   with a 2 ms linger (more, smaller requests), and the broker shares the machine with the worker.
   p50/p95/p99 are printed.

The broker is found as in the tests: KAFKA_BOOTSTRAP_SERVERS, else testcontainers with a
Docker engine, else the local KRaft broker of deploy/kafka (started and stopped here).

    python benchmarks/kafka_e2e.py                   # 3,000 customers backlog, 2,000 ev/s offered for 30 s
    python benchmarks/kafka_e2e.py --quick           # smaller, for a smoke check
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from momentstream.data import bundled_moments_path
from momentstream.devtools.broker import dev_broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, wait_until
from momentstream.ops.textable import format_table
from momentstream.runtime.kafka.admin import consumer_lag
from momentstream.runtime.kafka.io import produce_lines, read_topic
from momentstream.sim.journeys import simulate

EXTRA_MOMENT = """
  - name: bench_repeat_purchase
    version: 1
    description: Two purchases within 30 days (frequent, so latency has many samples).
    pattern:
      - name: first
        where: {type: purchase}
      - name: again
        where: {type: purchase}
        within: 30d
"""


def moments_file(directory: Path) -> Path:
    """The bundled moments plus the frequent benchmark moment, without the file's contact policy.

    Quiet hours would hold triggers until a later event moves the clock, and the cap would drop
    most of the frequent moment's triggers: latency would measure the policy, not the engine.
    """
    path = directory / "moments.yaml"
    bundled = re.sub(r"(?m)^policy:\n(?:  .*\n)+", "", bundled_moments_path().read_text())
    assert not re.search(r"(?m)^\s+quiet_hours:", bundled), "the bundled policy block changed shape"
    path.write_text(bundled.rstrip() + "\n" + EXTRA_MOMENT)
    return path


def event_lines(customers: int, days: int, seed: int) -> list[bytes]:
    """Simulated journeys as JSON lines, in event-time order."""
    return [e.model_dump_json(exclude_defaults=True).encode() for e in simulate(customers, days, seed).events]


def throughput(bootstrap: str, lines: list[bytes], work: Path, partitions: int, scoring: bool) -> tuple[float, float]:
    """(events/s, seconds) for one worker draining a backlog."""
    deployment = Deployment(bootstrap, partitions=partitions, extra_env=_moments_env(work, scoring))
    deployment.create_topics()
    deployment.produce(lines)
    worker = WorkerProcess(deployment, work, "throughput")
    try:
        worker.wait_ready()
        started = time.perf_counter()
        settings = deployment.settings()
        last_report = started
        while any(consumer_lag(settings).values()):
            time.sleep(0.2)
            if time.perf_counter() - last_report > 10:
                done = worker.counter("momentstream_events_total")
                print(f"  throughput: {done:,.0f}/{len(lines):,} processed", file=sys.stderr)
                last_report = time.perf_counter()
        seconds = time.perf_counter() - started
    finally:
        worker.kill()
    return len(lines) / seconds, seconds


def latency(bootstrap: str, lines: list[bytes], work: Path, partitions: int, rate: float, scoring: bool,
            env: dict[str, str] | None = None) -> tuple[dict[str, float], list[tuple[float, float]]]:  # fmt: skip
    """Latency percentiles (ms) of event-completed triggers at a fixed offered rate, and every sample as
    (seconds into the run its last event was sent, latency ms)."""
    extra = {**_moments_env(work, scoring), **(env or {})}
    deployment = Deployment(bootstrap, partitions=partitions, extra_env=extra)
    deployment.create_topics()
    settings = deployment.settings()
    worker = WorkerProcess(deployment, work, "latency")
    try:
        worker.wait_ready()
        report = produce_lines(settings.kafka, settings.touchpoints_topic, lines, rate=rate,
                               track_times=True)  # fmt: skip
        sent, offered = report.send_times, report.sent / report.seconds
        wait_until(lambda: not any(consumer_lag(settings).values()), 120, "the offered events", [worker])
    finally:
        worker.kill()
    # Read afterwards: a trigger's CreateTime is when the worker produced it, so no reader has to
    # compete for the CPU while the worker is measured.
    produced: dict[str, tuple[float, list[str]]] = {}
    for record in read_topic(settings.kafka, settings.actions_topic, idle_timeout_s=2.0):
        doc = record.json()["data"]  # the trigger inside its CloudEvent
        if doc["kind"] == "match":
            produced.setdefault(
                doc["trigger_id"], (record.timestamp_ms / 1000, [e["event_id"] for e in doc["evidence"]])
            )
    first = min(sent.values(), default=0.0)
    timed = sorted(
        (sent[evidence[-1]] - first, (at - sent[evidence[-1]]) * 1000)
        for at, evidence in produced.values()
        if evidence and evidence[-1] in sent
    )
    samples = sorted(ms for _, ms in timed)
    if len(samples) < 2:
        return {"samples": len(samples)}, timed
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"samples": len(samples), "p50": q[49], "p95": q[94], "p99": q[98], "max": samples[-1],
            "offered": offered}, timed  # fmt: skip


def per_second(timed: list[tuple[float, float]]) -> list[list[object]]:
    """One row per second of the run: triggers, p50, p99 and max latency, and the p99 as a bar (one # per 10 ms),
    so a stall (a slow batch, a flush, the broker's log roll) shows where it happened."""
    seconds: dict[int, list[float]] = {}
    for at, ms in timed:
        seconds.setdefault(int(at), []).append(ms)
    rows: list[list[object]] = []
    for second, found in sorted(seconds.items()):
        found.sort()
        p99 = found[min(len(found) - 1, int(0.99 * len(found)))]
        rows.append([second, len(found), f"{found[len(found) // 2]:.0f}", f"{p99:.0f}", f"{found[-1]:.0f}",
                     "#" * min(60, round(p99 / 10))])  # fmt: skip
    return rows


def _moments_env(work: Path, scoring: bool) -> dict[str, str]:
    return {"MOMENTSTREAM_MOMENTS": str(moments_file(work)), "MOMENTSTREAM_SCORING": str(scoring).lower()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke check")
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--rate", type=float, default=2000.0, help="offered events/s in the latency run")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the latency run")
    parser.add_argument("--batch-waits", default="",
                        help="latency only, once per worker batch_max_wait given (comma-separated, e.g. 20ms,2ms), "
                             "side by side in one run: no backlog runs")  # fmt: skip
    parser.add_argument("--per-second", action="store_true", help="print the latency of every second of each run")
    parser.add_argument("--against", metavar="OLD/src", help="with --batch-waits: run another checkout's worker "
                        "(its src directory, on PYTHONPATH) beside this one, alternating")  # fmt: skip
    args = parser.parse_args()
    if args.batch_waits:
        return compare_waits(args)
    customers = 500 if args.quick else args.customers
    seconds = 10.0 if args.quick else args.seconds
    throughput_rows, latency_rows = [], []
    with dev_broker() as broker, tempfile.TemporaryDirectory(prefix="momentstream-bench-") as tmp:
        work = Path(tmp)
        print(f"broker {broker.bootstrap} ({broker.source})", file=sys.stderr)
        backlog = event_lines(customers, 120, seed=5)
        offered = event_lines(customers, 120, seed=6)[: int(args.rate * seconds)]
        for scoring in (False, True):
            label = "scoring" if scoring else "no scoring"
            print(f"{label}: {len(backlog):,} events backlog, {args.partitions} partitions", file=sys.stderr)
            eps, took = throughput(broker.bootstrap, backlog, work, args.partitions, scoring)
            throughput_rows.append([label, len(backlog), f"{took:.1f}", f"{eps:,.0f}"])
            print(f"{label}: {len(offered):,} events at {args.rate:,.0f}/s", file=sys.stderr)
            lat, timed = latency(broker.bootstrap, offered, work, args.partitions, args.rate, scoring)
            if args.per_second:
                print(f"{label}, per second of the latency run:")
                print(format_table(PER_SECOND, per_second(timed)))
            latency_rows.append(latency_row(label, lat, args.rate))
    print(format_table(["backlog, 1 worker", "events", "seconds", "events/s"], throughput_rows))
    print(format_table(["latency", "offered/s", "match triggers", "p50 ms", "p95 ms", "p99 ms", "max ms"],
                       latency_rows))  # fmt: skip
    return 0


@contextlib.contextmanager
def _pythonpath(path: str | None) -> Iterator[None]:
    before = os.environ.get("PYTHONPATH")
    if path is not None:
        os.environ["PYTHONPATH"] = path
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def latency_row(label: str, lat: dict[str, float], rate: float) -> list[object]:
    """One row of the latency table (dashes when the run completed fewer than two triggers)."""
    if lat.get("samples", 0) < 2:
        return [label, f"{rate:,.0f}", int(lat.get("samples", 0)), "-", "-", "-", "-"]
    return [label, f"{lat['offered']:,.0f}", int(lat["samples"]), f"{lat['p50']:.1f}", f"{lat['p95']:.1f}",
            f"{lat['p99']:.1f}", f"{lat['max']:.1f}"]  # fmt: skip


PER_SECOND = ["second", "match triggers", "p50 ms", "p99 ms", "max ms", "p99 (# = 10 ms)"]


def compare_waits(args: argparse.Namespace) -> int:
    """The latency run once per ``batch_max_wait`` (and per build, with ``--against``), without and with scoring,
    alternating in one broker's run."""
    waits = [w.strip() for w in args.batch_waits.split(",") if w.strip()]
    seconds = 10.0 if args.quick else args.seconds
    customers = 500 if args.quick else args.customers
    rows = []
    with dev_broker() as broker, tempfile.TemporaryDirectory(prefix="momentstream-bench-") as tmp:
        work = Path(tmp)
        offered = event_lines(customers, 120, seed=6)[: int(args.rate * seconds)]
        builds = [("this", None)] + ([("against", args.against)] if args.against else [])
        for scoring, wait, (build, pythonpath) in itertools.product((False, True), waits, builds):
            label = f"{build}: {'scoring' if scoring else 'no scoring'}, batch_max_wait {wait}"
            print(f"{label}: {len(offered):,} events at {args.rate:,.0f}/s", file=sys.stderr)
            env = {"MOMENTSTREAM_BATCH_MAX_WAIT": wait}
            with _pythonpath(pythonpath):  # the worker process inherits it; this process has imported its own
                lat, timed = latency(broker.bootstrap, offered, work, args.partitions, args.rate, scoring, env)
            if args.per_second:
                print(f"{label}, per second:")
                print(format_table(PER_SECOND, per_second(timed)))
            rows.append(latency_row(label, lat, args.rate))
    print(format_table(["latency", "offered/s", "match triggers", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
