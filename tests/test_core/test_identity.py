"""Identity stitching in the engine and the replay runner: an alias's progress completes under its customer."""

from __future__ import annotations

import pytest

from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.identity import MERGE_MAGIC, IdentityError, MergeRecord, decode_merge
from momentstream.core.schema import (
    CustomerErased,
    DuplicateEvent,
    IdentityMerged,
    IdentityRelinked,
    TouchpointEvent,
    Trigger,
)
from momentstream.core.state import CustomerState
from momentstream.data import bundled_moments_path
from momentstream.patterns.dsl import Moment, load_moments
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.identities import split_identities
from momentstream.sim.journeys import simulate
from tests.helpers import event, evidence_ids, hours, run, triggers

TICKET_THEN_PURCHASE = (
    Moment("ticket_then_purchase")
    .begin("ticket", where={"type": "support_ticket"})
    .followed_by("purchase", where={"type": "purchase"}, within="7d")
    .compile()
)
QUIET_AFTER_SIGNUP = (
    Moment("quiet_after_signup")
    .begin("signup", where={"type": "signup"})
    .not_followed_by("login", where={"type": "login"}, for_="2d")
    .compile()
)
SECOND_PURCHASE_WINDOW = (
    Moment("second_purchase")
    .begin("first", where={"type": "purchase"})
    .followed_by("second", where={"type": "purchase"}, within="30d")
    .window(opens_after="19h", closes_after="37h")
    .compile()
)


def identify(event_id: str, alias: str, canonical: str, minutes: float) -> TouchpointEvent:
    return event(event_id, "identify", minutes, alias, properties={"canonical_id": canonical})


def test_a_pattern_begun_under_the_alias_completes_under_the_customer() -> None:
    outputs = run(TICKET_THEN_PURCHASE, [
        event("t1", "support_ticket", 0, "dev-1"),
        identify("id1", "dev-1", "ann", 60),
        event("p1", "purchase", 120, "ann"),
    ])  # fmt: skip
    [trigger] = triggers(outputs)
    assert trigger.customer_id == "ann"
    assert evidence_ids(outputs) == [["t1", "p1"]]
    [merged] = [o for o in outputs if isinstance(o, IdentityMerged)]
    assert (merged.customer_id, merged.alias_id, merged.adopted["partial_matches"]) == ("ann", "dev-1", 1)


def test_without_the_identify_event_the_two_ids_fire_nothing() -> None:
    outputs = run(
        TICKET_THEN_PURCHASE, [event("t1", "support_ticket", 0, "dev-1"), event("p1", "purchase", 120, "ann")]
    )
    assert triggers(outputs) == []


def test_later_events_under_the_alias_count_for_the_customer() -> None:
    outputs = run(TICKET_THEN_PURCHASE, [
        identify("id1", "dev-1", "ann", 0),
        event("t1", "support_ticket", 60, "ann"),
        event("p1", "purchase", 120, "dev-1"),  # the old device, still sending
    ])  # fmt: skip
    assert [(t.customer_id, [e.event_id for e in t.evidence]) for t in triggers(outputs)] == [("ann", ["t1", "p1"])]


def test_events_the_alias_still_held_go_to_the_customer_in_time_order() -> None:
    """With lateness, the alias holds events; those after the identify time run under the customer."""
    outputs = run(TICKET_THEN_PURCHASE, [
        event("t1", "support_ticket", 0, "dev-1"),
        event("p1", "purchase", 90, "dev-1"),  # after the login, but sent by the device before it
        identify("id1", "dev-1", "ann", 60),
    ], lateness_ms=hours(2) * 60_000)  # fmt: skip
    [trigger] = triggers(outputs)
    assert (trigger.customer_id, [e.event_id for e in trigger.evidence]) == ("ann", ["t1", "p1"])


def test_a_pending_absence_and_a_window_move_with_their_timers() -> None:
    outputs = run([QUIET_AFTER_SIGNUP, SECOND_PURCHASE_WINDOW], [
        event("s1", "signup", 0, "dev-1"),
        event("p1", "purchase", 10, "dev-1"),
        event("p2", "purchase", 20, "dev-1"),  # the window waits 19 h to open
        identify("id1", "dev-1", "ann", 30),
        event("v1", "page_view", hours(72), "ann"),
    ])  # fmt: skip
    fired = sorted((t.moment, t.kind, t.customer_id) for t in triggers(outputs))
    assert fired == [("quiet_after_signup", "match", "ann"), ("second_purchase", "window_expired", "ann"),
                     ("second_purchase", "window_open", "ann")]  # fmt: skip
    [merged] = [o for o in outputs if isinstance(o, IdentityMerged)]
    assert merged.adopted["pending_matches"] == 1
    assert merged.adopted["windows"] == 1
    assert merged.adopted["timers"] == 2


def test_a_chain_of_ids_ends_at_the_last_customer() -> None:
    outputs = run(TICKET_THEN_PURCHASE, [
        event("t1", "support_ticket", 0, "dev-1"),
        identify("id1", "dev-1", "ann@x", 10),
        identify("id2", "ann@x", "crm-9", 20),
        event("p1", "purchase", 30, "dev-1"),  # forwarded twice
    ])  # fmt: skip
    assert [(t.customer_id, [e.event_id for e in t.evidence]) for t in triggers(outputs)] == [("crm-9", ["t1", "p1"])]


def test_erasing_the_customer_erases_every_alias_and_erasing_an_alias_erases_the_customer() -> None:
    engine = Engine([TICKET_THEN_PURCHASE])
    for erased_under in ("ann", "dev-1", "ann@x"):
        runner = ReplayRunner(engine)
        stream = [
            event("t1", "support_ticket", 0, "dev-1"),
            identify("id1", "dev-1", "ann@x", 10),
            identify("id2", "ann@x", "ann", 20),
            event("e1", "erasure_request", 30, erased_under),
        ]
        outputs = list(runner.run(stream))
        assert runner.states == {}, erased_under
        erased = {o.customer_id for o in outputs if isinstance(o, CustomerErased)}
        assert erased == {"ann", "dev-1", "ann@x"}
        # After erasure nothing of the alias comes back: its old ticket does not complete a match.
        later = list(runner.run([event("p1", "purchase", 40, "ann")]))
        assert triggers(later) == []


def test_a_repeated_merge_record_is_taken_once() -> None:
    """At-least-once delivery: a crash may send the same merge twice; the second is a duplicate."""
    engine = Engine([TICKET_THEN_PURCHASE])
    alias = engine.new_state("dev-1")
    engine.on_event(alias, event("t1", "support_ticket", 0, "dev-1"))
    before = alias.to_bytes()
    [record] = engine.on_event(alias, identify("id1", "dev-1", "ann", 10)).handoffs
    # The stub was not saved: the identify runs again on the old state and sends the same bytes.
    again = CustomerState.from_bytes(before)
    [record_again] = engine.on_event(again, identify("id1", "dev-1", "ann", 10)).handoffs
    assert record_again == record
    ann = engine.new_state("ann")
    engine.on_merge(ann, record)
    second = engine.on_merge(ann, record_again)
    assert [type(o) for o in second.outputs] == [DuplicateEvent]
    engine.on_event(ann, event("p1", "purchase", 20, "ann"))
    engine.on_tick(ann, 10**15, final=True)
    assert len(ann.moments) == 0  # one partial match was taken, and it completed


def test_an_identity_cycle_is_refused_and_changes_nothing() -> None:
    engine = Engine([TICKET_THEN_PURCHASE])
    runner = ReplayRunner(engine)
    list(runner.run([event("t1", "support_ticket", 0, "dev-1"), identify("id1", "dev-1", "ann", 10)]))
    assert runner.states["dev-1"].alias_of == "ann"
    list(runner.run([identify("id2", "ann", "dev-1", 20)]))  # dev-1 is ann's own alias
    assert runner.states["ann"].alias_of is None
    assert runner.states["ann"].aliases == ["dev-1"]
    assert [refusal.reason for _, refusal in runner.refused] == ["identity_refused"]


def test_identify_into_oneself_is_an_ordinary_event() -> None:
    moment = Moment("login_seen").begin("login", where={"type": "identify"}).compile()
    outputs = run(moment, [identify("id1", "ann", "ann", 0)])
    assert [t.customer_id for t in triggers(outputs)] == ["ann"]


@pytest.mark.parametrize(
    "properties",
    [{}, {"canonical_id": ""}, {"canonical_id": 7}, {"canonical_id": "x" * 201}],
    ids=["missing", "empty", "number", "too-long"],
)
def test_an_identify_event_without_a_usable_canonical_id_is_refused(properties: dict[str, object]) -> None:
    raw = {"event_id": "i", "customer_id": "dev-1", "type": "identify", "ts": "2026-01-01T00:00:00Z",
           "properties": properties}  # fmt: skip
    with pytest.raises(ValueError, match="canonical_id"):
        TouchpointEvent.model_validate(raw)


@pytest.mark.parametrize(
    "data",
    [
        MERGE_MAGIC,
        MERGE_MAGIC + b"\xc1",
        MERGE_MAGIC + b"\x93\x01\x02\x03",
        b"{}",
        MERGE_MAGIC + b"\x95" + b"\xa1x" * 5,
    ],
    ids=["empty", "bad-msgpack", "short", "not-magic", "wrong-types"],
)
def test_unreadable_merge_records_raise_identity_errors(data: bytes) -> None:
    with pytest.raises(IdentityError):
        decode_merge(data)


def test_a_merge_whose_state_names_another_alias_is_refused() -> None:
    engine = Engine([TICKET_THEN_PURCHASE])
    identify_event = identify("id1", "dev-1", "ann", 10)
    forged = MergeRecord("id1", "dev-1", "ann", identify_event, engine.new_state("someone-else").to_bytes())
    with pytest.raises(IdentityError):
        engine.on_merge(engine.new_state("ann"), forged)
    garbage = MergeRecord("id1", "dev-1", "ann", identify_event, b"\x00not a state")
    with pytest.raises(IdentityError, match="state is unreadable"):
        engine.on_merge(engine.new_state("ann"), garbage)


def test_a_stitched_replay_of_split_histories_finds_what_the_whole_histories_give() -> None:
    """The simulator's journeys, a half of them split over device and email ids: the same triggers."""
    sim = simulate(customers=150, days=60, seed=5)
    split = split_identities(sim.events, share=0.5, seed=2, chained=0.3)
    assert sum(e.type == "identify" for e in split.events) > 60

    def found(events: list[TouchpointEvent]) -> set[tuple[object, ...]]:
        runner = ReplayRunner(Engine(load_moments(bundled_moments_path()), EngineConfig()))
        return {(split.canonical(t.customer_id), t.moment, t.kind, tuple(e.event_id for e in t.evidence),
                 t.window.opens_at if t.window else None)
                for t in runner.run(events) if isinstance(t, Trigger)}  # fmt: skip

    whole, stitched = found(sim.events), found(split.events)
    assert len(whole) > 50
    assert stitched == whole
    # Without stitching the split ids lose matches: the test can tell.
    unstitched = [e for e in split.events if e.type != "identify"]
    assert found(unstitched) != whole


def test_a_shared_device_never_carries_one_customers_history_into_anothers() -> None:
    """dev-1 is ann's, then bob logs in on it: ann's ticket must never be evidence in bob's trigger."""
    outputs = run(TICKET_THEN_PURCHASE, [
        event("t-ann", "support_ticket", 0, "ann"),
        identify("id1", "dev-1", "ann", 10),
        identify("id2", "dev-1", "bob", 20),
        event("p-dev", "purchase", 30, "dev-1"),  # bob's now
        event("p-bob", "purchase", 40, "bob"),
    ])  # fmt: skip
    assert not [o for o in outputs if isinstance(o, IdentityMerged) and o.customer_id == "bob"]
    assert [t.customer_id for t in triggers(outputs)] == []  # bob never had a ticket; ann never bought
    [relinked] = [o for o in outputs if isinstance(o, IdentityRelinked)]
    assert (relinked.customer_id, relinked.previous_id, relinked.canonical_id) == ("dev-1", "ann", "bob")


def test_after_a_relink_the_device_counts_for_its_new_customer_only() -> None:
    outputs = run(TICKET_THEN_PURCHASE, [
        identify("id1", "dev-1", "ann", 0),
        event("t-dev", "support_ticket", 5, "dev-1"),  # ann's (forwarded)
        identify("id2", "dev-1", "bob", 20),
        event("t-bob", "support_ticket", 25, "dev-1"),  # bob's
        event("p-ann", "purchase", 30, "ann"),
        event("p-bob", "purchase", 40, "dev-1"),
    ])  # fmt: skip
    got = sorted((t.customer_id, tuple(e.event_id for e in t.evidence)) for t in triggers(outputs))
    assert got == [("ann", ("t-dev", "p-ann")), ("bob", ("t-bob", "p-bob"))]


def test_erasing_the_first_owner_of_a_relinked_device_leaves_the_second_untouched() -> None:
    engine = Engine([TICKET_THEN_PURCHASE])
    runner = ReplayRunner(engine)
    stream = [
        event("t-bob", "support_ticket", 0, "bob"),
        identify("id1", "dev-1", "ann", 10),
        identify("id2", "dev-1", "bob", 20),
        event("x", "erasure_request", 30, "ann"),
        event("p-bob", "purchase", 40, "bob"),
    ]
    outputs = list(runner.run(stream))
    erased = sorted(o.customer_id for o in outputs if isinstance(o, CustomerErased))
    # the device's stub held ann's event ids, so it goes with her; the erasure it passes on erases nothing of bob's
    assert erased == ["ann", "dev-1"]
    fired = [(t.customer_id, [e.event_id for e in t.evidence]) for t in triggers(outputs)]
    assert fired == [("bob", ["t-bob", "p-bob"])]
    assert "bob" in runner.states
    more = list(runner.run([event("y", "erasure_request", 50, "bob")]))
    assert sorted(o.customer_id for o in more if isinstance(o, CustomerErased)) == ["bob"]
    assert runner.states == {}


def test_an_erasure_forwarded_for_another_customer_erases_nobody_else() -> None:
    """A crafted erasure naming someone else in erases_alias_of is not an erasure of this customer."""
    outputs = run(TICKET_THEN_PURCHASE, [
        event("t-bob", "support_ticket", 0, "bob"),
        event("x", "erasure_request", 5, "bob", properties={"erases_alias_of": "mallory"}),
        event("p-bob", "purchase", 10, "bob"),
    ])  # fmt: skip
    assert not [o for o in outputs if isinstance(o, CustomerErased)]
    assert [t.customer_id for t in triggers(outputs)] == ["bob"]
