"""Stage one of discovery: propose ordered sequences that move the outcome rate, cheaply.

A beam search over a sample of customers held in memory: every frequent token, then every
frequent pair, then the best prefixes extended by one token up to four steps, each with and
without a trailing silence. Each sequence is scored by the outcome rate after it against the
rate of customers it does not fire for. The counts here are approximate (earliest chain
only); the candidates that go on are counted exactly by the engine's matcher in
:mod:`momentstream.discovery.verify`, and everything tried here counts towards the false
discovery rate there.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from momentstream.core.clock import to_ms
from momentstream.discovery.history import CustomerHistory
from momentstream.discovery.outcome import SYSTEM_TYPES, Outcome, reference_time
from momentstream.discovery.timing import empty_curve, find_window
from momentstream.discovery.tokens import Token, event_tokens
from momentstream.patterns.predicates import Predicate

__all__ = [
    "SILENCES_MS",
    "Candidate",
    "CustomerSample",
    "Mined",
    "MiningOptions",
    "diverse",
    "mine",
    "round_up_duration",
    "sample_customer",
]

_H = 3_600_000
_D = 24 * _H
SILENCES_MS = (1 * _H, 3 * _H, 6 * _H, 12 * _H, 18 * _H, _D, 2 * _D, 3 * _D, 7 * _D)
"""Trailing silences tried after a sequence ("then nothing for 18h")."""
_HUMAN_MS = (15 * 60_000, 30 * 60_000, _H, 2 * _H, 3 * _H, 4 * _H, 6 * _H, 8 * _H, 12 * _H, 18 * _H, _D,
             36 * _H, 2 * _D, 3 * _D, 4 * _D, 5 * _D, 7 * _D, 10 * _D, 14 * _D, 21 * _D, 30 * _D, 45 * _D,
             60 * _D, 90 * _D)  # fmt: skip
_COMPASS_COUNTS = (1, 2, 3, 5, 8)
_COMPASS_SPAN_MS = 30 * _D


def round_up_duration(ms: int) -> int:
    """The next human duration at or above ``ms`` (15m, 30m, 1h, 2h, … 1d, 36h, 2d, … 90d).

    >>> from momentstream.core.clock import format_duration
    >>> format_duration(round_up_duration(47 * 3_600_000))
    '2d'
    """
    i = bisect.bisect_left(_HUMAN_MS, ms)
    return _HUMAN_MS[i] if i < len(_HUMAN_MS) else -(-ms // _D) * _D


@dataclass(frozen=True, slots=True)
class MiningOptions:
    """How wide and deep stage one searches."""

    max_steps: int = 4
    max_gap_ms: int = 7 * _D
    min_support: int = 30
    """Customers a sequence must fire for (with a known outcome) to be scored at all."""
    beam: int = 20
    max_tokens: int = 40
    max_values: int = 12
    """A property with more distinct values than this (per event type) is not used as a refinement."""
    silences: bool = True
    timing_max_delay_ms: int | None = None
    """With an intervention: rank sequences also by how much the timing of it mattered after them."""
    resolution_ms: int = 1
    """The history's time resolution: gaps are at least this long and no silence is shorter (a daily export's
    "nothing for 3h" would only say "nothing later that day")."""


@dataclass(slots=True)
class CustomerSample:
    """What stage one keeps of a customer: token times, activity times and outcome label at rest."""

    customer_id: str
    by_token: dict[Token, list[int]]
    activity: list[int]
    outcomes: list[int]
    reference: int | None
    reference_label: bool | None
    interventions: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An ordered sequence of tokens, the longest gap allowed after each, and an optional silence."""

    tokens: tuple[Token, ...]
    gaps_ms: tuple[int, ...]
    silence_ms: int | None = None
    counts: tuple[int, int, int, int] = (0, 0, 0, 0)
    """(fired, outcome after firing, not fired, outcome at rest) in the sample."""
    p_value: float = 1.0
    timing: float = 0.0
    """Log-likelihood ratio of the best intervention window after it in the sample (0: none)."""
    members: int = field(default=0, compare=False, repr=False)
    """The sampled customers it fired for, one bit each (to tell near-duplicates apart)."""

    @property
    def key(self) -> tuple[tuple[Token, ...], tuple[int, ...], int | None]:
        """Identity regardless of counts."""
        return (self.tokens, self.gaps_ms, self.silence_ms)


@dataclass(slots=True)
class Mined:
    """Stage one's result: every scored candidate (``tried``), best first, and the Compass baseline."""

    candidates: list[Candidate]
    tried: int
    tokens: int
    compass: Candidate | None = None
    sampled: int = 0
    counts: Counter[str] = field(default_factory=Counter)


def sample_customer(
    customer: CustomerHistory, outcome: Outcome, intervention: Predicate | None, end_ms: int
) -> CustomerSample:
    """Index one customer's events by token, leaving out bookkeeping and the intervention itself."""
    by_token: dict[Token, list[int]] = defaultdict(list)
    activity: list[int] = []
    all_times: list[int] = []
    interventions: list[int] = []
    for event in customer.events:
        if event.type in SYSTEM_TYPES:
            continue
        ts = to_ms(event.ts)
        all_times.append(ts)
        if intervention is not None and intervention(event):
            interventions.append(ts)
            continue
        activity.append(ts)
        for token in event_tokens(event):
            by_token[token].append(ts)
    outcomes = outcome.times(customer.events)
    reference = reference_time(customer.customer_id, all_times, outcome.within_ms, end_ms)
    label = None if reference is None else outcome.label(outcomes, reference, end_ms)
    return CustomerSample(customer.customer_id, dict(by_token), activity, outcomes, reference, label, interventions)


def two_proportion_p(x1: int, n1: int, x0: int, n0: int) -> float:
    """Two-sided p-value of the pooled z test (fast; stage one only ranks with it)."""
    if n1 == 0 or n0 == 0:
        return 1.0
    pooled = (x1 + x0) / (n1 + n0)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    if spread == 0:
        return 1.0
    z = (x1 / n1 - x0 / n0) / spread
    return math.erfc(abs(z) / math.sqrt(2))


class _Scorer:
    """Turns the customers a sequence fires for (with the time it completes) into counts and a p-value."""

    def __init__(self, samples: Sequence[CustomerSample], outcome: Outcome, end_ms: int) -> None:
        self.samples = samples
        self.outcome = outcome
        self.end_ms = end_ms
        self.rest_n = sum(1 for s in samples if s.reference_label is not None)
        self.rest_x = sum(1 for s in samples if s.reference_label)

    def score(self, fired: dict[int, int]) -> tuple[tuple[int, int, int, int], float, int]:
        n1 = x1 = members = 0
        rest_n, rest_x = self.rest_n, self.rest_x
        for index, at in fired.items():
            members |= 1 << index
            sample = self.samples[index]
            if sample.reference_label is not None:  # this customer leaves the comparison group
                rest_n -= 1
                rest_x -= sample.reference_label
            label = self.outcome.label(sample.outcomes, at, self.end_ms)
            if label is not None:
                n1 += 1
                x1 += label
        return (n1, x1, rest_n, rest_x), two_proportion_p(x1, n1, rest_x, rest_n), members


def _frequent_tokens(samples: Sequence[CustomerSample], options: MiningOptions) -> list[Token]:
    support: Counter[Token] = Counter()
    values: dict[tuple[str, str], set[object]] = defaultdict(set)
    for s in samples:
        support.update(s.by_token.keys())
        for kind, name, value in s.by_token:
            if name:
                values[(kind, name)].add(value)
    keep = []
    for token, n in support.items():
        kind, name, _ = token
        if n < options.min_support:
            continue
        if name and (len(values[(kind, name)]) > options.max_values or n >= support[(kind, "", None)]):
            continue  # an id-like property, or a refinement that refines nothing
        keep.append(token)
    keep.sort(key=lambda t: (-support[t], str(t)))
    return keep[: options.max_tokens]


Chains = dict[int, list[tuple[int, tuple[int, ...]]]]
"""Per sampled customer: one greedy chain (end time, gaps) per occurrence of the first token, in order."""
_MAX_STARTS = 64


def _extend(samples: Sequence[CustomerSample], chains: Chains, token: Token, max_gap_ms: int) -> Chains:
    """Chains that continue with ``token`` within the gap (the earliest such event: any later one
    could only make a later, never an earlier, completion)."""
    out: Chains = {}
    for index, ends in chains.items():
        times = samples[index].by_token.get(token)
        if not times:
            continue
        longer = []
        for end, gaps in ends:
            i = bisect.bisect_right(times, end)
            if i < len(times) and times[i] - end <= max_gap_ms:
                longer.append((times[i], (*gaps, times[i] - end)))
        if longer:
            out[index] = longer
    return out


def _starts(samples: Sequence[CustomerSample], token: Token) -> Chains:
    return {i: [(t, ()) for t in s.by_token[token][:_MAX_STARTS]] for i, s in enumerate(samples) if token in s.by_token}


def _completions(chains: Chains) -> dict[int, tuple[int, tuple[int, ...]]]:
    """Each customer's earliest completion (greedy chains from later starts end no earlier)."""
    return {i: min(ends) for i, ends in chains.items()}


def _tightened(chains: Chains, limits: tuple[int, ...]) -> Chains:
    """The chains whose every gap is within ``limits``: exactly the greedy chains under those limits."""
    out: Chains = {}
    for index, ends in chains.items():
        kept = [(e, g) for e, g in ends if all(x <= y for x, y in zip(g, limits, strict=True))]
        if kept:
            out[index] = kept
    return out


def _learned_gaps(firsts: dict[int, tuple[int, tuple[int, ...]]], steps: int, max_gap_ms: int,
                  resolution_ms: int = 1) -> tuple[int, ...]:  # fmt: skip
    """Per transition: the 95th percentile of the given chains' gaps, rounded up to a human unit (no finer than
    the history's time resolution)."""
    learned = []
    for k in range(steps - 1):
        gaps = sorted(g[k] for _, g in firsts.values())
        q95 = gaps[min(len(gaps) - 1, int(0.95 * len(gaps)))] if gaps else max_gap_ms
        learned.append(min(max_gap_ms, round_up_duration(max(q95, resolution_ms, 1))))
    return tuple(learned)


def _silenced(samples: Sequence[CustomerSample], chains: Chains, silence_ms: int, end_ms: int) -> dict[int, int]:
    """Customers with no activity for ``silence_ms`` after one of their chains: earliest completion."""
    out = {}
    for index, ends in chains.items():
        activity = samples[index].activity
        for end, _ in ends:
            done = end + silence_ms
            if done > end_ms:
                break
            i = bisect.bisect_right(activity, end)
            if i == len(activity) or activity[i] > done:
                out[index] = done
                break
    return out


def mine(samples: Sequence[CustomerSample], outcome: Outcome, end_ms: int, options: MiningOptions) -> Mined:
    """Beam search for sequences of 2..max_steps tokens (and silences) that shift the outcome rate.

    Each sequence is tried with the longest gap allowed and with the gaps its customers who
    reached the outcome actually showed (rounded up to human units), each with and without
    every trailing silence; all of these count as tried.
    """
    scorer = _Scorer(samples, outcome, end_ms)
    tokens = _frequent_tokens(samples, options)
    scored: dict[tuple[object, ...], Candidate] = {}
    loose = options.max_gap_ms

    def variants(seq: tuple[Token, ...], chains: Chains, gaps: tuple[int, ...]) -> Candidate | None:
        firsts = _completions(chains)
        counts, p, members = scorer.score({i: end for i, (end, _) in firsts.items()})
        if counts[0] < options.min_support:
            return None
        best = Candidate(seq, gaps, None, counts, p, members=members)
        scored[(seq, gaps, None)] = best
        if options.silences:
            for silence in SILENCES_MS:
                if silence > options.max_gap_ms:
                    break
                if silence < options.resolution_ms:
                    continue
                s_counts, s_p, s_members = scorer.score(_silenced(samples, chains, silence, end_ms))
                if s_counts[0] >= options.min_support:
                    variant = Candidate(seq, gaps, silence, s_counts, s_p, members=s_members)
                    scored[(seq, gaps, silence)] = variant
                    best = min(best, variant, key=lambda c: c.p_value)
        return best

    def consider(seq: tuple[Token, ...], chains: Chains) -> Candidate | None:
        best = variants(seq, chains, (loose,) * (len(seq) - 1))
        if best is None:
            return None
        firsts = _completions(chains)
        reached = {i: f for i, f in firsts.items() if outcome.label(samples[i].outcomes, f[0], end_ms)}
        learned = _learned_gaps(reached, len(seq), loose, options.resolution_ms)
        used = chains
        if reached and learned != best.gaps_ms:
            tight_chains = _tightened(chains, learned)
            tight = variants(seq, tight_chains, learned)
            if tight is not None and tight.p_value < best.p_value:
                best, used = tight, tight_chains
        if options.timing_max_delay_ms is not None:
            best = replace(best, timing=_timing_statistic(samples, outcome, end_ms, best, used,
                                                          options.timing_max_delay_ms))  # fmt: skip
            scored[best.key] = best
        return best

    starts = {t: _starts(samples, t) for t in tokens}
    frontier: list[tuple[Candidate, Chains]] = []
    for first in tokens:
        for second in tokens:
            chains = _extend(samples, starts[first], second, loose)
            if len(chains) >= options.min_support:
                best = consider((first, second), chains)
                if best is not None:
                    frontier.append((best, chains))
    for _ in range(3, options.max_steps + 1):
        frontier.sort(key=lambda item: item[0].p_value)
        grown: list[tuple[Candidate, Chains]] = []
        for best, chains in frontier[: options.beam]:
            for token in tokens:
                longer = _extend(samples, chains, token, loose)
                if len(longer) >= options.min_support:
                    found = consider((*best.tokens, token), longer)
                    if found is not None:
                        grown.append((found, longer))
        frontier = grown
    ranked = sorted(scored.values(), key=lambda c: (c.p_value, -c.counts[0], str(c.key)))
    return Mined(ranked, len(scored), len(tokens), _compass(samples, scorer, tokens, options), len(samples))


def _timing_statistic(samples: Sequence[CustomerSample], outcome: Outcome, end_ms: int, candidate: Candidate,
                      chains: Chains, max_delay_ms: int) -> float:  # fmt: skip
    """How strongly the outcome after ``candidate`` depends on when the intervention came (sample only)."""
    silence = candidate.silence_ms or 0
    fired = (_silenced(samples, chains, silence, end_ms) if silence
             else {i: end for i, (end, _) in _completions(chains).items()})  # fmt: skip
    curve = empty_curve(max_delay_ms)
    for index, done in fired.items():
        sample = samples[index]
        label = outcome.label(sample.outcomes, done, end_ms)
        if label is None:
            continue
        anchor = done - silence
        i = bisect.bisect_right(sample.interventions, anchor)
        delay = sample.interventions[i] - anchor if i < len(sample.interventions) else None
        curve.add(delay, label, ())
    window = find_window(curve, permutations=0, lower_is_better=outcome.absent)
    return 0.0 if window is None else window.statistic


def diverse(ranked: Sequence[Candidate], limit: int, max_overlap: float = 0.5) -> list[Candidate]:
    """The best ``limit`` candidates, skipping any that fires for mostly the same sampled customers
    (Jaccard overlap above ``max_overlap``) as a better one: variants of one pattern would
    otherwise fill every place the engine counts."""
    chosen: list[Candidate] = []
    for candidate in ranked:
        if len(chosen) >= limit:
            break
        mine = candidate.members
        if all((mine & c.members).bit_count() <= max_overlap * (mine | c.members).bit_count() for c in chosen):
            chosen.append(candidate)
    return chosen


def _compass(samples: Sequence[CustomerSample], scorer: _Scorer, tokens: Iterable[Token],
             options: MiningOptions) -> Candidate | None:  # fmt: skip
    """The best "did X at least k times within 30 days" rule, as a frequency-threshold tool shows it."""
    best: Candidate | None = None
    for token in tokens:
        if token[1]:
            continue
        for k in _COMPASS_COUNTS:
            fired = {}
            for index, s in enumerate(samples):
                times = s.by_token.get(token, [])
                for j in range(k - 1, len(times)):
                    if times[j] - times[j - k + 1] <= _COMPASS_SPAN_MS:
                        fired[index] = times[j]
                        break
            counts, p, _ = scorer.score(fired)
            n1, x1, n0, x0 = counts
            if n1 < options.min_support or not n0 or x1 / n1 <= x0 / n0:
                continue
            candidate = Candidate((token,) * k, (), None, counts, p)
            if best is None or p < best.p_value:
                best = candidate
    return best
