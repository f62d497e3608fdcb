"""The batched worker on confluent-kafka (librdkafka): the default Kafka runtime.

One loop, one thread. Each turn takes what has arrived of the touchpoints and ticks topics (see ``fetch``), then:

1. runs the :class:`StreamProcessor` over them, partition by partition, encoding each changed
   customer once for the whole batch;
2. produces the batch's triggers, dead letters and audit records and waits for the broker to take
   them (one flush);
3. produces one changelog record per changed customer (a tombstone per erased one) and waits (one flush);
4. commits the input offsets (asynchronously; a revoke and a clean stop wait for them).

So a crash at any point loses no trigger and no state: the uncommitted records come again and
recompute the same states and trigger ids. If a record raises inside the engine, the partition's
batch is redone record by record, so the error reverts that record only (see
:mod:`momentstream.runtime.kafka.batch_worker.batching`).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, NoReturn

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from momentstream.core.clock import parse_duration, parse_instant
from momentstream.core.engine import Engine
from momentstream.ops.metrics import WorkerMetrics
from momentstream.ops.settings import WorkerSettings
from momentstream.runtime.kafka.admin import changelog_topic
from momentstream.runtime.kafka.batch_worker.batching import Record, run_partition
from momentstream.runtime.kafka.batch_worker.changelog_table import ChangelogTable
from momentstream.runtime.kafka.batch_worker.client_config import (
    LIBRDKAFKA_LOG,
    consumer_config,
    local_store,
    producer_config,
)
from momentstream.runtime.kafka.batch_worker.fetch import next_batch  # what has arrived, never waiting to fill
from momentstream.runtime.kafka.batch_worker.segment_roll import ROLL_KEY, SegmentRoller
from momentstream.runtime.kafka.inspect_page import InspectPage
from momentstream.runtime.kafka.model_gauges import publishable_snapshot, refresh_model_gauges
from momentstream.runtime.kafka.moment_registry import RolloutWatcher, reload_moments
from momentstream.runtime.kafka.processor import StreamProcessor, encode_tick
from momentstream.runtime.kafka.routing import Outgoing, dead_letters, precreate_series, route_handoff, route_output
from momentstream.runtime.kafka.wallclock import WallClock
from momentstream.runtime.kafka.web import WebServer

__all__ = ["BatchWorker"]

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT_EXIT = 75
"""Exit code when the broker does not take a batch's records in time (EX_TEMPFAIL: restart the worker)."""
RECORD_FAILED_EXIT = 70
"""Exit code when the broker refused a record for good (EX_SOFTWARE); nothing was committed."""
GAUGE_INTERVAL_S = 1.0
_Records = list[tuple[bytes, bytes | None]]
SLOW_BATCH_S = 5.0
ROLLOUT_POLL_S = 2.0
"""How often the worker looks for a file published by `momentstream rollout`."""


@dataclass(slots=True)
class _Batch:
    """What one batch sends, counts and commits."""

    records: list[Outgoing] = field(default_factory=list)
    results: Counter[str] = field(default_factory=Counter)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    ticks: int = 0
    held: int = 0
    evicted: int = 0
    changelog: dict[int, dict[bytes, bytes | None]] = field(default_factory=dict)
    """Per partition, the state writes of the batch (None: a tombstone)."""
    trigger_sources: list[int] = field(default_factory=list)
    """Kafka timestamps (ms) of the event records that caused the batch's triggers."""


class BatchWorker:
    """Touchpoints in, triggers out, in batches; state in a :class:`ChangelogTable`."""

    def __init__(self, settings: WorkerSettings, engine: Engine, metrics: WorkerMetrics | None = None,
                 rollouts: RolloutWatcher | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.engine = engine
        self.metrics = metrics or WorkerMetrics()
        precreate_series(self.metrics, engine)
        self.source_name = f"momentstream/{settings.app_id}"
        self.changelog = changelog_topic(settings)
        self.table = ChangelogTable()
        self.roller = SegmentRoller(settings.erasure_within_ms // 2)
        self.local = local_store(settings)
        origin = None if settings.clock_origin is None else parse_instant(settings.clock_origin)
        self.clock = WallClock(settings.clock_speed, origin, settings.clock_origin_wall)
        wall = self.clock.now_ms if settings.clock == "wall" else None
        self.processor = StreamProcessor.for_worker(engine, self.table, settings, wall)
        self.owned: set[int] = set()
        self.positions: dict[int, int] = {}
        self._processed: dict[tuple[str, int], int] = {}
        """Next offset after the last processed record, per input partition (what a revoke or stop commits)."""
        self.ready = False
        self.stopping = False
        self._reload_requested = False
        self._delivery_errors: list[str] = []
        self._next = {"gauges": 0.0, "tick": 0.0, "models": time.monotonic() + settings.model_snapshot_interval_s,
                      "rollouts": 0.0}  # fmt: skip
        self.rollouts = rollouts
        """Notices files published by ``momentstream rollout`` (None: only SIGHUP reloads)."""
        self.consumer = Consumer(consumer_config(settings))
        self.producer = Producer(producer_config(settings))
        inspect = InspectPage(settings.inspect_token, engine, self.table.get_customer, lambda: sorted(self.owned),
                              self.metrics)  # fmt: skip
        apart = settings.inspect_port is not None
        self.web = WebServer(settings.web_host, settings.web_port, self._render_metrics, self._readiness,
                             None if apart else inspect.handle, self.metrics.loop_age,
                             settings.heartbeat_timeout_s)  # fmt: skip
        self.inspect_web = (WebServer(settings.inspect_host, settings.inspect_port, self._render_metrics,
                                      self._readiness, inspect.handle, probes=False)
                            if settings.inspect_port is not None else None)  # fmt: skip

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> int:
        """Process until SIGTERM or SIGINT; then publish the models once more and leave the group."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        signal.signal(signal.SIGHUP, self._request_reload)
        self.web.start()
        if self.inspect_web is not None:
            self.inspect_web.start()
        topics = [self.settings.touchpoints_topic, self.settings.ticks_topic]
        self.consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost)
        wait_s = parse_duration(self.settings.batch_max_wait) / 1000
        logger.warning("batched worker started: up to %d records per batch, %.0f ms wait",
                       self.settings.batch_max_records, wait_s * 1000)  # fmt: skip
        try:
            while not self.stopping:
                self.metrics.beat()
                records = next_batch(self.consumer, self.settings.batch_max_records, wait_s)
                if records:
                    self.run_batch(records)
                self._housekeeping()
                if self._reload_requested:  # between batches: no customer is half-way through the old moments
                    self._reload_requested = False
                    reload_moments(self.settings, self.engine, self.metrics)
        finally:
            self.ready = False
            if self.engine.scorer is not None:
                self.publish_models()
            self.producer.flush(self.settings.delivery_timeout)
            self._commit_now()
            self.consumer.close()
            self.web.stop()
            if self.inspect_web is not None:
                self.inspect_web.stop()
            if self.rollouts is not None:
                self.rollouts.close()
            if self.local is not None:
                self.local.close()
        return 0

    def _request_reload(self, signum: int, frame: FrameType | None) -> None:
        logger.warning("SIGHUP: reloading the moments file after the current batch")
        self._reload_requested = True

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        logger.warning("signal %d: stopping after the current batch", signum)
        self.stopping = True

    def run_batch(self, records: list[Message]) -> None:
        """Process, send, save and commit one batch (see the module's docstring)."""
        started = time.perf_counter()
        batch = _Batch()
        by_partition: dict[int, list[Message]] = {}
        for record in records:
            error = record.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    logger.error("consumer error: %s", error.str())
                continue
            by_partition.setdefault(record.partition(), []).append(record)
            batch.offsets[(record.topic(), record.partition())] = record.offset() + 1
        for partition, messages in by_partition.items():
            self._process_partition(partition, messages, batch)
        self._send(batch.records)
        sent_at = time.time()
        for produced_ms in batch.trigger_sources:
            self.metrics.trigger_latency.observe(max(sent_at - produced_ms / 1000, 0.0))
        self._write_changelog(batch.changelog)
        # Counted before the commit: once the group's offsets show a record done, the metrics show it too.
        self._count(batch)
        for (topic, partition), offset in batch.offsets.items():
            if topic == self.settings.touchpoints_topic:
                self.positions[partition] = offset
        self.update_gauges()  # cheap (running sums, cached watermarks)
        self._commit(batch.offsets)
        self._processed.update(batch.offsets)
        elapsed = time.perf_counter() - started
        self.metrics.processing.observe(elapsed)
        if elapsed > SLOW_BATCH_S:
            logger.warning("slow batch: %.1f s for %d records, %d outgoing", elapsed, len(records), len(batch.records))

    # -- processing ------------------------------------------------------------------------------
    def _process_partition(self, partition: int, messages: list[Message], batch: _Batch) -> None:
        """All of a partition's records as one unit of work (see its module, ``batching``)."""
        ticks = self.settings.ticks_topic
        records = [Record(m.topic() == ticks, m.key(), m.value() or b"", _source(m), _timestamp_ms(m))
                   for m in messages]  # fmt: skip
        result = run_partition(self.processor, partition, records)
        for record, work in result.refused:
            batch.records += dead_letters(
                work, record.key, record.value, record.source, self.settings.dead_letter_topic
            )
        batch.records += [route_output(o, self.settings, self.metrics, self.source_name) for o in result.outputs]
        batch.records += [route_handoff(h, self.settings, self.metrics) for h in result.handoffs]
        batch.results.update(result.results)
        batch.ticks += result.ticks
        batch.held += result.held
        batch.evicted += result.evicted
        batch.trigger_sources += result.trigger_sources
        # Drained right after the partition ran: the table's writes since the last drain are all this partition's.
        batch.changelog[partition] = self.table.drain(partition)

    # -- sending, saving, committing -------------------------------------------------------------
    def _send(self, records: list[Outgoing]) -> None:
        """Produce and wait until the broker holds every record: nothing is saved or committed before."""
        for record in records:
            self._produce(record.topic, record.key, record.value, record.headers)
        self._flush("triggers and dead letters")

    def _write_changelog(self, drained: dict[int, dict[bytes, bytes | None]]) -> None:
        """One changelog record per customer changed in the batch; waits until the broker has them."""
        ends: dict[int, int] = {}

        def written(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                ends[msg.partition()] = max(ends.get(msg.partition(), 0), msg.offset() + 1)
            else:
                self._delivery_errors.append(err.str())

        wrote = False
        for partition, writes in drained.items():
            for key, value in writes.items():
                self._produce(self.changelog, key, value, None, partition, written)
                wrote = True
                if value is None:  # an erasure (or eviction): its old values must leave even a quiet partition
                    self.roller.erased(partition, time.monotonic())
        if wrote:
            self._flush("state changelog")
        for partition, end in ends.items():
            self.table.written(partition, end)
            if self.local is not None:
                self.local.save(partition, drained[partition], end)

    def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        if not offsets:
            return
        positions = [TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()]
        try:
            # Asynchronous: everything the batch caused is already on the broker, so a commit that is lost
            # (a crash, a rebalance) only means these records come again, and their event ids are remembered.
            # The wait would be one more broker round trip per batch, paid in latency.
            self.consumer.commit(offsets=positions, asynchronous=True)
        except KafkaException as err:  # a rebalance took the partitions: the next owner redoes these records
            logger.warning("offsets not committed (%s); the records will be processed again", err.args[0].str())

    def _commit_now(self, partitions: list[TopicPartition] | None = None) -> None:
        """Commit, and wait for, the offsets of processed records (of ``partitions``, else all) on a revoke and a
        clean stop. Our own record of what was processed, not the consumer's position: that may already count
        records fetched for a batch that has not run."""
        wanted = None if partitions is None else {(tp.topic, tp.partition) for tp in partitions}
        done = [TopicPartition(t, p, o) for (t, p), o in self._processed.items() if wanted is None or (t, p) in wanted]
        if not done:
            return
        try:
            self.consumer.commit(offsets=done, asynchronous=False)
        except KafkaException as err:  # the group moved on: the next owner redoes these deduplicated records
            logger.info("final commit: %s", err.args[0].str())

    def _produce(self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]] | None,
                 partition: int = -1, on_delivery: Any = None) -> None:  # fmt: skip
        callback = on_delivery or self._delivered
        while True:
            try:
                self.producer.produce(topic, value, key, partition, headers=headers, on_delivery=callback)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self.producer.poll(0.1)
            except KafkaException as err:  # refused before sending (too large, say): never commit past it
                self._exit_uncommitted(RECORD_FAILED_EXIT, f"a record for {topic} was refused: {err.args[0].str()}")

    def _delivered(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._delivery_errors.append(err.str())

    def _flush(self, what: str) -> None:
        left = self.producer.flush(self.settings.delivery_timeout)
        if left:
            self._exit_uncommitted(DELIVERY_TIMEOUT_EXIT, f"{left} {what} records not acknowledged within "
                                   f"{self.settings.delivery_timeout:.0f} s")  # fmt: skip
        if self._delivery_errors:
            self._exit_uncommitted(RECORD_FAILED_EXIT, f"the broker refused {what}: {self._delivery_errors[0]}")

    @staticmethod
    def _exit_uncommitted(code: int, why: str) -> NoReturn:
        """Exit at once, like a SIGKILL: nothing of this batch is committed, so a restart redoes it."""
        logger.critical("%s; exiting with code %d without committing", why, code)
        logging.shutdown()
        os._exit(code)

    def _count(self, batch: _Batch) -> None:
        for result, count in batch.results.items():
            self.metrics.events.labels(result=result).inc(count)
        for record in batch.records:
            if record.topic == self.settings.dead_letter_topic:
                self.metrics.dead_letters.labels(reason=dict(record.headers)["momentstream.reason"].decode()).inc()
        if batch.ticks:
            self.metrics.ticks.inc(batch.ticks)
        if batch.held:
            self.metrics.held.inc(batch.held)
        if batch.evicted:
            self.metrics.evicted.inc(batch.evicted)

    # -- rebalancing -----------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Recover the state of newly owned partitions from the changelog before their first record."""
        owned = {tp.partition for tp in partitions if tp.topic == self.settings.touchpoints_topic}
        self.ready = False
        self.processor.reset()
        for partition in self.table.partitions() - owned:
            self.table.drop(partition)
        ends = {p: self._changelog_end(p) for p in owned}
        stale = {p: end for p, end in ends.items() if self.table.end_offsets.get(p) != end}
        for partition in stale:
            self.table.drop(partition)
        if stale:
            self._recover(stale)
        self.owned = owned
        self.ready = bool(owned)
        logger.warning("assigned partitions %s (%d recovered from the changelog, %d customers held)",
                       sorted(owned), len(stale), len(self.table))  # fmt: skip

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Nothing is in flight here (batches end before the next poll); the state stays until the next
        assignment shows whether someone else wrote to it."""
        self._commit_now(partitions)
        self._release(partitions)

    def _release(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:  # never commit for them again: the next owner's offsets must not move back
            self._processed.pop((tp.topic, tp.partition), None)
        self.ready = False
        self.owned = set()
        self.processor.reset()
        self.metrics.ready.set(0)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The group gave our partitions away (we were too slow): another worker may be writing them now, so
        nothing is committed for them."""
        logger.error("partitions lost to the group: dropping their state")
        for partition in {tp.partition for tp in partitions}:
            self.table.drop(partition)
        self._release(partitions)

    def _changelog_end(self, partition: int) -> int:
        _, high = self.consumer.get_watermark_offsets(TopicPartition(self.changelog, partition), timeout=10.0)
        return int(high)

    def _recover(self, partitions: dict[int, int]) -> None:
        """Load each partition: the local copy (store: rocksdb) if any, then the changelog on to its end
        (``partitions`` maps each to its changelog end offset, read once at assignment)."""
        started = time.perf_counter()
        starts: dict[int, int] = {}
        for partition in partitions:
            self.metrics.beat()  # a long recovery is progress, not a hang (liveness must not restart it)
            resumed = self.local.resume(partition) if self.local is not None else None
            if resumed is None:
                starts[partition] = 0
                continue
            entries, offset = resumed
            self.table.load(partition, list(entries), offset)
            starts[partition] = offset
        tails = self._read_changelog(starts, partitions)
        for partition, (records, end) in tails.items():
            self.metrics.beat()
            self.table.load(partition, records, end)
            if self.local is not None and records:
                self.local.save(partition, dict(records), end)
        logger.warning("recovered %d partitions in %.1f s (%d changelog records read)", len(partitions),
                       time.perf_counter() - started, sum(len(r) for r, _ in tails.values()))  # fmt: skip

    def _read_changelog(self, starts: dict[int, int], ends: dict[int, int]) -> dict[int, tuple[_Records, int]]:
        """Each partition's changelog records from its start offset to its end offset, in order."""
        done: dict[int, tuple[_Records, int]] = {p: ([], end) for p, end in ends.items() if starts[p] >= end}
        pending = {p for p in starts if p not in done}
        if not pending:
            return done
        reader = Consumer({**self.settings.kafka.librdkafka(), "logger": LIBRDKAFKA_LOG,
                           "group.id": f"{self.settings.app_id}-restore",
                           "enable.auto.commit": False, "enable.partition.eof": True})  # fmt: skip
        reader.assign([TopicPartition(self.changelog, p, starts[p] or OFFSET_BEGINNING) for p in pending])
        loaded: dict[int, _Records] = {p: [] for p in pending}
        try:
            while pending:
                self.metrics.beat()
                for message in reader.consume(10_000, 1.0):
                    p = message.partition()
                    if p not in pending:
                        continue
                    error = message.error()
                    if error is None:
                        loaded[p].append((message.key() or b"", message.value()))
                    elif error.code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(error)
                    if error is not None or message.offset() + 1 >= ends[p]:
                        done[p] = (loaded.pop(p), ends[p])
                        pending.discard(p)
        finally:
            reader.close()
        return done

    # -- clock, models, gauges -------------------------------------------------------------------
    def _housekeeping(self) -> None:
        now = time.monotonic()
        if self.rollouts is not None and now >= self._next["rollouts"]:
            self._next["rollouts"] = now + ROLLOUT_POLL_S
            text = self.rollouts.newest_file()
            if text is not None:  # between batches, like a SIGHUP reload
                reload_moments(self.settings, self.engine, self.metrics, text)
        if self.settings.clock == "wall" and now >= self._next["tick"] and self.owned:
            self._next["tick"] = now + self.settings.tick_interval_s
            value = encode_tick(self.clock.now_ms())
            for partition in sorted(self.owned):
                self._produce(self.settings.ticks_topic, None, value, None, partition)
            self.producer.poll(0)
        if self.engine.scorer is not None and now >= self._next["models"]:
            self._next["models"] = now + self.settings.model_snapshot_interval_s
            self.publish_models()
        if now >= self._next["gauges"]:
            self._next["gauges"] = now + GAUGE_INTERVAL_S
            self.update_gauges()
        for partition in self.roller.due(now):
            self._produce(self.changelog, ROLL_KEY, None, None, partition)

    def publish_models(self) -> None:
        """Write the model snapshot to the compacted models topic (never one with non-finite weights)."""
        snapshot = publishable_snapshot(self.engine, self.metrics)
        if snapshot is None:
            return
        self._produce(self.settings.models_topic, b"snapshot", snapshot, None)
        self.producer.poll(0)

    def update_gauges(self) -> None:
        """Refresh the gauges SREs alert on, from this thread (the web thread only renders them): after every
        batch, and every second while idle."""
        refresh_model_gauges(self.engine, self.metrics)
        self.metrics.customers.set(len(self.table))
        self.metrics.timers_pending.set(self.processor.timers_pending())
        self.metrics.ready.set(1 if self.ready else 0)
        lags = {}
        for partition in self.owned:
            tp = TopicPartition(self.settings.touchpoints_topic, partition)
            try:
                _, high = self.consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue
            if high >= 0:
                lags[partition] = max(high - self.positions.get(partition, 0), 0)
        self.metrics.set_lag(lags, set(self.owned))

    def _render_metrics(self) -> bytes:
        return self.metrics.render()

    def _readiness(self) -> tuple[bool, list[int]]:
        return self.ready, sorted(self.owned)


def _source(message: Message) -> bytes:
    """``topic/partition/offset`` of a record, for dead-letter headers."""
    return f"{message.topic()}/{message.partition()}/{message.offset()}".encode()


def _timestamp_ms(message: Message) -> int | None:
    """The record's Kafka timestamp in ms, or None when the broker gave none."""
    kind, value = message.timestamp()
    return None if kind == TIMESTAMP_NOT_AVAILABLE or value <= 0 else int(value)
