"""The engine's ordering rules: lateness, ties, duplicates, ticks, and state that survives encoding."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import DuplicateEvent, LateEvent, Output, TouchpointEvent, Trigger
from momentstream.core.state import CustomerState, event_weight
from momentstream.patterns.dsl import Moment
from momentstream.runtime.kafka.stored import MAX_STORED_BYTES, encode_entry
from tests.helpers import at, event, evidence_ids, hours, run, triggers


def a_then_b() -> Moment:
    return Moment("ab").begin("a", where={"type": "a"}).next("b", where={"type": "b"})


def test_out_of_order_events_within_lateness_are_put_in_order() -> None:
    stream = [event("b", "b", 5), event("a", "a", 3), event("c", "c", 30)]
    assert evidence_ids(run(a_then_b().compile(), stream, lateness_ms=10 * 60_000)) == [["a", "b"]]


def test_events_behind_what_was_processed_are_reported_late_not_dropped() -> None:
    stream = [event("b", "b", 5), event("a", "a", 3)]
    outs = run(a_then_b().compile(), stream, lateness_ms=0)
    late = [o for o in outs if isinstance(o, LateEvent)]
    assert [o.event.event_id for o in late] == ["a"]
    assert triggers(outs) == []


def test_events_with_equal_timestamps_keep_arrival_order() -> None:
    stream = [event("a", "a", 1), event("b", "b", 1)]
    assert evidence_ids(run(a_then_b().compile(), stream)) == [["a", "b"]]
    swapped = [event("b", "b", 1), event("a", "a", 1)]
    assert evidence_ids(run(a_then_b().compile(), swapped)) == []


def test_an_event_at_the_same_instant_as_a_timer_runs_first() -> None:
    quiet = Moment("q").begin("a", where={"type": "a"}).not_followed_by("n", where={"type": "x"}, for_="1h")
    stream = [event("a", "a", 0), event("x", "x", 60), event("z", "z", 120, customer="other")]
    assert triggers(run(quiet.compile(), stream)) == []


def test_duplicates_are_reported_once_and_ignored() -> None:
    stream = [event("a", "a", 0), event("a", "a", 0), event("b", "b", 1)]
    outs = run(a_then_b().compile(), stream)
    assert [o.event_id for o in outs if isinstance(o, DuplicateEvent)] == ["a"]
    assert evidence_ids(outs) == [["a", "b"]]


def test_trigger_ids_are_deterministic_across_runs() -> None:
    stream = [event("a", "a", 0), event("b", "b", 1)]
    first = triggers(run(a_then_b().compile(), stream))
    second = triggers(run(a_then_b().compile(), stream))
    assert [t.trigger_id for t in first] == [t.trigger_id for t in second]
    assert len(first) == 1


def test_tick_fires_timers_without_new_events_from_the_customer() -> None:
    moment = Moment("q").begin("a", where={"type": "a"}).not_followed_by("n", where={"type": "x"}, for_="1h")
    engine = Engine([moment.compile()], EngineConfig(allowed_lateness_ms=60_000))
    state = engine.new_state("c1")
    first = event("a", "a", 0)
    engine.on_event(state, first)
    assert state.buffer  # held back by the allowed lateness
    release = engine.next_wakeup(state)
    assert release is not None
    engine.on_tick(state, release)
    assert not state.buffer
    deadline = engine.next_wakeup(state)
    assert deadline == release + 3_600_000 + 1  # one hour after the event, plus lateness, strictly after
    assert engine.on_tick(state, deadline - 1).outputs == []
    outs = engine.on_tick(state, deadline).outputs
    assert [o.kind for o in outs if isinstance(o, Trigger)] == ["match"]
    assert engine.next_wakeup(state) is None


def run_with_restarts(moment: Moment, stream: list, every: int) -> list[Output]:  # type: ignore[type-arg]
    """Encode and decode the state after every ``every`` events, as a worker restart would."""
    engine = Engine([moment.compile()], EngineConfig(allowed_lateness_ms=hours(1) * 60_000))
    states: dict[str, bytes] = {}
    outs: list[Output] = []
    for i, e in enumerate(stream):
        raw = states.get(e.customer_id)
        state = CustomerState.from_bytes(raw) if raw else engine.new_state(e.customer_id)
        outs += engine.on_event(state, e).outputs
        if i % every == 0:
            state = CustomerState.from_bytes(state.to_bytes())
        states[e.customer_id] = state.to_bytes()
    for cid, raw in states.items():
        state = CustomerState.from_bytes(raw)
        outs += engine.on_tick(state, 2**62, final=True).outputs
        del cid
    return outs


def test_state_encoding_round_trip_does_not_change_the_outputs() -> None:
    moment = (
        Moment("pp").begin("s", where={"type": "support_ticket"})
        .followed_by("p", where={"type": "purchase"}, within="4d")
        .not_followed_by("quiet", where={"type": "page_view"}, for_="18h")
        .window(opens_after="19h", closes_after="37h", anchor="p", used_if={"type": "outreach"})
    )  # fmt: skip
    stream = [
        event("s1", "support_ticket", 0), event("p1", "purchase", hours(10)), event("o1", "outreach", hours(35)),
        event("s2", "support_ticket", hours(100)), event("p2", "purchase", hours(101)),
        event("v2", "page_view", hours(101.5)), event("s3", "support_ticket", hours(200)),
        event("p3", "purchase", hours(201)), event("x", "email_open", hours(300)),
    ]  # fmt: skip
    baseline = [o.model_dump_json() for o in run_with_restarts(moment, stream, every=10**9)]
    restarted = [o.model_dump_json() for o in run_with_restarts(moment, stream, every=1)]
    assert restarted == baseline
    assert len([o for o in baseline if '"window_open"' in o]) == 2


def test_held_events_are_bounded_in_bytes_so_the_state_fits_a_kafka_record() -> None:
    """Before: two valid 600 KB events within the lateness made a state over the 1 MB message limit."""
    big = [
        event(
            f"e{i}", "a" if i % 2 else "b", i, text="x" * 20_000, properties={f"p{k}": "y" * 2_000 for k in range(20)}
        )
        for i in range(40)  # 40 events of ~60 KB within one hour: far more than the budget
    ]

    def run_with(budget: int) -> tuple[list[str], list[int]]:
        config = EngineConfig(allowed_lateness_ms=3_600_000, max_buffered_bytes=budget, max_state_bytes=None)
        engine = Engine([a_then_b().compile()], config)  # the state budget off: the held-event bound alone
        state = engine.new_state("c1")
        outputs, sizes = [], []
        for e in big:
            outputs += engine.on_event(state, e).outputs
            assert state.buffered_bytes == sum(event_weight(x) for _, _, x, _ in state.buffer)
            assert state.buffered_bytes <= budget
            sizes.append(len(encode_entry(0, engine.next_wakeup(state), state)))
        restored = CustomerState.from_bytes(state.to_bytes())
        assert restored.buffered_bytes == state.buffered_bytes
        outputs += engine.on_tick(state, to_ms(at(60)), final=True).outputs
        return [t.trigger_id for t in triggers(outputs)], sizes

    bounded_ids, sizes = run_with(EngineConfig().max_buffered_bytes)
    unbounded_ids, unbounded_sizes = run_with(10**9)
    assert max(sizes) < MAX_STORED_BYTES < max(unbounded_sizes)  # the bound is what keeps it storable
    assert bounded_ids == unbounded_ids
    assert bounded_ids  # in-order events: forcing them through changes nothing


def test_a_late_event_is_audited_without_its_payload() -> None:
    """The audit topic outlives an erasure: it keeps the event's ids, type and time, not its text or properties."""
    engine = Engine([a_then_b().compile()], EngineConfig(allowed_lateness_ms=0))
    state = engine.new_state("c1")
    engine.on_event(state, event("e1", "a", 60))
    outputs = engine.on_event(state, event("e0", "a", 0, text="my card number is ...", properties={"plan": "pro"}))
    [late] = [o for o in outputs.outputs if isinstance(o, LateEvent)]
    assert (late.event.event_id, late.event.type, late.event.text, late.event.properties) == ("e0", "a", None, {})


def test_the_customers_zone_follows_each_events_offset_and_a_named_zone_is_read_at_its_date() -> None:
    """Fixed offsets are cached by zone; a named zone (two offsets a year) must never be."""
    engine = Engine([a_then_b().compile()], EngineConfig(allowed_lateness_ms=0))
    state = engine.new_state("c1")
    berlin = ZoneInfo("Europe/Berlin")
    seen = []
    for i, ts in enumerate(["2026-01-05T10:00:00+05:30", "2026-01-06T10:00:00Z", "2026-01-07T10:00:00-03:00",
                            "2026-01-08T10:00:00+05:30"]):  # fmt: skip
        raw = f'{{"event_id": "j{i}", "customer_id": "c1", "type": "x", "ts": "{ts}"}}'
        engine.on_event(state, TouchpointEvent.model_validate_json(raw))
        seen.append(state.zone)
    for i, month in enumerate([2, 7, 12]):
        when = at(0).replace(month=month, tzinfo=berlin)
        engine.on_event(state, TouchpointEvent(event_id=f"b{i}", customer_id="c1", type="x", ts=when))
        seen.append(state.zone)
    assert seen == ["+05:30", "+00:00", "-03:00", "+05:30", "+01:00", "+02:00", "+01:00"]
