"""Reasons a person reads: features that move together, summed into one push and said in words.

A linear model's contributions add up in log-odds, so the push of a group of features is the
sum of theirs, exactly. Features that move together (a purchase count and its money, a week's
activity and a quarter's) get weights of either sign from SGD; read one by one they contradict
each other ("the payment raises churn risk, its amount lowers it", +80 and -79 points on a
renewal). Summed, the group says what the customer's purchases do to the score, with one sign.
Each group's text is written from the customer's own values: "silent 12 days, usually every 2".

Groups, by feature name:

* ``silence``: days since the last event and the last purchase, purchases or events the
  customer's own rate expected in the silence, the silence against their rhythm;
* ``activity``: event counts and their trend, the long-run rate, a burst against the rhythm;
* ``purchases``: purchases made and money spent (counts, sums, trend, rate);
* ``billing``: a regular payer's billing cycle and how overdue their renewal is;
* ``support``: tickets and their tone; ``channels``; ``tenure``;
* ``type_<event>``: any other event type's count (a look at billing, a data export), each its own.

>>> from momentstream.models.explain import Reason
>>> grouped = group_reasons(
...     [Reason("log_purchases_7d", 1.3), Reason("log_monetary_7d", -0.9), Reason("log_days_since_last_event", 0.8),
...      Reason("type_billing_viewed_30d", 0.2)], 0.7,
...     {"days_since_last_event": 12.0, "gap_mean_days": 2.0, "purchases_30d": 1.0, "monetary_30d": 49.0,
...      "type_billing_viewed_30d": 2.0})
>>> for g in grouped:
...     print(g.reason, "|", g.says, "|", round(g.contribution, 1))
silence | silent 12 days, usually every 2 days | 0.8
purchases | 1 purchase in the last month (49.00) | 0.4
type_billing_viewed | billing_viewed 2 times in the last month | 0.2
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from momentstream.models.explain import Reason, points

__all__ = ["GroupedReason", "group_of", "group_reasons"]


@dataclass(frozen=True, slots=True)
class GroupedReason:
    """One readable reason: the summed push of a group of features, and what it means for this customer."""

    reason: str
    says: str
    contribution: float
    points: float
    features: tuple[str, ...]


_SILENCE = frozenset({
    "days_since_last_event", "log_days_since_last_event", "days_since_last_purchase", "log_days_since_last_purchase",
    "log_missed_events", "log_missed_purchases", "gap_ratio", "log_gap_ratio", "silence_anomaly",
})  # fmt: skip
_ACTIVITY = frozenset({"trend_events", "log_rate_events", "burst_anomaly", "gap_mean_days", "gap_ewma_days",
                       "log_gap_mean_days"})  # fmt: skip
_SUPPORT = frozenset({"support_tone", "support_tickets", "log_support_tickets", "type_support_ticket_30d"})
_TENURE = frozenset({"days_since_first_seen", "log_days_since_first_seen"})
_BILLING = frozenset({"billing_cycle_days", "renewal_overdue_days", "log_renewal_overdue"})


def group_of(feature: str) -> str:
    """The reason a feature belongs to.

    >>> [group_of(f) for f in ("log_monetary_90d", "trend_purchases", "events_7d", "type_login_30d", "support_tone")]
    ['purchases', 'purchases', 'activity', 'type_login', 'support']
    """
    if feature in _SILENCE:
        return "silence"
    if feature in _SUPPORT:
        return "support"
    if feature in _TENURE:
        return "tenure"
    if feature in _BILLING:
        return "billing"
    if feature == "channel_diversity":
        return "channels"
    if "purchase" in feature or "monetary" in feature or "order_value" in feature:
        return "purchases"
    if feature in _ACTIVITY or feature.startswith(("events_", "log_events_")):
        return "activity"
    if feature.startswith("type_"):
        return "type_" + feature.removeprefix("type_").removesuffix("_30d")
    return feature


def _span(days: float) -> str:
    """A duration as people say it.

    >>> _span(0.4), _span(1.2), _span(12.0)
    ('10 hours', '1 day', '12 days')
    """
    if days < 1.0:
        hours = max(round(days * 24), 1)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    whole = round(days)
    return f"{whole} day{'s' if whole != 1 else ''}"


def _times(count: float, noun: str) -> str:
    whole = round(count)
    return f"{whole} {noun}{'s' if whole != 1 else ''}"


def _silence(x: Mapping[str, float]) -> str:
    days = x.get("days_since_last_event", 0.0)
    gap = x.get("gap_mean_days", 0.0)
    said = "active within the hour" if days * 24 < 0.5 else f"silent {_span(days)}"
    said += f", usually every {_span(gap)}" if gap > 0 else ""
    since_purchase = x.get("days_since_last_purchase")
    if since_purchase is not None and x.get("purchases_90d", 0.0) > 0 and since_purchase - days >= 1:
        said += f"; last purchase {_span(since_purchase)} ago"
    return said


_NEW_CUSTOMER_DAYS = 28.0
"""Younger than this, a customer has no "usual" to compare with: their activity is said as a count."""


def _activity(x: Mapping[str, float]) -> str:
    trend = x.get("trend_events")
    tenure = x.get("days_since_first_seen", _NEW_CUSTOMER_DAYS)
    if trend is None or tenure < _NEW_CUSTOMER_DAYS:
        return f"{_times(x.get('events_30d', 0.0), 'event')} in their first {_span(tenure)}"
    change = math.exp(trend) - 1.0
    if abs(change) < 0.1:
        return "activity as usual for them"
    if change >= 2.0:
        return f"activity {change + 1.0:.0f} times their usual"
    return f"activity {'down' if change < 0 else 'up'} {abs(change):.0%} vs their usual"


def _purchases(x: Mapping[str, float]) -> str:
    count, money = x.get("purchases_30d", 0.0), x.get("monetary_30d", 0.0)
    if round(count) == 0:
        return "no purchase in the last month"
    return f"{_times(count, 'purchase')} in the last month" + (f" ({money:,.2f})" if money > 0 else "")


def _billing(x: Mapping[str, float]) -> str:
    cycle = x.get("billing_cycle_days", 0.0)
    if not cycle:
        return "no regular payments"
    overdue = x.get("renewal_overdue_days", 0.0)
    pays = f"pays every {_span(cycle)}"
    return f"renewal {_span(overdue)} overdue ({pays})" if overdue >= 0.5 else f"renewal on time ({pays})"


def _support(x: Mapping[str, float]) -> str:
    return f"{_times(x.get('support_tickets', 0.0), 'support ticket')}, tone {x.get('support_tone', 0.0):+.2f}"


_SAYS: dict[str, Callable[[Mapping[str, float]], str]] = {
    "silence": _silence,
    "activity": _activity,
    "purchases": _purchases,
    "support": _support,
    "billing": _billing,
    "channels": lambda x: f"{_times(x.get('channel_diversity', 0.0), 'channel')} used in the last month",
    "tenure": lambda x: f"a customer for {_span(x.get('days_since_first_seen', 0.0))}",
}


def _says(reason: str, x: Mapping[str, float]) -> str:
    if reason in _SAYS:
        return _SAYS[reason](x)
    if reason.startswith("type_"):
        kind = reason.removeprefix("type_")
        return f"{kind} {_times(x.get(f'type_{kind}_30d', 0.0), 'time')} in the last month"
    return reason


def group_reasons(reasons: list[Reason], p: float, every: Mapping[str, float], top: int = 3) -> list[GroupedReason]:
    """``reasons`` (every feature's contribution) summed per group, largest push first, each with its words.

    ``p`` is the score (for the points), ``every`` the customer's whole feature vector (for the words:
    a model on log scales still says days and counts). A group whose features cancel out is left out.
    """
    sums: dict[str, float] = {}
    members: dict[str, list[str]] = {}
    for r in reasons:
        if not math.isfinite(r.contribution):
            continue
        group = group_of(r.feature)
        sums[group] = sums.get(group, 0.0) + r.contribution
        members.setdefault(group, []).append(r.feature)
    ranked = sorted((g for g in sums if abs(sums[g]) > 1e-9), key=lambda g: abs(sums[g]), reverse=True)[:top]
    return [GroupedReason(g, _says(g, every), sums[g], points(p, sums[g]), tuple(members[g])) for g in ranked]
