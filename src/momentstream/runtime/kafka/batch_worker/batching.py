"""One partition's batch of records through the :class:`StreamProcessor`, as one unit of work.

The batched worker's core, without Kafka: the records run unsealed and fold into one
:class:`Work`, so each changed customer is encoded and saved once per batch. If any record
raised inside the engine (its customer reverted to the *stored* state, which in a batch is the
state before the batch), or a state could not be stored, the batch's effects are thrown away and
the records run again one by one, each saved before the next: an error then costs its own
record only, exactly as in the per-record runtime.

Examples
--------
>>> from momentstream.cli.demo import default_engine
>>> from momentstream.runtime.kafka.processor import DictTable
>>> processor = StreamProcessor(default_engine(None, scoring=False), DictTable())
>>> event = b'{"event_id":"e1","customer_id":"c1","type":"purchase","ts":"2026-01-05T09:00:00Z"}'
>>> result = run_partition(processor, 0, [Record(False, b"c1", event, b"t/0/0"),
...                                       Record(False, b"c1", b"{", b"t/0/1")])
>>> dict(result.results), [work.dead_letter.reason for _, work in result.refused], result.redone
({'processed': 1, 'dead_lettered': 1}, ['invalid_json'], False)
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from momentstream.core.identity import Handoff
from momentstream.core.schema import Output, Trigger
from momentstream.runtime.kafka.processor import DeadLetter, StreamProcessor, Work
from momentstream.runtime.kafka.routing import result_of

__all__ = ["BatchResult", "Record", "run_partition"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Record:
    """A record of the touchpoints topic (``tick=False``) or the ticks topic, and where it was."""

    tick: bool
    key: bytes | None
    value: bytes
    source: bytes
    """``topic/partition/offset``, for the dead-letter headers."""
    timestamp_ms: int | None = None
    """The record's Kafka timestamp (when the event was produced), for the event-to-trigger latency."""


@dataclass(slots=True)
class BatchResult:
    """What a partition's batch caused; its states are already saved in the processor's table."""

    outputs: list[Output] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)
    """Records for customers elsewhere (see :mod:`momentstream.core.identity`), sent with the outputs."""
    refused: list[tuple[Record, Work]] = field(default_factory=list)
    """Records with a dead letter or other customers' failures, and the work that says why."""
    results: Counter[str] = field(default_factory=Counter)
    ticks: int = 0
    held: int = 0
    evicted: int = 0
    redone: bool = False
    """A record failed inside the batch, so the batch was redone record by record."""
    trigger_sources: list[int] = field(default_factory=list)
    """The Kafka timestamp of the event record behind each trigger (triggers of ticks are not counted)."""


def run_partition(processor: StreamProcessor, partition: int, records: list[Record]) -> BatchResult:
    """Run a partition's records as one unit (see the module's docstring) and save the states."""
    merged = Work(partition)
    result = BatchResult()
    for record in records:
        work = _work(processor, partition, record, seal=False)
        if work is None or work.reverted:
            if work is not None:
                merged.absorb(work)
            processor.discard(merged)
            return _one_by_one(processor, partition, records)
        _note(result, record, work)
        merged.absorb(work)
    processor.seal(merged)
    if merged.reverted:  # a state too large to store: only the record that made it so may fail
        processor.discard(merged)
        return _one_by_one(processor, partition, records)
    processor.save(merged)
    result.outputs = merged.outputs
    result.handoffs = [h for _, h in merged.handoffs]
    result.evicted = merged.evicted
    return result


def _one_by_one(processor: StreamProcessor, partition: int, records: list[Record]) -> BatchResult:
    """The slow path, as the per-record runtime does it: each record saved before the next runs."""
    logger.warning("partition %d: a record failed inside a batch; redoing its %d records one by one",
                   partition, len(records))  # fmt: skip
    result = BatchResult(redone=True)
    for record in records:
        work = _work(processor, partition, record, seal=True)
        if work is None:  # the processor itself raised: its caches may be half-updated
            processor.reset()
            work = Work(partition, dead_letter=DeadLetter("processing_error", "the processor raised"))
        else:
            processor.save(work)
        _note(result, record, work)
        result.outputs.extend(work.outputs)
        result.handoffs.extend(h for _, h in work.handoffs)
        result.evicted += work.evicted
    return result


def _note(result: BatchResult, record: Record, work: Work) -> None:
    if work.dead_letter is not None or work.failures:
        result.refused.append((record, work))
    if record.tick:
        result.ticks += 1
    else:
        result.results[result_of(work)] += 1
        result.held += work.held
        if record.timestamp_ms is not None:
            result.trigger_sources += [record.timestamp_ms] * sum(isinstance(o, Trigger) for o in work.outputs)


def _work(processor: StreamProcessor, partition: int, record: Record, seal: bool) -> Work | None:
    """The processor's work for one record, or None if the processor raised (it should not)."""
    try:
        if record.tick:
            return processor.on_tick_bytes(partition, record.value, seal)
        return processor.on_event(partition, record.key, record.value, seal)
    except Exception as err:
        logger.error("record %s raised %s in the processor", record.source.decode(errors="replace"),
                     type(err).__name__)  # fmt: skip
        return None
