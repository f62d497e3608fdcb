"""The subscription simulator: churn on a renewal, no sign of it in usage, discontent before it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from momentstream.sim.subscriptions import UNHAPPY_TICKETS, SubscriptionHistory, simulate_subscriptions


@pytest.fixture(scope="module")
def history() -> SubscriptionHistory:
    return simulate_subscriptions(customers=400, days=150, seed=5)


def test_the_same_seed_gives_the_same_history() -> None:
    a, b = simulate_subscriptions(30, 60, seed=2), simulate_subscriptions(30, 60, seed=2)
    assert a.events == b.events
    assert a.churned_at == b.churned_at
    assert simulate_subscriptions(30, 60, seed=3).events != a.events


def test_churners_leave_on_a_renewal_and_send_nothing_after(history: SubscriptionHistory) -> None:
    gone = {c: t for c, t in history.churned_at.items() if t is not None}
    assert 0.1 < len(gone) / len(history.churned_at) < 0.35
    for customer_id, churned in gone.items():
        assert (churned - history.joined_at[customer_id]) % timedelta(days=30) == timedelta(0)
    assert all(e.ts < gone[e.customer_id] for e in history.events if e.customer_id in gone)


def test_usage_does_not_fall_before_churn(history: SubscriptionHistory) -> None:
    """The last 30 days before leaving look like the customer's earlier months (pooled over churners)."""
    recent = earlier = 0.0
    for customer_id, churned in history.churned_at.items():
        first = max(history.joined_at[customer_id], history.start)
        if churned is None or churned - first < timedelta(days=60):
            continue
        uses = [e.ts for e in history.events if e.customer_id == customer_id and e.type == "product_usage"]
        cut = churned - timedelta(days=30)
        recent += sum(1 for t in uses if t >= cut) / 30
        earlier += sum(1 for t in uses if t < cut) / ((cut - first).total_seconds() / 86_400)
    assert earlier > 0
    assert 0.85 < recent / earlier < 1.15


def test_churners_are_angrier_before_leaving_and_loyal_customers_are_angry_sometimes_too(
    history: SubscriptionHistory,
) -> None:
    """The signal a score can learn, and the noise that keeps it from being trivial (angry tickets per day)."""
    angry = [e for e in history.events if e.type == "support_ticket" and e.text in UNHAPPY_TICKETS]
    before_leaving = days_before = 0.0
    loyal = loyal_days = 0.0
    for customer_id, churned in history.churned_at.items():
        first = max(history.joined_at[customer_id], history.start)
        if churned is None:
            loyal += sum(1 for e in angry if e.customer_id == customer_id)
            loyal_days += (history.end - first).total_seconds() / 86_400
        elif churned - first > timedelta(days=45):
            before_leaving += sum(
                1 for e in angry if e.customer_id == customer_id and e.ts >= churned - timedelta(days=45)
            )
            days_before += 45
    assert loyal > 0
    assert before_leaving / days_before > 5 * loyal / loyal_days
