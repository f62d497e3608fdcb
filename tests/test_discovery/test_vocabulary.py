"""Another company's event names: counts, gaps, suggestions, and a bounded profile of hostile histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from momentstream.core.schema import TouchpointEvent
from momentstream.discovery.vocabulary import MAX_TYPES, OTHER, coverage, profile_events, suggest

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def event(i: int, customer: str, kind: str, days: float) -> TouchpointEvent:
    return TouchpointEvent(event_id=f"e{i}", customer_id=customer, type=kind, ts=T0 + timedelta(days=days))


def test_counts_customers_and_median_gaps_per_type() -> None:
    events = [event(0, "a", "order_completed", 0), event(1, "a", "order_completed", 4),
              event(2, "a", "order_completed", 6), event(3, "b", "order_completed", 1),
              event(4, "b", "page_view", 2)]  # fmt: skip
    profile = profile_events(events)
    orders = profile.types[0]
    assert (orders.type, orders.events, orders.customers, orders.median_gap_days) == ("order_completed", 4, 2, 3.0)
    assert profile.types[1].median_gap_days is None  # nobody viewed twice
    assert (profile.events, profile.customers) == (5, 2)


def test_gaps_are_only_counted_forward_in_time() -> None:
    events = [event(0, "a", "login", 10), event(1, "a", "login", 2), event(2, "a", "login", 12)]
    assert profile_events(events).types[0].median_gap_days == 2.0  # 10 -> 12; the late 2 is not a -8 day gap


def test_an_empty_history_profiles_to_nothing() -> None:
    profile = profile_events([])
    assert (profile.events, profile.types, profile.first_ms) == (0, [], None)
    assert coverage([("moment m, step s", frozenset({"purchase"}))], profile)[0].events == 0


def test_a_history_with_ids_in_the_type_field_stays_bounded() -> None:
    events = (event(i, "a", f"t{i}", i / 1000) for i in range(MAX_TYPES + 500))
    profile = profile_events(events)
    assert len(profile.types) == MAX_TYPES + 1
    assert profile.count(OTHER) == 500


def test_a_history_of_more_customers_than_followed_counts_every_event_in_bounded_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("momentstream.discovery.vocabulary.MAX_CUSTOMERS", 10)
    events = [event(i, f"c{i % 25}", "login" if i % 2 else "order_paid", i / 10) for i in range(200)]
    events.append(event(999, "late-comer", "refund", 30))  # a type only an unfollowed customer has
    profile = profile_events(events)
    assert (profile.events, profile.customers, profile.customers_capped) == (201, 10, True)
    assert profile.count("login") + profile.count("order_paid") == 200
    assert {t.type: t.customers for t in profile.types}["refund"] == 0


def test_suggestions_by_synonym_then_spelling_most_frequent_first() -> None:
    kinds = ["checkout_done"] * 2 + ["order_paid"] * 5 + ["purchse"] + ["page_view"] * 9
    profile = profile_events(event(i, "a", k, i) for i, k in enumerate(kinds))
    assert suggest("purchase", profile) == ["order_paid", "checkout_done", "purchse"]
    assert suggest("teammate_invited", profile) == []


def test_coverage_lists_counts_and_suggests_only_for_missing_types() -> None:
    profile = profile_events([event(0, "a", "zendesk_ticket", 0), event(1, "a", "page_view", 1)])
    rows = coverage([("moment m, step s", frozenset({"support_ticket", "page_view"})),
                     ("objective o (outcome)", None)], profile)  # fmt: skip
    assert [(r.type, r.events, r.suggestions) for r in rows] == [("page_view", 1, []),
                                                                 ("support_ticket", 0, ["zendesk_ticket"])]  # fmt: skip
