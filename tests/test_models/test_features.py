"""Feature maths: decayed sums, gaps, recency, tone, bounded vocabularies, encoding."""

from __future__ import annotations

import math

import pytest

from momentstream.models.features import (
    DAY_MS,
    DEFAULT_FEATURES,
    FEATURE_NAMES,
    MAX_KINDS,
    FeatureSelector,
    FeatureState,
    ticket_tone,
)
from tests.helpers import T0, event

T0_MS = int(T0.timestamp() * 1000)


def feed(spec: list[tuple[str, float, dict[str, object]]]) -> FeatureState:
    """Events (type, day, fields) into a fresh feature state."""
    f = FeatureState()
    for i, (kind, day, fields) in enumerate(spec):
        e = event(f"e{i}", kind, day * 24 * 60, **fields)  # type: ignore[arg-type]
        f.update(e, T0_MS + int(day * DAY_MS))
    return f


def test_decayed_sums_halve_after_one_half_life() -> None:
    f = feed([("purchase", 0, {"value": 100.0})])
    x = f.vector(T0_MS + 30 * DAY_MS)
    assert x["purchases_30d"] == pytest.approx(0.5)
    assert x["monetary_30d"] == pytest.approx(50.0)
    assert x["monetary_7d"] == pytest.approx(100.0 * 2 ** (-30 / 7))
    assert x["monetary_90d"] == pytest.approx(100.0 * 2 ** (-30 / 90))


def test_decayed_sums_equal_the_explicit_sum_over_events() -> None:
    days = [0.0, 1.5, 4.0, 11.0, 30.0]
    f = feed([("page_view", d, {}) for d in days])
    now = 45.0
    expected = sum(math.pow(2, -(now - d) / 7) for d in days)
    assert f.vector(T0_MS + int(now * DAY_MS))["events_7d"] == pytest.approx(expected)


def test_gap_statistics_and_the_ratio_to_the_usual_gap() -> None:
    f = feed([("login", 0, {}), ("login", 2, {}), ("login", 4, {}), ("login", 10, {})])
    x = f.vector(T0_MS + 13 * DAY_MS)
    assert x["gap_mean_days"] == pytest.approx((2 + 2 + 6) / 3)
    assert x["gap_ewma_days"] == pytest.approx(0.3 * 6 + 0.7 * (0.3 * 2 + 0.7 * 2))
    assert x["days_since_last_event"] == pytest.approx(3.0)
    assert x["gap_ratio"] == pytest.approx(3.0 / ((2 + 2 + 6) / 3))
    assert x["days_since_first_seen"] == pytest.approx(13.0)


def test_support_tone_follows_the_ticket_text() -> None:
    angry = feed([("support_ticket", 0, {"text": "This is broken again, terrible service, I want a refund."})])
    happy = feed([("support_ticket", 0, {"text": "Thanks so much, the fix works perfectly!"})])
    assert angry.vector(T0_MS)["support_tone"] < -0.3
    assert happy.vector(T0_MS)["support_tone"] > 0.5
    assert ticket_tone("") == 0.0


def test_channel_diversity_counts_recent_channels_only() -> None:
    early = [("page_view", 0.0, {"channel": "web"}), ("email_open", 1.0, {"channel": "email"})]
    assert feed(early).vector(T0_MS + DAY_MS)["channel_diversity"] == 2.0
    later = feed([*early, ("login", 60.0, {"channel": "app"})])
    assert later.vector(T0_MS + 60 * DAY_MS)["channel_diversity"] == 1.0


def test_vocabularies_are_bounded() -> None:
    f = feed([(f"kind_{i}", i * 0.01, {}) for i in range(MAX_KINDS + 10)])
    assert len(f.kinds) == MAX_KINDS + 1  # the rest share "other"
    assert f.kinds["other"] > 9


def test_encoding_round_trips() -> None:
    f = feed([("purchase", 0, {"value": 5.0}), ("support_ticket", 1, {"text": "ok thanks"})])
    g = FeatureState.from_list(f.to_list())
    assert g.vector(T0_MS + 5 * DAY_MS) == f.vector(T0_MS + 5 * DAY_MS)


def test_no_events_no_features() -> None:
    assert FeatureState().vector(T0_MS) == {}


def test_feature_names_list_every_feature_the_vector_gives() -> None:
    f = feed([("purchase", 0, {"value": 10.0}), ("support_ticket", 1, {"text": "thanks"}), ("login", 2, {})])
    x = f.vector(T0_MS + 3 * DAY_MS)
    assert {k for k in x if not k.startswith("type_")} == set(FEATURE_NAMES)


def test_a_selector_keeps_named_and_matching_features_only() -> None:
    x = feed([("purchase", 0, {"value": 10.0}), ("login", 2, {})]).vector(T0_MS + 3 * DAY_MS)
    kept = FeatureSelector(("log_days_since_last_purchase", "purchases_*", "type_*"))(x)
    assert set(kept) == {"log_days_since_last_purchase", "purchases_7d", "purchases_30d", "purchases_90d",
                         "type_purchase_30d", "type_login_30d"}  # fmt: skip
    assert all(kept[k] == x[k] for k in kept)


def test_log_features_are_the_raw_ones_on_a_log_scale() -> None:
    f = feed([("purchase", 0, {"value": 99.0}), ("login", 3, {}), ("purchase", 10, {"value": 1e9})])
    x = f.vector(T0_MS + 40 * DAY_MS)
    for name in ("days_since_first_seen", "gap_mean_days", "events_30d", "purchases_90d", "monetary_7d"):
        assert x[f"log_{name}"] == pytest.approx(math.log1p(x[name]))
    assert x["log_support_tickets"] == 0.0
    assert x["log_monetary_90d"] < 22  # a billion in sales is a log step, not a billion


def test_a_refund_that_makes_money_negative_keeps_its_log_finite() -> None:
    f = feed([("purchase", 0, {"value": 10.0}), ("purchase", 1, {"value": -500.0})])
    x = f.vector(T0_MS + 2 * DAY_MS)
    assert x["monetary_30d"] < 0
    assert x["log_monetary_30d"] == 0.0


@pytest.mark.parametrize(("days", "sign"), [([0, 1, 2, 3, 4, 40, 41, 42, 43, 44, 45, 46, 47], 1), ([0, 1, 2, 3], -1)])
def test_the_trend_compares_the_last_week_with_the_customers_own_quarter(days: list[int], sign: int) -> None:
    f = feed([("login", d, {}) for d in days])
    x = f.vector(T0_MS + (days[-1] + (1 if sign > 0 else 30)) * DAY_MS)
    assert math.copysign(1, x["trend_events"]) == sign  # busier than usual: up; quiet for a month: down
    assert x["trend_purchases"] == 0.0


def test_the_default_features_are_bounded_and_leave_out_raw_values_tenure_and_gaps() -> None:
    f = feed([("purchase", 0, {"value": 1e9}), ("support_ticket", 1, {"text": "broken"}), ("login", 500, {})])
    x = FeatureSelector(DEFAULT_FEATURES)(f.vector(T0_MS + 900 * DAY_MS))
    assert not {"days_since_first_seen", "log_days_since_first_seen", "gap_ratio", "log_gap_ratio",
                "monetary_30d", "days_since_last_event"} & set(x)  # fmt: skip
    assert {"log_days_since_last_event", "log_monetary_90d", "trend_events", "type_login_30d"} <= set(x)
    assert max(abs(v) for v in x.values()) < 25


def test_a_silence_or_a_burst_unusual_for_this_customer_scores_high_and_a_usual_one_near_zero() -> None:
    f = feed([("login", d + (0.05 if d % 2 else 0.0), {}) for d in range(20)])  # a daily rhythm
    usual = f.vector(T0_MS + int(20 * DAY_MS))
    late = f.vector(T0_MS + int(26 * DAY_MS))
    assert abs(usual["silence_anomaly"]) < 1.5
    assert late["silence_anomaly"] > 3
    f.update(event("burst", "login", 19 * 24 * 60 + 75), T0_MS + int(19 * DAY_MS) + 75 * 60_000)
    assert f.vector(T0_MS + int(19 * DAY_MS) + 80 * 60_000)["burst_anomaly"] > 3


@pytest.mark.parametrize("days", [[0, 1, 2], [0, 0, 0, 0, 0, 0, 0, 0], [0, 1e-9, 3000]])
def test_anomalies_stay_zero_without_a_rhythm_and_finite_on_odd_gaps(days: list[float]) -> None:
    f = feed([("login", d, {}) for d in days])
    x = f.vector(T0_MS + int((days[-1] + 9000) * DAY_MS))
    assert all(math.isfinite(x[k]) and -10 <= x[k] <= 10 for k in ("silence_anomaly", "burst_anomaly"))
    if len(days) < 6:
        assert x["silence_anomaly"] == x["burst_anomaly"] == 0.0


def test_a_feature_state_stored_before_the_anomaly_statistics_loads_with_them_at_zero() -> None:
    older = [0, 10, None, {}, {}, {}, {}, {}, 1, 10.0, 10.0, 10, 0.0, 0]
    assert FeatureState.from_list(older).log_gap_m2 == 0.0


def test_the_customers_own_rate_says_how_many_events_a_silence_missed() -> None:
    """11 events in 20 days, then 12 days silent: 11 in 33 days (a day added) is one every 3 days, so 4 missed;
    a one-time buyer misses at most one."""
    regular = feed([("login", day, {}) for day in range(0, 21, 2)])
    x = regular.vector(T0_MS + 32 * DAY_MS)
    assert math.expm1(x["log_missed_events"]) == pytest.approx(12 * 11 / 33, rel=1e-9)
    assert math.expm1(x["log_rate_events"]) == pytest.approx(11 / (33 / 30), rel=1e-9)
    assert x["log_missed_purchases"] == 0.0
    assert x["log_rate_purchases"] == 0.0
    once = feed([("purchase", 0, {"value": 5.0})]).vector(T0_MS + 400 * DAY_MS)
    assert 0.6 < math.expm1(once["log_missed_purchases"]) <= 1.0


def test_a_state_stored_before_the_totals_reads_them_from_its_gaps() -> None:
    f = feed([("purchase", 0, {"value": 5.0}), ("login", 3, {}), ("login", 5, {})])
    old = f.to_list()[:16]  # the list form before events_total and purchases_total
    g = FeatureState.from_list(old)
    assert (g.events_total, g.purchases_total) == (3, 1)
    assert g.vector(T0_MS + 9 * DAY_MS) == f.vector(T0_MS + 9 * DAY_MS)


def test_a_regular_payer_has_a_billing_cycle_and_a_late_renewal_counts_its_days() -> None:
    monthly = feed([("purchase", day, {"value": 49.0}) for day in (0, 30, 61, 90)] + [("login", 95, {})])
    on_time = monthly.vector(T0_MS + 100 * DAY_MS)
    assert on_time["billing_cycle_days"] == pytest.approx(30.0)
    assert on_time["renewal_overdue_days"] == 0.0
    late = monthly.vector(T0_MS + 126 * DAY_MS)
    assert late["renewal_overdue_days"] == pytest.approx(6.0)
    assert late["log_renewal_overdue"] == pytest.approx(math.log1p(6.0))
    irregular = feed([("purchase", day, {"value": 20.0}) for day in (0, 3, 40, 48)]).vector(T0_MS + 90 * DAY_MS)
    assert irregular["billing_cycle_days"] == 0.0
    assert irregular["renewal_overdue_days"] == 0.0
    once = feed([("purchase", 0, {"value": 20.0}), ("purchase", 30, {"value": 20.0})]).vector(T0_MS + 70 * DAY_MS)
    assert once["billing_cycle_days"] == 0.0  # one gap is not yet a cycle


def test_a_state_stored_before_billing_cycles_starts_counting_them() -> None:
    f = feed([("purchase", day, {"value": 49.0}) for day in (0, 30, 60)])
    g = FeatureState.from_list(f.to_list()[:18])  # the list form before the purchase gaps
    assert g.vector(T0_MS + 70 * DAY_MS)["billing_cycle_days"] == 0.0
    for day in (90, 120):
        g.update(event(f"p{day}", "purchase", day * 24 * 60, value=49.0), T0_MS + day * DAY_MS)
    assert g.vector(T0_MS + 125 * DAY_MS)["billing_cycle_days"] == pytest.approx(30.0)
