"""Batches through the processor: the same triggers and stored states as record by record, whatever
the batch boundaries, erasures and errors inside a batch."""

from __future__ import annotations

import random
import zlib
from datetime import timedelta
from typing import Any

import pytest

from momentstream.cli.demo import default_engine
from momentstream.core.engine import Engine
from momentstream.core.schema import ERASURE_EVENT_TYPE, Output, TouchpointEvent, Trigger
from momentstream.runtime.kafka.batch_worker.batching import Record, run_partition
from momentstream.runtime.kafka.processor import DictTable, StreamProcessor, encode_tick
from momentstream.runtime.kafka.stored import decode_entry
from momentstream.sim.journeys import simulate

PARTITIONS = 3


@pytest.fixture(scope="module")
def journeys() -> list[TouchpointEvent]:
    return simulate(120, 60, 8).events


def partition_of(customer_id: str) -> int:
    return zlib.crc32(customer_id.encode()) % PARTITIONS


def record_of(event: TouchpointEvent) -> Record:
    return Record(False, event.customer_id.encode(), event.model_dump_json(exclude_defaults=True).encode(), b"t/0/0")


def closing_ticks(events: list[TouchpointEvent]) -> list[tuple[int, Record]]:
    last = max(int(e.ts.timestamp() * 1000) for e in events)
    return [(p, Record(True, None, encode_tick(last, final=True), b"ticks/0/0")) for p in range(PARTITIONS)]


def per_partition(events: list[TouchpointEvent]) -> list[tuple[int, Record]]:
    return [(partition_of(e.customer_id), record_of(e)) for e in events] + closing_ticks(events)


def run(engine: Engine, records: list[tuple[int, Record]], batch_sizes: list[int],
        cache_size: int = 50_000) -> tuple[list[Output], DictTable, list[Any]]:  # fmt: skip
    """(outputs, table, refused records); also checks the kept count of pending timers against the table."""
    """Cut the records into batches of the given sizes (cycled), each split by partition as the worker does."""
    table = DictTable()
    processor = StreamProcessor(engine, table, cache_size=cache_size)
    outputs: list[Output] = []
    refused: list[Any] = []
    i, turn = 0, 0
    while i < len(records):
        size = batch_sizes[turn % len(batch_sizes)]
        chunk, i, turn = records[i : i + size], i + size, turn + 1
        by_partition: dict[int, list[Record]] = {}
        for partition, record in chunk:
            by_partition.setdefault(partition, []).append(record)
        for partition, part in by_partition.items():
            result = run_partition(processor, partition, part)
            outputs += result.outputs
            refused += [(r.value, w.dead_letter) for r, w in result.refused]
        stored = sum(decode_entry(v).timers for v in table.values())
        assert processor.timers_pending() == stored  # the gauge, read after every batch
    return outputs, table, refused


def triggers(outputs: list[Output]) -> set[str]:
    return {o.trigger_id for o in outputs if isinstance(o, Trigger)}


def test_any_batch_boundaries_give_the_per_record_triggers_and_states(journeys: list[TouchpointEvent]) -> None:
    records = per_partition(journeys)
    one, one_table, _ = run(default_engine(None, scoring=False), records, [1])
    rng = random.Random(3)
    sizes = [rng.choice([2, 7, 50, 400, 3000]) for _ in range(40)]
    batched, batched_table, _ = run(default_engine(None, scoring=False), records, sizes)
    assert len(triggers(one)) > 20
    assert triggers(batched) == triggers(one)
    assert batched_table == one_table  # every customer's stored bytes, identical


def test_a_tiny_cache_inside_a_batch_keeps_unsaved_states(journeys: list[TouchpointEvent]) -> None:
    """States changed earlier in the batch are not in the table yet; a cache of one must not lose them."""
    records = per_partition(journeys)
    expected, expected_table, _ = run(default_engine(None, scoring=False), records, [1])
    got, table, _ = run(default_engine(None, scoring=False), records, [5000], cache_size=1)
    assert triggers(got) == triggers(expected)
    assert table == expected_table


def test_an_erasure_inside_a_batch_then_a_new_event_starts_afresh(journeys: list[TouchpointEvent]) -> None:
    victim = journeys[0].customer_id
    mine = [e for e in journeys if e.customer_id == victim][:6]
    erase = TouchpointEvent(event_id="erase", customer_id=victim, type=ERASURE_EVENT_TYPE,
                            ts=mine[-1].ts + timedelta(seconds=1))  # fmt: skip
    again = TouchpointEvent(event_id="again", customer_id=victim, type="page_view", ts=erase.ts + timedelta(hours=1))
    records = [(0, record_of(e)) for e in [*mine, erase, again]]
    _, per_record, _ = run(default_engine(None, scoring=False), records, [1])
    _, batched, _ = run(default_engine(None, scoring=False), records, [len(mine), 2])  # stored, then erase + again
    assert batched == per_record
    stored = batched[victim.encode()]
    assert b"again" in stored
    assert mine[0].event_id.encode() not in stored  # nothing from before the erasure


def test_an_engine_error_inside_a_batch_costs_its_own_record_only(
    journeys: list[TouchpointEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch is redone record by record: the customer's earlier records in it are kept, the failing
    one is dead-lettered, and everything equals per-record processing with the same failure."""
    victim = journeys[10].customer_id
    mine = [e for e in journeys if e.customer_id == victim]
    bad_id = mine[len(mine) // 2].event_id
    original = Engine.on_event

    def failing(self: Engine, state: Any, event: TouchpointEvent) -> Any:
        if event.event_id == bad_id:
            raise RuntimeError("boom")
        return original(self, state, event)

    monkeypatch.setattr(Engine, "on_event", failing)
    records = per_partition(journeys)
    one, one_table, one_refused = run(default_engine(None, scoring=False), records, [1])
    batched, table, refused = run(default_engine(None, scoring=False), records, [len(records)])
    assert [d.reason for _, d in refused] == ["processing_error"] == [d.reason for _, d in one_refused]
    assert triggers(batched) == triggers(one)
    assert table == one_table
    assert mine[0].event_id.encode() in table[victim.encode()]  # the victim's earlier records were kept


def test_bad_records_in_a_batch_are_refused_with_their_reason() -> None:
    event = b'{"event_id":"e1","customer_id":"c1","type":"purchase","ts":"2026-01-05T09:00:00Z"}'
    records = [
        Record(False, b"c1", b"\xff\xfe", b"t/0/1"),
        Record(False, b"other", event, b"t/0/2"),
        Record(True, None, b'{"now_ms": "soon"}', b"ticks/0/3"),
        Record(False, b"c1", event, b"t/0/4"),
    ]
    processor = StreamProcessor(default_engine(None, scoring=False), DictTable())
    result = run_partition(processor, 0, records)
    assert [(r.source, w.dead_letter.reason) for r, w in result.refused if w.dead_letter] == [
        (b"t/0/1", "invalid_json"), (b"t/0/2", "key_mismatch"), (b"ticks/0/3", "invalid_tick")]  # fmt: skip
    assert dict(result.results) == {"dead_lettered": 2, "processed": 1}
    assert result.ticks == 1
    assert not result.redone
    assert b"c1" in processor.table
