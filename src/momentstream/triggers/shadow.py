"""Shadow moments against the live ones: would the new moment reach the same customers, and when?

A ``mode: shadow`` moment runs beside the live moments and writes its triggers to the audit output
only. Before promoting it, a team compares it with the live moment it may replace (``compare_to``):
how often each fires, for whom, and whether the shadow fires earlier or later for the customers both
reach. Each trigger counts once (by trigger id), however often it was redelivered.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from momentstream.core.schema import ShadowTrigger, Trigger

__all__ = ["ShadowComparison", "compare_shadow"]


@dataclass(frozen=True, slots=True)
class ShadowComparison:
    """One shadow moment next to the live moment it names (live figures are 0 without one)."""

    moment: str
    compare_to: str | None
    shadow_triggers: int
    shadow_customers: int
    live_triggers: int
    live_customers: int
    both: int
    """Customers both moments reached."""
    shadow_only: int
    live_only: int
    median_lead_hours: float | None
    """Median over customers both reached of (live first trigger - shadow first trigger): positive, the shadow
    moment comes earlier."""


def _first_by_customer(triggers: Iterable[Trigger]) -> tuple[int, dict[str, Trigger]]:
    seen: set[str] = set()
    first: dict[str, Trigger] = {}
    for trigger in triggers:
        if trigger.trigger_id in seen or trigger.kind == "window_expired":
            continue
        seen.add(trigger.trigger_id)
        earlier = first.get(trigger.customer_id)
        if earlier is None or trigger.emitted_at < earlier.emitted_at:
            first[trigger.customer_id] = trigger
    return len(seen), first


def compare_shadow(shadow: Iterable[ShadowTrigger], live: Iterable[Trigger]) -> list[ShadowComparison]:
    """A row per shadow moment (actionable triggers: window openings and matches; expiries are left out).

    >>> from datetime import UTC, datetime, timedelta
    >>> def t(i, moment, customer, hours):
    ...     return Trigger(trigger_id=f"{moment}-{i}", customer_id=customer, moment=moment, moment_version=1,
    ...                    kind="match", emitted_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=hours),
    ...                    evidence=[])
    >>> shadow = [ShadowTrigger(customer_id=c, moment="new", compare_to="old", trigger=t(i, "new", c, h))
    ...           for i, c, h in [(0, "a", 1), (1, "b", 2), (1, "b", 2)]]  # the last one redelivered
    >>> (row,) = compare_shadow(shadow, [t(0, "old", "a", 5), t(1, "old", "c", 1)])
    >>> row.shadow_triggers, row.live_customers, row.both, row.shadow_only, row.live_only, row.median_lead_hours
    (2, 2, 1, 1, 1, 4.0)
    """
    live_by_moment: dict[str, list[Trigger]] = {}
    for trigger in live:
        live_by_moment.setdefault(trigger.moment, []).append(trigger)
    by_moment: dict[str, list[ShadowTrigger]] = {}
    for record in shadow:
        by_moment.setdefault(record.moment, []).append(record)
    rows = []
    for moment, records in sorted(by_moment.items()):
        target = records[-1].compare_to
        count, shadow_first = _first_by_customer(r.trigger for r in records)
        live_count, live_first = _first_by_customer(live_by_moment.get(target, []) if target else [])
        both = shadow_first.keys() & live_first.keys()
        leads = [(live_first[c].emitted_at - shadow_first[c].emitted_at).total_seconds() / 3600 for c in both]
        rows.append(ShadowComparison(moment, target, count, len(shadow_first), live_count, len(live_first), len(both),
                                     len(shadow_first.keys() - both), len(live_first.keys() - both),
                                     statistics.median(leads) if leads else None))  # fmt: skip
    return rows
