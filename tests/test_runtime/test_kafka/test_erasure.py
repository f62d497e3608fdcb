"""Right to erasure: an erasure_request removes every trace of a customer, in replay and in the processor."""

from __future__ import annotations

from datetime import timedelta

from momentstream.cli.demo import default_engine
from momentstream.core.clock import to_ms
from momentstream.core.schema import ERASURE_EVENT_TYPE, CustomerErased, TouchpointEvent, Trigger
from momentstream.runtime.kafka.processor import DictTable, StreamProcessor, Tick
from momentstream.runtime.kafka.stored import encode_entry
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.journeys import simulate


def erasure(customer_id: str, at: TouchpointEvent) -> TouchpointEvent:
    return TouchpointEvent(event_id=f"erase-{customer_id}", customer_id=customer_id, type=ERASURE_EVENT_TYPE,
                           ts=at.ts + timedelta(seconds=1))  # fmt: skip


def busiest_customer_with_timers(runner: ReplayRunner) -> str:
    return max((s for s in runner.states.values() if len(s.timers)), key=lambda s: len(s.story)).customer_id


def test_replay_erases_state_timers_labels_and_story() -> None:
    events = simulate(300, 60, 21).events
    half = len(events) // 2
    runner = ReplayRunner(default_engine(None))
    for event in events[:half]:
        runner.feed(event)
    victim = busiest_customer_with_timers(runner)
    outputs = runner.feed(erasure(victim, events[half - 1]))
    confirmations = [o for o in outputs if isinstance(o, CustomerErased)]
    assert [c.customer_id for c in confirmations] == [victim]
    assert confirmations[0].removed["timers"] > 0
    assert confirmations[0].removed["story_items"] > 0
    assert confirmations[0].removed["pending_labels"] > 0
    assert victim not in runner.states
    # Nothing stored anywhere names the customer: other states, the timer index, the models.
    stored = b"".join(encode_entry(0, None, s) for s in runner.states.values())
    assert victim.encode() not in stored
    assert runner.engine.scorer is not None
    assert victim.encode() not in runner.engine.scorer.snapshot()
    later = [o for e in events[half:] if e.customer_id != victim for o in runner.feed(e)] + runner.finish()
    assert not [o for o in later if getattr(o, "customer_id", None) == victim]


def test_an_erasure_changes_nothing_for_other_customers() -> None:
    events = simulate(200, 45, 4).events
    victim = events[len(events) // 3].customer_id
    cut = len(events) // 3 + 1
    plain = ReplayRunner(default_engine(None, scoring=False))
    erased = ReplayRunner(default_engine(None, scoring=False))
    expected = [o for o in plain.run(e for e in events if e.customer_id != victim) if isinstance(o, Trigger)]
    stream = [*events[:cut], erasure(victim, events[cut - 1]), *(e for e in events[cut:] if e.customer_id != victim)]
    got = [o for o in erased.run(stream) if isinstance(o, Trigger) and o.customer_id != victim]
    assert [t.trigger_id for t in got] == [t.trigger_id for t in expected]


def test_the_processor_deletes_the_stored_state_and_forgets_the_customer() -> None:
    events = simulate(150, 45, 8).events
    table = DictTable()
    processor = StreamProcessor(default_engine(None), table)
    for event in events:
        processor.save(processor.on_event(0, event.customer_id.encode(), event.model_dump_json().encode()))
    victim = max({e.customer_id for e in events}, key=lambda c: processor._load(0, c).timers.__len__())
    timers_before, customers_before = processor.timers_pending(), processor.customers_tracked()
    victim_timers = len(processor._load(0, victim).timers)
    assert victim_timers > 0
    work = processor.on_event(0, victim.encode(), erasure(victim, events[-1]).model_dump_json().encode())
    processor.save(work)
    assert [type(o) for o in work.outputs] == [CustomerErased]
    assert victim.encode() not in table
    assert all(victim.encode() not in value for value in table.values())
    assert processor.timers_pending() == timers_before - victim_timers
    assert processor.customers_tracked() == customers_before - 1
    # A restarted worker rebuilding its index from the table finds no trace either.
    fresh = StreamProcessor(default_engine(None), table)
    tick = fresh.on_tick(0, Tick(to_ms(events[-1].ts) + 400 * 86_400_000, final=True))
    assert not [o for o in tick.outputs if getattr(o, "customer_id", None) == victim]


def test_erasing_an_unknown_customer_is_confirmed_and_stores_nothing() -> None:
    events = simulate(20, 10, 1).events
    table = DictTable()
    processor = StreamProcessor(default_engine(None), table)
    request = erasure("never-seen", events[0])
    for _ in range(2):  # and again: a repeated request is confirmed again
        work = processor.on_event(0, b"never-seen", request.model_dump_json().encode())
        processor.save(work)
        (confirmation,) = work.outputs
        assert isinstance(confirmation, CustomerErased)
        assert set(confirmation.removed.values()) == {0}
    assert not table
    assert processor.customers_tracked() == 0
