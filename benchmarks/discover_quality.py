"""How often ``discover`` finds what was planted, and how often it finds something where nothing was.

Each seed writes a history with a planted truth the code cannot know (``momentstream.sim.planted``:
random vocabulary, a random 2-3 step sequence, a random intervention window in hours; 2,500
customers over 120 days). Each null seed writes one where the outcome is independent of every event
(2,000 customers). Discovery then runs as a user would run it (outcome within 14 days, the
intervention named) and the tables say, per seed:

* whether the planted sequence is among the significant findings, and at which rank;
* whether it is the moment written first (the one a CRM acts on);
* whether the window sits on it, and how far its edges are from the planted ones (hours);
* for null histories, how many moments were written (there should be none; at the stated 5% false
  discovery rate, at most about one null history in twenty may show any).

    python benchmarks/discover_quality.py              # 10 planted seeds, 20 null histories (about 15 min)
    python benchmarks/discover_quality.py --quick      # 3 and 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from momentstream.core.clock import parse_duration
from momentstream.discovery.outcome import Outcome, parse_where
from momentstream.discovery.run import DiscoverOptions, Discovery, discover
from momentstream.ops.textable import format_table
from momentstream.sim.planted import Planted, plant

_H = 3_600_000


@dataclass(frozen=True)
class PlantedRun:
    seed: int
    planted: Planted
    rank: int | None
    written_first: bool
    window_on_it: bool
    edge_error_h: float | None
    seconds: float


def _options(planted: Planted, intervention: bool) -> DiscoverOptions:
    where, predicate = parse_where(planted.outcome, "--outcome")
    return DiscoverOptions(
        Outcome(where, predicate, parse_duration("14d")),
        intervention=parse_where(planted.intervention, "--intervention") if intervention else None,
    )


def _tokens_of(d: Discovery, spec_name: str) -> tuple[str, ...] | None:
    counted = {v: k for k, v in d.written_as.items()}.get(spec_name, spec_name)
    for f in d.findings:
        if f.spec.name == counted:
            return tuple(t[0] for t in f.candidate.tokens)
    return None


def run_planted(seed: int, workdir: Path) -> PlantedRun:
    path = workdir / f"planted-{seed}.jsonl"
    planted = plant(path, seed)
    started = time.perf_counter()
    d = discover(path, _options(planted, intervention=True))
    seconds = time.perf_counter() - started
    significant = [tuple(t[0] for t in f.candidate.tokens) for f in d.findings if f.significant and f.lift > 1]
    rank = significant.index(planted.sequence) + 1 if planted.sequence in significant else None
    first = _tokens_of(d, d.written[0].name) if d.written else None
    window = d.window if d.window is not None and d.window.significant else None
    on_it = window is not None and d.anchor is not None and _tokens_of(d, d.anchor.spec.name) == planted.sequence
    error = None
    if window is not None:
        low, high = planted.window_h
        error = max(abs(window.opens_after_ms / _H - low), abs(window.closes_after_ms / _H - high))
    return PlantedRun(seed, planted, rank, first == planted.sequence, on_it, error, seconds)


def run_null(seed: int, workdir: Path) -> tuple[int, int, float]:
    """Significant findings and written moments on a history without any effect."""
    path = workdir / f"null-{seed}.jsonl"
    planted = plant(path, seed, customers=2000, effect=False)
    started = time.perf_counter()
    d = discover(path, _options(planted, intervention=False))
    return sum(f.significant for f in d.findings), len(d.written), time.perf_counter() - started


def _row(r: PlantedRun) -> list[object]:
    low, high = r.planted.window_h
    error = "-" if r.edge_error_h is None else f"{r.edge_error_h:.1f}"
    yes = {True: "yes", False: "no"}
    return [r.seed, " > ".join(r.planted.sequence), f"{low:.0f}-{high:.0f} h", r.rank or "-",
            yes[r.written_first], yes[r.window_on_it], error, f"{r.seconds:.0f}"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 planted seeds and 5 null histories")
    parser.add_argument("--seeds", type=int, default=10, help="planted histories (default 10)")
    parser.add_argument("--nulls", type=int, default=20, help="null histories (default 20)")
    parser.add_argument("--first-seed", type=int, default=1001, help="seeds are consecutive from here")
    args = parser.parse_args()
    seeds, nulls = (3, 5) if args.quick else (args.seeds, args.nulls)
    with tempfile.TemporaryDirectory(prefix="discover-quality-") as tmp:
        workdir = Path(tmp)
        runs = [run_planted(args.first_seed + i, workdir) for i in range(seeds)]
        rows = [_row(r) for r in runs]
        print("planted histories (2,500 customers, 120 days; significant = BH q < 0.05)")
        print(format_table(["seed", "planted sequence", "window", "rank", "written 1st", "window on it",
                            "edge error h", "s"], rows))  # fmt: skip
        null_runs = [(args.first_seed + 500 + i, *run_null(args.first_seed + 500 + i, workdir)) for i in range(nulls)]
        print("\nnull histories (2,000 customers; the outcome is independent of every event)")
        print(
            format_table(["seed", "significant", "written", "s"], [[s, n, w, f"{t:.0f}"] for s, n, w, t in null_runs])
        )
    found = sum(r.rank is not None for r in runs)
    errors = [r.edge_error_h for r in runs if r.edge_error_h is not None]
    print("\nsummary")
    print(
        f"planted sequence significant: {found}/{seeds}; written first: {sum(r.written_first for r in runs)}/{seeds}; "
        f"window on the planted moment: {sum(r.window_on_it for r in runs)}/{seeds}; "
        f"window edges off by (median) {sorted(errors)[len(errors) // 2] if errors else float('nan'):.1f} h"
    )
    print(
        f"null histories with any written moment: {sum(w > 0 for _, _, w, _ in null_runs)}/{nulls} "
        f"(false moments per null history: {sum(w for _, _, w, _ in null_runs) / max(nulls, 1):.2f})"
    )


if __name__ == "__main__":
    main()
