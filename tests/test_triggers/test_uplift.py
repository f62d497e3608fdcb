"""Uplift: interval maths against published values, and which outcomes count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from momentstream.core.schema import Evidence, TouchpointEvent, Trigger, TriggerKind
from momentstream.triggers.uplift import _difference, rate, uplift

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def test_wilson_interval_matches_the_published_value() -> None:
    r = rate(81, 263)  # Wilson (1927) style example used by Newcombe (1998), table I: 0.2553 to 0.3662
    assert (round(r.low, 4), round(r.high, 4)) == (0.2553, 0.3662)


def test_newcombe_difference_interval_matches_the_published_value() -> None:
    d, low, high = _difference(rate(56, 70), rate(48, 80))  # Newcombe (1998) example (a), method 10
    assert d == pytest.approx(0.2)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_an_empty_group_has_no_rate() -> None:
    assert rate(0, 0).customers == 0


def trigger(
    customer: str, at: datetime, holdout: bool, kind: TriggerKind = "window_open", moment: str = "m"
) -> Trigger:
    return Trigger(trigger_id=f"{customer}-{moment}-{at:%j%H}-{kind}", customer_id=customer, moment=moment,
                   moment_version=1, kind=kind, emitted_at=at, holdout=holdout,
                   evidence=[Evidence(event_id="e", ts=at, step="s")])  # fmt: skip


def purchase(customer: str, at: datetime) -> TouchpointEvent:
    return TouchpointEvent(event_id=f"p-{customer}-{at:%j%H%M}", customer_id=customer, type="purchase", ts=at)


def test_only_outcomes_after_the_first_actionable_trigger_and_within_the_time_count() -> None:
    triggers = [
        trigger("a", T0, False),
        trigger("a", T0 + 3 * DAY, False),  # a second trigger does not restart the clock
        trigger("b", T0, False),
        trigger("c", T0, False, kind="window_expired"),  # not actionable: c is not counted
        trigger("h", T0, True),
        trigger("i", T0, True),
    ]
    events = [
        purchase("a", T0 + 8 * DAY),  # after the first trigger + 7 days: no
        purchase("b", T0 - DAY),  # before: no
        purchase("b", T0 + 6 * DAY),  # yes
        purchase("c", T0 + DAY),
        purchase("h", T0 + 7 * DAY),  # the bound is inclusive
    ]
    (result,) = uplift(triggers, events, "purchase", int(7 * DAY.total_seconds() * 1000))
    assert (result.treated.customers, result.treated.converted) == (2, 1)
    assert (result.holdout.customers, result.holdout.converted) == (2, 1)
    assert result.difference == 0.0


def test_moments_are_reported_apart() -> None:
    triggers = [trigger("a", T0, False, moment="x"), trigger("a", T0, True, moment="y")]
    results = uplift(triggers, [purchase("a", T0 + DAY)], "purchase", int(DAY.total_seconds() * 1000))
    assert [(u.moment, u.treated.converted, u.holdout.converted) for u in results] == [("x", 1, 0), ("y", 0, 1)]
