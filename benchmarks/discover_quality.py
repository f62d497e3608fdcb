"""How often ``discover`` finds what was planted, and how often it finds something where nothing was.

Each seed writes a history with a planted truth the code cannot know (``momentstream.sim.planted``:
random vocabulary, a random intervention window in hours; 2,500 customers over 120 days) in one of
four shapes:

* ``sequence``: a random 2-3 step ordered sequence;
* ``at_least``: any 3 of 5 words within 7 days, in any order;
* ``absence``: a word not followed by another for 12h (in the background the second follows the
  first nine times in ten, and half the planted customers are such near misses, without effect);
* ``value``: a 2-step sequence whose last event has a value of at least a round threshold (half
  the planted customers are near misses with an ordinary value).

Each null seed writes one where the outcome is independent of every event (2,000 customers).
Discovery then runs as a user would run it (outcome within 14 days, the intervention named) and the
tables say, per seed:

* whether the planted shape (the same words, the same k, the same absent word, a threshold between
  2.5 times below the planted one and the next round number above it, at most 1.25 times, which misses at
  most an eighth of the planted customers) is among the significant findings, and at which rank;
* whether it is the moment written first (the one a CRM acts on);
* whether the window sits on it, and how far its edges are from the planted ones (hours);
* for null histories, how many moments were written (there should be none; at the stated 5% false
  discovery rate, at most about one null history in twenty may show any).

Beside it, a baseline from the literature on the same histories: frequent sequential patterns per
outcome class (PrefixSpan-style contrast mining: every ordered pair and triple of event types, ranked by
how much more often customers with the outcome show it than customers without; no significance test).
Its columns give the rank of the planted sequence (for ``at_least``, of the best ordered pair of the
set's words; for ``absence`` and ``value`` it cannot express the shape: the rank of the bare
sequence of words), and on the null histories how many patterns a naive chi-square test (p < 0.05,
uncorrected) calls significant.

    python benchmarks/discover_quality.py              # 10 seeds per shape, 20 null histories (about 40 min)
    python benchmarks/discover_quality.py --quick      # 2 seeds per shape, 5 null histories
    python benchmarks/discover_quality.py --shapes sequence,at_least
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from momentstream.core.clock import parse_duration
from momentstream.discovery.mining import Candidate
from momentstream.discovery.outcome import Outcome, parse_where
from momentstream.discovery.run import DiscoverOptions, Discovery, discover
from momentstream.discovery.tokens import AT_LEAST
from momentstream.ops.textable import format_table
from momentstream.sim.planted import SHAPES, Planted, Shape, plant

_H = 3_600_000
_FIRST_SEED = {"sequence": 1001, "at_least": 2001, "absence": 3001, "value": 4001}


@dataclass(frozen=True)
class PlantedRun:
    seed: int
    planted: Planted
    rank: int | None
    written_first: bool
    window_on_it: bool
    edge_error_h: float | None
    baseline_rank: int | None
    seconds: float


def _options(planted: Planted, intervention: bool) -> DiscoverOptions:
    where, predicate = parse_where(planted.outcome, "--outcome")
    return DiscoverOptions(
        Outcome(where, predicate, parse_duration("14d")),
        intervention=parse_where(planted.intervention, "--intervention") if intervention else None,
    )


def is_planted(c: Candidate, planted: Planted) -> bool:
    """Whether a candidate states the planted shape."""
    kinds = tuple(t[0] for t in c.tokens)
    plain = not c.at_least and c.absent is None
    if planted.shape == "sequence":
        return plain and kinds == planted.sequence and not any(t[1] for t in c.tokens)
    if planted.shape == "at_least":
        return c.at_least == planted.k and sorted(kinds) == sorted(planted.sequence)
    if planted.shape == "absence":
        return c.absent is not None and kinds == planted.sequence[:1] and c.absent[0] == planted.sequence[1]
    last = c.tokens[-1]
    threshold = planted.threshold or 0.0
    return (plain and kinds == planted.sequence and last[1] == f"value{AT_LEAST}"
            and threshold / 2.5 <= float(last[2]) <= 1.25 * threshold)  # fmt: skip


def _candidate_of(d: Discovery, spec_name: str) -> Candidate | None:
    found = d.finding_of(spec_name)
    return None if found is None else found.candidate


def run_planted(shape: Shape, seed: int, workdir: Path) -> PlantedRun:
    path = workdir / f"planted-{shape}-{seed}.jsonl"
    planted = plant(path, seed, shape=shape)
    started = time.perf_counter()
    d = discover(path, _options(planted, intervention=True))
    seconds = time.perf_counter() - started
    significant = [f.candidate for f in d.findings if f.significant and f.lift > 1]
    rank = next((i + 1 for i, c in enumerate(significant) if is_planted(c, planted)), None)
    first = _candidate_of(d, d.written[0].name) if d.written else None
    window = d.window if d.window is not None and d.window.significant else None
    anchor = _candidate_of(d, d.anchor.spec.name) if d.anchor is not None else None
    on_it = window is not None and anchor is not None and is_planted(anchor, planted)
    error = None
    if window is not None:
        low, high = planted.window_h
        error = max(abs(window.opens_after_ms / _H - low), abs(window.closes_after_ms / _H - high))
    baseline = contrast_patterns(path, planted)
    wanted = set(itertools.permutations(planted.sequence, 2)) if shape == "at_least" else {planted.sequence}
    baseline_rank = next((i + 1 for i, (pattern, _, _) in enumerate(baseline) if pattern in wanted), None)
    return PlantedRun(seed, planted, rank, first is not None and is_planted(first, planted), on_it, error,
                      baseline_rank, seconds)  # fmt: skip


def contrast_patterns(path: Path, planted: Planted) -> list[tuple[tuple[str, ...], float, float]]:
    """Ordered pairs and triples of event types (any gap), ranked by support among customers with the outcome
    minus support among those without (at least 5% support in one class): (pattern, difference, p-value)."""
    events: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        e = json.loads(line)
        events[e["customer_id"]].append((e["ts"], e["type"]))
    support: dict[bool, dict[tuple[str, ...], int]] = {True: defaultdict(int), False: defaultdict(int)}
    sizes = {True: 0, False: 0}
    for rows in events.values():
        rows.sort()
        kinds = [k for _, k in rows if k not in (planted.outcome, planted.intervention)]
        label = any(k == planted.outcome for _, k in rows)
        sizes[label] += 1
        positions: dict[str, list[int]] = defaultdict(list)
        for i, k in enumerate(kinds):
            positions[k].append(i)
        seen = sorted(positions)
        for a, b in itertools.permutations(seen, 2):
            if positions[a][0] < positions[b][-1]:
                support[label][(a, b)] += 1
        for a, b, c in itertools.permutations(seen, 3):
            first, last = positions[a][0], positions[c][-1]
            if any(first < i < last for i in positions[b]):
                support[label][(a, b, c)] += 1
    out = []
    for pattern in set(support[True]) | set(support[False]):
        x1, x0 = support[True][pattern], support[False][pattern]
        n1, n0 = max(sizes[True], 1), max(sizes[False], 1)
        if max(x1 / n1, x0 / n0) < 0.05:
            continue
        out.append((pattern, x1 / n1 - x0 / n0, _chi2_p(x1, n1, x0, n0)))
    out.sort(key=lambda item: (-item[1], item[0]))
    return out


def _chi2_p(x1: int, n1: int, x0: int, n0: int) -> float:
    pooled = (x1 + x0) / (n1 + n0)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0)) if 0 < pooled < 1 else 0.0
    return 1.0 if spread == 0 else math.erfc(abs(x1 / n1 - x0 / n0) / spread / math.sqrt(2))


def run_null(seed: int, workdir: Path) -> tuple[int, int, int, float]:
    """Significant findings and written moments on a history without any effect; the baseline's naive hits."""
    path = workdir / f"null-{seed}.jsonl"
    planted = plant(path, seed, customers=2000, effect=False)
    started = time.perf_counter()
    d = discover(path, _options(planted, intervention=False))
    seconds = time.perf_counter() - started
    naive = sum(1 for _, diff, p in contrast_patterns(path, planted) if diff > 0 and p < 0.05)
    return sum(f.significant for f in d.findings), len(d.written), naive, seconds


def _describe(planted: Planted) -> str:
    words = " > ".join(planted.sequence)
    if planted.shape == "at_least":
        return f"{planted.k} of {{{', '.join(planted.sequence)}}}"
    if planted.shape == "absence":
        return f"{planted.sequence[0]}, no {planted.sequence[1]} 12h"
    if planted.shape == "value":
        return f"{words} value>={planted.threshold:g}"
    return words


def _row(r: PlantedRun) -> list[object]:
    low, high = r.planted.window_h
    error = "-" if r.edge_error_h is None else f"{r.edge_error_h:.1f}"
    yes = {True: "yes", False: "no"}
    return [r.seed, _describe(r.planted), f"{low:.0f}-{high:.0f} h", r.rank or "-", yes[r.written_first],
            yes[r.window_on_it], error, r.baseline_rank or "-", f"{r.seconds:.0f}"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 seeds per shape and 5 null histories")
    parser.add_argument("--seeds", type=int, default=10, help="planted histories per shape (default 10)")
    parser.add_argument("--nulls", type=int, default=20, help="null histories (default 20)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, of {', '.join(SHAPES)}")
    args = parser.parse_args()
    seeds, nulls = (2, 5) if args.quick else (args.seeds, args.nulls)
    shapes: list[Shape] = [s for s in SHAPES if s in args.shapes.split(",")]
    summary = []
    with tempfile.TemporaryDirectory(prefix="discover-quality-") as tmp:
        workdir = Path(tmp)
        for shape in shapes:
            runs = [run_planted(shape, _FIRST_SEED[shape] + i, workdir) for i in range(seeds)]
            print(f"\nplanted {shape} (2,500 customers, 120 days; significant = BH q < 0.05)", flush=True)
            print(format_table(["seed", "planted", "window", "rank", "written 1st", "window on it", "edge error h",
                                "baseline rank", "s"], [_row(r) for r in runs]), flush=True)  # fmt: skip
            errors = sorted(r.edge_error_h for r in runs if r.edge_error_h is not None)
            summary.append([shape, f"{sum(r.rank is not None for r in runs)}/{seeds}",
                            f"{sum(r.rank == 1 for r in runs)}/{seeds}",
                            f"{sum(r.written_first for r in runs)}/{seeds}",
                            f"{sum(r.window_on_it for r in runs)}/{seeds}",
                            f"{errors[len(errors) // 2]:.1f}" if errors else "-",
                            f"{sum(r.baseline_rank == 1 for r in runs)}/{seeds}"])  # fmt: skip
        null_runs = [(1501 + i, *run_null(1501 + i, workdir)) for i in range(nulls)]
    print("\nnull histories (2,000 customers; the outcome is independent of every event)")
    print(format_table(["seed", "significant", "written", "baseline naive hits", "s"],
                       [[s, n, w, b, f"{t:.0f}"] for s, n, w, b, t in null_runs]))  # fmt: skip
    print("\nsummary")
    print(format_table(["shape", "significant", "rank 1", "written 1st", "window on it", "median edge error h",
                        "baseline rank 1"], summary))  # fmt: skip
    print(
        f"null histories with any written moment: {sum(w > 0 for _, _, w, _, _ in null_runs)}/{nulls} "
        f"(false moments per null history: {sum(w for _, _, w, _, _ in null_runs) / max(nulls, 1):.2f}); "
        f"baseline: {sum(b > 0 for _, _, _, b, _ in null_runs)}/{nulls} null histories with a naive hit"
    )


if __name__ == "__main__":
    main()
