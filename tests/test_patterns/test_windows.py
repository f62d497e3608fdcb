"""Intervention windows: open at 19 h, close at 37 h, cancel, use, expire."""

from __future__ import annotations

from datetime import timedelta

from momentstream.core.schema import WindowCancelled
from momentstream.patterns.dsl import Moment
from tests.helpers import event, hours, run, triggers


def post_purchase() -> Moment:
    return (
        Moment("post_purchase")
        .begin("support", where={"type": "support_ticket"})
        .followed_by("second_purchase", where={"type": "purchase"}, within="4d")
        .not_followed_by("silence", where={"type": ["purchase", "page_view"]}, for_="18h")
        .window(opens_after="19h", closes_after="37h", anchor="second_purchase",
                cancel_if={"type": "outreach"}, used_if={"type": "outreach"})
    )  # fmt: skip


def clock_event(minutes: float, i: int = 0) -> object:
    return event(f"tick{i}", "heartbeat", minutes, customer="someone_else")


def base() -> list:  # type: ignore[type-arg]
    return [event("s", "support_ticket", 0), event("p2", "purchase", hours(48))]


def test_window_opens_19h_after_the_anchor_and_expires_at_37h_when_unused() -> None:
    stream = [*base(), clock_event(hours(48 + 40))]
    outs = run(post_purchase().compile(), stream)
    opened, expired = triggers(outs, "window_open"), triggers(outs, "window_expired")
    purchase_ts = stream[1].ts
    assert [t.emitted_at for t in opened] == [purchase_ts + timedelta(hours=19)]
    assert opened[0].window is not None
    assert opened[0].window.closes_at == purchase_ts + timedelta(hours=37)
    assert [t.emitted_at for t in expired] == [purchase_ts + timedelta(hours=37)]
    assert opened[0].trigger_id != expired[0].trigger_id
    assert [e.event_id for e in opened[0].evidence] == ["s", "p2"]


def test_window_fires_for_a_customer_who_sends_nothing_more() -> None:
    stream = [*base(), clock_event(hours(48 + 20))]
    outs = run(post_purchase().compile(), stream)
    assert [t.customer_id for t in triggers(outs, "window_open")] == ["c1"]
    assert triggers(outs, "window_expired") == []  # the clock has not reached 37 h


def test_outreach_before_the_window_exists_cancels_it() -> None:
    stream = [*base(), event("o", "outreach", hours(48 + 5)), clock_event(hours(48 + 40))]
    outs = run(post_purchase().compile(), stream)
    assert triggers(outs) == []
    [cancel] = [o for o in outs if isinstance(o, WindowCancelled)]
    assert cancel.reason.startswith("cancel event")


def test_outreach_after_the_match_but_before_opening_cancels_it() -> None:
    stream = [*base(), event("o", "outreach", hours(48 + 18.5)), clock_event(hours(48 + 40))]
    outs = run(post_purchase().compile(), stream)
    assert triggers(outs) == []
    assert len([o for o in outs if isinstance(o, WindowCancelled)]) == 1


def test_outreach_inside_the_window_uses_it_so_it_does_not_expire() -> None:
    stream = [*base(), event("o", "outreach", hours(48 + 25)), clock_event(hours(48 + 40))]
    outs = run(post_purchase().compile(), stream)
    assert len(triggers(outs, "window_open")) == 1
    assert triggers(outs, "window_expired") == []


def test_activity_during_the_silence_prevents_the_window() -> None:
    stream = [*base(), event("v", "page_view", hours(48 + 10)), clock_event(hours(48 + 40))]
    assert triggers(run(post_purchase().compile(), stream)) == []


def test_window_that_opens_immediately() -> None:
    moment = Moment("now").begin("a", where={"type": "a"}).window(opens_after="0s", closes_after="1h").compile()
    outs = run(moment, [event("a", "a", 0), clock_event(120)])
    assert [t.kind for t in triggers(outs)] == ["window_open", "window_expired"]
    assert triggers(outs)[0].emitted_at == triggers(outs)[0].evidence[0].ts
