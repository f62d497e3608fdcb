"""The partitioned stream processor: the part of the Kafka runtime that does not know Kafka.

A Kafka worker owns some partitions of the touchpoints topic. For each record it calls
:meth:`StreamProcessor.on_event` (raw bytes in) or :meth:`StreamProcessor.on_tick` (a clock
record of the co-partitioned ticks topic), sends the outputs, waits for the broker to take
the triggers, and only then calls :meth:`StreamProcessor.save`. So a crash can lose a state
write but never a trigger: the event is redelivered, the old state recomputes the same
trigger (same id) and the CRM deduplicates it.

Time is per partition: the newest event time seen in it, or a tick's time if later. Every
record advances it and fires the due work of that partition's customers, exactly as the
replay runner does with its global clock, so both produce the same triggers.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from momentstream.core.clock import WakeupIndex, to_ms
from momentstream.core.engine import Engine
from momentstream.core.identity import MERGE_MAGIC, Handoff, IdentityError, MergeRecord, decode_merge
from momentstream.core.schema import EARLIEST_TS, LATEST_TS, Output, TouchpointEvent
from momentstream.core.state import NEVER, CustomerState, StateFormatError
from momentstream.ops.settings import WorkerSettings
from momentstream.runtime.guard import DEFAULT_MAX_SKEW_MS, SharedClock, confirmed_newest, error_text, output_customer
from momentstream.runtime.inputs import record_parser
from momentstream.runtime.kafka.stored import MAX_STORED_BYTES, decode_entry, encode_entry
from momentstream.runtime.sources import Refusal, parse_event

__all__ = ["DeadLetter", "DictTable", "Failure", "StateTable", "StreamProcessor", "Tick", "Work", "encode_tick"]

logger = logging.getLogger(__name__)

Parse = Callable[[bytes], TouchpointEvent | Refusal]

EARLIEST_MS, LATEST_MS = to_ms(EARLIEST_TS), to_ms(LATEST_TS)


class StateTable(Protocol):
    """Where customer states live: a Faust table in the worker, a dict in tests."""

    def get(self, key: bytes) -> bytes | None:
        """The stored value of a customer, if any."""

    def __setitem__(self, key: bytes, value: bytes) -> None:
        """Store a customer's value (a runtime also writes it to its changelog)."""

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        """Every stored customer of this worker."""

    def __delitem__(self, key: bytes) -> None:
        """Delete a customer's value (a runtime also writes a tombstone to its changelog)."""

    def __contains__(self, key: object) -> bool:
        """Whether a customer has a stored value."""


class DictTable(dict[bytes, bytes]):
    """An in-memory :class:`StateTable`, for tests and single-process use."""


REVERTING = frozenset({"processing_error", "identity_refused"})
"""Dead-letter reasons of records whose customer was reverted to its stored state."""


def _refusal_reason(err: Exception) -> str:
    """The dead-letter reason of a record the engine raised on (its customer is reverted either way)."""
    return "identity_refused" if isinstance(err, IdentityError) else "processing_error"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Why a record was refused; the runtime sends it on with the original bytes."""

    reason: str
    error: str


@dataclass(frozen=True, slots=True)
class Failure:
    """A customer whose due timers raised: reverted to its stored state and taken off the clock until its
    next event (so one bad customer cannot fail every record of its partition)."""

    customer_id: str
    error: str


@dataclass(frozen=True, slots=True)
class Tick:
    """A clock record: event time ``now_ms`` has been reached on this partition."""

    now_ms: int
    final: bool = False


def encode_tick(now_ms: int, final: bool = False) -> bytes:
    """The bytes of a tick record on the ticks topic.

    Examples
    --------
    >>> encode_tick(1_000, final=True)
    b'{"now_ms":1000,"final":true}'
    """
    return json.dumps({"now_ms": now_ms, "final": final}, separators=(",", ":")).encode()


@dataclass(slots=True)
class Work:
    """What one record caused: outputs to send, then states to :meth:`StreamProcessor.save`."""

    partition: int
    outputs: list[Output] = field(default_factory=list)
    changed: dict[str, CustomerState] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)
    evicted: int = 0
    """Customers of ``erased`` that were idle, not asked to be erased (counted for the metric)."""
    dead_letter: DeadLetter | None = None
    event: TouchpointEvent | None = None
    failures: list[Failure] = field(default_factory=list)
    """Other customers whose timers raised while this record ran (dead-lettered by customer key)."""
    encoded: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    """The stored value of each changed customer and its timer count, made before anything is sent."""
    held: bool = False
    """The event was further than max_skew ahead of the partition clock: processed, but time did not move."""
    handoffs: list[tuple[str, Handoff]] = field(default_factory=list)
    """Records for other customers (see :mod:`momentstream.core.identity`), with the customer that sent each; sent
    with the outputs, before the states are saved."""

    @property
    def reverted(self) -> bool:
        """A customer was reverted to its stored state while this work ran (see :meth:`StreamProcessor.seal`)."""
        return bool(self.failures) or (self.dead_letter is not None and self.dead_letter.reason in REVERTING)

    def absorb(self, later: Work) -> None:
        """Fold the unsealed work of a later record of the same partition into this one (a batch).

        The newest state of a customer wins; one erased in between is deleted before it is written again.
        """
        self.outputs.extend(later.outputs)
        self.handoffs.extend(later.handoffs)
        for customer_id in later.erased:
            self.changed.pop(customer_id, None)
            self.erased.add(customer_id)
        self.changed.update(later.changed)
        self.evicted += later.evicted
        self.failures.extend(later.failures)
        self.held = self.held or later.held


@dataclass(frozen=True, slots=True)
class _Record:
    """A record read and checked: a touchpoint event, or an alias's merge record for its canonical customer."""

    customer_id: str
    ts: int
    event: TouchpointEvent
    merge: MergeRecord | None = None

    @property
    def kind(self) -> str:
        return "event" if self.merge is None else "merge record"


def _read(key: bytes | None, value: bytes, parse: Parse = parse_event) -> _Record | DeadLetter:
    """Parse a record and check its key: partitioning by customer is what keeps a customer's records on one
    worker, in order (a merge record is keyed by the customer it merges into)."""
    if value.startswith(MERGE_MAGIC):
        try:
            merge = decode_merge(value)
        except IdentityError as err:
            return DeadLetter("invalid_merge", str(err))
        if key != merge.canonical_id.encode():
            return DeadLetter("key_mismatch", "a merge record's key must be its canonical_id")
        return _Record(merge.canonical_id, to_ms(merge.identify.ts), merge.identify, merge)
    event = parse(value)
    if isinstance(event, Refusal):
        return DeadLetter(event.reason, event.error)
    if key != event.customer_id.encode():
        reason = "missing_key" if key is None else "key_mismatch"
        return DeadLetter(reason, "record key must be the event's customer_id")
    return _Record(event.customer_id, to_ms(event.ts), event)


@dataclass(slots=True)
class _PartitionClock:
    shared: SharedClock
    wakeups: WakeupIndex = field(default_factory=WakeupIndex)
    customers: int = 0
    timers: dict[str, int] = field(default_factory=dict)
    timer_total: int = 0
    """The sum of ``timers``, kept as it changes: the gauge is read after every batch."""

    def set_timers(self, customer_id: str, count: int) -> None:
        """Record how many timers a customer holds now (0: none)."""
        before = self.timers.pop(customer_id, 0)
        if count:
            self.timers[customer_id] = count
        self.timer_total += count - before

    @property
    def now(self) -> int | None:
        """The partition's event time (see :class:`SharedClock`)."""
        return self.shared.now


class StreamProcessor:
    """Runs the engine for the partitions a worker owns, over a :class:`StateTable`.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from momentstream.patterns.dsl import Moment
    >>> m = (Moment("quiet").begin("signup", where={"type": "signup"})
    ...      .not_followed_by("nothing", where={"type": "login"}, for_="1h").compile())
    >>> table = DictTable()
    >>> proc = StreamProcessor(Engine([m]), table)
    >>> raw = b'{"event_id":"e1","customer_id":"c1","type":"signup","ts":"2026-01-05T09:00:00Z"}'
    >>> work = proc.on_event(0, b"c1", raw)
    >>> proc.save(work)
    >>> work = proc.on_tick(0, Tick(proc.engine.config.allowed_lateness_ms + 2 * 3_600_000
    ...                             + 1_767_603_600_000))
    >>> [(t.moment, t.kind) for t in work.outputs]
    [('quiet', 'match')]
    >>> proc.on_event(0, b"c2", b"not json").dead_letter.reason
    'invalid_json'
    """

    def __init__(
        self,
        engine: Engine,
        table: StateTable,
        cache_size: int = 50_000,
        max_skew_ms: int | None = DEFAULT_MAX_SKEW_MS,
        wall_clock: Callable[[], int] | None = None,
        parse: Parse = parse_event,
    ) -> None:
        self.engine = engine
        self.parse = parse
        """Bytes to event: our events by default, or Segment messages (``touchpoints_format``)."""
        self.table = table
        self.cache_size = cache_size
        self.max_skew_ms = max_skew_ms
        self.wall_clock = wall_clock
        self._partitions: dict[int, _PartitionClock] = {}
        self._cache: OrderedDict[str, CustomerState] = OrderedDict()
        self._unsaved: dict[str, CustomerState | None] = {}
        """States changed (None: erased) by work not yet saved: in a batch the table is behind, and the
        cache may have let them go."""

    @classmethod
    def for_worker(cls, engine: Engine, table: StateTable, settings: WorkerSettings,
                   wall_clock: Callable[[], int] | None) -> StreamProcessor:  # fmt: skip
        """The processor a worker runs with its settings (skew limit, the touchpoints topic's format)."""
        return cls(engine, table, max_skew_ms=settings.max_skew_ms, wall_clock=wall_clock,
                   parse=record_parser(settings.touchpoints_format))  # fmt: skip

    # -- records ---------------------------------------------------------------------------
    def on_event(self, partition: int, key: bytes | None, value: bytes, seal: bool = True) -> Work:
        """One touchpoint (or merge) record, in one pass: read, load, engine, outputs, then seal for :meth:`save`.

        A bad record comes back as a :class:`DeadLetter`, nothing else. If the engine raises on it, the
        customer is reverted to its stored state (so the record leaves no trace) and the record is
        dead-lettered with the error: it never escapes to stop the worker.

        With ``seal=False`` the changed states are not encoded yet: a batch folds the work of many
        records with :meth:`Work.absorb` and calls :meth:`seal` once, so a customer is encoded once.
        """
        work = Work(partition)
        record = _read(key, value, self.parse)
        if isinstance(record, DeadLetter):
            work.dead_letter = record
            return work
        customer_id = record.customer_id
        clock = self._clock(partition)
        work.event = record.event if record.merge is None else None  # a merge is no event of this customer
        try:
            state = self._load(partition, customer_id)
            step = self.engine.on_event(state, record.event) if record.merge is None else (
                self.engine.on_merge(state, record.merge))  # fmt: skip
        except Exception as err:  # a bug or an unforeseen input: this record only, never the worker
            self._revert(clock, customer_id, work)
            work.dead_letter = DeadLetter(_refusal_reason(err), error_text(err, customer_id))
            logger.error("%s refused on partition %d: %s (dead-lettered whole)", record.kind, partition,
                         type(err).__name__)  # fmt: skip
            return work
        work.outputs.extend(step.outputs)
        work.handoffs.extend((customer_id, handoff) for handoff in step.handoffs)
        if step.erase:
            self._forget(clock, customer_id, work)
            return work
        self._changed(work, customer_id, state)
        work.held = clock.shared.observe(record.ts, customer_id)
        clock.wakeups.update(customer_id, self.engine.next_wakeup(state))
        if clock.now is not None:
            self._fire_due(partition, clock, clock.now, False, work)
        return self.seal(work) if seal else work

    def on_tick(self, partition: int, tick: Tick, seal: bool = True) -> Work:
        """The clock reached ``tick.now_ms`` on this partition: fire what is due."""
        work = Work(partition)
        clock = self._clock(partition)
        now = clock.shared.tick(tick.now_ms)
        self._fire_due(partition, clock, now, tick.final, work)
        return self.seal(work) if seal else work

    def on_tick_bytes(self, partition: int, value: bytes, seal: bool = True) -> Work:
        """A tick record as it comes off the ticks topic."""
        try:
            doc = json.loads(value)
            tick = Tick(int(doc["now_ms"]), bool(doc.get("final", False)))
            if not EARLIEST_MS <= tick.now_ms < LATEST_MS:
                raise ValueError("tick time out of range")
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError):
            return Work(partition, dead_letter=DeadLetter("invalid_tick", 'expected {"now_ms": int, "final": bool}'))
        return self.on_tick(partition, tick, seal)

    def save(self, work: Work) -> None:
        """Write the states a record changed and delete the erased ones (after its outputs were sent)."""
        for customer_id in work.erased:
            self._unsaved.pop(customer_id, None)
            key = customer_id.encode()
            if key in self.table:
                del self.table[key]
        clock = self._partitions.get(work.partition)
        for customer_id, (value, timers) in work.encoded.items():
            self._unsaved.pop(customer_id, None)
            self.table[customer_id.encode()] = value
            if clock is not None:
                clock.set_timers(customer_id, timers)

    # -- rebalancing -----------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every partition's clock, index and cached states (call on any rebalance).

        The next record of a partition rebuilds its index from the table headers.
        """
        self._partitions.clear()
        self._cache.clear()
        self._unsaved.clear()

    def discard(self, work: Work) -> None:
        """Forget the unsaved effects of ``work`` on its partition: the customers it changed and the
        partition's clock come back from the table on the next record (a batch redone record by record)."""
        for customer_id in (*work.changed, *work.erased, *(f.customer_id for f in work.failures)):
            self._cache.pop(customer_id, None)
            self._unsaved.pop(customer_id, None)
        self._partitions.pop(work.partition, None)

    # -- gauges ----------------------------------------------------------------------------
    def customers_tracked(self) -> int:
        """Customers with stored state in the partitions this processor has indexed."""
        return sum(c.customers for c in self._partitions.values())

    def timers_pending(self) -> int:
        """Timers held by those customers."""
        return sum(c.timer_total for c in self._partitions.values())

    def partition_clocks(self) -> dict[int, int | None]:
        """Each indexed partition's event-time clock (ms)."""
        return {p: c.now for p, c in self._partitions.items()}

    # -- internals -------------------------------------------------------------------------
    def _clock(self, partition: int) -> _PartitionClock:
        clock = self._partitions.get(partition)
        if clock is None:
            clock = self._partitions[partition] = self._index(partition)
        return clock

    def _index(self, partition: int) -> _PartitionClock:
        """Rebuild a partition's wake-ups and counts from the stored headers."""
        clock = _PartitionClock(SharedClock(self.max_skew_ms, self.wall_clock))
        newest: list[int] = []
        for key, value in self._entries():
            try:
                entry = decode_entry(value)
            except StateFormatError:
                logger.error("unreadable stored state skipped while indexing partition %d", partition)
                continue
            if entry.partition != partition:
                continue
            customer_id = key.decode()
            clock.customers += 1
            clock.wakeups.update(customer_id, entry.wakeup)
            if entry.max_seen is not None and entry.max_seen > NEVER:
                newest.append(entry.max_seen)
            if entry.timers:
                clock.set_timers(customer_id, entry.timers)
        # The skew bound holds across restarts: one customer's far-future state does not set the clock.
        clock.shared.now = confirmed_newest(newest, self.max_skew_ms)
        clock.shared.confirmed = len(newest) > 1
        logger.info("partition %d: %d customers, %d with wake-ups", partition, clock.customers, len(clock.wakeups))
        return clock

    def _entries(self) -> Iterator[tuple[bytes, bytes]]:
        yield from self.table.items()

    def _load(self, partition: int, customer_id: str) -> CustomerState:
        state = self._cache.get(customer_id)
        if state is not None:
            self._cache.move_to_end(customer_id)
            return state
        unsaved = self._unsaved.get(customer_id, False)
        raw = None if unsaved is not False else self.table.get(customer_id.encode())
        if isinstance(unsaved, CustomerState):
            state = unsaved
        elif raw is None:
            state = self.engine.new_state(customer_id)
            self._partitions[partition].customers += 1
        else:
            state = decode_entry(raw).state()
        self._cache[customer_id] = state
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return state

    def _forget(self, clock: _PartitionClock, customer_id: str, work: Work) -> None:
        """Drop every in-memory trace of an erased (or evicted) customer; :meth:`save` deletes the stored one."""
        self._cache.pop(customer_id, None)
        self._unsaved[customer_id] = None
        clock.wakeups.update(customer_id, None)
        clock.set_timers(customer_id, 0)
        work.changed.pop(customer_id, None)
        work.erased.add(customer_id)
        clock.customers = max(clock.customers - 1, 0)  # _load counted it, stored or new

    def _revert(self, clock: _PartitionClock, customer_id: str, work: Work) -> None:
        """Undo what this record did to a customer: the stored value is its state before the record.

        The customer also leaves the clock until its next event, so a timer that raises cannot
        fail every later record of the partition.
        """
        self._cache.pop(customer_id, None)
        self._unsaved.pop(customer_id, None)
        work.changed.pop(customer_id, None)
        work.erased.discard(customer_id)
        if customer_id.encode() not in self.table:  # a new customer: _load counted it, nothing was stored
            clock.customers = max(clock.customers - 1, 0)
        work.outputs = [o for o in work.outputs if output_customer(o) != customer_id]
        work.handoffs = [h for h in work.handoffs if h[0] != customer_id]
        clock.wakeups.update(customer_id, None)

    def _fail(self, clock: _PartitionClock, customer_id: str, err: Exception, work: Work) -> None:
        self._revert(clock, customer_id, work)
        if work.event is not None and work.event.customer_id == customer_id:
            work.dead_letter = DeadLetter("processing_error", error_text(err, customer_id))
            work.event = None
        else:
            work.failures.append(Failure(customer_id, error_text(err, customer_id)))
        logger.error("processing error in due timers on partition %d: %s (customer reverted)", work.partition,
                     type(err).__name__)  # fmt: skip

    def seal(self, work: Work) -> Work:
        """Encode the changed states now, before anything is sent: a state that cannot be stored (over
        :data:`MAX_STORED_BYTES`, or not encodable) fails its customer here instead of the worker later."""
        clock = self._partitions.get(work.partition)
        for customer_id, state in list(work.changed.items()):
            try:
                value = encode_entry(work.partition, self.engine.next_wakeup(state), state)
                if len(value) > MAX_STORED_BYTES:
                    raise OverflowError(f"customer state of {len(value):,} bytes is over the "
                                        f"{MAX_STORED_BYTES:,}-byte limit")  # fmt: skip
            except Exception as err:
                if clock is not None:
                    self._fail(clock, customer_id, err, work)
                continue
            work.encoded[customer_id] = (value, len(state.timers))
        return work

    def _changed(self, work: Work, customer_id: str, state: CustomerState) -> None:
        work.changed[customer_id] = state
        self._unsaved[customer_id] = state

    def _fire_due(self, partition: int, clock: _PartitionClock, now: int, final: bool, work: Work) -> None:
        engine = self.engine
        horizon = now + engine.config.allowed_lateness_ms + 1 if final else now
        while True:
            due = clock.wakeups.pop_due(horizon)
            if not due:
                return
            for customer_id in due:
                try:
                    state = work.changed.get(customer_id) or self._load(partition, customer_id)
                    step = engine.on_tick(state, now, final)
                except Exception as err:  # isolate the customer; the partition's clock goes on
                    self._fail(clock, customer_id, err, work)
                    continue
                work.outputs.extend(step.outputs)
                if step.evict:
                    self._forget(clock, customer_id, work)
                    work.evicted += 1
                    continue
                self._changed(work, customer_id, state)
                clock.wakeups.update(customer_id, engine.next_wakeup(state))
