"""Early indicators: the steps, and ordered pairs of steps, in customers' first days that the top cohort took.

Honest in the way discovery is (:mod:`momentstream.discovery.split`): the candidates are chosen on the
customers who started in the earlier half of the history, and tested on those who started later, which
the choice never saw. A later customer's entry into the cohort is what an early indicator must predict,
so the test is "does it still hold for the next customers", not "did it fit the ones it was chosen on".
Each tested candidate gets the cohort rate with and without it (95% Wilson intervals), their ratio (the
lift), Fisher's exact test, and Benjamini-Hochberg over the candidates tested.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from momentstream.discovery.stats import benjamini_hochberg, fisher_p, wilson
from momentstream.journeys.records import CustomerRecord

__all__ = ["Indicator", "Tested", "choose", "split_by_start", "verify"]

CANDIDATES = 8
"""Candidates tested on the later customers: few, so the multiple-testing correction stays light."""
_PAIR_TOKENS = 12
MIN_TOP = 5
"""A candidate needs this many top customers with it in the earlier half, or it is not proposed."""
UBIQUITOUS = 0.9
"""A step nearly every customer takes early (a login, a page view) tells nobody apart: not a candidate."""


@dataclass(frozen=True, slots=True)
class Indicator:
    """One step, or two in order ("a, then b"), in a customer's early window."""

    steps: tuple[str, ...]

    def completed(self, record: CustomerRecord) -> int | None:
        """When (ms after their first event) the customer completed it, or None."""
        first = record.firsts.get(self.steps[0])
        if first is None or len(self.steps) == 1:
            return first
        then = self.steps[1]
        if then not in record.firsts or record.lasts[then] <= first:
            return None
        return record.firsts[then] if record.firsts[then] > first else record.lasts[then]

    def describe(self) -> str:
        """``education_view, then feature_success``."""
        return ", then ".join(self.steps)


@dataclass(frozen=True, slots=True)
class Counts:
    """Cohort entry with and without an indicator, in one set of customers."""

    with_top: int
    with_n: int
    without_top: int
    without_n: int

    @property
    def lift(self) -> float:
        """Cohort rate with it over the rate without it (inf when no customer without it entered)."""
        rate_with = self.with_top / self.with_n if self.with_n else 0.0
        rate_without = self.without_top / self.without_n if self.without_n else 0.0
        return rate_with / rate_without if rate_without else float("inf") if rate_with else 0.0


@dataclass(frozen=True, slots=True)
class Tested:
    """A candidate as counted on the later customers, with its statistics."""

    indicator: Indicator
    chosen_on: Counts
    counts: Counts
    p_value: float
    q_value: float
    verified: bool
    median_day_top: float | None
    median_day_rest: float | None

    def rate_with(self) -> tuple[float, float, float]:
        """Cohort rate of the later customers with the indicator, and its 95% interval."""
        c = self.counts
        return (c.with_top / c.with_n if c.with_n else 0.0, *wilson(c.with_top, c.with_n))

    def rate_without(self) -> tuple[float, float, float]:
        """The same for those without it."""
        c = self.counts
        return (c.without_top / c.without_n if c.without_n else 0.0, *wilson(c.without_top, c.without_n))


def split_by_start(records: Sequence[CustomerRecord]) -> tuple[list[CustomerRecord], list[CustomerRecord]]:
    """The customers who started in the earlier half (the search), and the later half (the test)."""
    ordered = sorted(records, key=lambda r: (r.start_ms, r.customer_id))
    half = len(ordered) // 2
    return ordered[:half], ordered[half:]


def count(indicator: Indicator, records: Sequence[CustomerRecord]) -> Counts:
    """Cohort entry among those who completed the indicator early, and among those who did not."""
    with_top = with_n = without_top = without_n = 0
    for r in records:
        if indicator.completed(r) is not None:
            with_n += 1
            with_top += r.top
        else:
            without_n += 1
            without_top += r.top
    return Counts(with_top, with_n, without_top, without_n)


def choose(search: Sequence[CustomerRecord], candidates: int = CANDIDATES) -> list[tuple[Indicator, Counts]]:
    """The best single steps and ordered pairs on the earlier customers, by the lower bound of their lift."""
    top_total = sum(r.top for r in search)
    if not top_total:
        return []
    in_top = Counter(t for r in search if r.top for t in r.firsts)
    in_all = Counter(t for r in search for t in r.firsts)
    common = UBIQUITOUS * len(search)
    singles = [Indicator((t,)) for t, n in in_top.items() if n >= MIN_TOP and in_all[t] <= common]
    scored = [(i, count(i, search)) for i in singles]
    by_token = {i.steps[0]: _score(c) for i, c in scored}
    best_tokens = sorted(by_token, key=lambda t: (-by_token[t], t))[:_PAIR_TOKENS]
    pairs = [Indicator((a, b)) for a in best_tokens for b in best_tokens if a != b]
    for pair in pairs:  # a pair must say more than either of its steps alone, or it is that step again
        c = count(pair, search)
        if c.with_top >= MIN_TOP and _score(c) > max(by_token[pair.steps[0]], by_token[pair.steps[1]]):
            scored.append((pair, c))
    scored = [(i, c) for i, c in scored if c.lift > 1]
    scored.sort(key=lambda s: (-_score(s[1]), s[0].steps))
    return scored[:candidates]


def _score(c: Counts) -> float:
    """The lift's pessimistic side: the lower 95% bound of the rate with it, over the rate without it."""
    low, _ = wilson(c.with_top, c.with_n)
    rate_without = c.without_top / c.without_n if c.without_n else 0.0
    return low / rate_without if rate_without else low * 1e6


def verify(
    chosen: Sequence[tuple[Indicator, Counts]], later: Sequence[CustomerRecord], q: float = 0.05
) -> list[Tested]:
    """Count each chosen candidate on the later customers; Benjamini-Hochberg over all of them."""
    counted = [(i, c, count(i, later)) for i, c in chosen]
    p_values = [fisher_p(n.with_top, n.with_n, n.without_top, n.without_n) for _, _, n in counted]
    significant, q_values = benjamini_hochberg(p_values, q)
    tested = []
    for (indicator, chosen_on, counts), p, q_value, ok in zip(counted, p_values, q_values, significant, strict=True):
        days_top = sorted(d for r in later if r.top and (d := indicator.completed(r)) is not None)
        days_rest = sorted(d for r in later if not r.top and (d := indicator.completed(r)) is not None)
        tested.append(Tested(indicator, chosen_on, counts, p, q_value, ok and counts.lift > 1,
                             _median_day(days_top), _median_day(days_rest)))  # fmt: skip
    tested.sort(key=lambda t: (not t.verified, -_score(t.counts)))
    return tested


def _median_day(offsets: Sequence[int]) -> float | None:
    return round(offsets[len(offsets) // 2] / 86_400_000, 1) if offsets else None
