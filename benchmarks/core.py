"""Throughput of the replay core on one CPU core, and bytes of state per customer.

Prints a table: events/s for 1, 10 and 50 moments (at a fixed customer count), for 1k, 100k
and 1M customers (at 10 moments), and the encoded state size per customer. Moments are
spread over a vocabulary of event types, as real moment sets are, so the type index matters.

    python benchmarks/core.py            # full run (the 1M-customer row takes a few minutes)
    python benchmarks/core.py --quick    # smaller sizes, for a smoke check
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import TouchpointEvent
from momentstream.ops.textable import format_table
from momentstream.patterns.dsl import Moment
from momentstream.patterns.nfa import CompiledMoment
from momentstream.runtime.replay.runner import ReplayRunner

TYPES = [f"t{i:02d}" for i in range(60)]
START = datetime(2026, 1, 5, tzinfo=UTC)


def moment_set(count: int) -> list[CompiledMoment]:
    """``count`` moments of four shapes, each over its own few event types."""
    moments = []
    for i in range(count):
        a, b, c, d = (TYPES[(i * 4 + k) % len(TYPES)] for k in range(4))
        shape = i % 4
        m = Moment(f"m{i:02d}")
        if shape == 0:
            m = m.begin("a", where={"type": a}).followed_by("b", where={"type": b}, within="3d")
        elif shape == 1:
            m = m.begin("a", where={"type": a}).times(2).not_followed_by("quiet", where={"type": [a, b]}, for_="5d")
        elif shape == 2:
            m = m.at_least(2, of={"x": {"type": a}, "y": {"type": b}, "z": {"type": c}}, within="7d")
        else:
            m = (
                m.begin("a", where={"type": a, "value": {"gte": 50}})
                .followed_by("b", where={"type": b}, within="2d")
                .window(opens_after="19h", closes_after="37h", cancel_if={"type": d})
            )
        moments.append(m.compile())
    return moments


def make_events(customers: int, events: int, seed: int = 1) -> list[TouchpointEvent]:
    rng = random.Random(seed)
    weights = [1 / (k + 1) ** 0.8 for k in range(len(TYPES))]
    kinds = rng.choices(TYPES, weights, k=events)
    offsets = sorted(rng.uniform(0, 90 * 86400) for _ in range(events))
    out = []
    for i, (kind, offset) in enumerate(zip(kinds, offsets, strict=True)):
        out.append(
            TouchpointEvent.model_construct(
                event_id=f"e{i}",
                customer_id=f"c{rng.randrange(customers)}",
                type=kind,
                channel="web",
                ts=START + timedelta(seconds=offset),
                value=float(rng.randint(0, 100)),
                properties={},
                text=None,
            )
        )
    return out


def measure(
    moments: list[CompiledMoment], stream: list[TouchpointEvent], lateness_ms: int
) -> tuple[float, Engine, ReplayRunner]:
    engine = Engine(moments, EngineConfig(allowed_lateness_ms=lateness_ms))
    runner = ReplayRunner(engine)
    started = time.perf_counter()
    triggers = 0
    for event in stream:
        triggers += len(runner.feed(event))
    triggers += len(runner.finish())
    elapsed = time.perf_counter() - started
    return len(stream) / elapsed, engine, runner


def state_bytes(runner: ReplayRunner, sample: int = 20_000) -> tuple[float, int]:
    states = list(runner.states.values())[:sample]
    sizes = sorted(len(s.to_bytes()) for s in states)
    return statistics.mean(sizes), sizes[int(0.99 * (len(sizes) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 30 s)")
    parser.add_argument("--lateness", type=int, default=60_000, help="allowed lateness in ms (default 60000)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    rows = []

    base_customers, base_events = 100_000 // scale, 300_000 // scale
    stream = make_events(base_customers, base_events)
    for count in (1, 10, 50):
        rate, _, runner = measure(moment_set(count), stream, args.lateness)
        mean, p99 = state_bytes(runner)
        rows.append([count, f"{base_customers:,}", f"{base_events:,}", round(rate), round(mean), p99])
        print(f"  {count} moments: {rate:,.0f} events/s", file=sys.stderr)
    for full_customers, full_events in ((1_000, 300_000), (100_000, 300_000), (1_000_000, 2_000_000)):
        customers, events = full_customers // scale, full_events // scale
        stream = make_events(customers, events, seed=2)
        rate, _, runner = measure(moment_set(10), stream, args.lateness)
        mean, p99 = state_bytes(runner)
        rows.append([10, f"{customers:,}", f"{events:,}", round(rate), round(mean), p99])
        print(f"  {customers:,} customers: {rate:,.0f} events/s", file=sys.stderr)
    print(f"replay core, one process, allowed lateness {args.lateness} ms (events pre-parsed)")
    print(format_table(["moments", "customers", "events", "events/s", "state bytes/customer (mean)", "p99"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
