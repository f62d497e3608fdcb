"""What bounding each customer's state costs: replay with and without ``max_state_bytes``, side by side.

The same simulated history is replayed with the bundled moments, with and without scoring, alternating
the two engine settings round after round in one process (the machine is noisy: the median ratio is
what counts). Ordinary customers are never trimmed, so the triggers must be identical; the cost is the
measuring (a size check per event, an encoding every 64 events).

    python benchmarks/state_budget.py            # 2,000 customers, 60 days, 6 rounds
    python benchmarks/state_budget.py --quick    # 500 customers, 3 rounds
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace

from momentstream.cli.demo import default_engine
from momentstream.core.schema import StateTrimmed, TouchpointEvent, Trigger
from momentstream.ops.textable import format_table
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.journeys import simulate


def timed(events: list[TouchpointEvent], scoring: bool, budget: int | None) -> tuple[float, set[str], int]:
    engine = default_engine(None, scoring=scoring)
    engine.config = replace(engine.config, max_state_bytes=budget)
    started = time.perf_counter()
    outputs = list(ReplayRunner(engine).run(events))
    rate = len(events) / (time.perf_counter() - started)
    trimmed = sum(isinstance(o, StateTrimmed) for o in outputs)
    return rate, {o.trigger_id for o in outputs if isinstance(o, Trigger)}, trimmed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 customers, 3 rounds")
    args = parser.parse_args(argv)
    customers, rounds = (500, 3) if args.quick else (2000, 6)
    events = sorted(simulate(customers, 60, 9).events, key=lambda e: e.ts)
    budget = default_engine(None, scoring=False).config.max_state_bytes
    print(f"{len(events):,} events of {customers:,} customers; budget {budget:,} bytes; {rounds} rounds")
    rows = []
    for scoring in (False, True):
        rates: dict[str, list[float]] = {"bounded": [], "unbounded": []}
        for _ in range(rounds):
            bounded, with_budget, trimmed = timed(events, scoring, budget)
            unbounded, without, _ = timed(events, scoring, None)
            if with_budget != without or trimmed:
                print("the budget changed ordinary customers' triggers", file=sys.stderr)
                return 1
            rates["bounded"].append(bounded)
            rates["unbounded"].append(unbounded)
        b, u = statistics.median(rates["bounded"]), statistics.median(rates["unbounded"])
        rows.append(["yes" if scoring else "no", f"{u:,.0f}", f"{b:,.0f}", f"{b / u:.3f}"])
    print(format_table(["scoring", "unbounded events/s", "bounded events/s", "ratio (median)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
