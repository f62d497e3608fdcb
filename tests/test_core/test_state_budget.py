"""A customer whose state outgrows the budget is trimmed at the same event in replay and in a worker, so
neither freezes the customer nor fires differently (issue: an over-size customer was frozen for good)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from momentstream.cli.demo import default_engine
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import Output, StateTrimmed, TouchpointEvent, Trigger
from momentstream.core.state import CustomerState
from momentstream.core.state_budget import should_measure, trim
from momentstream.patterns.dsl import Moment
from momentstream.runtime.kafka.processor import DictTable, StreamProcessor, Tick
from momentstream.runtime.kafka.stored import MAX_STORED_BYTES
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.journeys import simulate

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def loop(name: str) -> Moment:
    """Views then a purchase, every partial match kept (no skip) and a thousand of them allowed."""
    return (Moment(name).begin("views", where={"type": "page_view"}).one_or_more()
            .followed_by("buy", where={"type": "purchase"}).max_partial_matches(1000).skip("no_skip"))  # fmt: skip


def heavy_customer(n: int = 1500) -> list[TouchpointEvent]:
    """One customer, long event ids, a purchase every hundred views: partial matches multiply."""
    return [TouchpointEvent(event_id=f"{i:06d}-" + "x" * 190, customer_id="big", ts=T0 + timedelta(minutes=7 * i),
                            type="purchase" if i % 100 == 99 else "page_view") for i in range(n)]  # fmt: skip


def engine(max_state_bytes: int | None = 393_216) -> Engine:
    return Engine([loop(f"m{i}").compile() for i in range(4)], EngineConfig(max_state_bytes=max_state_bytes))


def through_processor(events: list[TouchpointEvent]) -> tuple[list[Output], int, int]:
    processor = StreamProcessor(engine(), DictTable())
    outputs: list[Output] = []
    dead = largest = 0
    for e in events:
        work = processor.on_event(0, b"big", e.model_dump_json(exclude_none=True).encode())
        dead += work.dead_letter is not None
        outputs.extend(work.outputs)
        processor.save(work)
        largest = max(largest, *(len(v) for v, _ in work.encoded.values()), 0)
    final = processor.on_tick(0, Tick(int(events[-1].ts.timestamp() * 1000), final=True))
    outputs.extend(final.outputs)
    return outputs, dead, largest


def ids(outputs: list[Output]) -> list[str]:
    return sorted(o.trigger_id for o in outputs if isinstance(o, Trigger))


def test_an_over_size_customer_is_trimmed_alike_in_replay_and_the_worker_and_never_frozen() -> None:
    events = heavy_customer(1000)
    replayed = list(ReplayRunner(engine()).run(events))
    worked, dead, largest = through_processor(events)
    assert dead == 0
    assert largest <= MAX_STORED_BYTES
    assert ids(worked) == ids(replayed)
    assert len(ids(replayed)) > 1000
    trims = [o for o in replayed if isinstance(o, StateTrimmed)]
    assert trims
    assert [t.model_dump() for t in trims] == [o.model_dump() for o in worked if isinstance(o, StateTrimmed)]
    assert all(t.bytes_after <= 393_216 * 3 // 4 < t.bytes_before for t in trims)
    assert sum(t.dropped.get("partial_matches", 0) for t in trims) > 0
    # the last purchase still fires for the customer: it was never frozen
    last_buy = events[-1].event_id
    assert any(isinstance(o, Trigger) and o.evidence[-1].event_id == last_buy for o in worked)


def test_without_a_budget_the_same_customer_outgrows_what_a_worker_can_store() -> None:
    """The budget is what keeps it storable: unbounded, the state passes the stored-value limit."""
    state = engine(None).new_state("big")
    eng = engine(None)
    for e in heavy_customer(300):
        eng.on_event(state, e)
    assert len(state.to_bytes()) > MAX_STORED_BYTES


def test_ordinary_customers_are_never_trimmed() -> None:
    outputs = list(ReplayRunner(default_engine(None)).run(sorted(simulate(100, 60, 3).events, key=lambda e: e.ts)))
    assert not [o for o in outputs if isinstance(o, StateTrimmed)]


def test_trim_drops_the_oldest_cheapest_parts_first_and_stops_at_the_target() -> None:
    state = CustomerState("c1")
    for i in range(300):
        state.remember_id(f"id-{i:04d}-" + "y" * 100)
        state.add_to_story(TouchpointEvent(event_id=f"s{i}", customer_id="c1", type="page_view",
                                           ts=T0 + timedelta(minutes=i)), i)  # fmt: skip
    size = len(state.to_bytes())
    after, dropped = trim(state, size // 2)
    assert after <= size // 2
    assert dropped["story_items"] == 15  # the story first (16 items down to 1), then the dedup window
    assert dropped["dedup_ids"] >= 128
    assert state.recent_ids[-1].startswith("id-0299")  # the newest ids stay
    assert state.size_hint == after


@pytest.mark.parametrize(("arrivals", "weight", "hint", "measured"), [
    (64, 10, 0, True), (65, 10, 0, False), (65, 4096, 0, True), (65, 10, 300, True), (65, 10, 100, False),
])  # fmt: skip
def test_measurement_points_depend_on_the_state_alone(arrivals: int, weight: int, hint: int, measured: bool) -> None:
    state = CustomerState("c1", arrivals=arrivals, size_hint=hint)
    assert should_measure(state, weight, 500) is measured
