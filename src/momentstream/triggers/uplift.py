"""Uplift of a moment: the outcome rate of treated customers against its holdout, with confidence intervals.

A customer counts once per moment, from their first actionable trigger (``match`` or
``window_open``). They converted if an outcome event of the chosen type follows within the
chosen time. Rates get Wilson score intervals, and the difference gets Newcombe's hybrid score
interval. Both behave with small groups and rates near 0 or 1, where the normal approximation
does not. Nothing here reads Kafka: the CLI feeds it files, which can be replay outputs or
``momentstream tail`` captures.

>>> r = rate(30, 100)
>>> round(r.rate, 2), round(r.low, 3), round(r.high, 3)
(0.3, 0.219, 0.396)
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from momentstream.core.clock import to_ms
from momentstream.core.schema import TouchpointEvent, Trigger, TriggerOutcome

__all__ = [
    "ACTIONABLE_KINDS",
    "GroupRate",
    "OutcomeTally",
    "Uplift",
    "outcome_uplift",
    "rate",
    "tally_key",
    "uplift",
    "uplift_of",
    "uplift_over_time",
]

ACTIONABLE_KINDS = frozenset({"match", "window_open"})
"""Kinds a CRM acts on; ``window_expired`` says the chance has passed."""
Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class GroupRate:
    """Customers, how many converted, the rate and its 95% Wilson interval."""

    customers: int
    converted: int
    rate: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Uplift:
    """One moment: treated against holdout, and the difference of rates with its 95% interval."""

    moment: str
    treated: GroupRate
    holdout: GroupRate
    difference: float
    low: float
    high: float


def rate(converted: int, customers: int) -> GroupRate:
    """Wilson score interval (95%) of ``converted / customers``; NaN for an empty group."""
    if customers == 0:
        nan = float("nan")
        return GroupRate(0, 0, nan, nan, nan)
    p = converted / customers
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * customers)) / (1 + z2 / customers)
    half = Z95 * math.sqrt(p * (1 - p) / customers + z2 / (4 * customers * customers)) / (1 + z2 / customers)
    return GroupRate(customers, converted, p, max(centre - half, 0.0), min(centre + half, 1.0))


def _difference(treated: GroupRate, holdout: GroupRate) -> tuple[float, float, float]:
    """Newcombe's hybrid score interval (his method 10) for treated.rate - holdout.rate."""
    d = treated.rate - holdout.rate
    low = d - math.sqrt((treated.rate - treated.low) ** 2 + (holdout.high - holdout.rate) ** 2)
    high = d + math.sqrt((treated.high - treated.rate) ** 2 + (holdout.rate - holdout.low) ** 2)
    return d, low, high


def uplift(
    triggers: Iterable[Trigger], events: Iterable[TouchpointEvent], outcome_type: str, within_ms: int
) -> list[Uplift]:
    """Per moment (sorted by name), treated vs holdout conversion within ``within_ms`` of the first trigger."""
    first: dict[tuple[str, str], tuple[int, bool]] = {}
    for t in triggers:
        if t.kind not in ACTIONABLE_KINDS:
            continue
        key = (t.moment, t.customer_id)
        at = to_ms(t.emitted_at)
        if key not in first or at < first[key][0]:
            first[key] = (at, t.holdout)
    outcomes: dict[str, list[int]] = defaultdict(list)
    for e in events:
        if e.type == outcome_type:
            outcomes[e.customer_id].append(to_ms(e.ts))
    for times in outcomes.values():
        times.sort()
    counts: dict[str, dict[bool, list[int]]] = defaultdict(lambda: {False: [0, 0], True: [0, 0]})
    for (moment, customer), (at, held_out) in first.items():
        times = outcomes.get(customer, [])
        i = bisect.bisect_right(times, at)
        converted = i < len(times) and times[i] <= at + within_ms
        group = counts[moment][held_out]
        group[0] += 1
        group[1] += converted
    result = []
    for moment in sorted(counts):
        treated = rate(counts[moment][False][1], counts[moment][False][0])
        holdout = rate(counts[moment][True][1], counts[moment][True][0])
        result.append(Uplift(moment, treated, holdout, *_difference(treated, holdout)))
    return result


def tally_key(outcome: TriggerOutcome, by_tier: bool) -> str:
    """The row an outcome counts in: its moment (a sequence's step in a row of its own), and tier if asked.

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> step = TriggerOutcome(trigger_id="t", customer_id="c", moment="onboard", group="treated", triggered_at=at,
    ...                       closed_at=at, converted=False, step=2, tier="monitor_only")
    >>> tally_key(step, False), tally_key(step, True)
    ('onboard / step 2', 'onboard / step 2 / monitor_only')
    """
    key = outcome.moment if outcome.step is None else f"{outcome.moment} / step {outcome.step}"
    return f"{key} / {outcome.tier or 'no tier'}" if by_tier else key


class OutcomeTally:
    """Treated and control outcome windows of one row, and how many converted: what an uplift is computed from.

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> tally = OutcomeTally()
    >>> for i, (group, converted) in enumerate([("treated", True), ("treated", False), ("control", False)]):
    ...     tally.add(TriggerOutcome(trigger_id=f"t{i}", customer_id="c", moment="m", group=group,
    ...                              triggered_at=at, closed_at=at, converted=converted))
    >>> tally.counts, tally.comparable, tally.uplift("m").difference
    ([2, 1, 1, 0], True, 0.5)
    """

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts = [0, 0, 0, 0]
        """Treated windows, treated converted, control windows, control converted."""

    def add(self, outcome: TriggerOutcome) -> None:
        """Count one closed outcome window in its group."""
        base = 0 if outcome.group == "treated" else 2
        self.counts[base] += 1
        self.counts[base + 1] += outcome.converted

    @property
    def comparable(self) -> bool:
        """Both groups have at least one window: a difference of rates exists."""
        return bool(self.counts[0] and self.counts[2])

    def uplift(self, name: str) -> Uplift:
        """The two rates and their difference, with intervals, under ``name``."""
        return uplift_of(name, *self.counts)


def _once(outcomes: Iterable[TriggerOutcome]) -> Iterator[TriggerOutcome]:
    """Each trigger's outcome once: at-least-once delivery may repeat a record, the trigger id decides."""
    seen: set[str] = set()
    for outcome in outcomes:
        if outcome.trigger_id not in seen:
            seen.add(outcome.trigger_id)
            yield outcome


def outcome_uplift(outcomes: Iterable[TriggerOutcome], by_tier: bool = False) -> list[Uplift]:
    """Per moment (or moment and tier), treated vs control conversion of the engine's linked outcomes.

    Counts triggers, not customers, each once (at-least-once delivery may repeat a record: the
    trigger id decides). Unlike :func:`uplift` nothing is re-derived: the engine linked each
    outcome to its trigger while running.

    >>> from datetime import UTC, datetime
    >>> def o(i, group, converted):
    ...     return TriggerOutcome(trigger_id=f"t{i}", customer_id=f"c{i}", moment="cart", group=group,
    ...                           triggered_at=datetime(2026, 1, 1, tzinfo=UTC), converted=converted,
    ...                           closed_at=datetime(2026, 1, 8, tzinfo=UTC))
    >>> rows = [o(i, "treated", i % 3 == 0) for i in range(300)]
    >>> rows += [o(i, "control", i % 10 == 0) for i in range(300, 400)]
    >>> [(u.moment, round(u.treated.rate, 2), round(u.holdout.rate, 2), round(u.difference, 2)) for u in
    ...  outcome_uplift(rows + rows[:5])]
    [('cart', 0.33, 0.1, 0.23)]
    """
    tallies: dict[str, OutcomeTally] = defaultdict(OutcomeTally)
    for outcome in _once(outcomes):
        tallies[tally_key(outcome, by_tier)].add(outcome)
    return [tallies[key].uplift(key) for key in sorted(tallies)]


def uplift_of(moment: str, treated: int, treated_converted: int, control: int, control_converted: int) -> Uplift:
    """Rates and their difference, with intervals, from four counts."""
    t, c = rate(treated_converted, treated), rate(control_converted, control)
    return Uplift(moment, t, c, *_difference(t, c))


def uplift_over_time(outcomes: Iterable[TriggerOutcome], points: int = 60) -> dict[str, list[tuple[int, Uplift]]]:
    """Per moment, the running uplift as outcome windows closed: about ``points`` (time ms, uplift) pairs each."""
    rows: dict[str, list[TriggerOutcome]] = defaultdict(list)
    for outcome in _once(outcomes):
        rows[outcome.moment].append(outcome)
    series: dict[str, list[tuple[int, Uplift]]] = {}
    for moment, items in sorted(rows.items()):
        items.sort(key=lambda o: o.closed_at)
        every = max(len(items) // points, 1)
        tally = OutcomeTally()
        series[moment] = []
        for i, o in enumerate(items, 1):
            tally.add(o)
            if (i % every == 0 or i == len(items)) and tally.comparable:
                series[moment].append((to_ms(o.closed_at), tally.uplift(moment)))
    return series
