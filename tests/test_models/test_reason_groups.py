"""Reasons a person reads: co-moving features summed into one push with one sign, said in the customer's terms."""

from __future__ import annotations

import math

import pytest

from momentstream.cli.demo import default_engine
from momentstream.core.schema import Trigger
from momentstream.models.explain import Reason, points
from momentstream.models.features import FEATURE_NAMES
from momentstream.models.reason_groups import group_of, group_reasons
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.subscriptions import simulate_subscriptions


def test_a_group_is_the_exact_sum_of_its_features_and_keeps_one_sign() -> None:
    """The renewal that read "+80 points for the payment, -79 for its amount" reads as one small push."""
    reasons = [Reason("log_purchases_7d", 2.1), Reason("log_monetary_7d", -1.3), Reason("log_purchases_30d", -0.9),
               Reason("log_days_since_last_event", 0.6), Reason("trend_events", -0.2)]  # fmt: skip
    grouped = {g.reason: g for g in group_reasons(reasons, 0.6, {"purchases_30d": 1.0, "monetary_30d": 49.0})}
    assert grouped["purchases"].contribution == pytest.approx(2.1 - 1.3 - 0.9)
    assert grouped["purchases"].features == ("log_purchases_7d", "log_monetary_7d", "log_purchases_30d")
    assert grouped["purchases"].points == pytest.approx(points(0.6, -0.1))
    assert sum(g.contribution for g in grouped.values()) == pytest.approx(sum(r.contribution for r in reasons))


def test_the_largest_pushes_come_first_and_cancelled_groups_are_left_out() -> None:
    reasons = [Reason("log_events_7d", 0.5), Reason("log_events_90d", -0.5), Reason("support_tone", 0.3),
               Reason("channel_diversity", -0.9), Reason("type_billing_viewed_30d", math.nan)]  # fmt: skip
    grouped = group_reasons(reasons, 0.5, {"channel_diversity": 1.0, "support_tickets": 2.0, "support_tone": -0.6})
    assert [(g.reason, g.says) for g in grouped] == [
        ("channels", "1 channel used in the last month"),
        ("support", "2 support tickets, tone -0.60"),
    ]


@pytest.mark.parametrize(
    ("x", "says"),
    [
        ({"days_since_last_event": 12.0, "gap_mean_days": 2.0}, "silent 12 days, usually every 2 days"),
        ({"days_since_last_event": 9.6, "gap_mean_days": 0.25}, "silent 10 days, usually every 6 hours"),
        ({"days_since_last_event": 40.0}, "silent 40 days"),
        ({"days_since_last_event": 0.0, "gap_mean_days": 5.2}, "active within the hour, usually every 5 days"),
        (
            {"days_since_last_event": 3.0, "days_since_last_purchase": 41.0, "purchases_90d": 1.2},
            "silent 3 days; last purchase 41 days ago",
        ),
    ],
)
def test_silence_is_said_against_the_customers_own_rhythm(x: dict[str, float], says: str) -> None:
    assert group_reasons([Reason("log_days_since_last_event", 1.0)], 0.7, x)[0].says == says


@pytest.mark.parametrize(("trend", "says"), [(math.log(0.4), "activity down 60% vs their usual"),
                                             (0.02, "activity as usual for them"),
                                             (math.log(2.3), "activity up 130% vs their usual"),
                                             (math.log(7.06), "activity 7 times their usual")])  # fmt: skip
def test_activity_is_said_against_the_customers_own_past(trend: float, says: str) -> None:
    x = {"trend_events": trend, "days_since_first_seen": 200.0}
    assert group_reasons([Reason("trend_events", -1.0)], 0.4, x)[0].says == says


def test_a_new_customer_has_no_usual_so_their_activity_is_a_count() -> None:
    x = {"trend_events": 2.0, "days_since_first_seen": 11.0, "events_30d": 15.2}
    assert group_reasons([Reason("trend_events", 1.0)], 0.4, x)[0].says == "15 events in their first 11 days"


def test_every_feature_belongs_to_a_named_group() -> None:
    named = {"silence", "activity", "purchases", "support", "channels", "tenure", "billing"}
    assert {group_of(f) for f in FEATURE_NAMES} == named
    assert group_of("type_billing_viewed_30d") == "type_billing_viewed"
    assert group_of("type_purchase_30d") == "purchases"


def test_on_subscription_data_a_payment_is_never_a_reason_for_churn_risk() -> None:
    """Renewal payments come every month to everyone who stays: paying must never read as leaving.

    Not paying may (a purchases reason pushing churn up must say "no purchase"); every churn trigger a warm
    model scored is checked.
    """
    history = simulate_subscriptions(customers=400, days=150, seed=11)
    runner = ReplayRunner(default_engine(None))
    outputs = [o for e in history.events for o in runner.feed(e)] + runner.finish(None)
    scored = [o.score for o in outputs if isinstance(o, Trigger) and o.score is not None
              and o.score.objective == "churn" and o.score.tier != "warming_up"]  # fmt: skip
    assert len(scored) >= 30
    blamed = [w for s in scored for w in s.why if w.reason == "purchases" and w.points > 0]
    assert all(w.says == "no purchase in the last month" for w in blamed), blamed
    assert sum(1 for s in scored for w in s.why if w.reason == "purchases" and w.points < 0) >= 5
    assert all(s.why and abs(sum(w.contribution for w in s.why)) > 0 for s in scored)


def test_another_companys_event_names_are_said_as_they_are() -> None:
    odd = "type_Ünï {score} 客户_30d"
    [reason] = group_reasons([Reason(odd, 0.4)], 0.6, {odd: 2.6})
    assert (reason.reason, reason.says) == ("type_Ünï {score} 客户", "Ünï {score} 客户 3 times in the last month")
    assert group_of("type_other_30d") == "type_other"  # the shared slot of kinds beyond the tracked ones


@pytest.mark.parametrize(
    ("x", "says"),
    [
        ({"billing_cycle_days": 30.2, "renewal_overdue_days": 4.6}, "renewal 5 days overdue (pays every 30 days)"),
        ({"billing_cycle_days": 7.0, "renewal_overdue_days": 0.0}, "renewal on time (pays every 7 days)"),
        ({"billing_cycle_days": 0.0}, "no regular payments"),
    ],
)
def test_a_billing_reason_says_how_late_the_renewal_is(x: dict[str, float], says: str) -> None:
    assert group_reasons([Reason("log_renewal_overdue", 0.8)], 0.7, x)[0].says == says
