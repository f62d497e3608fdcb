"""Identity handoffs through the stream processor, over partitions as Kafka would spread them.

A small in-memory topic stands in for the transport between partitions here (the broker tests in
tests/integration/test_identity_broker.py use a real one): records are appended to the partition
of their key and processed in order, and the handoffs a record causes are appended like any
producer's records. What is checked is the processor, never the stand-in.
"""

from __future__ import annotations

from collections import deque

from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.identity import MERGE_MAGIC, Forward, Handoff, decode_merge
from momentstream.core.schema import DuplicateEvent, IdentityMerged, Output, TouchpointEvent, Trigger
from momentstream.data import bundled_moments_path
from momentstream.patterns.dsl import load_moments
from momentstream.runtime.kafka.processor import DictTable, StreamProcessor, Tick
from momentstream.runtime.kafka.routing import dead_letters
from momentstream.runtime.kafka.seed import key_partition
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.runtime.sources import RAW_KEPT
from momentstream.sim.identities import split_identities
from momentstream.sim.journeys import simulate
from tests.helpers import event
from tests.test_core.test_identity import TICKET_THEN_PURCHASE, identify

PARTITIONS = 3


def partition_of(key: bytes) -> int:
    """Kafka's default partitioner (murmur2), as the worker's producer is configured to use."""
    return key_partition(key, PARTITIONS)


def wire(handoff: Handoff) -> tuple[bytes, bytes]:
    if isinstance(handoff, Forward):
        return handoff.event.customer_id.encode(), handoff.event.model_dump_json(exclude_none=True).encode()
    return handoff.canonical_id.encode(), handoff.encode()


class Topic:
    """Partitions of (key, value) records, drained in order by one processor (a worker owning them all)."""

    def __init__(self, processor: StreamProcessor) -> None:
        self.processor = processor
        self.queues: list[deque[tuple[bytes, bytes]]] = [deque() for _ in range(PARTITIONS)]
        self.outputs: list[Output] = []
        self.letters: list[str] = []

    def produce(self, key: bytes, value: bytes) -> None:
        self.queues[partition_of(key)].append((key, value))

    def drain(self, crash_after_send: frozenset[bytes] = frozenset()) -> None:
        """Process until every partition is empty; a value in ``crash_after_send`` is sent, not saved, and retried."""
        crashed: set[bytes] = set()
        while any(self.queues):
            for partition, queue in enumerate(self.queues):
                while queue:
                    key, value = queue[0]
                    work = self.processor.on_event(partition, key, value)
                    self.outputs.extend(work.outputs)
                    for _, handoff in work.handoffs:
                        self.produce(*wire(handoff))
                    if value in crash_after_send and value not in crashed:
                        crashed.add(value)  # outputs and handoffs went out; the state write did not
                        self.processor.reset()
                        continue  # the record is not committed: it comes again
                    queue.popleft()
                    if work.dead_letter is not None:
                        self.letters.append(work.dead_letter.reason)
                    self.processor.save(work)

    def finish(self, until: int) -> None:
        for partition in range(PARTITIONS):
            work = self.processor.on_tick(partition, Tick(until, final=True))
            self.outputs.extend(work.outputs)
            self.processor.save(work)


def trigger_set(outputs: list[Output]) -> set[tuple[object, ...]]:
    return {(t.trigger_id, t.customer_id, t.moment, t.kind) for t in outputs if isinstance(t, Trigger)}


def test_split_histories_give_the_replay_runners_triggers_across_partitions() -> None:
    split = split_identities(simulate(customers=120, days=50, seed=11).events, share=0.5, seed=4, chained=0.3)
    moments = load_moments(bundled_moments_path())
    replayed = list(ReplayRunner(Engine(moments)).run(split.events))
    topic = Topic(StreamProcessor(Engine(moments), DictTable()))
    for e in split.events:  # live: each record's handoffs travel before the next event is produced
        topic.produce(e.customer_id.encode(), e.model_dump_json().encode())
        topic.drain()
    end = max(int(e.ts.timestamp() * 1000) for e in split.events)
    topic.finish(end)
    assert topic.letters == []
    kafka, replay = trigger_set(topic.outputs), trigger_set(replayed)
    assert len(replay) > 40
    assert kafka == replay
    stubs = {k.decode() for k, v in topic.processor.table.items() if k.decode() in split.aliases}
    assert stubs == set(split.aliases)  # every alias left a stub that forwards


def test_a_crash_between_sending_the_merge_and_saving_the_stub_merges_once() -> None:
    engine = Engine([TICKET_THEN_PURCHASE])
    topic = Topic(StreamProcessor(engine, DictTable()))
    ticket = event("t1", "support_ticket", 0, "dev-1")
    login = identify("id1", "dev-1", "ann", 10)
    purchase = event("p1", "purchase", 20, "ann")
    values = [e.model_dump_json().encode() for e in (ticket, login, purchase)]
    for e, value in zip((ticket, login, purchase), values, strict=True):
        topic.produce(e.customer_id.encode(), value)
        topic.drain(crash_after_send=frozenset({values[1]}))
    topic.finish(int(purchase.ts.timestamp() * 1000) + 3_600_000)
    merges = [o for o in topic.outputs if isinstance(o, IdentityMerged)]
    duplicates = [o for o in topic.outputs if isinstance(o, DuplicateEvent)]
    assert len(merges) == 1  # the merge was sent twice and taken once
    assert [d.event_id for d in duplicates] == ["id1"]
    assert [(t.customer_id, [e.event_id for e in t.evidence]) for t in topic.outputs if isinstance(t, Trigger)] == [
        ("ann", ["t1", "p1"])
    ]


def test_merge_records_for_another_key_or_with_a_broken_body_go_to_the_dead_letters() -> None:
    engine = Engine([TICKET_THEN_PURCHASE])
    processor = StreamProcessor(engine, DictTable())
    alias = engine.new_state("dev-1")
    [record] = engine.on_event(alias, identify("id1", "dev-1", "ann", 10)).handoffs
    _, value = wire(record)
    assert value.startswith(MERGE_MAGIC)
    assert decode_merge(value) == record
    assert processor.on_event(0, b"bob", value).dead_letter.reason == "key_mismatch"  # type: ignore[union-attr]
    assert processor.on_event(0, b"ann", value[:-3]).dead_letter.reason == "invalid_merge"  # type: ignore[union-attr]
    work = processor.on_event(0, b"ann", value)
    assert work.dead_letter is None
    assert work.changed.keys() == {"ann"}


def test_a_forwarded_event_is_an_ordinary_record_of_the_customer() -> None:
    """What a stub sends on is the event itself under the new key: any consumer of the topic can read it."""
    engine = Engine([TICKET_THEN_PURCHASE])
    alias = engine.new_state("dev-1")
    engine.on_event(alias, identify("id1", "dev-1", "ann", 10))
    [forward] = engine.on_event(alias, event("p1", "purchase", 20, "dev-1")).handoffs
    key, value = wire(forward)
    forwarded = TouchpointEvent.model_validate_json(value)
    assert (key, forwarded.customer_id, forwarded.event_id) == (b"ann", "ann", "p1")


def test_a_refused_merge_record_is_dead_lettered_whole() -> None:
    """The merge record is the only copy of the alias's state: its dead letter keeps every byte."""
    engine = Engine([TICKET_THEN_PURCHASE], EngineConfig(allowed_lateness_ms=86_400_000))
    alias = engine.new_state("dev-1")
    for i in range(200):  # held events after the login: a state well over the 4 KiB kept of other refused records
        engine.on_event(alias, event(f"v{i}", "page_view", 400 + i, "dev-1", text="x" * 50))
    [record] = engine.on_event(alias, identify("id1", "dev-1", "ann", 300)).handoffs
    _, value = wire(record)
    assert len(value) > RAW_KEPT
    processor = StreamProcessor(engine, DictTable())
    ann_joins_dev = identify("id0", "ann", "dev-1", 0).model_dump_json().encode()
    processor.save(processor.on_event(0, b"ann", ann_joins_dev))  # ann is dev-1's alias now: a cycle
    work = processor.on_event(0, b"ann", value)
    assert work.dead_letter is not None
    assert work.dead_letter.reason == "identity_refused"
    [letter] = dead_letters(work, b"ann", value, b"touchpoints/0/7", "dead-letter")
    assert letter.value == value
    assert dict(letter.headers)["momentstream.reason"] == work.dead_letter.reason.encode()
