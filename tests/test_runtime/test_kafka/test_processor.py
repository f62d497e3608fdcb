"""The Kafka runtime's processor without Kafka: partitions, restarts from the table, bad records."""

from __future__ import annotations

import json
import zlib

import pytest

from momentstream.cli.demo import default_engine
from momentstream.core.clock import to_ms
from momentstream.core.schema import DuplicateEvent, Output, TouchpointEvent, Trigger
from momentstream.runtime.inputs import parse_segment
from momentstream.runtime.kafka.processor import DictTable, StreamProcessor, Tick, Work
from momentstream.runtime.kafka.stored import decode_entry
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.journeys import simulate

PARTITIONS = 4


@pytest.fixture(scope="module")
def journeys() -> list[TouchpointEvent]:
    return simulate(150, 60, 3).events


def partition_of(customer_id: str) -> int:
    return zlib.crc32(customer_id.encode()) % PARTITIONS


def raw(event: TouchpointEvent) -> bytes:
    return event.model_dump_json(exclude_defaults=True).encode()


def unscored(trigger: Trigger) -> Trigger:
    """Scores (and the expected spend) depend on the order models learned in, which partitioning changes; the rest,
    the anomaly included, must not."""
    assert trigger.score is not None
    signals = trigger.signals.model_copy(update={"value": None}) if trigger.signals is not None else None
    return trigger.model_copy(update={"score": None, "signals": signals})


def replay_triggers(events: list[TouchpointEvent]) -> dict[str, Trigger]:
    outputs = ReplayRunner(default_engine(None)).run(events)
    return {o.trigger_id: unscored(o) for o in outputs if isinstance(o, Trigger)}


class Harness:
    """Feeds events like the Faust agent does: process, publish (collect), save."""

    def __init__(self, table: DictTable, cache_size: int = 50_000) -> None:
        self.processor = StreamProcessor(default_engine(None), table, cache_size=cache_size)
        self.outputs: list[Output] = []

    def feed(self, event: TouchpointEvent, save: bool = True) -> Work:
        work = self.processor.on_event(partition_of(event.customer_id), event.customer_id.encode(), raw(event))
        assert work.dead_letter is None
        self.outputs.extend(work.outputs)
        if save:
            self.processor.save(work)
        return work

    def close_input(self, events: list[TouchpointEvent]) -> None:
        last = max(to_ms(e.ts) for e in events)
        for partition in range(PARTITIONS):
            work = self.processor.on_tick(partition, Tick(last, final=True))
            self.outputs.extend(work.outputs)
            self.processor.save(work)

    def triggers(self) -> dict[str, Trigger]:
        found: dict[str, Trigger] = {}
        for o in self.outputs:
            if isinstance(o, Trigger):
                assert found.setdefault(o.trigger_id, unscored(o)) == unscored(o)
        return found


def test_partitioned_processing_gives_the_replay_runners_triggers(journeys: list[TouchpointEvent]) -> None:
    harness = Harness(DictTable())
    for event in journeys:
        harness.feed(event)
    harness.close_input(journeys)
    expected = replay_triggers(journeys)
    assert len(expected) > 20
    assert harness.triggers() == expected
    assert len([o for o in harness.outputs if isinstance(o, Trigger)]) == len(expected)  # no repeats either


def test_a_tiny_cache_reads_states_back_from_the_table(journeys: list[TouchpointEvent]) -> None:
    harness = Harness(DictTable(), cache_size=1)
    for event in journeys:
        harness.feed(event)
    harness.close_input(journeys)
    assert harness.triggers() == replay_triggers(journeys)


@pytest.mark.parametrize("lost_saves", [0, 3])
def test_restart_from_the_table_with_redelivery_loses_nothing(journeys: list[TouchpointEvent], lost_saves: int) -> None:
    """A crash: the last ``lost_saves`` state writes never reached the changelog, and the
    last 40 events are redelivered (their offsets were not committed)."""
    table = DictTable()
    first = Harness(table)
    crash_at = len(journeys) // 2
    for i, event in enumerate(journeys[:crash_at]):
        first.feed(event, save=i < crash_at - lost_saves)
    pending_before = first.processor.timers_pending()

    second = Harness(table)
    for event in journeys[crash_at - 40 :]:
        second.feed(event)
    second.close_input(journeys)

    combined = first.triggers() | second.triggers()
    assert combined == replay_triggers(journeys)
    duplicates = [o for o in second.outputs if isinstance(o, DuplicateEvent)]
    assert len(duplicates) == 40 - lost_saves  # redelivered events the saved state had already seen
    assert pending_before > 0


def test_the_index_is_rebuilt_from_stored_headers(journeys: list[TouchpointEvent]) -> None:
    table = DictTable()
    first = Harness(table)
    for event in journeys[: len(journeys) // 2]:
        first.feed(event)
    before = {p: first.processor.partition_clocks()[p] for p in range(PARTITIONS)}
    assert all(before.values())
    customers, timers = first.processor.customers_tracked(), first.processor.timers_pending()

    second = StreamProcessor(default_engine(None), table)
    for p in range(PARTITIONS):
        second.on_tick(p, Tick(0))  # a tick long ago: indexes the partition, fires nothing
    assert second.customers_tracked() == customers
    assert second.timers_pending() == timers
    assert {decode_entry(v).partition for v in table.values()} == set(range(PARTITIONS))


def test_a_reset_forgets_indexes_but_not_state(journeys: list[TouchpointEvent]) -> None:
    harness = Harness(DictTable())
    for event in journeys[:500]:
        harness.feed(event)
    tracked = harness.processor.customers_tracked()
    harness.processor.reset()
    assert harness.processor.customers_tracked() == 0
    for p in range(PARTITIONS):
        harness.processor.on_tick(p, Tick(0))
    assert harness.processor.customers_tracked() == tracked


BAD: list[tuple[bytes | None, bytes, str]] = [
    (b"c1", b"{not json", "invalid_json"),
    (b"c1", b'{"event_id": "e1", "customer_id": "c1"}', "invalid_event"),
    (b"c1", b'{"event_id": "e1", "customer_id": "c1", "type": "x", "ts": "2026-01-01T00:00:00"}', "invalid_event"),
    (b"c2", b'{"event_id": "e1", "customer_id": "c1", "type": "x", "ts": "2026-01-01T00:00:00Z"}', "key_mismatch"),
    (None, b'{"event_id": "e1", "customer_id": "c1", "type": "x", "ts": "2026-01-01T00:00:00Z"}', "missing_key"),
]


@pytest.mark.parametrize(("key", "value", "reason"), BAD)
def test_bad_records_become_dead_letters_and_touch_no_state(key: bytes | None, value: bytes, reason: str) -> None:
    table = DictTable()
    processor = StreamProcessor(default_engine(None), table)
    work = processor.on_event(0, key, value)
    assert work.dead_letter is not None
    assert work.dead_letter.reason == reason
    assert "c1" not in work.dead_letter.error  # names fields, never values
    assert not work.outputs
    assert not work.changed
    processor.save(work)
    assert not table


@pytest.mark.parametrize("value", [b"", b"{}", b'{"now_ms": "soon"}', b"[1]"])
def test_bad_ticks_become_dead_letters(value: bytes) -> None:
    work = StreamProcessor(default_engine(None), DictTable()).on_tick_bytes(0, value)
    assert work.dead_letter is not None
    assert work.dead_letter.reason == "invalid_tick"


def _segment(event: TouchpointEvent) -> bytes:
    """The event as a CDP would send it: a Segment track call."""
    properties: dict[str, object] = dict(event.properties)
    if event.value is not None:
        properties["value"] = event.value
    return json.dumps({"type": "track", "event": event.type.replace("_", " ").title(), "userId": event.customer_id,
                       "messageId": event.event_id, "timestamp": event.ts.isoformat(), "channel": event.channel,
                       "properties": properties}).encode()  # fmt: skip


def test_segment_messages_on_the_topic_give_the_replay_runners_triggers(journeys: list[TouchpointEvent]) -> None:
    processor = StreamProcessor(default_engine(None), DictTable(), parse=parse_segment)
    outputs: list[Output] = []
    for event in journeys:
        work = processor.on_event(partition_of(event.customer_id), event.customer_id.encode(), _segment(event))
        assert work.dead_letter is None, work.dead_letter
        outputs.extend(work.outputs)
        processor.save(work)
    last = max(to_ms(e.ts) for e in journeys)
    for partition in range(PARTITIONS):
        outputs.extend(processor.on_tick(partition, Tick(last, final=True)).outputs)
    found = {o.trigger_id: unscored(o) for o in outputs if isinstance(o, Trigger)}
    assert found.keys() == replay_triggers(journeys).keys()
    wrong_key = processor.on_event(0, b"someone-else", _segment(journeys[0]))
    assert wrong_key.dead_letter is not None
    assert wrong_key.dead_letter.reason == "key_mismatch"
    ours = processor.on_event(0, journeys[0].customer_id.encode(), raw(journeys[0]))  # our format: not a message
    assert ours.dead_letter is not None
    assert ours.dead_letter.reason == "invalid_event"
