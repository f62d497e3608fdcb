"""What stage one works on: customers sampled into memory, candidate moments, and their scoring.

A :class:`CustomerSample` keeps a customer's token times at rest; a :class:`Candidate` is a shape
(ordered sequence, k-of-n set, sequence then an absence) with the counts it got in the sample.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from momentstream.core.clock import to_ms
from momentstream.discovery.history import CustomerHistory
from momentstream.discovery.outcome import SYSTEM_TYPES, Outcome, reference_time
from momentstream.discovery.timing import empty_curve, find_window
from momentstream.discovery.tokens import Token, event_numbers, event_tokens
from momentstream.patterns.predicates import Predicate

__all__ = [
    "SILENCES_MS",
    "Candidate",
    "CustomerSample",
    "MiningOptions",
    "Scorer",
    "raises",
    "round_up_duration",
    "sample_customer",
    "two_proportion_p",
]

_H = 3_600_000
_D = 24 * _H
SILENCES_MS = (1 * _H, 3 * _H, 6 * _H, 12 * _H, 18 * _H, _D, 2 * _D, 3 * _D, 7 * _D)
"""Trailing silences tried after a sequence ("then nothing for 18h")."""
_HUMAN_MS = (15 * 60_000, 30 * 60_000, _H, 2 * _H, 3 * _H, 4 * _H, 6 * _H, 8 * _H, 12 * _H, 18 * _H, _D,
             36 * _H, 2 * _D, 3 * _D, 4 * _D, 5 * _D, 7 * _D, 10 * _D, 14 * _D, 21 * _D, 30 * _D, 45 * _D,
             60 * _D, 90 * _D)  # fmt: skip


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
    numbers: dict[tuple[str, str], list[tuple[int, float]]] = field(default_factory=dict)
    """Per (event type, ``value`` or numeric property): (time, number), for thresholds (:mod:`.shapes`)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """An ordered sequence of tokens, the longest gap allowed after each, and an optional silence.

    Two other shapes share it. With ``at_least`` k: at least k distinct ``tokens``, in any order, each within
    ``gaps_ms[0]`` of the latest (a k-of-n moment). With ``absent``: the sequence, then no event of that token
    (rather than no activity at all) for ``silence_ms``.
    """

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
    at_least: int = 0
    absent: Token | None = None

    @property
    def key(self) -> tuple[object, ...]:
        """Identity regardless of counts."""
        return (self.tokens, self.gaps_ms, self.silence_ms, self.at_least, self.absent)


def sample_customer(
    customer: CustomerHistory, outcome: Outcome, intervention: Predicate | None, end_ms: int
) -> CustomerSample:
    """Index one customer's events by token, leaving out bookkeeping and the intervention itself."""
    by_token: dict[Token, list[int]] = defaultdict(list)
    activity: list[int] = []
    all_times: list[int] = []
    interventions: list[int] = []
    numbers: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
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
        for name, number in event_numbers(event):
            numbers[(event.type, name)].append((ts, number))
    outcomes = outcome.times(customer.events)
    reference = reference_time(customer.customer_id, all_times, outcome.within_ms, end_ms)
    label = None if reference is None else outcome.label(outcomes, reference, end_ms)
    return CustomerSample(customer.customer_id, dict(by_token), activity, outcomes, reference, label, interventions,
                          dict(numbers))  # fmt: skip


def raises(counts: tuple[int, int, int, int]) -> bool:
    """Whether the outcome rate after firing is above the rate at rest: (fired, outcome, rest, outcome at rest).

    >>> raises((10, 5, 100, 10)), raises((10, 1, 100, 10)), raises((0, 0, 100, 10))
    (True, False, False)
    """
    n1, x1, n0, x0 = counts
    return n1 > 0 and n0 > 0 and x1 / n1 > x0 / n0


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


class Scorer:
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

    def timing(self, fired: dict[int, int], back_ms: int, max_delay_ms: int) -> float:
        """How strongly the outcome after a moment depends on when the intervention came, measured from
        ``back_ms`` before each completion (its last event, before a silence): 0 when no window shows."""
        curve = empty_curve(max_delay_ms)
        for index, done in fired.items():
            sample = self.samples[index]
            label = self.outcome.label(sample.outcomes, done, self.end_ms)
            if label is None:
                continue
            anchor = done - back_ms
            i = bisect.bisect_right(sample.interventions, anchor)
            delay = sample.interventions[i] - anchor if i < len(sample.interventions) else None
            curve.add(delay, label, ())
        window = find_window(curve, permutations=0, lower_is_better=self.outcome.absent)
        return 0.0 if window is None else window.statistic
