"""Replay with scoring over a long history: events/s per quarter, so a slowdown as labels come due shows.

Simulated journeys (the bundled moments and objectives, three online models) are replayed in event
time, once without scoring and once with it. For the scoring run the events/s of each quarter of
the history is printed: the first quarter has no labels yet (the horizons are 30 days); from the
second on, every kept prediction is labelled and learned, and the rate should stay flat.

    python benchmarks/replay_scoring.py            # about 1,000,000 events (22,000 customers, 120 days)
    python benchmarks/replay_scoring.py --quick    # about 130,000 events
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

from momentstream.cli.demo import default_engine
from momentstream.core.engine import Engine
from momentstream.core.schema import TouchpointEvent
from momentstream.ops.textable import format_table
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.journeys import simulate


def quarters(events: list[TouchpointEvent], scoring: bool) -> tuple[list[float], float, int]:
    """(events/s per quarter, events/s overall, labels learned) of one replay."""
    engine = default_engine(None, scoring=scoring)
    rates, overall = timed_quarters(engine, events, "scoring" if scoring else "no scoring")
    learned = sum(m.learned for m in engine.scorer.models.values()) if engine.scorer is not None else 0
    return rates, overall, learned


def timed_quarters(engine: Engine, events: list[TouchpointEvent], label: str = "") -> tuple[list[float], float]:
    """(events/s per quarter, events/s overall) of ``engine`` replaying ``events`` (in the order given)."""
    runner = ReplayRunner(engine)
    size = len(events) // 4
    marks = [time.perf_counter()]
    for i, event in enumerate(events, 1):
        runner.feed(event)
        if i % size == 0 and len(marks) < 5:
            marks.append(time.perf_counter())
            if label:
                print(f"  {label}: {i:,} events", file=sys.stderr)
    runner.finish()
    rates = [size / (b - a) for a, b in itertools.pairwise(marks)]
    return rates, 4 * size / (marks[-1] - marks[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3,000 customers instead of 22,000")
    parser.add_argument("--customers", type=int, default=22_000)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()
    customers = 3_000 if args.quick else args.customers
    events = simulate(customers, args.days, seed=5).events
    print(f"{len(events):,} events, {customers:,} customers, {args.days} days", file=sys.stderr)
    rows = []
    for scoring in (False, True):
        rates, overall, learned = quarters(events, scoring)
        rows.append(["scoring" if scoring else "no scoring", f"{len(events):,}", *(f"{r:,.0f}" for r in rates),
                     f"{overall:,.0f}", f"{learned:,}"])  # fmt: skip
    print("replay, one process, events/s by quarter of the history")
    print(format_table(["run", "events", "Q1", "Q2", "Q3", "Q4", "all", "labels learned"], rows))
    last, first = float(rows[1][5].replace(",", "")), float(rows[1][3].replace(",", ""))
    print(f"scoring, last quarter / second quarter: {last / first:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
