"""A subscription product where usage does not fall before churn, with known churn dates.

Why it exists: a churn score is only worth having if it sees what "days since the last event"
and "events in the last 30 days" cannot. Here every customer uses the product at a steady rate
(their own, from a log-normal spread) until the day they leave, so neither rule can tell a
churner before the usage stops. What comes before churn, for most churners, is what a product
team sees in practice: unhappy support tickets, visits to billing, data exports. Happy customers
do these too, less often and less angrily, so the signal is real but noisy; a share of churners
leave with no warning at all, and some loyal customers take a month off (the false alarms of an
inactivity rule). Customers leave on a renewal date and then send nothing.

The event names are the bundled objectives' (``product_usage``, ``login``, ``purchase`` for a
renewal payment, ``support_ticket``), so the default configuration applies unchanged.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from momentstream.core.schema import TouchpointEvent
from momentstream.sim.touch import touchpoint

__all__ = ["UNHAPPY_TICKETS", "SubscriptionHistory", "simulate_subscriptions"]

_START = datetime(2026, 1, 5, tzinfo=UTC)
_RENEWAL_DAYS = 30
_PRICE = 49.0
_CHURN_SHARE = 0.22
"""Customers who leave at some renewal during the history."""
_WARNED_SHARE = 0.7
"""Churners who show discontent before leaving; the rest leave without a sign."""
_BREAK_SHARE = 0.08
"""Loyal customers who take a 35-50 day break (an inactivity rule flags them wrongly)."""
UNHAPPY_TICKETS = (
    "The export keeps failing and nobody answers, this is unacceptable.",
    "We are paying too much for a product that is broken half the time.",
    "Still waiting on a reply. Very disappointed with the support.",
    "Why was I charged again? I am not happy with this at all.",
)
_NEUTRAL = (
    "How do I add a teammate to our workspace?",
    "Can you resend last month's invoice please?",
    "Thanks, that fixed it. Great help!",
    "Is there a way to change the report format?",
    "The sync was slow today, is there an issue?",
)


@dataclass(slots=True)
class SubscriptionHistory:
    """Events in time order, each customer's churn time (None: stayed) and when each joined."""

    events: list[TouchpointEvent] = field(default_factory=list)
    churned_at: dict[str, datetime | None] = field(default_factory=dict)
    joined_at: dict[str, datetime] = field(default_factory=dict)
    start: datetime = _START
    end: datetime = _START


def simulate_subscriptions(customers: int = 2000, days: int = 180, seed: int = 11) -> SubscriptionHistory:
    """Simulate ``customers`` subscribers over ``days`` days; same seed, same history.

    Examples
    --------
    >>> h = simulate_subscriptions(customers=60, days=90, seed=3)
    >>> gone = [c for c, t in h.churned_at.items() if t is not None]
    >>> all(e.ts < h.churned_at[e.customer_id] for e in h.events if e.customer_id in gone)
    True
    >>> all(a.ts <= b.ts for a, b in zip(h.events, h.events[1:]))
    True
    """
    rng = random.Random(seed)
    end = _START + timedelta(days=days)
    history = SubscriptionHistory(start=_START, end=end)
    for i in range(customers):
        customer_id = f"sub-{i:05d}"
        writer = _Subscriber(customer_id, random.Random(rng.getrandbits(64)), end)
        writer.live()
        history.events.extend(writer.events)
        history.churned_at[customer_id] = writer.churn_at
        history.joined_at[customer_id] = writer.joined
    history.events.sort(key=lambda e: (e.ts, e.customer_id, e.event_id))
    return history


class _Subscriber:
    """Writes one subscriber's events."""

    def __init__(self, customer_id: str, rng: random.Random, end: datetime) -> None:
        self.customer_id = customer_id
        self.rng = rng
        self.end = end
        self.events: list[TouchpointEvent] = []
        # Half were already customers when the history starts (their renewal day falls anywhere).
        offset = rng.uniform(-_RENEWAL_DAYS, 0) if rng.random() < 0.5 else rng.uniform(0, 90)
        self.joined = _START + timedelta(days=offset)
        self.first_seen = max(self.joined, _START)
        renewals = [self.joined + timedelta(days=_RENEWAL_DAYS * k) for k in range(1, 40)]
        self.renewals = [r for r in renewals if self.first_seen < r < end]
        self.churn_at: datetime | None = None
        if self.renewals and rng.random() < _CHURN_SHARE:
            self.churn_at = rng.choice(self.renewals)
        self.usage_per_day = math.exp(rng.gauss(math.log(1.0), 0.7))
        self.stop = self.churn_at or end

    def live(self) -> None:
        rng = self.rng
        breaks = []
        if self.churn_at is None and rng.random() < _BREAK_SHARE:
            begin = self.first_seen + timedelta(days=rng.uniform(10, 120))
            breaks.append((begin, begin + timedelta(days=rng.uniform(35, 50))))
        for ts in self._times(self.first_seen, self.stop, self.usage_per_day):
            if not any(a <= ts < b for a, b in breaks):
                self._emit("product_usage", ts, "app", feature=rng.choice(["reports", "sync", "editor", "search"]))
        for ts in self._times(self.first_seen, self.stop, 0.6):
            if not any(a <= ts < b for a, b in breaks):
                self._emit("login", ts, rng.choice(["web", "app"]))
        for renewal in self.renewals:
            if renewal < self.stop:
                self._emit("purchase", renewal, "web", _PRICE, plan="team")
                if rng.random() < 0.35:  # the invoice
                    self._emit("billing_viewed", renewal + timedelta(hours=rng.uniform(1, 72)), "web")
        self._background()
        if self.churn_at is not None and rng.random() < _WARNED_SHARE:
            self._discontent()

    def _background(self) -> None:
        """What every customer does now and then: a ticket (seldom angry), an export, a look at billing."""
        rng = self.rng
        for ts in self._times(self.first_seen, self.stop, 0.02):
            self._ticket(ts, angry=rng.random() < 0.2)
        for ts in self._times(self.first_seen, self.stop, 0.006):
            self._emit("data_exported", ts, "web")
        for ts in self._times(self.first_seen, self.stop, 0.01):
            self._emit("billing_viewed", ts, "web")

    def _discontent(self) -> None:
        """The weeks before a warned churner leaves: more tickets, mostly angry; billing; exports."""
        assert self.churn_at is not None
        rng = self.rng
        begin = max(self.churn_at - timedelta(days=rng.uniform(15, 45)), self.first_seen)
        for ts in self._times(begin, self.churn_at, rng.uniform(0.04, 0.15)):
            self._ticket(ts, angry=rng.random() < 0.7)
        for ts in self._times(begin, self.churn_at, rng.uniform(0.03, 0.12)):
            self._emit("billing_viewed", ts, "web")
        for ts in self._times(begin, self.churn_at, rng.uniform(0.0, 0.06)):
            self._emit("data_exported", ts, "web")

    def _ticket(self, ts: datetime, angry: bool) -> None:
        self._emit("support_ticket", ts, "email", text=self.rng.choice(UNHAPPY_TICKETS if angry else _NEUTRAL))

    def _times(self, start: datetime, stop: datetime, per_day: float) -> list[datetime]:
        """Moments of a Poisson process of ``per_day`` events from ``start`` to ``stop``."""
        times: list[datetime] = []
        if per_day <= 0:
            return times
        t = start
        stop = min(stop, self.end)
        while True:
            t += timedelta(days=self.rng.expovariate(per_day))
            if t >= stop:
                return times
            times.append(t)

    def _emit(self, kind: str, ts: datetime, channel: str, value: float | None = None, *, text: str | None = None,
              **properties: str) -> None:  # fmt: skip
        if ts >= min(self.stop, self.end):
            return
        self.events.append(
            touchpoint(self.customer_id, len(self.events), kind, ts, channel, value, text, properties, digits=5)
        )
