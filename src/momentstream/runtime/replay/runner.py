"""The embedded replay runner: events in (a file or an iterator), outputs out, in event time.

The runner owns a global clock (the newest event time seen) and a :class:`WakeupIndex`;
as the clock advances it ticks exactly the customers whose buffered events or timers are
due, so a window opens 19 h after a purchase even if that customer never writes again.
It is also how the engine's semantics are tested and benchmarked.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from momentstream.core.clock import WakeupIndex, to_ms
from momentstream.core.engine import Engine
from momentstream.core.events import ms_to_datetime
from momentstream.core.identity import Forward, Handoff, IdentityError, MergeRecord
from momentstream.core.schema import (
    DuplicateEvent,
    FeedbackUnmatched,
    IdentityMerged,
    LateEvent,
    Output,
    ShadowTrigger,
    TouchpointEvent,
    Trigger,
    TriggerOutcome,
    TriggerRevoked,
    WindowCancelled,
)
from momentstream.core.state import CustomerState
from momentstream.runtime.guard import DEFAULT_MAX_SKEW_MS, SharedClock, error_text
from momentstream.runtime.inputs import InputFormat, read_input
from momentstream.runtime.progress import Progress
from momentstream.runtime.replay.time_order import TimeOrder
from momentstream.runtime.sources import Refusal, Reject

__all__ = ["DRAIN", "EventRefusedError", "ReplayRunner", "ReplaySummary", "replay_file"]

logger = logging.getLogger(__name__)

DRAIN = 2**62
"""A clock time past every timer: ``finish(DRAIN)`` fires everything still pending."""


class EventRefusedError(ValueError):
    """The engine failed on an event: the runner reset its customer and did not take it."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"{refusal.reason}: {refusal.error}")
        self.refusal = refusal

    def reject(self, number: int, event: TouchpointEvent) -> Reject:
        """The rejects-file record of the refused ``event`` read at line ``number``."""
        return Reject(number, self.refusal.error, event.model_dump_json(exclude_defaults=True), self.refusal.reason)


@dataclass(slots=True)
class ReplaySummary:
    """Counts of what a replay read and produced."""

    lines: int = 0
    events: int = 0
    rejected: int = 0
    duplicates: int = 0
    late: int = 0
    cancelled: int = 0
    triggers: Counter[tuple[str, str]] = field(default_factory=Counter)
    holdout: int = 0
    held: int = 0
    """Events too far ahead of the clock to move it (processed for their own customer)."""
    customers: int = 0
    """Customers with state at the end (those evicted for idleness are counted in ``evicted``)."""
    evicted: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    """Outcome windows closed, by group (treated, control) and ``converted``; ``unmatched`` feedback."""
    shadow: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Triggers of shadow moments by (moment, kind): in the audit output only."""
    merged: int = 0
    """Alias ids whose state was taken into their customer (identify events)."""
    first_reject: Reject | None = None
    """The first line refused, to quote when none was valid."""

    def count(self, output: Output) -> None:
        """Tally one output."""
        if isinstance(output, Trigger):
            self.triggers[(output.moment, output.kind)] += 1
            self.holdout += output.holdout
        elif isinstance(output, DuplicateEvent):
            self.duplicates += 1
        elif isinstance(output, LateEvent):
            self.late += 1
        elif isinstance(output, WindowCancelled):
            self.cancelled += 1
        elif isinstance(output, TriggerOutcome):
            self.outcomes[output.group] += 1
            self.outcomes["converted"] += output.converted
        elif isinstance(output, FeedbackUnmatched):
            self.outcomes["unmatched"] += 1
        elif isinstance(output, ShadowTrigger):
            self.shadow[(output.moment, output.trigger.kind)] += 1
        elif isinstance(output, IdentityMerged):
            self.merged += 1

    def add(self, other: ReplaySummary) -> None:
        """Merge the summary of another part of the same history (a Spark partition's), counts only."""
        for name in ("lines", "events", "rejected", "duplicates", "late", "cancelled", "holdout", "held",
                     "customers", "evicted", "merged"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.triggers.update(other.triggers)
        self.outcomes.update(other.outcomes)
        self.shadow.update(other.shadow)
        self.first_reject = self.first_reject or other.first_reject

    @property
    def trigger_total(self) -> int:
        """All triggers of every moment and kind."""
        return sum(self.triggers.values())


class ReplayRunner:
    """Feeds events through an :class:`Engine` with a global event-time clock.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from momentstream.patterns.dsl import Moment
    >>> m = (Moment("quiet_after_signup").begin("signup", where={"type": "signup"})
    ...      .not_followed_by("nothing", where={"type": "login"}, for_="2d").compile())
    >>> runner = ReplayRunner(Engine([m]))
    >>> t0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> ev = lambda i, c, kind, days: TouchpointEvent(event_id=i, customer_id=c, type=kind,
    ...                                               ts=t0 + timedelta(days=days))
    >>> outs = list(runner.run([ev("1", "a", "signup", 0), ev("2", "b", "signup", 0),
    ...                         ev("3", "b", "login", 1), ev("4", "c", "page_view", 5)]))
    >>> [(o.customer_id, o.emitted_at.date().isoformat()) for o in outs if isinstance(o, Trigger)]
    [('a', '2026-01-07')]
    """

    def __init__(self, engine: Engine, max_skew_ms: int | None = DEFAULT_MAX_SKEW_MS) -> None:
        self.engine = engine
        self.shared = SharedClock(max_skew_ms)
        self.states: dict[str, CustomerState] = {}
        self.wakeups = WakeupIndex()
        self.held = 0
        """Events further than the skew bound ahead of the clock: processed, but time did not move."""
        self.evicted = 0
        """Customers forgotten after ``idle_ttl_ms`` of silence with nothing pending."""
        self.failures: list[tuple[str, str]] = []
        """Customers whose due timers raised, with the error: they were reset (see :meth:`tick`)."""
        self.refused: list[tuple[TouchpointEvent, Refusal]] = []
        """Events :meth:`run` did not take (``feed`` raises :class:`EventRefusedError` for them instead)."""

    def feed(self, event: TouchpointEvent) -> list[Output]:
        """Process one event in arrival order; returns everything it (and the clock) caused.

        An event more than the skew bound ahead of the clock is held (see :class:`SharedClock`).
        If the engine raises on the event, the customer is reset (the replay runner keeps no stored
        copy to revert to; the worker reverts to its stored state) and :class:`EventRefusedError`
        is raised with the error.
        """
        state = self.states.get(event.customer_id)
        if state is None:
            state = self.states[event.customer_id] = self.engine.new_state(event.customer_id)
        try:
            step = self.engine.on_event(state, event)
        except IdentityError as err:  # refused before any change: the customer stays as it was
            raise EventRefusedError(Refusal("identity_refused", error_text(err, event.customer_id))) from None
        except Exception as err:
            self._reset(event.customer_id)
            raise EventRefusedError(Refusal("processing_error", error_text(err, event.customer_id))) from None
        outputs = step.outputs
        if step.erase:
            del self.states[event.customer_id]
            self.wakeups.update(event.customer_id, None)
        else:
            self.wakeups.update(event.customer_id, self.engine.next_wakeup(state))
            self.held += self.shared.observe(to_ms(event.ts), event.customer_id)
        if step.handoffs:
            outputs.extend(self._deliver(step.handoffs))
        now = self.shared.now
        if now is not None and not step.erase:
            due = self._fire_due(now)
            if due:
                outputs.extend(due)
        return outputs

    def _merge(self, record: MergeRecord) -> list[Output]:
        """An alias's state reaches its canonical customer (see :mod:`momentstream.core.identity`)."""
        customer_id = record.canonical_id
        state = self.states.get(customer_id)
        if state is None:
            state = self.states[customer_id] = self.engine.new_state(customer_id)
        try:
            step = self.engine.on_merge(state, record)
        except IdentityError as err:
            raise EventRefusedError(Refusal("identity_refused", error_text(err, customer_id))) from None
        except Exception as err:
            self._reset(customer_id)
            raise EventRefusedError(Refusal("processing_error", error_text(err, customer_id))) from None
        self.wakeups.update(customer_id, self.engine.next_wakeup(state))
        return step.outputs + self._deliver(step.handoffs)

    def _deliver(self, handoffs: tuple[Handoff, ...]) -> list[Output]:
        """Records for other customers, at once (on Kafka they take one trip through the touchpoints topic)."""
        outputs: list[Output] = []
        for handoff in handoffs:
            outputs.extend(self.feed(handoff.event) if isinstance(handoff, Forward) else self._merge(handoff))
        return outputs

    @property
    def clock(self) -> int | None:
        """The replay's event time: the newest event time seen, or tick (see :class:`SharedClock`)."""
        return self.shared.now

    def tick(self, now: int, final: bool = False) -> list[Output]:
        """A tick: advance the clock to ``now`` for every customer with due work."""
        self.shared.tick(now)
        return self._fire_due(now, final)

    def _fire_due(self, now: int, final: bool = False) -> list[Output]:
        """Run every customer whose timers or held events are due at ``now``."""
        outputs: list[Output] = []
        engine, states, wakeups = self.engine, self.states, self.wakeups
        horizon = now + engine.config.allowed_lateness_ms + 1 if final else now
        while True:
            due = wakeups.pop_due(horizon)
            if not due:
                return outputs
            for customer_id in due:
                state = states[customer_id]
                try:
                    step = engine.on_tick(state, now, final)
                except Exception as err:  # isolate the customer; everyone else's timers go on
                    self._reset(customer_id)
                    self.failures.append((customer_id, error_text(err, customer_id)))
                    logger.error("processing error in a customer's due timers: %s (customer reset)",
                                 type(err).__name__)  # fmt: skip
                    continue
                if step.outputs:
                    outputs.extend(step.outputs)
                if step.evict:
                    del states[customer_id]
                    self.evicted += 1
                    continue
                wakeups.update(customer_id, engine.next_wakeup(state))

    def failure_rejects(self, number: int) -> list[Reject]:
        """Customers whose due timers raised (they were reset), each a reject at line ``number``, never dropped
        silently; the list of failures is emptied."""
        rejects = [Reject(number, error, json.dumps({"customer_id": customer_id}), "processing_error")
                   for customer_id, error in self.failures]  # fmt: skip
        self.failures.clear()
        return rejects

    def _reset(self, customer_id: str) -> None:
        self.states.pop(customer_id, None)
        self.wakeups.update(customer_id, None)

    def whereabouts(self) -> str:
        """How far the history's clock has come and the labels learned so far, for a progress line: a scoring
        replay slows where many labels come due, not because anything leaks."""
        at = "" if self.clock is None else f"at {ms_to_datetime(self.clock):%Y-%m-%d}"
        scorer = self.engine.scorer
        learned = sum(m.learned for m in scorer.models.values()) if scorer is not None else 0
        return f"{at}, {learned:,} labels learned" if learned else at

    def finish(self, until: int | None = None) -> list[Output]:
        """End of input: release held events and fire timers up to ``until`` (default: the clock)."""
        if until is None:
            if self.clock is None:
                return []
            until = self.clock
        return self.tick(until, final=True)

    def run(self, events: Iterable[TouchpointEvent], until: int | None = None) -> Iterator[Output]:
        """Feed every event, then :meth:`finish`; yields outputs as they happen (refusals go to ``refused``)."""
        for event in events:
            try:
                yield from self.feed(event)
            except EventRefusedError as refused:
                logger.warning("event refused: %s", refused.refusal.reason)
                self.refused.append((event, refused.refusal))
        yield from self.finish(until)


def replay_file(
    source: str | Path,
    engine: Engine,
    triggers_out: IO[str],
    *,
    audit_out: IO[str] | None = None,
    rejects_out: IO[str] | None = None,
    holdout_out: IO[str] | None = None,
    order: Literal["time", "file"] = "time",
    until: int | None = None,
    progress: bool = True,
    max_skew_ms: int | None = DEFAULT_MAX_SKEW_MS,
    input_format: InputFormat | None = None,
    on_types: Callable[[Counter[str]], None] | None = None,
    spill_dir: Path | None = None,
) -> ReplaySummary:
    """Replay a JSON-lines file: triggers to ``triggers_out``; late, duplicate and cancelled
    records to ``audit_out``; malformed lines (with line number and reason) to ``rejects_out``;
    triggers of holdout customers to ``holdout_out`` (without one they stay in ``triggers_out``,
    marked ``"holdout": true``: never dropped).

    ``order="time"`` sorts valid events by event time first (stable, so ties keep file
    order); ``order="file"`` streams them as they arrive, as Kafka would deliver them.
    In time order a history larger than :data:`~momentstream.runtime.replay.time_order.RUN_EVENTS` events is
    sorted in runs spilled to ``spill_dir`` (default: the system's temporary directory), so memory follows the
    customers, not the history's length.

    ``on_types`` is told the event types read (and how many of each) before the first event runs in time
    order, at the end in file order: the moment to say that some moment can never fire.
    """
    started = time.perf_counter()
    summary = ReplaySummary()
    runner = ReplayRunner(engine, max_skew_ms)

    def reject(item: Reject) -> None:
        summary.rejected += 1
        if summary.first_reject is None:
            summary.first_reject = item
        if rejects_out is not None:
            rejects_out.write(json.dumps(item.to_json()) + "\n")

    def emit(outputs: list[Output]) -> None:
        for output in outputs:
            summary.count(output)
            if isinstance(output, Trigger | TriggerRevoked):  # the CRM's stream, and cancellations of what was sent
                out = holdout_out if output.holdout and holdout_out is not None else triggers_out
                out.write(output.model_dump_json() + "\n")
            elif audit_out is not None:
                audit_out.write(output.model_dump_json() + "\n")

    def valid_events() -> Iterator[tuple[TouchpointEvent, int]]:
        for number, item in read_input(source, input_format):
            summary.lines = number
            if isinstance(item, Reject):
                reject(item)
            else:
                yield item, number

    def report_failures(number: int) -> None:
        for failed in runner.failure_rejects(number):
            reject(failed)

    with TimeOrder(directory=spill_dir) as ordered:
        events: Iterable[tuple[TouchpointEvent, int]] = valid_events()
        types: Counter[str] = Counter()
        total = None
        if order == "time":  # sorted runs spilled to disk past one run's size: memory follows customers
            ordered.take(events)
            events, types, total = ordered, ordered.types, ordered.total
            if on_types is not None:
                on_types(types)
        meter = Progress("replay", total, enabled=progress, detail=runner.whereabouts)
        for event, number in events:
            if order == "file":
                types[event.type] += 1
            try:
                emit(runner.feed(event))
                summary.events += 1
            except EventRefusedError as refused:
                reject(refused.reject(number, event))
            if runner.failures:
                report_failures(number)
            if summary.events % 4096 == 0:
                meter.update(summary.events)
    emit(runner.finish(until))
    report_failures(summary.lines)
    if order == "file" and on_types is not None:
        on_types(types)
    meter.finish(summary.events)
    summary.customers = len(runner.states)
    summary.held = runner.held
    summary.evicted = runner.evicted
    summary.seconds = time.perf_counter() - started
    return summary
