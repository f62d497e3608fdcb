"""Identity stitching: what split histories cost, and what stitching recovers.

The simulator's journeys are replayed three ways with the bundled moments (no scoring): whole, split
(a share of customers start under a device id, some with an email id in between) with their identify
events, and split without them. It prints the events/s of each run side by side (one process, one
run: ratios are what count on a noisy machine), the merges, and how many of the whole history's
triggers each run finds and how many it adds that the whole history does not have (matched by
customer, moment, kind and evidence, an alias mapped to its customer): without stitching, the device's
and the customer's halves fire on their own.

    python benchmarks/identity.py            # 6,000 customers, 120 days, half of them split
    python benchmarks/identity.py --quick    # 1,500 customers
"""

from __future__ import annotations

import argparse
import sys
import time

from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import IdentityMerged, TouchpointEvent, Trigger
from momentstream.data import bundled_moments_path
from momentstream.ops.textable import format_table
from momentstream.patterns.dsl import load_moments
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.identities import SplitHistory, split_identities
from momentstream.sim.journeys import simulate

Key = tuple[object, ...]


def replay(events: list[TouchpointEvent], ids: SplitHistory) -> tuple[float, set[Key], int]:
    """(events/s, triggers as comparable keys, merges) of one replay."""
    runner = ReplayRunner(Engine(load_moments(bundled_moments_path()), EngineConfig()))
    started = time.perf_counter()
    outputs = list(runner.run(events))
    seconds = time.perf_counter() - started
    found = {(ids.canonical(t.customer_id), t.moment, t.kind, tuple(e.event_id for e in t.evidence))
             for t in outputs if isinstance(t, Trigger)}  # fmt: skip
    merges = sum(isinstance(o, IdentityMerged) for o in outputs)
    return len(events) / seconds, found, merges


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,500 customers instead of 6,000")
    parser.add_argument("--share", type=float, default=0.5, help="share of customers split (default 0.5)")
    args = parser.parse_args()
    customers = 1_500 if args.quick else 6_000
    sim = simulate(customers, 120, seed=9)
    split = split_identities(sim.events, share=args.share, seed=4, chained=0.2)
    unstitched = [e for e in split.events if e.type != "identify"]
    print(f"{len(sim.events):,} events of {customers:,} customers; {len(split.aliases):,} alias ids", file=sys.stderr)
    replay(sim.events[: len(sim.events) // 5], split)  # warm-up: caches (ticket tone, predicates) filled once
    whole_rate, whole, _ = replay(sim.events, split)
    rows = [["whole history", f"{len(sim.events):,}", f"{whole_rate:,.0f}", "", f"{len(whole):,}", "100.0%", "0"]]
    for label, events in (("split, with identify events", split.events), ("split, no identify events", unstitched)):
        rate, found, merges = replay(events, split)
        share = 100 * len(found & whole) / max(len(whole), 1)
        rows.append([label, f"{len(events):,}", f"{rate:,.0f}", f"{merges:,}", f"{len(found):,}", f"{share:.1f}%",
                     f"{len(found - whole):,}"])  # fmt: skip
    headers = ["run", "events", "events/s", "merges", "triggers", "found of the whole's", "not in the whole's"]
    print(format_table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
