"""One pass over a history: per customer, the value that ranks them and what they did in their first days.

A record keeps only what the map needs: the customer's first event, their value (see :mod:`.cohort`),
the first time each event type came in the early window (the candidates for indicators: the outcome's
own events left out unless asked, since a value made of purchases is trivially told by purchases), and
the first few steps of their path. Memory grows with customers, not events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from momentstream.core.clock import to_ms
from momentstream.discovery.history import CustomerHistory
from momentstream.journeys.cohort import ValueRule
from momentstream.patterns.predicates import Predicate

__all__ = ["PATH_KEPT", "PATH_STEPS", "CustomerRecord", "Records", "collect"]

PATH_STEPS = 4
"""Steps of a customer's path the map draws (repeats of the same step in a row count once)."""
PATH_KEPT = 12
"""Steps kept per customer, so the map can leave out steps nearly everyone takes and still draw four."""


@dataclass(slots=True)
class CustomerRecord:
    """What one customer did: first event, value, each event type's first offset in the early window, path."""

    customer_id: str
    start_ms: int
    value: float
    firsts: dict[str, int]
    """Event type -> ms after the first event when it first came, within the early window."""
    lasts: dict[str, int]
    """Event type -> ms after the first event when it last came, within the early window."""
    path: tuple[str, ...]
    top: bool = False


@dataclass(slots=True)
class Records:
    """Every ranked customer, and how many could not be ranked (their value window runs past the history)."""

    customers: list[CustomerRecord] = field(default_factory=list)
    censored: int = 0


def collect(
    histories: Iterable[CustomerHistory],
    rule: ValueRule,
    outcome: Predicate,
    early_ms: int,
    end_ms: int,
    *,
    ignore: frozenset[str] = frozenset(),
    keep_outcome_events: bool = False,
) -> Records:
    """Records of the customers whose value window fits in the history (events up to ``end_ms``)."""
    records = Records()
    for history in histories:
        events = history.events
        if not events:
            continue
        start = to_ms(events[0].ts)
        if start + rule.within_ms > end_ms:
            records.censored += 1
            continue
        value = 0.0
        firsts: dict[str, int] = {}
        lasts: dict[str, int] = {}
        path: list[str] = []
        for event in events:
            offset = to_ms(event.ts) - start
            if offset > rule.within_ms:
                break
            is_outcome = outcome(event)
            if is_outcome:
                value += (event.value or 0.0) if rule.measure == "value" else 1.0
            if offset > early_ms or event.type in ignore:
                continue
            if len(path) < PATH_KEPT and (not path or path[-1] != event.type):
                path.append(event.type)
            if keep_outcome_events or not is_outcome:
                firsts.setdefault(event.type, offset)
                lasts[event.type] = offset
        records.customers.append(CustomerRecord(history.customer_id, start, value, firsts, lasts, tuple(path)))
    return records
