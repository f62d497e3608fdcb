"""The clock-skew bound and error isolation: one bad record or customer never moves shared time,
fires anybody else's timers, or stops the run (replay runner and Kafka processor alike)."""

from __future__ import annotations

import io
import json
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from momentstream.clock import to_ms
from momentstream.demo import default_engine
from momentstream.engine import Engine, Step
from momentstream.runtime.guard import SkewGuard, error_text
from momentstream.runtime.processor import DictTable, StreamProcessor, Tick
from momentstream.runtime.replay import EventRefusedError, ReplayRunner, replay_file
from momentstream.runtime.stored import decode_entry
from momentstream.schema import Output, TouchpointEvent, Trigger
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


@pytest.mark.parametrize("days", [30, 973 * 365])
def test_a_far_future_event_is_refused_and_fires_nobody_elses_timers(
    journeys: list[TouchpointEvent], days: int
) -> None:
    clean = trigger_set(list(ReplayRunner(default_engine(None, scoring=False)).run(journeys)))
    middle = len(journeys) // 2
    stream = [*journeys[:middle], future(journeys[middle], days), *journeys[middle:]]
    runner = ReplayRunner(default_engine(None, scoring=False))
    got = trigger_set(list(runner.run(stream)))
    assert got == clean
    assert len(clean) > 20
    [(refused, why)] = runner.refused
    assert refused.event_id == "future"
    assert why.reason == "clock_skew"


def test_without_the_bound_the_same_event_changes_triggers(journeys: list[TouchpointEvent]) -> None:
    """The bound is what protects the run: turned off, 30 days of skew fire others' timers early."""
    clean = trigger_set(list(ReplayRunner(default_engine(None, scoring=False), max_skew_ms=None).run(journeys)))
    middle = len(journeys) // 2
    stream = [*journeys[:middle], future(journeys[middle], 30), *journeys[middle:]]
    got = trigger_set(list(ReplayRunner(default_engine(None, scoring=False), max_skew_ms=None).run(stream)))
    assert got != clean


def test_replay_file_keeps_a_refused_event_in_the_rejects(tmp_path: Path, journeys: list[TouchpointEvent]) -> None:
    middle = len(journeys) // 2
    lines = [e.model_dump_json() for e in journeys[:middle]] + [future(journeys[middle], 40).model_dump_json()]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rejects = io.StringIO()
    summary = replay_file(path, default_engine(None, scoring=False), io.StringIO(), rejects_out=rejects,
                          order="file", progress=False)  # fmt: skip
    [reject] = [json.loads(line) for line in rejects.getvalue().splitlines()]
    assert reject["reason"] == "clock_skew"
    assert reject["line"] == len(lines)
    assert "ts is 40d" in reject["error"]
    assert "max_skew 7d" in reject["error"]
    assert summary.rejected == 1


def test_the_wall_clock_bounds_events_too() -> None:
    guard = SkewGuard(DAY, wall_clock=lambda: 10 * DAY)
    assert guard.refusal(10 * DAY + DAY // 2, None) is None
    assert "wall clock" in (guard.refusal(12 * DAY, None) or "")


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


def test_the_processor_dead_letters_a_far_future_event(journeys: list[TouchpointEvent]) -> None:
    clean, _ = feed_all(StreamProcessor(default_engine(None, scoring=False), DictTable()), journeys)
    middle = len(journeys) // 2
    stream = [*journeys[:middle], future(journeys[middle], 30), *journeys[middle:]]
    got, letters = feed_all(StreamProcessor(default_engine(None, scoring=False), DictTable()), stream)
    assert trigger_set(got) == trigger_set(clean)
    assert [letter.reason for letter in letters] == ["clock_skew"]


def test_after_a_restart_the_partition_clock_resumes_from_the_stored_states(journeys: list[TouchpointEvent]) -> None:
    """Without it, a far-future event arriving first after a restart would pass the bound."""
    table = DictTable()
    feed_all(StreamProcessor(default_engine(None, scoring=False), table), journeys)
    restarted = StreamProcessor(default_engine(None, scoring=False), table)
    _, letters = feed_all(restarted, [future(journeys[-1], 30)])
    assert [letter.reason for letter in letters] == ["clock_skew"]
    newest = max(to_ms(e.ts) for e in journeys if partition_of(e.customer_id) == partition_of(journeys[-1].customer_id))
    assert restarted.partition_clocks()[partition_of(journeys[-1].customer_id)] == newest


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
