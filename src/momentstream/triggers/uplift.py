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
from collections.abc import Iterable
from dataclasses import dataclass

from momentstream.clock import to_ms
from momentstream.schema import TouchpointEvent, Trigger

__all__ = ["ACTIONABLE_KINDS", "GroupRate", "Uplift", "rate", "uplift"]

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
