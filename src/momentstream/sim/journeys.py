"""Simulated customer journeys with a known ground truth.

Archetypes: casual browsers, loyal users, silent churners, expanders, promoters, and the
seed scenario — a support contact on a Monday, a second purchase on the Wednesday, then
silence. A legacy CRM reaches those seed customers at a random delay after the second
purchase; reached 19-37 h later they mostly become VIPs (they keep buying), otherwise most
churn. The truth is returned beside the events so a demo can show what the moments catch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from momentstream.core.schema import PropertyValue, TouchpointEvent
from momentstream.sim.touch import touchpoint

__all__ = ["ARCHETYPES", "VIP_WINDOW_HOURS", "Simulation", "Truth", "simulate"]

ARCHETYPES: dict[str, float] = {
    "casual": 0.30,
    "loyal": 0.20,
    "churner": 0.15,
    "expander": 0.12,
    "promoter": 0.08,
    "seed": 0.15,
}
"""Share of customers per archetype."""

VIP_WINDOW_HOURS = (19.0, 37.0)
"""Outreach this many hours after the second purchase turns seed customers into VIPs."""

_VIP_IF_IN_WINDOW = 0.8
_VIP_OTHERWISE = 0.25
_DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


@dataclass(frozen=True, slots=True)
class Truth:
    """What the simulator knows about one customer."""

    archetype: str
    outreach_delay_h: float | None = None
    became_vip: bool | None = None


@dataclass(slots=True)
class Simulation:
    """Events in event-time order plus each customer's truth."""

    events: list[TouchpointEvent] = field(default_factory=list)
    truth: dict[str, Truth] = field(default_factory=dict)


class _Customer:
    """Writes one customer's events with running ids and order numbers."""

    def __init__(self, customer_id: str, rng: random.Random, end: datetime) -> None:
        self.customer_id = customer_id
        self.rng = rng
        self.end = end
        self.events: list[TouchpointEvent] = []
        self.orders = 0

    def emit(self, kind: str, ts: datetime, channel: str, value: float | None = None,
             **properties: PropertyValue) -> None:  # fmt: skip
        if ts >= self.end:
            return
        self.events.append(
            touchpoint(self.customer_id, len(self.events), kind, ts, channel, value, None, properties, digits=4)
        )

    def purchase(self, ts: datetime) -> None:
        if ts >= self.end:
            return
        self.orders += 1
        amount = round(self.rng.lognormvariate(3.8, 0.6), 2)
        self.emit("purchase", ts, self.rng.choice(["web", "app"]), amount, order_number=self.orders)

    def daytime(self, day: datetime) -> datetime:
        """A time during the customer's waking hours on ``day``."""
        return day.replace(hour=0, minute=0, second=0) + timedelta(minutes=self.rng.randint(8 * 60, 22 * 60))

    def every(self, start: datetime, stop: datetime, mean_days: float) -> list[datetime]:
        """Daytime moments from ``start`` to ``stop`` with exponential gaps."""
        moments: list[datetime] = []
        t = start
        while True:
            t += timedelta(days=self.rng.expovariate(1 / mean_days))
            if t >= min(stop, self.end):
                return moments
            moments.append(self.daytime(t))


def simulate(
    customers: int = 3000,
    days: int = 120,
    seed: int = 7,
    start: datetime = _DEFAULT_START,
    *,
    joining_days: float | None = None,
    first_id: int = 0,
) -> Simulation:
    """Simulate ``customers`` journeys over ``days`` days; same seed, same events.

    Customers join during the first ``joining_days`` (default: the first 30 days, or a third of
    the history if shorter); a longer spread keeps new journeys, and new seed scenarios, coming
    throughout, as a discovery backtest over a later period needs. ``first_id`` numbers the
    customers from there (to write large histories in chunks).

    Examples
    --------
    >>> sim = simulate(customers=50, days=60, seed=1)
    >>> len(sim.truth), all(a.ts <= b.ts for a, b in zip(sim.events, sim.events[1:]))
    (50, True)
    """
    rng = random.Random(seed)
    end = start + timedelta(days=days)
    sim = Simulation()
    spread = min(30, days / 3) if joining_days is None else min(joining_days, days)
    names = list(ARCHETYPES)
    weights = list(ARCHETYPES.values())
    for i in range(customers):
        customer = _Customer(f"cust-{first_id + i:05d}", random.Random(rng.getrandbits(64)), end)
        archetype = rng.choices(names, weights)[0]
        joined = start + timedelta(days=rng.uniform(0, spread))
        sim.truth[customer.customer_id] = _JOURNEYS[archetype](customer, joined)
        sim.events.extend(customer.events)
    sim.events.sort(key=lambda e: (e.ts, e.customer_id, e.event_id))
    return sim


def _casual(c: _Customer, joined: datetime) -> Truth:
    c.purchase(c.daytime(joined))
    for t in c.every(joined, c.end, 6):
        c.emit("page_view", t, "web", page=c.rng.choice(["home", "catalog", "blog", "pricing"]))
    for t in c.every(joined, c.end, 15):
        c.emit("email_open", t, "email")
    if c.rng.random() < 0.5:
        c.purchase(c.daytime(joined + timedelta(days=c.rng.uniform(10, 80))))
    if c.rng.random() < 0.15:
        c.emit(
            "support_ticket",
            c.daytime(joined + timedelta(days=c.rng.uniform(3, 60))),
            "email",
            topic="delivery",
        )
    return Truth("casual")


def _usage(c: _Customer, joined: datetime, stop: datetime, mean_days: float, heavy: float = 0.0) -> None:
    for t in c.every(joined, stop, mean_days):
        c.emit("product_usage", t, "app", float(c.rng.randint(5, 120) if c.rng.random() >= heavy else 800))
        if c.rng.random() < 0.3:
            c.emit("login", t - timedelta(minutes=1), "app")


def _loyal(c: _Customer, joined: datetime) -> Truth:
    c.purchase(c.daytime(joined))
    _usage(c, joined, c.end, 2.0)
    for t in c.every(joined, c.end, 28):
        c.purchase(t)
    return Truth("loyal")


def _churner(c: _Customer, joined: datetime) -> Truth:
    c.purchase(c.daytime(joined))
    quits = joined + timedelta(days=c.rng.uniform(14, 45))
    _usage(c, joined, quits, 1.5)
    if c.rng.random() < 0.3:
        c.emit("email_open", c.daytime(quits + timedelta(days=c.rng.uniform(15, 30))), "email")
    return Truth("churner")


def _expander(c: _Customer, joined: datetime) -> Truth:
    c.purchase(c.daytime(joined))
    _usage(c, joined, c.end, 1.5)
    burst = joined + timedelta(days=c.rng.uniform(7, 50))
    signals = c.rng.sample(["pricing", "seat_limit", "invite", "heavy", "billing"], c.rng.choice([2, 3, 3, 4]))
    for signal in signals:
        t = c.daytime(burst + timedelta(days=c.rng.uniform(0, 10)))
        if signal == "pricing":
            c.emit("page_view", t, "web", page="pricing")
        elif signal == "seat_limit":
            c.emit("seat_limit_reached", t, "app")
        elif signal == "invite":
            c.emit("teammate_invited", t, "app")
        elif signal == "heavy":
            c.emit("product_usage", t, "app", 900.0)
        else:
            c.emit("support_ticket", t, "chat", topic="billing")
    return Truth("expander")


def _promoter(c: _Customer, joined: datetime) -> Truth:
    c.purchase(c.daytime(joined))
    _usage(c, joined, c.end, 2.5)
    surveyed = c.daytime(joined + timedelta(days=c.rng.uniform(10, 60)))
    c.emit("nps_response", surveyed, "email", float(c.rng.choice([9, 10, 10, 8])))
    if c.rng.random() < 0.8:
        reviewed = surveyed + timedelta(days=c.rng.uniform(0.5, 5))
        c.emit("review", reviewed, "web", float(c.rng.choice([4, 5, 5])))
        if c.rng.random() < 0.5:
            c.emit("outreach", reviewed + timedelta(hours=c.rng.uniform(2, 60)), "email", campaign="referral")
    return Truth("promoter")


def _seed(c: _Customer, joined: datetime) -> Truth:
    """Support on a Monday, a second purchase on the Wednesday, then silence."""
    c.purchase(c.daytime(joined))
    for t in c.every(joined, joined + timedelta(days=10), 4):
        c.emit("page_view", t, "web", page="catalog")
    monday = joined + timedelta(days=10)
    monday -= timedelta(days=monday.weekday())
    monday += timedelta(days=7)
    c.emit("support_ticket", monday.replace(hour=c.rng.randint(9, 16), minute=c.rng.randint(0, 59)),
           c.rng.choice(["phone", "email", "chat"]), topic="order")  # fmt: skip
    second = (monday + timedelta(days=2)).replace(hour=c.rng.randint(10, 20), minute=c.rng.randint(0, 59))
    c.purchase(second)
    delay_h = c.rng.uniform(2, 72)
    c.emit("outreach", second + timedelta(hours=delay_h), c.rng.choice(["email", "phone"]), campaign="legacy_crm")
    in_window = VIP_WINDOW_HOURS[0] <= delay_h <= VIP_WINDOW_HOURS[1]
    vip = c.rng.random() < (_VIP_IF_IN_WINDOW if in_window else _VIP_OTHERWISE)
    if vip:
        for t in c.every(second + timedelta(days=4), c.end, 8):
            c.purchase(t)
    return Truth("seed", round(delay_h, 2), vip)


_JOURNEYS = {
    "casual": _casual,
    "loyal": _loyal,
    "churner": _churner,
    "expander": _expander,
    "promoter": _promoter,
    "seed": _seed,
}
