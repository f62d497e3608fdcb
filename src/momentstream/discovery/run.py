"""``discover``: history in; moments, timing window and backtest out. The stages in one place.

1. Read and validate the history into customer buckets (:mod:`.history`).
2. Stage one on the search's customers: beam search for sequences (:mod:`.mining`).
3. Stage two on the other customers, never seen by the search (:mod:`.split`): the best candidates
   compiled and counted by the engine, exact tests, Benjamini-Hochberg over the candidates tested
   (:mod:`.verify`, :mod:`.scan`).
4. The timing window after the best moment, or after ``--anchor`` (:mod:`.timing`).
5. With a split date: the written moments and the baselines over the later period (:mod:`.backtest`).
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import IO, Any

from momentstream.core.schema import ms_to_datetime
from momentstream.discovery.backtest import BacktestRow, backtest_rows, winback_spec
from momentstream.discovery.curve import DelayCurve
from momentstream.discovery.history import History, load_history
from momentstream.discovery.mining import (
    Candidate,
    CustomerSample,
    Mined,
    MiningOptions,
    diverse,
    mine,
    sample_customer,
)
from momentstream.discovery.outcome import Outcome, check_occurs
from momentstream.discovery.scan import Period, ScanResult, scan, without_windows
from momentstream.discovery.split import CustomerSplit
from momentstream.discovery.timing import PERMUTATIONS, TimingWindow, find_window, window_at
from momentstream.discovery.verify import Finding, candidate_spec, describe, findings, names_for, parents_of
from momentstream.patterns.predicates import Predicate
from momentstream.patterns.spec import EventStep, KOfNStep, MomentSpec, WindowSpec
from momentstream.runtime.inputs import InputFormat

__all__ = ["Anchor", "DiscoverOptions", "Discovery", "HistoryLoader", "discover"]

logger = logging.getLogger(__name__)
_D = 86_400_000
MAX_PERMUTATIONS = 1_999
_GIVEN_ANCHOR = "given_anchor"
TIMED_MOMENTS = 12
"""Significant moments whose delay curves are searched for a window: those where the timing of the
intervention mattered most in the sample (fewer tries keep the Bonferroni correction mild)."""
COARSE_MS = 60_000
"""A history whose timestamps are whole minutes or coarser has many ties: its moments' steps must fall on later
timestamps than the step before (``after:`` its resolution)."""
SET_CANDIDATES = 3
"""k-of-n sets counted by the engine beside the diverse choice (the best of different indicators)."""
TIMING_CANDIDATES = 10
"""Candidates counted by the engine for the strength of their timing effect (beside the best by p-value)."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """A moment to find the timing window after, and the step the delay is measured from."""

    spec: MomentSpec
    step: str | None

    @classmethod
    def of(cls, spec: MomentSpec) -> Anchor:
        """The window's anchor if the moment has one, else its last event (or k-of-n) step."""
        if spec.window is not None and spec.window.anchor is not None:
            return cls(spec, spec.window.anchor)
        events = [s.name for s in spec.steps if isinstance(s, EventStep | KOfNStep)]
        return cls(spec, events[-1] if events else None)


@dataclass(frozen=True, slots=True)
class DiscoverOptions:
    """Everything ``momentstream discover`` can be told; defaults suit a first look."""

    outcome: Outcome
    intervention: tuple[dict[str, Any], Predicate] | None = None
    randomised: tuple[dict[str, Any], Predicate] | None = None
    """Interventions whose timing was drawn at random: the window is then learned from them alone."""
    anchor: Anchor | None = None
    split_ms: int | None = None
    mining: MiningOptions = field(default_factory=MiningOptions)
    sample_customers: int = 20_000
    verify: int = 30
    """Candidates from stage one counted by the engine."""
    top: int = 5
    """Moments written to the moments file."""
    q: float = 0.05
    max_delay_ms: int = 3 * _D
    window_min_support: int = 20
    progress: bool = False
    workers: int | None = None
    workdir: Path | None = None
    write_protective: bool = False
    """Also write the protective sequences (lift below 1) as shadow moments, to watch."""
    write_predictors: bool = False
    """Also write sequences made only of outcome events (buy, buy -> buys again): for purchases-only histories."""
    input_format: InputFormat | None = None
    """How to read the history (JSON lines by default; CSV, Parquet, Segment)."""


@dataclass(slots=True)
class Discovery:
    """What discovery found, with every figure the report and the moments file show."""

    history: History
    train: Period
    test: Period | None
    mined: Mined
    findings: list[Finding]
    written: list[MomentSpec]
    anchor: Anchor | None = None
    window: TimingWindow | None = None
    window_backtest: tuple[tuple[int, int], tuple[int, int]] | None = None
    backtest: list[BacktestRow] = field(default_factory=list)
    base_rate: float = 0.0
    failures: int = 0
    timed: int = 0
    """Moments whose delay curve was searched for a window."""
    written_as: dict[str, str] = field(default_factory=dict)
    """Candidate name (as counted) -> name in the moments file, for the moments written."""
    tested: int = 0
    """Candidates counted by the engine and tested (the false discovery rate's count)."""
    tested_customers: int = 0
    """Customers those tests counted: the ones the search never saw."""
    protective: list[Finding] = field(default_factory=list)
    """Significant sequences after which the outcome is less likely (lift below 1), best first."""
    predictors: list[Finding] = field(default_factory=list)
    """Significant sequences made only of events that could be the outcome itself ("bought twice, buys a third
    time"): they predict it, they are no moment to act on, and are never written."""
    seconds: dict[str, float] = field(default_factory=dict)

    def finding_of(self, name: str) -> Finding | None:
        """The finding a moment stands for, by its name in the moments file or as counted."""
        counted = next((c for c, w in self.written_as.items() if w == name), name)
        return next((f for f in self.findings if f.spec.name == counted), None)


@dataclass(slots=True)
class _Clock:
    seconds: dict[str, float] = field(default_factory=dict)

    def stage(self, name: str, started: float) -> float:
        now = time.perf_counter()
        self.seconds[name] = round(now - started, 2)
        return now


HistoryLoader = Callable[..., History]
"""Reads a history as :func:`~momentstream.discovery.history.load_history` does (same arguments): the local one,
or Spark's (:mod:`momentstream.spark.history`), whose history runs the counting on executors."""


def discover(events: str | Path, options: DiscoverOptions, rejects: IO[str] | None = None,
             load: HistoryLoader = load_history) -> Discovery:  # fmt: skip
    """Run every stage over the events file (JSON lines, ``-`` for stdin), read by ``load``."""
    with _workdir(options.workdir) as workdir:
        return _discover(events, options, rejects, workdir, load)


@contextmanager
def _workdir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="momentstream-discover-") as tmp:
        yield Path(tmp)


def _discover(events: str | Path, options: DiscoverOptions, rejects: IO[str] | None, workdir: Path,
              load: HistoryLoader) -> Discovery:  # fmt: skip
    clock = _Clock()
    started = time.perf_counter()
    history = load(events, workdir, rejects=rejects, progress=options.progress,
                           input_format=options.input_format)  # fmt: skip
    started = clock.stage("read", started)
    if history.events:
        check_occurs(options.outcome.predicate, history.types, "--outcome")
        if options.intervention is not None:
            check_occurs(options.intervention[1], history.types, "--intervention")
    end = history.end_ms + 1
    split = options.split_ms
    if split is not None and not history.start_ms < split < end:
        raise ValueError("--split must fall inside the history "
                         f"({_day(history.start_ms)} to {_day(history.end_ms)})")  # fmt: skip
    train = Period(history.start_ms, split if split is not None else end)
    test = Period(split, end) if split is not None else None
    outcome = options.outcome
    intervention_where = options.intervention[0] if options.intervention else None
    intervention = options.intervention[1] if options.intervention else None

    searched = CustomerSplit.for_history(history.customers, options.sample_customers)
    samples = _sample(history, train, options, intervention, searched)
    mining = replace(options.mining, resolution_ms=max(options.mining.resolution_ms, history.resolution_ms))
    if intervention is not None:
        mining = replace(mining, timing_max_delay_ms=options.max_delay_ms)
    mined = mine(samples, outcome, train.end_ms, mining)
    started = clock.stage("mine", started)

    chosen = diverse(mined.candidates, options.verify)
    if intervention is not None:  # and the sequences after which the intervention's timing mattered most
        by_timing = sorted((c for c in mined.candidates if c.timing > 0), key=lambda c: -c.timing)
        keys = {c.key for c in chosen}
        chosen += [c for c in diverse(by_timing, TIMING_CANDIDATES) if c.key not in keys]
    chosen += _best_sets(mined.candidates, {c.key for c in chosen})
    chosen += parents_of(chosen)  # counted beside them, so a step that adds nothing can be folded away
    scored_sets = {c.key: c for c in mined.candidates if c.at_least}
    chosen = [scored_sets.get(c.key, c) for c in chosen]  # a set's variants keep the search's scores (see verify)
    after = history.resolution_ms if history.resolution_ms >= COARSE_MS else None  # same-timestamp rows: no sequence
    specs = [candidate_spec(c, name, intervention_where, after)
             for c, name in zip(chosen, names_for(chosen, "c"), strict=True)]  # fmt: skip
    anchors: dict[str, str | None] = {}
    scanned = list(specs)
    if intervention_where is not None:  # delay curves ride along with the counts: no second pass
        anchors = {s.name: Anchor.of(s).step for s in specs}
        if options.anchor is not None:
            scanned.append(replace(without_windows([options.anchor.spec])[0], name=_GIVEN_ANCHOR))
            anchors[_GIVEN_ANCHOR] = options.anchor.step
    counted = scan(history, scanned, outcome, train, intervention=intervention_where, anchors=anchors,
                   max_delay_ms=options.max_delay_ms, randomised=_where(options.randomised), held_out=searched,
                   everyone=frozenset({_GIVEN_ANCHOR}),
                   progress=options.progress, workers=options.workers,
                   label="counting candidates with the engine")  # fmt: skip
    found = findings(len(specs), chosen, specs, counted, options.q)
    started = clock.stage("verify", started)

    # Made only of events that could be the outcome (buy, buy -> buys again): momentum, nothing to act on.
    predictors = [f for f in found if f.significant and all(outcome.could_be(t) for t in f.candidate.tokens)]
    acted_on = [] if options.write_predictors else predictors
    positive = [f for f in found if f.significant and f.lift > 1 and f not in acted_on]  # moments to act on
    discovery = Discovery(history, train, test, mined, found, [], base_rate=counted.base_rate,
                          failures=counted.failures, tested=len(specs), tested_customers=counted.customers)  # fmt: skip
    if intervention_where is not None:
        promising = sorted(positive, key=lambda f: -f.candidate.timing)[:TIMED_MOMENTS]
        promising.sort(key=positive.index)  # strongest moment first: a window it carries goes to it
        curves = ([(options.anchor, counted.curves[_GIVEN_ANCHOR])] if options.anchor
                  else [(Anchor.of(f.spec), counted.curves[f.spec.name]) for f in promising])  # fmt: skip
        _timing(discovery, curves, options)
        started = clock.stage("timing", started)
    elif options.anchor is not None:
        discovery.anchor = options.anchor
    best = positive[: options.top]
    if options.anchor is None and discovery.anchor is not None and discovery.window and discovery.window.significant:
        timed = next(f for f in positive if f.spec is discovery.anchor.spec)  # the moment with the window goes first
        best = [timed, *(f for f in positive if f is not timed)][: options.top]
    discovery.protective = [f for f in found if f.significant and f.lift < 1 and f not in predictors]
    discovery.predictors = predictors
    discovery.written = _written(best, discovery.window, options.anchor, intervention_where, options.outcome)
    discovery.written_as = {f.spec.name: s.name for f, s in zip(best, discovery.written, strict=True)}
    if options.write_protective:
        watched = discovery.protective[: options.top]
        specs_watched = _watched(watched, options.outcome)
        discovery.written += specs_watched
        discovery.written_as |= {f.spec.name: s.name for f, s in zip(watched, specs_watched, strict=True)}
    if options.anchor is None and discovery.written and discovery.window and discovery.window.significant:
        discovery.anchor = Anchor(discovery.written[0], discovery.anchor.step if discovery.anchor else None)

    if test is not None:
        _backtest(discovery, history, test, options, mined, intervention_where)
        started = clock.stage("backtest", started)
    discovery.seconds = clock.seconds
    return discovery


def _best_sets(ranked: list[Candidate], given: set[tuple[object, ...]]) -> list[Candidate]:
    """The best k-of-n sets of different indicators (each its best k and window), beside the diverse choice:
    a set and the same set with one more indicator fire for mostly the same customers, so only one of them
    would be counted, and the search's sample may prefer the wrong one."""
    out: list[Candidate] = []
    seen: set[frozenset[object]] = set()
    for c in ranked:
        if len(out) >= SET_CANDIDATES:
            break
        members = frozenset(c.tokens)
        if c.at_least and members not in seen:
            seen.add(members)
            if c.key not in given:
                out.append(c)
    return out


def _timing(discovery: Discovery, timed: list[tuple[Anchor, DelayCurve]], options: DiscoverOptions) -> None:
    """The window of each anchor's delay curve (anchors strongest moment first); keeps the first significant one,
    else the strongest window found.

    A window after a noise step in front of the real moment, or after part of it, is about as
    strong as the window after the moment itself: the moment a CRM acts on is the strongest one
    that carries a significant window. Choosing among moments is itself a search: a window is
    significant only below the level divided by the number of moments timed (Bonferroni), with
    enough permutations for that to be reachable.
    """
    if not timed:
        return
    alpha = options.q / len(timed)
    permutations = min(MAX_PERMUTATIONS, max(PERMUTATIONS, math.ceil(20 / alpha) - 1))
    best: tuple[tuple[bool, float, float], Anchor, TimingWindow] | None = None
    for anchor, curve in timed:
        window = find_window(curve, min_support=options.window_min_support, lower_is_better=options.outcome.absent,
                             permutations=permutations, alpha=alpha)  # fmt: skip
        if window is None:
            continue
        logger.info("window after %s: %s, inside %s outside %s, p=%.4g", anchor.spec.name, window.label,
                    window.inside, window.outside, window.p_value)  # fmt: skip
        if best is None or (not window.significant, window.p_value, -window.statistic) < best[0]:
            best = ((not window.significant, window.p_value, -window.statistic), anchor, window)
        if window.significant:
            break
    discovery.timed = len(timed)
    discovery.anchor = timed[0][0] if best is None else best[1]
    discovery.window = None if best is None else best[2]


def _sample(history: History, train: Period, options: DiscoverOptions, intervention: Predicate | None,
            split: CustomerSplit) -> list[CustomerSample]:  # fmt: skip
    """Stage one's customers: the search's share of them (random by hash), up to the sample size."""
    work = partial(sample_customer, outcome=options.outcome, intervention=intervention, end_ms=train.end_ms)
    return history.first_searched(split.searched, train.start_ms, train.end_ms, options.sample_customers, work,
                                  progress=options.progress)  # fmt: skip


def _written(best: list[Finding], window: TimingWindow | None, given: Anchor | None,
             intervention: dict[str, Any] | None, outcome: Outcome) -> list[MomentSpec]:  # fmt: skip
    """The moments file: best first, renamed by rank, the window on the first when it was found for it.

    Each moment gets the outcome's horizon as its cooldown: one trigger per customer per question asked,
    not one at every repetition of a frequent sequence.
    """
    out = []
    names = names_for([f.candidate for f in best])
    for rank, (finding, name) in enumerate(zip(best, names, strict=True)):
        spec = replace(finding.spec, name=name, description=_evidence(finding), cooldown_ms=outcome.within_ms)
        if rank == 0 and given is None and window is not None and window.significant and intervention:
            anchor = Anchor.of(finding.spec).step
            spec = replace(spec, window=WindowSpec(window.opens_after_ms, window.closes_after_ms, anchor,
                                                   cancel_if=intervention, used_if=intervention),
                           description=f"{spec.description} {_window_evidence(window, anchor)}")  # fmt: skip
        out.append(spec)
    return out


def _watched(protective: list[Finding], outcome: Outcome) -> list[MomentSpec]:
    """Protective sequences as shadow moments (``w01_...``): they run and are audited, never sent to a CRM."""
    names = names_for([f.candidate for f in protective], "w")
    return [replace(f.spec, name=name, mode="shadow", cooldown_ms=outcome.within_ms,
                    description=f"Watch, do not act: the outcome is less likely after it. {_evidence(f)}")
            for f, name in zip(protective, names, strict=True)]  # fmt: skip


def _evidence(f: Finding) -> str:
    low, high = f.interval
    return (f"{describe(f.candidate)}. Fired for {f.counts.fired:,} customers with a known outcome; "
            f"outcome rate {100 * f.rate:.1f}% (95% CI {100 * low:.1f}-{100 * high:.1f}%) vs {100 * f.rest_rate:.1f}% "
            f"for the others, lift {f.lift:.2f}x, p={f.p_value:.2g}, BH q={f.q_value:.2g}.")  # fmt: skip


def _window_evidence(w: TimingWindow, anchor: str | None) -> str:
    (n_in, x_in), (n_out, x_out) = w.inside, w.outside
    return (f"Reached {w.label} after {anchor or 'the match'}: {x_in}/{n_in} ({100 * x_in / n_in:.0f}%) had the "
            f"outcome vs {x_out}/{n_out} ({100 * x_out / n_out:.0f}%) reached at other times (observational; "
            f"permutation p={w.p_value:.2g}).")  # fmt: skip


def _with_backtest(spec: MomentSpec, row: BacktestRow) -> MomentSpec:
    low, high = row.interval
    if not row.counts.fired:
        return replace(spec, description=f"{spec.description} Backtest: {row.counts.triggers:,} triggers, none with "
                                         "a known outcome.")  # fmt: skip
    figures = (f"Backtest: {row.counts.triggers:,} triggers; outcome rate {100 * row.rate:.1f}% (95% CI "
               f"{100 * low:.1f}-{100 * high:.1f}%) over {row.counts.fired:,} customers, {row.lift:.2f}x the base "
               "rate.")  # fmt: skip
    return replace(spec, description=f"{spec.description} {figures}")


def _backtest(discovery: Discovery, history: History, test: Period, options: DiscoverOptions, mined: Mined,
              intervention: dict[str, Any] | None) -> None:  # fmt: skip
    timing_name = "timing_anchor"
    entries: list[tuple[MomentSpec, str, str]] = [(s, "discovered", s.description.split(". ")[0])
                                                   for s in discovery.written]  # fmt: skip
    for days in (30, 60):
        spec = winback_spec(days, intervention)
        entries.append((spec, "baseline", spec.description))
    if mined.compass is not None:
        spec = candidate_spec(mined.compass, "baseline_best_frequency", intervention)
        entries.append((spec, "baseline", f"best frequency rule: {describe(mined.compass)}"))
    specs = [e[0] for e in entries]
    anchors: dict[str, str | None] = {}
    anchor = discovery.anchor
    if anchor is not None and intervention is not None and discovery.window is not None:
        specs.append(replace(without_windows([anchor.spec])[0], name=timing_name))
        anchors[timing_name] = anchor.step
    result: ScanResult = scan(history, specs, options.outcome, test, intervention=intervention, anchors=anchors,
                              max_delay_ms=options.max_delay_ms, randomised=_where(options.randomised),
                              progress=options.progress, workers=options.workers, label="backtest")  # fmt: skip
    discovery.backtest = backtest_rows(result, entries)
    rows_by_name = {r.name: r for r in discovery.backtest}
    discovery.written = [_with_backtest(s, rows_by_name[s.name]) for s in discovery.written]
    if anchors and discovery.window is not None:
        w = discovery.window
        discovery.window_backtest = window_at(result.curves[timing_name], w.opens_after_ms, w.closes_after_ms)


def _where(given: tuple[dict[str, Any], Predicate] | None) -> dict[str, Any] | None:
    return None if given is None else given[0]


def _day(ms: int) -> str:
    return ms_to_datetime(ms).date().isoformat()
