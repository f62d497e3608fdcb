"""The living story an operator reads: what a customer did, where each moment stands, and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from momentstream.cli.demo import default_engine
from momentstream.core.customer_view import customer_view, render_view
from momentstream.core.engine import Engine
from momentstream.core.schema import TouchpointEvent
from momentstream.core.state import CustomerState
from momentstream.patterns.dsl import Moment

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def event(n: int, kind: str, hours: float, customer: str = "c-1", **extra: Any) -> TouchpointEvent:
    return TouchpointEvent(event_id=f"e{n}", customer_id=customer, type=kind, channel="email",
                           ts=T0 + timedelta(hours=hours), **extra)  # fmt: skip


def run(engine: Engine, events: list[TouchpointEvent], until_hours: float) -> CustomerState:
    state = engine.new_state(events[0].customer_id)
    for e in events:
        engine.on_event(state, e)
    engine.on_tick(state, int((T0 + timedelta(hours=until_hours)).timestamp() * 1000))
    return state


def test_a_partial_match_shows_its_step_and_the_events_that_got_it_there() -> None:
    engine = default_engine(None)
    state = run(engine, [event(1, "support_ticket", 0)], until_hours=1)
    view = customer_view(engine, state)
    moment = view["moments"]["post_purchase_window"]
    (partial,) = moment["partial_matches"]
    assert partial["at_step"] in ("support", "second_purchase")
    assert [e["event_id"] for e in partial["evidence"]] == ["e1"]
    assert partial["evidence"][0]["step"] == "support"
    assert view["story"][0] == {"at": "2026-03-02T09:00:00Z", "type": "support_ticket", "channel": "email",
                                "event_id": "e1"}  # fmt: skip
    assert "partial match: reached step" in render_view(view)


def test_a_window_waiting_to_open_and_the_absence_before_it() -> None:
    engine = default_engine(None)
    events = [event(1, "support_ticket", 0), event(2, "purchase", 24, properties={"order_number": 2}, value=80.0)]
    state = run(engine, events, until_hours=25)
    moment = customer_view(engine, state)["moments"]["post_purchase_window"]
    (absence,) = moment["absences_pending"]
    assert absence["completes_at"] == "2026-03-04T03:00:00Z"  # 18 h of silence after the purchase
    later = run(engine, events, until_hours=24 + 20)  # silence held: the window is known, opens at 19 h
    windows = customer_view(engine, later)["moments"]["post_purchase_window"]["windows"]
    assert windows
    assert windows[0]["opens_at"] == "2026-03-04T04:00:00Z"
    assert windows[0]["closes_at"] == "2026-03-04T22:00:00Z"
    assert windows[0]["status"] in ("waiting", "open")
    assert "window" in render_view({"partition": 0, **customer_view(engine, later)})


def test_scores_consent_and_an_empty_customer_are_shown_plainly() -> None:
    engine = default_engine(None)
    empty = customer_view(engine, CustomerState("new"))
    assert empty["moments"] == {}
    assert empty["scores"] == {}
    assert empty["clock"] is None
    text = render_view(empty)
    assert "story: no events kept" in text
    assert "moments: nothing in progress" in text
    events = [event(i, "purchase", 24 * i, value=50.0) for i in range(1, 6)]
    view = customer_view(engine, run(engine, events, until_hours=24 * 6))
    assert engine.scorer is not None
    assert set(view["scores"]) == set(engine.scorer.models)  # every objective scored this customer
    value = view["scores"].pop("value")  # the value objective: an amount, not a probability
    assert value["value"] >= 0.0  # nothing learned yet: no spend expected
    assert "expected spend" in render_view({**view, "scores": {"value": value}})
    for score in view["scores"].values():
        assert 0.0 <= score["score"] <= 1.0
    assert empty["signals"] is None
    signals = view["signals"]  # what a trigger would carry now: a steady daily buyer is not unusual
    assert signals["anomaly"] == 0.0
    assert signals["value"]["objective"] == "value"
    assert signals["at"] == view["story"][-1]["at"]
    assert "signals: anomaly 0.0 (silence" in render_view(view)
    json.dumps(view)  # JSON-ready throughout


def test_odd_customer_ids_and_a_moment_no_longer_configured_do_not_break_the_view() -> None:
    engine = default_engine(None)
    odd = "ünï/cödé 客户 \u202e"
    state = run(engine, [event(1, "support_ticket", 0, customer=odd)], until_hours=1)
    state.moments["retired_moment"] = state.moments["post_purchase_window"]  # its pattern is gone from the file
    view = customer_view(engine, state)
    assert view["customer_id"] == odd
    retired = view["moments"]["retired_moment"]["partial_matches"][0]
    assert retired["at_step"].isdigit()  # step indices, with no names to give them
    assert odd in render_view(view)


def test_a_stub_names_its_customer_and_the_customer_lists_its_aliases() -> None:
    engine = default_engine(None)
    alias = run(engine, [event(1, "support_ticket", 0, "dev-1")], until_hours=1)
    [record] = engine.on_event(alias, event(2, "identify", 2, "dev-1", properties={"canonical_id": "ann"})).handoffs
    stub = customer_view(engine, alias)
    assert (stub["alias_of"], stub["story"], stub["moments"]) == ("ann", [], {})
    assert "an alias of ann" in render_view(stub)
    ann = engine.new_state("ann")
    engine.on_merge(ann, record)
    assert customer_view(engine, ann)["merges_waiting"] == 1
    engine.on_tick(ann, int((T0 + timedelta(hours=3)).timestamp() * 1000))
    view = customer_view(engine, ann)
    assert (view["aliases"], view["merges_waiting"]) == (["dev-1"], 0)
    assert [e["event_id"] for e in view["story"]] == ["e1", "e2"]
    assert "aliases merged in: dev-1" in render_view(view)


def test_a_later_k_of_n_step_shows_the_indicators_met_so_far() -> None:
    signals = {"seats": {"type": "seat_added"}, "invite": {"type": "teammate_invited"}, "api": {"type": "api_call"}}
    moment = Moment("adoption").begin("trial", where={"type": "trial_started"}).at_least(2, signals, "3d").compile()
    engine = Engine([moment])
    state = run(engine, [event(1, "trial_started", 0), event(2, "api_call", 1)], until_hours=2)
    [partial] = customer_view(engine, state)["moments"]["adoption"]["partial_matches"]
    assert partial["indicators_seen"] == ["api"]
    assert "indicators met so far: api" in render_view(customer_view(engine, state))
