"""The Faust worker: a thin shell that moves records between Kafka and the :class:`StreamProcessor`.

One agent reads the touchpoints topic and the co-partitioned ticks topic (raw bytes, keyed by
customer id). For each record it asks the processor what to do, then:

1. sends refused records to the dead-letter topic (original bytes, reason in headers);
2. sends triggers to the actions topic (key: customer id; headers: trigger id, moment, kind)
   and waits until the broker has them; audit records go to the audit topic;
3. saves the changed customer states in the Faust table, whose changelog makes them durable.

Offsets are committed only after the producer has flushed, so delivery is at-least-once
and a trigger id is the same on every redelivery.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import time
from collections.abc import Awaitable
from typing import Any, NoReturn

import faust
from faust.types import TP

from momentstream.clock import parse_instant
from momentstream.engine import POLICY_REASONS, Engine
from momentstream.models.scorer import PoisonedModelError
from momentstream.ops.metrics import CONTENT_TYPE, WorkerMetrics
from momentstream.ops.settings import WorkerSettings
from momentstream.runtime.processor import DeadLetter, StreamProcessor, Work, encode_tick
from momentstream.runtime.producer_flush import BoundedFlush
from momentstream.runtime.resume_after_seek import ResumeAfterSeek
from momentstream.runtime.sources import kept_raw
from momentstream.runtime.wallclock import WallClock
from momentstream.schema import (
    DuplicateEvent,
    LateEvent,
    Output,
    Trigger,
    TriggerDeferred,
    TriggerRevoked,
    TriggerSuppressed,
)
from momentstream.triggers.contract import encode, kafka_headers

__all__ = ["TABLE_NAME", "Worker"]

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT_EXIT = 75
"""Exit code when the broker does not take triggers in time (EX_TEMPFAIL: restart the worker)."""
RECORD_FAILED_EXIT = 70
"""Exit code when a record could neither complete nor be dead-lettered (EX_SOFTWARE): the worker stops
without committing its offset, so nothing is lost; the restart retries it."""
SLOW_RECORD_S = 2.0
"""A record taking longer than this is logged with what it caused (a burst of due timers, say)."""

TABLE_NAME = "customer_state"
"""Faust names the changelog ``<app_id>-customer_state-changelog``."""


class Worker:
    """The Faust app with its topics, table, agent, ticker and web pages."""

    def __init__(self, settings: WorkerSettings, engine: Engine, metrics: WorkerMetrics | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics or WorkerMetrics()
        self.positions: dict[int, int] = {}
        self.source_name = f"momentstream/{settings.app_id}"
        """CloudEvents ``source`` of this deployment's triggers (ids are unique within it)."""
        self.app = self._make_app()
        raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
                               "value_serializer": "raw"}  # fmt: skip
        self.source = self.app.topic(settings.touchpoints_topic, settings.ticks_topic, **raw)
        self.ticks = self.app.topic(settings.ticks_topic, **raw)
        self.actions = self.app.topic(settings.actions_topic, **raw)
        self.holdout = self.app.topic(settings.holdout_topic, **raw)
        self.audit = self.app.topic(settings.audit_topic, **raw)
        self.dead_letter = self.app.topic(settings.dead_letter_topic, **raw)
        self.models = self.app.topic(settings.models_topic, **raw)
        self.table = self.app.Table(
            TABLE_NAME, default=None, partitions=settings.partitions, key_type=bytes, value_type=bytes
        )
        self.failing = False
        """Set when the agent raised (Faust restarts it); /readyz answers 503 until a record completes."""
        origin = None if settings.clock_origin is None else parse_instant(settings.clock_origin)
        self.clock = WallClock(settings.clock_speed, origin, settings.clock_origin_wall)
        wall = self.clock.now_ms if settings.clock == "wall" else None
        self.processor = StreamProcessor(engine, self.table, max_skew_ms=settings.max_skew_ms, wall_clock=wall)
        # Faust stalls every agent once 100 changelog writes wait in its producer buffer;
        # one table write per event needs more room than that to keep batches flowing.
        self.app.producer.buffer.max_messages = settings.producer_buffer
        BoundedFlush.install(self.app.producer.buffer)
        ResumeAfterSeek.install(self.app.consumer)
        self._wire()

    def _make_app(self) -> faust.App:
        s = self.settings
        return faust.App(
            s.app_id,
            broker=";".join(f"kafka://{server}" for server in s.bootstrap_servers),
            store="memory://" if s.store == "memory" else "rocksdb://",  # faust.stores.rocksdb, on rocksdict
            datadir=str(s.data_dir),
            autodiscover=False,
            topic_partitions=s.partitions,
            topic_replication_factor=s.replication_factor,
            table_standby_replicas=s.standby_replicas,
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=s.commit_interval,
            broker_session_timeout=s.session_timeout,
            broker_heartbeat_interval=max(s.session_timeout / 10, 1.0),
            broker_rebalance_timeout=max(s.session_timeout, 10.0),
            producer_acks=-1,
            producer_linger=s.producer_linger_ms / 1000,
            key_serializer="raw",
            value_serializer="raw",
            web_enabled=True,
            web_host=s.web_host,
            web_bind=s.web_host,
            web_port=s.web_port,
            web_in_thread=False,
        )

    # -- wiring ----------------------------------------------------------------------------
    def _wire(self) -> None:
        app = self.app

        @app.agent(self.source, name="momentstream.process")
        async def process(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                await self.handle(event.message)

        faust_on_error = getattr(process, "_on_error", None)  # the app's handler (it tells the consumer); keep it

        async def on_agent_error(agent: Any, exc: BaseException) -> None:
            self.failing = True
            logger.error("agent failed (%s); Faust restarts it; /readyz answers 503", type(exc).__name__)
            if faust_on_error is not None:
                await faust_on_error(agent, exc)

        setattr(process, "_on_error", on_agent_error)  # noqa: B010 - Faust offers no public hook per agent

        async def on_rebalance(*_: Any, **__: Any) -> None:
            self.processor.reset()
            self.positions.clear()
            self.metrics.ready.set(0)

        @app.task  # type: ignore[untyped-decorator]
        async def install_stack_dump() -> None:
            """SIGUSR1 logs every asyncio task's stack: how to see where a stuck worker waits."""
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _dump_tasks)

        async def final_snapshot(*_: Any, **__: Any) -> None:
            """A clean stop publishes the models once more (after the consumer stopped, before the
            producer's last flush), so a restart loses no learning; a crash loses one interval at most."""
            await self.publish_models()

        app.on_partitions_revoked.connect(on_rebalance)
        app.on_partitions_assigned.connect(on_rebalance)
        if self.engine.scorer is not None:
            app.on_before_shutdown.connect(final_snapshot)

        if self.settings.clock == "wall":
            app.timer(interval=self.settings.tick_interval_s, name="momentstream.ticker")(self.tick)
        app.timer(interval=5.0, name="momentstream.gauges")(self.update_gauges)
        if self.engine.scorer is not None:
            app.timer(interval=self.settings.model_snapshot_interval_s, name="momentstream.models")(self.publish_models)

        @app.page("/metrics")
        async def metrics_page(web: Any, request: Any) -> Any:
            await self.update_gauges()
            return web.bytes(self.metrics.render(), content_type=CONTENT_TYPE)

        @app.page("/healthz")
        async def healthz(web: Any, request: Any) -> Any:
            return web.json({"status": "ok"})

        @app.page("/readyz")
        async def readyz(web: Any, request: Any) -> Any:
            ready = self.is_ready()
            return web.json({"ready": ready, "partitions": sorted(self._owned())}, status=200 if ready else 503)

    # -- records ---------------------------------------------------------------------------
    async def handle(self, message: Any) -> None:
        """Process one record of either source topic.

        A record either completes (outputs sent, state saved) or is dead-lettered with its error.
        If even that fails, the worker exits at once without committing the record's offset.
        """
        started = time.perf_counter()
        try:
            work = self._process(message)
            await self.publish(work, message)
            self.processor.save(work)
        except Exception as err:
            self._stop_uncommitted(message, f"{type(err).__name__} while handling the record")
        self.failing = False
        if work.evicted:
            self.metrics.evicted.inc(work.evicted)
        elapsed = time.perf_counter() - started
        self.metrics.processing.observe(elapsed)
        if elapsed > SLOW_RECORD_S:
            logger.warning("slow record %s/%d@%d: %.1f s, %d outputs, %d customers changed", message.topic,
                           message.partition, message.offset, elapsed, len(work.outputs),
                           len(work.changed))  # fmt: skip

    def _process(self, message: Any) -> Work:
        """The processor's work for one record; it isolates engine errors itself, this is the last net."""
        partition, value = message.partition, message.value or b""
        try:
            if message.topic == self.settings.ticks_topic:
                work = self.processor.on_tick_bytes(partition, value)
                self.metrics.ticks.inc()
                return work
            work = self.processor.on_event(partition, message.key, value)
        except Exception as err:  # the processor's caches may be half-updated: rebuild them from the table
            self.processor.reset()
            logger.error("record %s/%d@%d failed (%s): dead-lettered", message.topic, partition, message.offset,
                         type(err).__name__)  # fmt: skip
            work = Work(partition, dead_letter=DeadLetter("processing_error", f"{type(err).__name__}"))
        self.positions[partition] = message.offset + 1
        self.metrics.events.labels(result=_result_of(work)).inc()
        if work.held:
            self.metrics.held.inc()
        return work

    async def publish(self, work: Work, message: Any) -> None:
        """Send what a record caused; returns once the broker holds every trigger and dead letter."""
        letters: list[tuple[bytes | None, bytes, list[tuple[str, bytes]], str]] = []
        source = f"{message.topic}/{message.partition}/{message.offset}".encode()
        if work.dead_letter is not None:
            value, size, digest = kept_raw(message.value or b"")
            headers = _letter_headers(work.dead_letter, source, size, digest)
            letters.append((message.key, value, headers, work.dead_letter.reason))
        for failure in work.failures:  # other customers whose timers raised: reverted, reported by their key
            letter = DeadLetter("processing_error", failure.error)
            letters.append((failure.customer_id.encode(), b"", _letter_headers(letter, source), letter.reason))
        if letters:
            sent = [await self.dead_letter.send(key=k, value=v, headers=h, force=True) for k, v, h, _ in letters]
            try:
                await asyncio.wait_for(asyncio.gather(*sent), self.settings.delivery_timeout)
            except Exception as err:  # timed out, or refused by the broker: never commit past it
                self._stop_uncommitted(message, f"dead letter not taken by the broker ({type(err).__name__})")
            for *_, reason in letters:
                self.metrics.dead_letters.labels(reason=reason).inc()
        deliveries: list[Awaitable[Any]] = []
        for output in work.outputs:
            deliveries.append(await self._send_output(output))
        triggers = [d for d, o in zip(deliveries, work.outputs, strict=True) if isinstance(o, Trigger | TriggerRevoked)]
        if triggers:
            try:
                await asyncio.wait_for(asyncio.gather(*triggers), self.settings.delivery_timeout)
            except TimeoutError:
                # Never save state or commit past triggers the broker has not taken. Exit at once,
                # like a SIGKILL: nothing is committed, and after a restart the redelivered record
                # recomputes the same triggers (same ids). A graceful stop could commit this offset.
                logger.critical("triggers of %s/%d@%d not acknowledged within %.0f s; exiting with code %d",
                                message.topic, message.partition, message.offset,
                                self.settings.delivery_timeout, DELIVERY_TIMEOUT_EXIT)  # fmt: skip
                logging.shutdown()
                os._exit(DELIVERY_TIMEOUT_EXIT)

    def _stop_uncommitted(self, message: Any, why: str) -> NoReturn:
        """Exit at once, like a SIGKILL: the record's offset is not committed, so it is retried, not lost."""
        logger.critical("record %s/%d@%d: %s; exiting with code %d without committing", message.topic,
                        message.partition, message.offset, why, RECORD_FAILED_EXIT)  # fmt: skip
        logging.shutdown()
        os._exit(RECORD_FAILED_EXIT)

    async def _send_output(self, output: Output) -> Awaitable[Any]:
        if isinstance(output, Trigger | TriggerRevoked):
            # The CRM's stream: triggers (holdout ones to their own topic) and revocations of sent ones.
            kind = "revoked" if isinstance(output, TriggerRevoked) else output.kind
            self.metrics.triggers.labels(moment=output.moment, kind=kind).inc()
            topic = self.holdout if output.holdout else self.actions
            return await topic.send(key=output.customer_id.encode(), value=encode(output, self.source_name),
                                    headers=kafka_headers(output), force=True)  # fmt: skip
        if isinstance(output, TriggerSuppressed):
            reason = output.reason if output.reason in POLICY_REASONS else "score_condition"
            self.metrics.suppressed.labels(moment=output.moment, reason=reason).inc()
        elif isinstance(output, TriggerDeferred):
            self.metrics.deferred.labels(moment=output.moment).inc()
        customer = getattr(output, "customer_id", None) or output.event.customer_id  # type: ignore[union-attr]
        value = output.model_dump_json().encode()
        return await self.audit.send(key=customer.encode(), value=value, headers=[("output", output.output.encode())],
                                     force=True)  # fmt: skip

    # -- clock and gauges ------------------------------------------------------------------
    async def tick(self) -> None:
        """Write a tick record with the (possibly compressed) wall clock to each owned partition."""
        value = encode_tick(self.clock.now_ms())
        for partition in sorted(self._owned()):
            await self.ticks.send(partition=partition, value=value)

    async def publish_models(self) -> None:
        """Write this worker's model snapshot to the compacted models topic (a restart loads the newest).

        A model with non-finite weights is never published: the newest good snapshot stays.
        """
        if self.engine.scorer is None:
            return
        try:
            snapshot = self.engine.scorer.snapshot()
        except PoisonedModelError as err:
            self.metrics.snapshots_refused.inc()
            logger.error("%s", err)
            return
        await self.models.send(key=b"snapshot", value=snapshot)

    async def update_gauges(self) -> None:
        """Refresh the gauges SREs alert on (cheap: counts kept by the processor)."""
        if self.engine.scorer is not None:
            for name, model in self.engine.scorer.models.items():
                self.metrics.count_model_skips(name, model.skipped + model.reverted)
                self.metrics.model_labels.labels(objective=name).set(model.learned)
                self.metrics.model_drifting.labels(objective=name).set(1 if model.drifting else 0)
                self.metrics.model_auc.labels(objective=name).set(model.quality()[0])
        self.metrics.customers.set(self.processor.customers_tracked())
        self.metrics.timers_pending.set(self.processor.timers_pending())
        self.metrics.ready.set(1 if self.is_ready() else 0)
        consumer = self.app.consumer if self.app._consumer is not None else None
        if consumer is None:
            return
        for partition in self._owned():
            highwater = consumer.highwater(TP(self.settings.touchpoints_topic, partition))
            if highwater is not None:
                lag = max(highwater - self.positions.get(partition, 0), 0)
                self.metrics.lag.labels(partition=str(partition)).set(lag)

    def _owned(self) -> set[int]:
        if self.app._consumer is None:
            return set()
        topic = self.settings.touchpoints_topic
        return {tp.partition for tp in self.app.consumer.assignment() if tp.topic == topic}

    def is_ready(self) -> bool:
        """Partitions assigned, state recovered, not in a rebalance, the agent not failing.

        Never raises: while Faust is still starting, parts it reads may not exist yet (then: not ready).
        """
        try:
            if self.failing or self.app._consumer is None or self.app.rebalancing:
                return False
            recovery = getattr(self.app.tables, "recovery", None)
            return bool(self._owned()) and recovery is not None and recovery.completed.is_set()
        except Exception:
            return False


def _dump_tasks() -> None:
    """Log every task with the whole chain of awaits it is suspended in."""
    buffer = io.StringIO()
    for task in asyncio.all_tasks():
        buffer.write(f"--- {task.get_name()}\n")
        awaiting: Any = task.get_coro()
        while awaiting is not None:
            frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "ag_frame", None)
            if frame is not None:
                buffer.write(f"    {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}\n")
            awaiting = getattr(awaiting, "cr_await", None) or getattr(awaiting, "ag_await", None)
    logger.warning("asyncio tasks on SIGUSR1:\n%s", buffer.getvalue())


def _letter_headers(
    letter: DeadLetter, source: bytes, size: int | None = None, digest: str | None = None
) -> list[tuple[str, bytes]]:
    """Dead-letter headers: the reason and error, where the record was, and for a truncated original its
    full size and SHA-256 (so it can be matched with the producer's copy)."""
    headers = [("momentstream.reason", letter.reason.encode()), ("momentstream.error", letter.error.encode()),
               ("momentstream.source", source)]  # fmt: skip
    if size is not None and digest is not None:
        headers += [("momentstream.truncated", b"true"), ("momentstream.original_size", str(size).encode()),
                    ("momentstream.original_sha256", digest.encode())]  # fmt: skip
    return headers


def _result_of(work: Work) -> str:
    """How a touchpoint record ended: processed, dead_lettered, duplicate or late."""
    if work.dead_letter is not None:
        return "dead_lettered"
    for output in work.outputs:
        if isinstance(output, DuplicateEvent):
            return "duplicate"
        if isinstance(output, LateEvent):
            return "late"
    return "processed"
