"""Per-customer features, updated in O(1) per event and stored in the customer's state.

Counts and money are exponentially decayed sums (a half-life instead of a window), so one
number per horizon replaces a list of events: ``sum <- sum * 2^(-dt/half_life) + x``.
Gaps between events keep a running mean and an EWMA, so "how long since the last event,
compared with this customer's usual gap" needs no history either. Support-ticket tone comes
from VADER, a lexicon-based sentiment model, applied to the ticket text.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any

from momentstream.core.schema import TouchpointEvent
from momentstream.patterns.tone import ticket_tone

__all__ = [
    "ANOMALY_MIN_GAPS",
    "CYCLE_MIN_GAPS",
    "CYCLE_SPREAD",
    "DAY_MS",
    "DEFAULT_FEATURES",
    "FEATURE_NAMES",
    "HALF_LIVES",
    "MAX_KINDS",
    "FeatureSelector",
    "FeatureState",
    "anomaly_of",
    "ticket_tone",
]

DAY_MS = 86_400_000
HALF_LIVES = {"7d": 7 * DAY_MS, "30d": 30 * DAY_MS, "90d": 90 * DAY_MS}
"""Horizons of the decayed sums: recent, monthly, quarterly."""
MAX_KINDS = 24
"""Event types and channels tracked per customer (new ones beyond this share one slot)."""
FEATURE_NAMES = (
    "days_since_first_seen", "days_since_last_event", "days_since_last_purchase", "gap_mean_days",
    "gap_ewma_days", "gap_ratio", "support_tone", "support_tickets", "channel_diversity",
    "log_days_since_last_event", "log_days_since_last_purchase", "log_gap_ratio",
    *(f"{kind}_{horizon}" for horizon in HALF_LIVES for kind in ("events", "purchases", "monetary")),
    "log_days_since_first_seen", "log_gap_mean_days", "log_support_tickets",
    *(f"log_{kind}_{horizon}" for horizon in HALF_LIVES for kind in ("events", "purchases", "monetary")),
    "trend_events", "trend_purchases", "silence_anomaly", "burst_anomaly",
    "log_rate_events", "log_rate_purchases", "log_missed_events", "log_missed_purchases",
    "log_rate_monetary", "log_order_value",
    "billing_cycle_days", "renewal_overdue_days", "log_renewal_overdue",
)  # fmt: skip
"""Every feature :meth:`FeatureState.vector` gives, besides ``type_<event type>_30d``."""
DEFAULT_FEATURES = (
    "log_days_since_last_*", "log_events_*", "log_purchases_*", "log_monetary_*", "trend_*",
    "type_*", "support_tone", "log_support_tickets", "channel_diversity",
)  # fmt: skip
"""What a model uses when its objective names no features. Unbounded quantities (days, counts,
money) only on a log scale, so no single customer's extreme value dominates a shared model and a
customer scored beyond the range it learned from (a silence longer than any seen) moves the score
by a log step. Left out, though available by name:

* raw values, for the reason above;
* tenure (``days_since_first_seen``): customers are sampled while tracked, up to two horizons of
  silence, so at a long tenure the model only sees customers who came back; it learns "long tenure,
  loyal" and then calls every long-silent one-time buyer loyal (on CDNOW it inverted the ranking
  of 70% of customers: holdout AUC 0.68 with it, 0.73 without);
* the anomaly scores (``silence_anomaly``, ``burst_anomaly``: a silence, or the last gap, against the
  customer's own rhythm, in standard deviations), which moment conditions use (``min_anomaly``) and
  a model can name;
* gap statistics: a customer with one event has no gap, so their "usual gap" reads 0 and their
  silence ratio stays 0 however long they are silent;
* the customer's long-run rate and what it expected in the current silence (``log_rate_*``,
  ``log_missed_*``). On Pareto/NBD buyers (``benchmarks/churn_btyd.py``) the missed purchases raised
  the last cut-off's AUC from 0.751 to 0.764, but on CDNOW they lowered the validation AUC from 0.745
  to 0.702 (a rate over the whole tenure carries tenure's sampling bias, above); name them where
  they help;
* the billing cycle (``billing_cycle_days``, ``renewal_overdue_days``, ``log_renewal_overdue``): on
  the subscription simulator naming it left the AUC at 0.628, since a churner stops paying when
  they leave, so the overdue renewal comes after the churn; where payments fail before customers
  leave (dunning), name it.
"""
_EWMA = 0.3
_HOUR_MS = 3_600_000
ANOMALY_MIN_GAPS = 5
"""Gaps a customer needs before their silences and bursts are scored as unusual."""
_LOG_GAP_SPREAD_FLOOR = 0.25
CYCLE_MIN_GAPS = 2
"""Purchase gaps a customer needs before their payments count as a billing cycle."""
CYCLE_SPREAD = 0.15
"""A billing cycle's gaps stay within this share of their mean (monthly: within about 4.5 days)."""
_RATE_PRIOR_MONTHS = 1.0 / 30.0
"""A day added to a customer's tenure, so a first event is a rate of one a day, not infinite."""
_ANOMALY_LIMIT = 10.0


def _factors(elapsed_ms: int) -> dict[str, float]:
    """The decay factor of each half-life over ``elapsed_ms`` (1.0 when no time passed)."""
    if elapsed_ms <= 0:
        return _NO_DECAY
    return {horizon: math.pow(2.0, -elapsed_ms / half_life) for horizon, half_life in HALF_LIVES.items()}


_NO_DECAY = dict.fromkeys(HALF_LIVES, 1.0)
_SUM_NAMES = {h: (f"events_{h}", f"purchases_{h}", f"monetary_{h}") for h in HALF_LIVES}
_LOG_NAMES = {name: f"log_{name}" for names in _SUM_NAMES.values() for name in names}
_RATE_SCALE = HALF_LIVES["90d"] / HALF_LIVES["7d"]
"""A decayed sum weighs about half-life / ln 2 of events: this makes a week's sum comparable to a quarter's."""
_TYPE_NAMES: dict[str, str] = {}
"""``type_<kind>_30d`` per event type, built once; bounded, since event types are unbounded across customers."""
_TYPE_NAMES_KEPT = 4096


@dataclass(slots=True)
class FeatureState:
    """A customer's running aggregates; :meth:`vector` turns them into model features.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> f = FeatureState()
    >>> for day in (0, 2, 4):
    ...     f.update(TouchpointEvent(event_id=str(day), customer_id="c", type="purchase", value=10.0,
    ...                              ts=t0 + timedelta(days=day)), int((t0 + timedelta(days=day)).timestamp() * 1000))
    >>> x = f.vector(int((t0 + timedelta(days=8)).timestamp() * 1000))
    >>> round(x["days_since_last_purchase"], 1), round(x["gap_mean_days"], 1), round(x["gap_ratio"], 1)
    (4.0, 2.0, 2.0)
    """

    first_ms: int | None = None
    last_ms: int | None = None
    last_purchase_ms: int | None = None
    events: dict[str, float] = field(default_factory=dict)
    purchases: dict[str, float] = field(default_factory=dict)
    money: dict[str, float] = field(default_factory=dict)
    kinds: dict[str, float] = field(default_factory=dict)
    channels: dict[str, float] = field(default_factory=dict)
    gap_count: int = 0
    gap_mean_ms: float = 0.0
    gap_ewma_ms: float = 0.0
    last_gap_ms: int = 0
    tone_ewma: float = 0.0
    tickets: int = 0
    log_gap_mean: float = 0.0
    """Running mean and sum of squares of log(1 + gap in hours): the customer's own rhythm."""
    log_gap_m2: float = 0.0
    events_total: int = 0
    """Events and purchases since the first event: the customer's own long-run rate."""
    purchases_total: int = 0
    purchase_gaps: int = 0
    """Gaps between purchases, their mean and sum of squares (days): a billing cycle when they are regular."""
    purchase_gap_mean: float = 0.0
    purchase_gap_m2: float = 0.0
    money_total: float = 0.0
    """Spend since the first event: the customer's average order value, and their long-run spend rate."""

    def update(self, event: TouchpointEvent, ts: int) -> None:
        """Fold one event in (events arrive in time order; the engine guarantees it)."""
        if self.first_ms is None:
            self.first_ms = ts
        elapsed = 0 if self.last_ms is None else max(ts - self.last_ms, 0)
        if self.last_ms is not None:
            self._gap(elapsed)
        self._decay_all(elapsed)
        self.last_ms = ts
        self.events_total += 1
        for horizon in HALF_LIVES:
            self.events[horizon] = self.events.get(horizon, 0.0) + 1.0
        if event.type == "purchase":
            self.purchases_total += 1
            if self.last_purchase_ms is not None:
                self._purchase_gap((ts - self.last_purchase_ms) / DAY_MS)
            self.last_purchase_ms = ts
            for horizon in HALF_LIVES:
                self.purchases[horizon] = self.purchases.get(horizon, 0.0) + 1.0
                self.money[horizon] = self.money.get(horizon, 0.0) + float(event.value or 0.0)
            self.money_total += float(event.value or 0.0)
        _bump(self.kinds, event.type)
        _bump(self.channels, event.channel)
        if event.type == "support_ticket":
            self.tickets += 1
            if event.text:
                tone = ticket_tone(event.text)
                self.tone_ewma = tone if self.tickets == 1 else _EWMA * tone + (1 - _EWMA) * self.tone_ewma

    def _gap(self, gap_ms: int) -> None:
        self.gap_count += 1
        self.gap_mean_ms += (gap_ms - self.gap_mean_ms) / self.gap_count
        self.gap_ewma_ms = gap_ms if self.gap_count == 1 else _EWMA * gap_ms + (1 - _EWMA) * self.gap_ewma_ms
        self.last_gap_ms = gap_ms
        log_gap = math.log1p(gap_ms / _HOUR_MS)
        delta = log_gap - self.log_gap_mean
        self.log_gap_mean += delta / self.gap_count
        self.log_gap_m2 += delta * (log_gap - self.log_gap_mean)

    def _purchase_gap(self, days: float) -> None:
        self.purchase_gaps += 1
        delta = days - self.purchase_gap_mean
        self.purchase_gap_mean += delta / self.purchase_gaps
        self.purchase_gap_m2 += delta * (days - self.purchase_gap_mean)

    def billing_cycle_days(self) -> float:
        """The customer's billing cycle: the mean gap between purchases when they are regular (at least
        :data:`CYCLE_MIN_GAPS` gaps within :data:`CYCLE_SPREAD` of their mean), else 0."""
        if self.purchase_gaps < CYCLE_MIN_GAPS or self.purchase_gap_mean < 1.0:
            return 0.0
        spread = math.sqrt(self.purchase_gap_m2 / (self.purchase_gaps - 1))
        return self.purchase_gap_mean if spread <= CYCLE_SPREAD * self.purchase_gap_mean else 0.0

    def _decay_all(self, elapsed: int) -> None:
        if not elapsed:
            return
        factors = _factors(elapsed)
        for sums in (self.events, self.purchases, self.money):
            for horizon, value in sums.items():
                sums[horizon] = value * factors[horizon]
        month = factors["30d"]
        for counts in (self.kinds, self.channels):
            for key, value in counts.items():
                counts[key] = value * month

    def vector(self, now_ms: int) -> dict[str, float]:
        """Features as of ``now_ms`` (recency grows with time; sums decay to now)."""
        if self.last_ms is None or self.first_ms is None:
            return {}
        since = max(now_ms - self.last_ms, 0)
        factors = _factors(since)
        month = factors["30d"]
        x: dict[str, float] = {
            "days_since_first_seen": (now_ms - self.first_ms) / DAY_MS,
            "days_since_last_event": since / DAY_MS,
            "days_since_last_purchase": (now_ms - (self.last_purchase_ms or self.first_ms)) / DAY_MS,
            "gap_mean_days": self.gap_mean_ms / DAY_MS,
            "gap_ewma_days": self.gap_ewma_ms / DAY_MS,
            "gap_ratio": since / self.gap_mean_ms if self.gap_mean_ms > 0 else 0.0,
            "support_tone": self.tone_ewma,
            "support_tickets": float(self.tickets),
            "channel_diversity": float(sum(1 for v in self.channels.values() if v * month >= 0.5)),
        }  # fmt: skip
        # Log scales: a linear model then weighs "3 vs 30 days" like "30 vs 300 days".
        x["log_days_since_last_event"] = math.log1p(x["days_since_last_event"])
        x["log_days_since_last_purchase"] = math.log1p(x["days_since_last_purchase"])
        x["log_gap_ratio"] = math.log1p(x["gap_ratio"])
        x["log_days_since_first_seen"] = math.log1p(x["days_since_first_seen"])
        x["log_gap_mean_days"] = math.log1p(x["gap_mean_days"])
        x["log_support_tickets"] = math.log1p(self.tickets)
        events, purchases, money = self.events, self.purchases, self.money
        for horizon, (n_events, n_purchases, n_money) in _SUM_NAMES.items():
            factor = factors[horizon]
            x[n_events] = events.get(horizon, 0.0) * factor
            x[n_purchases] = purchases.get(horizon, 0.0) * factor
            x[n_money] = money.get(horizon, 0.0) * factor
            x[_LOG_NAMES[n_events]] = math.log1p(x[n_events])
            x[_LOG_NAMES[n_purchases]] = math.log1p(x[n_purchases])
            x[_LOG_NAMES[n_money]] = math.log1p(max(x[n_money], 0.0))  # refunds can make money negative
        # Trend against the customer's own past: the last week's rate over the last quarter's, on a log
        # scale (0: as usual; below 0: slowing down). Decayed sums weigh about half-life / ln 2 days.
        x["trend_events"] = _trend(x["events_7d"], x["events_90d"])
        x["trend_purchases"] = _trend(x["purchases_7d"], x["purchases_90d"])
        # The customer's own long-run rate, and how many events that rate expected in the current silence:
        # "silent 12 days, usually every 2" reads 6 missed, where 12 days alone says nothing of the customer.
        months = (now_ms - self.first_ms) / DAY_MS / 30.0 + _RATE_PRIOR_MONTHS
        x["log_rate_events"] = math.log1p(self.events_total / months)
        x["log_rate_purchases"] = math.log1p(self.purchases_total / months)
        x["log_missed_events"] = math.log1p(x["days_since_last_event"] / 30.0 * self.events_total / months)
        since_purchase = x["days_since_last_purchase"] if self.purchases_total else 0.0
        x["log_missed_purchases"] = math.log1p(since_purchase / 30.0 * self.purchases_total / months)
        spent = max(self.money_total, 0.0)  # refunds can make it negative
        x["log_rate_monetary"] = math.log1p(spent / months)
        x["log_order_value"] = math.log1p(spent / self.purchases_total) if self.purchases_total else 0.0
        # A renewal that did not come: a regular payer's days past their next expected payment.
        cycle = self.billing_cycle_days()
        overdue = max(x["days_since_last_purchase"] - cycle, 0.0) if cycle else 0.0
        x["billing_cycle_days"] = cycle
        x["renewal_overdue_days"] = overdue
        x["log_renewal_overdue"] = math.log1p(overdue)
        x["silence_anomaly"] = self._gap_z(since)
        x["burst_anomaly"] = -self._gap_z(self.last_gap_ms) if self.gap_count else 0.0
        for kind, value in self.kinds.items():
            name = _TYPE_NAMES.get(kind)
            if name is None:
                name = f"type_{kind}_30d"
                if len(_TYPE_NAMES) < _TYPE_NAMES_KEPT:
                    _TYPE_NAMES[kind] = name
            x[name] = value * month
        return x

    def _gap_z(self, gap_ms: int) -> float:
        """How unusual a gap is for this customer: standard deviations of log gap from their own mean.

        The per-customer Gaussian score of River's ``anomaly.GaussianScorer``, kept as three numbers in
        the state. 0 until the customer has :data:`ANOMALY_MIN_GAPS` gaps (no rhythm to differ from);
        the spread has a floor, so a perfectly regular customer's first late day is large, not infinite.
        """
        if self.gap_count < ANOMALY_MIN_GAPS:
            return 0.0
        spread = max(math.sqrt(self.log_gap_m2 / (self.gap_count - 1)), _LOG_GAP_SPREAD_FLOOR)
        z = (math.log1p(gap_ms / _HOUR_MS) - self.log_gap_mean) / spread
        return max(-_ANOMALY_LIMIT, min(z, _ANOMALY_LIMIT))

    # -- encoding (part of the customer's msgpack state) -----------------------------------
    def to_list(self) -> list[Any]:
        """Compact form for the state encoding."""
        return [self.first_ms, self.last_ms, self.last_purchase_ms, self.events, self.purchases, self.money,
                self.kinds, self.channels, self.gap_count, self.gap_mean_ms, self.gap_ewma_ms, self.last_gap_ms,
                self.tone_ewma, self.tickets, self.log_gap_mean, self.log_gap_m2, self.events_total,
                self.purchases_total, self.purchase_gaps, self.purchase_gap_mean, self.purchase_gap_m2,
                self.money_total]  # fmt: skip

    @classmethod
    def from_list(cls, raw: list[Any]) -> FeatureState:
        """Inverse of :meth:`to_list` (lists stored before the anomaly statistics start them at 0; before the
        totals, they are read from the gaps counted and the last purchase)."""
        state = cls(*raw)
        if len(raw) < 17 and state.first_ms is not None:
            state.events_total = state.gap_count + 1
            state.purchases_total = 1 if state.last_purchase_ms is not None else 0
        if len(raw) < 22 and state.purchases.get("90d"):  # before the spend total: the recent order value
            state.money_total = state.purchases_total * state.money.get("90d", 0.0) / state.purchases["90d"]
        return state


def _trend(recent: float, longer: float) -> float:
    """log of the recent rate over the longer one, smoothed by one event so a first event is not infinite.

    >>> _trend(0.0, 0.0), round(_trend(1.0, 90 / 7), 2), _trend(0.0, 20.0) < -2.5
    (0.0, 0.0, True)
    """
    return math.log((recent * _RATE_SCALE + 1.0) / (longer + 1.0))


def _bump(counts: dict[str, float], key: str) -> None:
    if key not in counts and len(counts) >= MAX_KINDS:
        key = "other"
    counts[key] = counts.get(key, 0.0) + 1.0


class FeatureSelector:
    """Keeps the features an objective uses: names or shell-style patterns (``"purchases_*"``).

    Decisions are cached per feature name, so selecting costs a dict lookup per feature.

    >>> keep = FeatureSelector(("log_days_since_last_purchase", "purchases_*"))
    >>> sorted(keep({"purchases_7d": 1.0, "purchases_90d": 2.0, "events_7d": 3.0, "log_days_since_last_purchase": 0.5}))
    ['log_days_since_last_purchase', 'purchases_7d', 'purchases_90d']
    """

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self._decided: dict[str, bool] = {}

    def __call__(self, x: dict[str, float]) -> dict[str, float]:
        decided = self._decided
        kept = {}
        for name, value in x.items():
            keep = decided.get(name)
            if keep is None:
                keep = decided[name] = any(fnmatch.fnmatchcase(name, p) for p in self.patterns)
            if keep:
                kept[name] = value
        return kept


def anomaly_of(x: dict[str, float]) -> float:
    """How unusual the customer's behaviour is for them now: the larger of a silence longer than their
    rhythm and a last gap shorter than it, in standard deviations (0 when neither, or no rhythm yet).

    >>> anomaly_of({"silence_anomaly": 3.2, "burst_anomaly": -1.0}), anomaly_of({})
    (3.2, 0.0)
    """
    return max(x.get("silence_anomaly", 0.0), x.get("burst_anomaly", 0.0), 0.0)
