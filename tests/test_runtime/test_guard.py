"""The clock-skew bound and error isolation: one bad record or customer never moves shared time,
fires anybody else's timers, or stops the run (replay runner and Kafka processor alike)."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from momentstream.cli.demo import default_engine
from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine, EngineConfig, Step
from momentstream.core.schema import Output, TouchpointEvent, Trigger
from momentstream.runtime.guard import SharedClock, error_text
from momentstream.runtime.kafka.processor import DictTable, StreamProcessor, Tick
from momentstream.runtime.kafka.stored import MAX_STORED_BYTES, decode_entry
from momentstream.runtime.replay.runner import EventRefusedError, ReplayRunner
from momentstream.sim.journeys import simulate

DAY = 86_400_000
PARTITIONS = 2


@pytest.fixture(scope="module")
def journeys() -> list[TouchpointEvent]:
    return sorted(simulate(200, 60, 9).events, key=lambda e: e.ts)


def trigger_set(outputs: list[Output]) -> set[str]:
    return {o.trigger_id for o in outputs if isinstance(o, Trigger)}


def future(event: TouchpointEvent, days: float, event_id: str = "future") -> TouchpointEvent:
    """The same customer's event, ``days`` ahead: a device with a wrong clock."""
    return event.model_copy(update={"event_id": event_id, "ts": event.ts + timedelta(days=days), "type": "page_view"})


def others(outputs: list[Output], customer: str) -> set[str]:
    return {o.trigger_id for o in outputs if isinstance(o, Trigger) and o.customer_id != customer}


@pytest.mark.parametrize("days", [30, 60 * 365])
def test_a_far_future_event_is_held_and_fires_nobody_elses_timers(journeys: list[TouchpointEvent], days: int) -> None:
    """One customer's device clock jumps ahead: that customer's own events go odd, nobody else's."""
    middle = len(journeys) // 2
    victim = journeys[middle].customer_id
    clean = others(list(ReplayRunner(default_engine(None, scoring=False)).run(journeys)), victim)
    runner = ReplayRunner(default_engine(None, scoring=False))
    outputs = list(runner.run([*journeys[:middle], future(journeys[middle], days), *journeys[middle:]]))
    assert others(outputs, victim) == clean
    assert len(clean) > 20
    assert runner.held >= 1
    assert not runner.refused  # held, not refused: the event itself is not lost


def test_other_customers_triggers_are_exactly_those_of_a_clean_run(journeys: list[TouchpointEvent]) -> None:
    """The device with the wrong clock is a fresh customer: everything else must fire exactly as before."""
    clean = trigger_set(list(ReplayRunner(default_engine(None, scoring=False)).run(journeys)))
    middle = len(journeys) // 2
    wrong = future(journeys[middle], 30).model_copy(update={"customer_id": "wrong-clock"})
    outputs = list(
        ReplayRunner(default_engine(None, scoring=False)).run([*journeys[:middle], wrong, *journeys[middle:]])
    )
    assert trigger_set([o for o in outputs if getattr(o, "customer_id", "") != "wrong-clock"]) == clean
    assert len(clean) > 20


def test_without_the_bound_the_same_event_changes_triggers(journeys: list[TouchpointEvent]) -> None:
    """The bound is what protects the run: turned off, 30 days of skew fire others' timers early."""
    clean = trigger_set(list(ReplayRunner(default_engine(None, scoring=False), max_skew_ms=None).run(journeys)))
    middle = len(journeys) // 2
    wrong = future(journeys[middle], 30).model_copy(update={"customer_id": "wrong-clock"})
    stream = [*journeys[:middle], wrong, *journeys[middle:]]
    got = trigger_set(list(ReplayRunner(default_engine(None, scoring=False), max_skew_ms=None).run(stream)))
    assert got != clean


def test_an_old_event_first_does_not_stop_the_clock_from_following_the_stream(journeys: list[TouchpointEvent]) -> None:
    """Found by the fuzzer: with a refusing bound, one 2020 event first made every 2026 event 'too far ahead'."""
    old = journeys[0].model_copy(
        update={"customer_id": "archive", "event_id": "old", "ts": journeys[0].ts.replace(year=2020)}
    )
    clean = trigger_set(list(ReplayRunner(default_engine(None, scoring=False)).run(journeys)))
    runner = ReplayRunner(default_engine(None, scoring=False))
    outputs = list(runner.run([old, *journeys]))
    assert trigger_set([o for o in outputs if getattr(o, "customer_id", "") != "archive"]) == clean
    assert runner.held == 1  # the first 2026 event, until a second customer confirmed the jump


def test_the_wall_clock_bounds_the_shared_clock_too() -> None:
    clock = SharedClock(DAY, wall_clock=lambda: 10 * DAY)
    assert not clock.observe(10 * DAY + DAY // 2, "a")
    assert clock.observe(12 * DAY, "b")
    assert clock.observe(12 * DAY, "c")  # confirmation does not beat the wall clock
    assert clock.now == 10 * DAY + DAY // 2


# -- the Kafka processor ---------------------------------------------------------------------------
def partition_of(customer_id: str) -> int:
    return zlib.crc32(customer_id.encode()) % PARTITIONS


def feed_all(processor: StreamProcessor, events: list[TouchpointEvent]) -> tuple[list[Output], list[Any]]:
    outputs: list[Output] = []
    letters = []
    for e in events:
        work = processor.on_event(partition_of(e.customer_id), e.customer_id.encode(),
                                  e.model_dump_json(exclude_defaults=True).encode())  # fmt: skip
        outputs.extend(work.outputs)
        if work.dead_letter is not None:
            letters.append(work.dead_letter)
        letters.extend(work.failures)
        processor.save(work)
    return outputs, letters


def test_the_processor_holds_a_far_future_event(journeys: list[TouchpointEvent]) -> None:
    clean, _ = feed_all(StreamProcessor(default_engine(None, scoring=False), DictTable()), journeys)
    middle = len(journeys) // 2
    wrong = future(journeys[middle], 30).model_copy(update={"customer_id": "wrong-clock"})
    processor = StreamProcessor(default_engine(None, scoring=False), DictTable())
    got, letters = feed_all(processor, [*journeys[:middle], wrong, *journeys[middle:]])
    assert trigger_set(got) == trigger_set(clean)
    assert not letters
    assert b"wrong-clock" in processor.table  # processed and stored for its own customer


def test_after_a_restart_one_far_future_state_does_not_set_the_clock(journeys: list[TouchpointEvent]) -> None:
    table = DictTable()
    wrong = future(journeys[-1], 30).model_copy(update={"customer_id": "wrong-clock"})
    feed_all(StreamProcessor(default_engine(None, scoring=False), table), [*journeys, wrong])
    restarted = StreamProcessor(default_engine(None, scoring=False), table)
    restarted.on_tick(partition_of("wrong-clock"), Tick(0))  # index the partition
    newest = max(to_ms(e.ts) for e in journeys if partition_of(e.customer_id) == partition_of("wrong-clock"))
    assert restarted.partition_clocks()[partition_of("wrong-clock")] == newest


class Failing(Engine):
    """An engine with a bug for one customer: on its events, or on its timers."""

    def __init__(self, victim: str, on: str) -> None:
        base = default_engine(None, scoring=False)
        super().__init__(base.moments, base.config)
        self.victim, self.on = victim, on

    def on_event(self, state: Any, event: TouchpointEvent) -> Step:
        step = super().on_event(state, event)
        if self.on == "event" and event.customer_id == self.victim:
            raise RuntimeError(f"bug for {self.victim}")
        return step

    def on_tick(self, state: Any, now: int, final: bool = False) -> Step:
        if self.on == "timer" and state.customer_id == self.victim and state.timers:
            state.seq += 1000  # half-done work that must not survive
            raise ZeroDivisionError("bug in a timer")
        return super().on_tick(state, now, final)


def victim_of(journeys: list[TouchpointEvent]) -> str:
    return next(e.customer_id for e in journeys if e.type == "support_ticket")


def test_an_engine_error_on_an_event_dead_letters_it_and_reverts_the_customer(journeys: list[TouchpointEvent]) -> None:
    victim = victim_of(journeys)
    table = DictTable()
    processor = StreamProcessor(Failing(victim, "event"), table)
    outputs, letters = feed_all(processor, journeys)
    victims_events = [e for e in journeys if e.customer_id == victim]
    assert [letter.reason for letter in letters] == ["processing_error"] * len(victims_events)
    assert all("<customer>" in letter.error and victim not in letter.error for letter in letters)  # no PII
    assert victim.encode() not in table  # nothing of the failed records was stored
    assert processor.customers_tracked() == len({e.customer_id for e in journeys}) - 1
    assert not any(getattr(o, "customer_id", None) == victim for o in outputs)
    others = [e for e in journeys if e.customer_id != victim]
    clean, _ = feed_all(StreamProcessor(default_engine(None, scoring=False), DictTable()), others)
    assert trigger_set(outputs) == trigger_set(clean)


def test_a_timer_error_reverts_one_customer_and_the_partition_goes_on(journeys: list[TouchpointEvent]) -> None:
    victim = victim_of(journeys)
    table = DictTable()
    processor = StreamProcessor(Failing(victim, "timer"), table)
    outputs, letters = feed_all(processor, journeys)
    final = processor.on_tick(partition_of(victim), Tick(to_ms(journeys[-1].ts) + 90 * DAY, final=True))
    failures = [letter for letter in letters if hasattr(letter, "customer_id")] + final.failures
    assert failures
    assert {f.customer_id for f in failures} == {victim}
    assert decode_entry(table[victim.encode()]).state().seq < 1000  # the half-done work was not saved
    others_triggers = {o.trigger_id for o in outputs if isinstance(o, Trigger) and o.customer_id != victim}
    assert len(others_triggers) > 20


def test_the_replay_runner_isolates_a_failing_customer(journeys: list[TouchpointEvent]) -> None:
    victim = victim_of(journeys)
    runner = ReplayRunner(Failing(victim, "event"))
    outputs = list(runner.run(journeys))
    assert {e.customer_id for e, r in runner.refused} == {victim}
    assert {r.reason for _, r in runner.refused} == {"processing_error"}
    assert not any(getattr(o, "customer_id", None) == victim for o in outputs)
    with pytest.raises(EventRefusedError):
        ReplayRunner(Failing(victim, "event")).feed(next(e for e in journeys if e.customer_id == victim))


def test_error_texts_mask_the_customer_id() -> None:
    assert error_text(KeyError("c-42"), "c-42") == "KeyError: '<customer>'"


def test_a_state_too_large_to_store_fails_its_customer_before_anything_is_sent() -> None:
    """The last line of defence, behind the bounded events and held-event budget: never a crashed worker."""
    base = default_engine(None, scoring=False)
    roomy = Engine(
        base.moments, EngineConfig(allowed_lateness_ms=3_600_000, max_buffered_bytes=10**9, max_state_bytes=None)
    )  # both budgets off: the last line alone
    table = DictTable()
    processor = StreamProcessor(roomy, table)
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    reasons = []
    for i in range(30):  # ~60 KB each, all held within the hour of lateness: over MAX_STORED_BYTES by the 14th
        e = TouchpointEvent(event_id=f"e{i}", customer_id="big", type="page_view", ts=t0 + timedelta(minutes=i),
                            text="x" * 20_000, properties={f"p{k}": "y" * 2_000 for k in range(20)})  # fmt: skip
        work = processor.on_event(0, b"big", e.model_dump_json().encode())
        reasons.append(work.dead_letter.reason if work.dead_letter else "ok")
        assert not work.outputs or work.dead_letter is None
        processor.save(work)
        assert all(len(v) <= MAX_STORED_BYTES for v in table.values())
    assert "ok" in reasons
    assert "processing_error" in reasons


def first_far_future(journeys: list[TouchpointEvent]) -> TouchpointEvent:
    """A login dated 2062 from a device with a wrong clock, first of all on its partition."""
    return journeys[0].model_copy(update={"customer_id": "wrong-clock", "event_id": "from-2062", "type": "login",
                                          "ts": journeys[0].ts.replace(year=2062)})  # fmt: skip


def test_a_far_future_event_first_of_all_silences_nobody_in_replay(journeys: list[TouchpointEvent]) -> None:
    clean = trigger_set(list(ReplayRunner(default_engine(None, scoring=False)).run(journeys)))
    runner = ReplayRunner(default_engine(None, scoring=False))
    outputs = list(runner.run([first_far_future(journeys), *journeys]))
    assert trigger_set([o for o in outputs if getattr(o, "customer_id", "") != "wrong-clock"]) == clean
    assert len(clean) > 20
    assert runner.held == 1
    assert not [o for o in outputs if type(o).__name__ == "LateEvent"]


def test_a_far_future_event_first_on_a_fresh_partition_silences_nobody(journeys: list[TouchpointEvent]) -> None:
    """The clock a fresh partition's first event sets is tentative: the next customer, far behind, takes it back."""
    clean, _ = feed_all(StreamProcessor(default_engine(None, scoring=False), DictTable()), journeys)
    wrong = first_far_future(journeys)
    processor = StreamProcessor(default_engine(None, scoring=False), DictTable())
    held = 0
    outputs: list[Output] = []
    for e in [wrong, *journeys]:
        work = processor.on_event(partition_of(e.customer_id), e.customer_id.encode(),
                                  e.model_dump_json(exclude_defaults=True).encode())  # fmt: skip
        held += work.held
        outputs.extend(work.outputs)
        processor.save(work)
    assert trigger_set(outputs) == trigger_set(clean)
    assert not [o for o in outputs if type(o).__name__ == "LateEvent"]
    assert held == 1


def test_a_tentative_clock_is_confirmed_by_a_second_customer_and_then_holds_jumps() -> None:
    clock = SharedClock(DAY)
    assert not clock.observe(10 * DAY, "a")
    assert not clock.confirmed
    assert not clock.observe(10 * DAY + 5, "a")  # the same customer confirms nothing
    assert not clock.confirmed
    assert not clock.observe(10 * DAY + 9, "b")
    assert clock.confirmed
    assert clock.observe(400 * DAY, "c")  # established: a jump is held as before
    assert not clock.observe(5 * DAY, "d")  # and an old event does not take the clock back
    assert clock.now == 10 * DAY + 9
    assert clock.candidate == (400 * DAY, "c")  # the held jump still waits; nothing was taken back
