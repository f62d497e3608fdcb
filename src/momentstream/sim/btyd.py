"""Purchases drawn from the Pareto/NBD and Gamma-Gamma models, with each customer's dropout time.

Why it exists: our own simulators put churn where we chose to. This one is the generative story
of the "buy till you die" literature, with the parameters Fader, Hardie and Lee published for the
CDNOW cohort, so nobody here chose when anyone leaves or what comes before it:

* each customer buys at a Poisson rate ``lambda ~ Gamma(r, alpha)`` while alive;
* each one is alive for an exponential time with rate ``mu ~ Gamma(s, beta)``, then silent for ever
  (the dropout nobody observes: the truth a churn score is judged on);
* each purchase is worth a Gamma-distributed amount around the customer's own mean spend
  (``nu ~ Gamma(q, gamma)``, spend ``~ Gamma(p, nu)``).

``lifetimes.generate_data`` draws the same Pareto/NBD customers, but only as summaries (its
transactional generator calls ``DataFrame.append``, which pandas 2 removed), and without dropout
times or spend; this draws the events. Customers arrive evenly over the acquisition period with a
first (trial) purchase, as the models assume.

>>> history = simulate_btyd(200, days=365, seed=3)
>>> len(history.dropout_day) == 200 and all(e.type == "purchase" for e in history.events)
True
>>> all(history.acquired_day[e.customer_id] <= history.day_of(e.ts) <= history.dropout_day[e.customer_id]
...     for e in history.events)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from momentstream.core.schema import TouchpointEvent
from momentstream.sim.touch import touchpoint

__all__ = ["CDNOW_GAMMA_GAMMA", "CDNOW_PARETO_NBD", "BtydHistory", "simulate_btyd"]

CDNOW_PARETO_NBD = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
"""Pareto/NBD parameters fitted to the CDNOW cohort (Fader, Hardie & Lee 2005), time in weeks."""
CDNOW_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
"""Gamma-Gamma spend parameters fitted to the CDNOW cohort (Fader, Hardie & Lee 2005), in dollars."""
_START = datetime(2025, 1, 1, tzinfo=UTC)
_WEEK_DAYS = 7.0


@dataclass(frozen=True)
class BtydHistory:
    """Purchase events in time order, and each customer's arrival and (unobserved) dropout day."""

    start: datetime
    days: int
    events: list[TouchpointEvent]
    acquired_day: dict[str, float]
    dropout_day: dict[str, float]
    """Day the customer stopped buying for ever (may be after the history ends)."""

    def day_of(self, ts: datetime) -> float:
        """Days from the start of the history to ``ts``."""
        return (ts - self.start).total_seconds() / 86_400


def simulate_btyd(customers: int, days: int = 540, seed: int = 7, acquisition_days: int | None = None) -> BtydHistory:
    """``customers`` buyers arriving over the first ``acquisition_days`` (default: the first two thirds)."""
    rng = np.random.default_rng(seed)
    pn, gg = CDNOW_PARETO_NBD, CDNOW_GAMMA_GAMMA
    arrival_span = acquisition_days if acquisition_days is not None else days * 2 // 3
    lam = rng.gamma(pn["r"], 1.0 / pn["alpha"], customers) / _WEEK_DAYS  # purchases per day
    mu = rng.gamma(pn["s"], 1.0 / pn["beta"], customers) / _WEEK_DAYS  # dropout rate per day
    nu = rng.gamma(gg["q"], 1.0 / gg["gamma"], customers)
    events: list[TouchpointEvent] = []
    acquired: dict[str, float] = {}
    dropout: dict[str, float] = {}
    width = len(str(customers))
    for i in range(customers):
        customer_id = f"b{i:0{width}d}"
        arrival = round(float(rng.uniform(0, arrival_span)) * 86_400) / 86_400  # whole seconds, as events are
        alive_for = float(rng.exponential(1.0 / mu[i])) if mu[i] > 0 else float("inf")
        acquired[customer_id] = arrival
        dropout[customer_id] = arrival + alive_for
        end = min(arrival + alive_for, float(days))
        at, number = arrival, 0
        while at < end:
            spend = float(rng.gamma(gg["p"], 1.0 / nu[i]))
            ts = _START + timedelta(days=at)
            events.append(touchpoint(customer_id, number, "purchase", ts, "web", value=round(spend, 2)))
            number += 1
            at += float(rng.exponential(1.0 / lam[i])) if lam[i] > 0 else float("inf")
    events.sort(key=lambda e: (e.ts, e.customer_id, e.event_id))
    return BtydHistory(_START, days, events, acquired, dropout)
