"""Customers whose value follows an early path: the history journey maps must find it in.

Every customer starts on some day of the history and lives on to its end: page views, logins and
email opens every few days, a support ticket now and then, purchases at a rate of their own (a gamma
spread, so value differs between customers for no reason too). Early on, some read the guides
(``education_view``, in their first 12 days), some succeed with a feature (``feature_success``, in
their first 20 days), some attend a webinar (``webinar``, a decoy that changes nothing).

The planted path: reading a guide **and then** succeeding with a feature within the first 14 days
makes a customer buy ``effect`` times as often, at larger amounts. With ``effect=1`` nothing is
planted (a null history: no indicator should hold).

>>> events = best_customer_history(customers=50, days=60, seed=3)
>>> sorted({e.type for e in events}) == sorted(
...     {"page_view", "login", "email_open", "support_ticket", "purchase", "education_view", "feature_success",
...      "webinar"})
True
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from momentstream.core.schema import TouchpointEvent
from momentstream.sim.touch import touchpoint

__all__ = ["START", "best_customer_history", "on_the_path"]

START = datetime(2025, 1, 6, tzinfo=UTC)
_EVERYDAY = (("page_view", 0.2, "web"), ("login", 0.1, "app"), ("email_open", 0.06, "email"),
             ("support_ticket", 0.01, "support"))  # fmt: skip
_BASE_RATE, _PATH_DAYS = 0.012, 14


def on_the_path(education_day: float | None, success_day: float | None) -> bool:
    """The planted path: a guide read, then a feature success, both within the first 14 days."""
    return education_day is not None and success_day is not None and education_day < success_day <= _PATH_DAYS


def best_customer_history(customers: int = 4_000, days: int = 400, seed: int = 11,
                          effect: float = 4.0) -> list[TouchpointEvent]:  # fmt: skip
    """The whole history in time order (customers start over the first ``days`` - 200 days)."""
    rng = random.Random(seed)
    events: list[TouchpointEvent] = []
    for i in range(customers):
        customer = f"b{i:05d}"
        first = rng.uniform(0, max(1.0, days - 200.0))
        out: list[tuple[float, str, str, float | None]] = [(first, "page_view", "web", None)]
        education = rng.uniform(0.1, 12) if rng.random() < 0.4 else None
        success = rng.uniform(0.1, 20) if rng.random() < 0.4 else None
        webinar = rng.uniform(0.1, 30) if rng.random() < 0.25 else None
        for day, kind, channel in ((education, "education_view", "web"), (success, "feature_success", "app"),
                                   (webinar, "webinar", "web")):  # fmt: skip
            if day is not None:
                out.append((first + day, kind, channel, None))
        for kind, per_day, channel in _EVERYDAY:
            t = first + rng.expovariate(per_day)
            while t < days:
                out.append((t, kind, channel, None))
                t += rng.expovariate(per_day)
        planted = on_the_path(education, success)
        rate = _BASE_RATE * rng.gammavariate(2.0, 0.5) * (effect if planted else 1.0)
        mean = 4.6 if planted and effect > 1 else 4.0
        t = first + rng.expovariate(rate)
        while t < days:
            out.append((t, "purchase", "web", round(rng.lognormvariate(mean, 0.5), 2)))
            t += rng.expovariate(rate)
        out.sort(key=lambda row: row[0])
        for n, (day, kind, channel, value) in enumerate(out, start=1):
            events.append(touchpoint(customer, n, kind, START + timedelta(days=day), channel, value=value))
    events.sort(key=lambda e: (e.ts, e.event_id))
    return events
