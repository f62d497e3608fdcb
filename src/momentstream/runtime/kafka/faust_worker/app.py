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
import urllib.parse
from collections.abc import Awaitable
from typing import Any, NoReturn

import faust
from faust.types import TP
from faust.types.auth import CredentialsT

from momentstream.core.clock import parse_instant
from momentstream.core.engine import Engine
from momentstream.core.schema import Trigger
from momentstream.ops.kafka_connection import KafkaConnection
from momentstream.ops.metrics import CONTENT_TYPE, WorkerMetrics
from momentstream.ops.settings import WorkerSettings
from momentstream.runtime.kafka.faust_worker.producer_flush import BoundedFlush
from momentstream.runtime.kafka.faust_worker.resume_after_seek import ResumeAfterSeek
from momentstream.runtime.kafka.inspect_page import PREFIX, InspectPage
from momentstream.runtime.kafka.model_gauges import publishable_snapshot, refresh_model_gauges
from momentstream.runtime.kafka.moment_registry import RolloutWatcher, reload_moments
from momentstream.runtime.kafka.processor import DeadLetter, StreamProcessor, Work, encode_tick
from momentstream.runtime.kafka.routing import (
    Outgoing,
    dead_letters,
    precreate_series,
    result_of,
    route_handoff,
    route_output,
)
from momentstream.runtime.kafka.wallclock import WallClock

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

    def __init__(self, settings: WorkerSettings, engine: Engine, metrics: WorkerMetrics | None = None,
                 rollouts: RolloutWatcher | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.engine = engine
        self.metrics = metrics or WorkerMetrics()
        precreate_series(self.metrics, engine)
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
        self.touchpoints = self.app.topic(settings.touchpoints_topic, **raw)  # for handoffs to other customers
        sends = (self.actions, self.holdout, self.audit, self.dead_letter, self.touchpoints)
        self._topics = {t.get_topic_name(): t for t in sends}
        self.table = self.app.Table(
            TABLE_NAME, default=None, partitions=settings.partitions, key_type=bytes, value_type=bytes
        )
        self._reload_requested = False
        self.rollouts = rollouts
        """Notices files published by ``momentstream rollout``, checked with the gauges (every 5 s)."""
        self.failing = False
        """Set when the agent raised (Faust restarts it); /readyz answers 503 until a record completes."""
        self._busy_since: float | None = None
        """When the record in the agent started (monotonic), None between records (see the heartbeat)."""
        origin = None if settings.clock_origin is None else parse_instant(settings.clock_origin)
        self.clock = WallClock(settings.clock_speed, origin, settings.clock_origin_wall)
        wall = self.clock.now_ms if settings.clock == "wall" else None
        self.processor = StreamProcessor.for_worker(engine, self.table, settings, wall)
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
            broker_credentials=faust_credentials(s.kafka),
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
            # Faust's own pages show topics, routing and table contents to anyone who can reach the port.
            web_router_enabled=False,
            web_tables_enabled=False,
            web_stats_enabled=False,
            web_graph_enabled=False,
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

        @app.timer(interval=1.0, name="momentstream.heartbeat")  # type: ignore[untyped-decorator]
        async def heartbeat() -> None:
            """Idle is alive; a record in the agent for longer than heartbeat_timeout is not (no beat)."""
            if self._busy_since is None:
                self.metrics.beat()

        @app.page("/healthz")
        async def healthz(web: Any, request: Any) -> Any:
            age = self.metrics.loop_age()
            if age > self.settings.heartbeat_timeout_s:
                return web.json({"status": "stalled", "seconds_since_heartbeat": round(age, 1)}, status=503)
            return web.json({"status": "ok"})

        @app.page("/readyz")
        async def readyz(web: Any, request: Any) -> Any:
            ready = self.is_ready()
            return web.json({"ready": ready, "partitions": sorted(self._owned())}, status=200 if ready else 503)

        inspect = InspectPage(self.settings.inspect_token, self.engine, lambda c: self.table.get(c.encode()),
                              lambda: sorted(self._owned()), self.metrics)  # fmt: skip

        @app.page(PREFIX + "{customer_id}")
        async def customer(web: Any, request: Any, customer_id: str) -> Any:
            path = PREFIX + urllib.parse.quote(customer_id, safe="")  # the route gave it decoded
            status, body, content_type = inspect.handle(path, request.headers.get("Authorization"))
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return web.bytes(body, content_type=content_type, status=status, headers=headers)

    # -- records ---------------------------------------------------------------------------
    async def handle(self, message: Any) -> None:
        """Process one record of either source topic.

        A record either completes (outputs sent, state saved) or is dead-lettered with its error.
        If even that fails, the worker exits at once without committing the record's offset.
        """
        started = time.perf_counter()
        self._busy_since = time.monotonic()
        try:
            work = self._process(message)
            await self.publish(work, message)
            self.processor.save(work)
        except Exception as err:
            self._stop_uncommitted(message, f"{type(err).__name__} while handling the record")
        self.failing = False
        self._busy_since = None
        self.metrics.beat()
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
        self.metrics.events.labels(result=result_of(work)).inc()
        if work.held:
            self.metrics.held.inc()
        return work

    async def publish(self, work: Work, message: Any) -> None:
        """Send what a record caused; returns once the broker holds every trigger and dead letter."""
        source = f"{message.topic}/{message.partition}/{message.offset}".encode()
        letters = dead_letters(work, message.key, message.value or b"", source, self.settings.dead_letter_topic)
        if letters:
            sent = [await self._send(letter) for letter in letters]
            try:
                await asyncio.wait_for(asyncio.gather(*sent), self.settings.delivery_timeout)
            except Exception as err:  # timed out, or refused by the broker: never commit past it
                self._stop_uncommitted(message, f"dead letter not taken by the broker ({type(err).__name__})")
            for letter in letters:
                self.metrics.dead_letters.labels(reason=dict(letter.headers)["momentstream.reason"].decode()).inc()
        outgoing = [route_output(o, self.settings, self.metrics, self.source_name) for o in work.outputs]
        outgoing += [route_handoff(h, self.settings, self.metrics) for _, h in work.handoffs]
        deliveries = [await self._send(record) for record in outgoing]
        triggers = [d for d, record in zip(deliveries, outgoing, strict=True) if record.must_arrive]
        if triggers:
            try:
                await asyncio.wait_for(asyncio.gather(*triggers), self.settings.delivery_timeout)
                if message.topic != self.settings.ticks_topic and message.timestamp:
                    latency = max(time.time() - float(message.timestamp), 0.0)
                    for _ in range(sum(isinstance(o, Trigger) for o in work.outputs)):
                        self.metrics.trigger_latency.observe(latency)
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

    async def _send(self, record: Outgoing) -> Awaitable[Any]:
        topic = self._topics[record.topic]
        return await topic.send(key=record.key, value=record.value, headers=record.headers, force=True)

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
        snapshot = publishable_snapshot(self.engine, self.metrics)
        if snapshot is None:
            return
        await self.models.send(key=b"snapshot", value=snapshot)

    def request_reload(self, signum: int, frame: Any) -> None:
        """SIGHUP: reload the moments file at the next gauges tick, between records (see ``reload_moments``)."""
        logger.warning("SIGHUP: reloading the moments file between records")
        self._reload_requested = True

    async def update_gauges(self) -> None:
        """Refresh the gauges SREs alert on (cheap: counts kept by the processor); apply a requested reload."""
        if self._reload_requested:  # on the event loop, so no record is half-way through the engine
            self._reload_requested = False
            reload_moments(self.settings, self.engine, self.metrics)
        rolled_out = self.rollouts.newest_file() if self.rollouts is not None else None
        if rolled_out is not None:
            reload_moments(self.settings, self.engine, self.metrics, rolled_out)
        refresh_model_gauges(self.engine, self.metrics)
        self.metrics.customers.set(self.processor.customers_tracked())
        self.metrics.timers_pending.set(self.processor.timers_pending())
        self.metrics.ready.set(1 if self.is_ready() else 0)
        consumer = self.app.consumer if self.app._consumer is not None else None
        if consumer is None:
            return
        owned = self._owned()
        lags = {}
        for partition in owned:
            highwater = consumer.highwater(TP(self.settings.touchpoints_topic, partition))
            if highwater is not None:
                lags[partition] = max(highwater - self.positions.get(partition, 0), 0)
        self.metrics.set_lag(lags, owned)

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


def faust_credentials(kafka: KafkaConnection) -> CredentialsT | None:
    """The same security the batch runtime uses, in Faust's terms (aiokafka underneath)."""
    context = kafka.ssl_context()
    if kafka.uses_sasl:
        return faust.SASLCredentials(username=kafka.sasl_username, mechanism=kafka.sasl_mechanism, ssl_context=context,
                                     password=None if kafka.sasl_password is None
                                     else kafka.sasl_password.get_secret_value())  # fmt: skip
    return None if context is None else faust.SSLCredentials(context)
