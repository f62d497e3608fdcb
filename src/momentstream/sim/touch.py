"""One simulated touchpoint, written the same way by every simulator (ids numbered per customer)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from momentstream.core.schema import PropertyValue, TouchpointEvent

__all__ = ["touchpoint"]


def touchpoint(
    customer_id: str,
    number: int,
    kind: str,
    ts: datetime,
    channel: str,
    value: float | None = None,
    text: str | None = None,
    properties: Mapping[str, PropertyValue] | None = None,
    digits: int = 5,
) -> TouchpointEvent:
    """The customer's ``number``-th event, at whole seconds (as a CRM export would have them).

    >>> e = touchpoint("c-1", 7, "login", datetime.fromisoformat("2026-01-05T09:00:00.123456+00:00"), "app", digits=4)
    >>> e.event_id, e.ts.microsecond
    ('c-1-0007', 0)
    """
    return TouchpointEvent(event_id=f"{customer_id}-{number:0{digits}d}", customer_id=customer_id, type=kind,
                           channel=channel, ts=ts.replace(microsecond=0), value=value, text=text,
                           properties=dict(properties or {}))  # fmt: skip
