"""The engine: one customer's state plus one event or clock tick in, new state and outputs out.

This is the only place that orders the work. Events wait in a small per-customer buffer
until the customer's watermark (latest event time seen, or the tick's time, minus the
allowed lateness) passes them; then buffered events and due timers run in time order
(an event before a timer at the same instant). An event older than what the customer has
already processed is reported as late, never silently dropped.

The engine holds only compiled, immutable configuration; it does no I/O, and the same input
gives the same outputs, which is what lets the replay runner and the Kafka runtime agree.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from momentstream.core.clock import Timer, is_due, to_ms
from momentstream.core.engine_config import EngineConfig, config_warnings
from momentstream.core.identity.steps import IdentitySteps
from momentstream.core.schema import (
    ERASURE_EVENT_TYPE,
    FEEDBACK_EVENT_TYPE,
    IDENTIFY_EVENT_TYPE,
    DuplicateEvent,
    LateEvent,
    Output,
    Reason,
    Score,
    ShadowTrigger,
    TouchpointEvent,
    Trigger,
    TriggerRevoked,
    Why,
    ms_to_datetime,
)
from momentstream.core.state import CustomerState
from momentstream.core.state_budget import keep_within_budget, should_measure
from momentstream.core.step import IDLE_OWNER, IDLE_TIMER, Step
from momentstream.models.objectives import ObjectivesError, ObjectiveSet
from momentstream.models.scorer import LABEL_TIMER, RESCORE_TIMER, Scorer
from momentstream.patterns import nfa, windows
from momentstream.patterns.dsl import load_moments
from momentstream.patterns.nfa import CompiledMoment, StepOutcome
from momentstream.patterns.windows import WindowEvent
from momentstream.triggers.consent import CONSENT_GRANTED, CONSENT_TYPES, apply_consent
from momentstream.triggers.delivery import DEFER_TIMER, Delivery, suppressed
from momentstream.triggers.emit import cancelled_record, match_trigger, window_trigger
from momentstream.triggers.loop import LOOP_TIMER, Loop
from momentstream.triggers.policy import POLICY_REASONS
from momentstream.triggers.sequences import SEQUENCE_TIMER, Sequences

__all__ = ["POLICY_REASONS", "Engine", "EngineConfig", "Step"]

logger = logging.getLogger(__name__)


class Engine(IdentitySteps):
    """Runs compiled moments over customers' events.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from momentstream.patterns.dsl import Moment
    >>> moment = (Moment("second_purchase").begin("first", where={"type": "purchase"})
    ...           .followed_by("second", where={"type": "purchase"}, within="30d").compile())
    >>> engine = Engine([moment], EngineConfig(allowed_lateness_ms=0))
    >>> state = engine.new_state("c1")
    >>> t0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> outs = []
    >>> for i in range(2):
    ...     ev = TouchpointEvent(event_id=f"e{i}", customer_id="c1", type="purchase",
    ...                          ts=t0 + timedelta(days=i))
    ...     outs += engine.on_event(state, ev).outputs
    >>> [(o.kind, [e.event_id for e in o.evidence]) for o in outs]
    [('match', ['e0', 'e1'])]
    """

    def __init__(
        self, moments: Iterable[CompiledMoment], config: EngineConfig | None = None, scorer: Scorer | None = None
    ) -> None:
        self.moments = tuple(moments)
        self.config = config or EngineConfig()
        self.scorer = scorer
        self._reset()

    def drop_models(self) -> None:
        """Run without the objectives' models, before the first event: a replay none of whose moments can fire
        on its history would only pay for models nobody reads (the loop's own models stay)."""
        self.scorer = None
        self._reset()

    def _reset(self) -> None:
        names = [m.name for m in self.moments]
        if len(set(names)) != len(names):
            raise ValueError(f"moment names must be unique, got {names}")
        if self.scorer is None and any(m.spec.loop.learns for m in self.moments):
            self.scorer = Scorer(ObjectiveSet((), ()))  # features for the uplift models and bandits
        if self.scorer is not None:
            self.scorer.add_loop_models(self.moments)
            self.scorer.silence_limit_ms = self.config.idle_ttl_ms  # sampling stops where forgetting starts
            unknown = sorted(set(self.scorer.config.bindings) - set(names))
            if unknown:
                message = f"no moment named {unknown[0]!r} in the moments file (moments: {', '.join(names)})"
                raise ObjectivesError(message, moment=unknown[0], field=f"moments.{unknown[0]}")
        self.warnings = config_warnings(self.moments, self.config)
        """Settings that work but probably not as meant; runtimes log them and ``check`` prints them."""
        for warning in self.warnings:
            logger.warning("%s", warning)
        self._by_name = {m.name: m for m in self.moments}
        self._untyped = tuple(m for m in self.moments if m.relevant_types is None)
        types = {t for m in self.moments for t in (m.relevant_types or ())}
        self._by_type = {
            t: tuple(m for m in self.moments if m.relevant_types is None or t in m.relevant_types) for t in types
        }
        nexts = [m for m in self.moments if m.has_next]
        self._next_others = {t: _others(nexts, found) for t, found in self._by_type.items()}
        """Per event type, the moments with strict contiguity it does not touch: their partial matches still
        see it (it breaks a ``next``), found by identity once here rather than compared per event."""
        self._next_untyped = _others(nexts, self._untyped)
        self._shadows = {m.name: m.spec.compare_to for m in self.moments if m.spec.mode == "shadow"}
        """Shadow moments and the live moment each may replace (None: none named)."""
        self.delivery = Delivery(self.moments)
        self.loop = Loop(self.moments, self.scorer)
        self.sequences = Sequences(self.moments, self.delivery, self.loop, self.scorer)
        self.policy = self.delivery.policy
        self._pending: list[Trigger] = []
        """Triggers fired at the current instant, decided together in priority order."""
        self._evicting = False

    def replace_moments(self, moments: Iterable[CompiledMoment]) -> None:
        """Run these moments from now on (a live reload). Customers keep the progress of moments whose name and
        version stay; a new version starts afresh when its customer is next seen. On an error nothing changes.

        Check the change with :func:`momentstream.patterns.rollout.plan_rollout` first: this method trusts it.
        """
        before = self.moments
        self.moments = tuple(moments)
        try:
            self._reset()
        except Exception:
            self.moments = before
            self._reset()
            raise

    @classmethod
    def from_file(cls, path: str | Path, config: EngineConfig | None = None) -> Engine:
        """An engine for the moments of a YAML file."""
        return cls(load_moments(path), config)

    def new_state(self, customer_id: str) -> CustomerState:
        """Empty state for a customer we have not seen."""
        return CustomerState(customer_id, dedup_size=self.config.dedup_size, story_size=self.config.story_size)

    # -- entry points ---------------------------------------------------------------------
    def on_event(self, state: CustomerState, event: TouchpointEvent) -> Step:
        """Take one event of ``state``'s customer; ``state`` is updated in place and returned."""
        if event.customer_id != state.customer_id:
            raise ValueError("event and state belong to different customers")
        if state.alias_of is not None:
            return self._forward(state, event)
        kind = event.type
        if kind == ERASURE_EVENT_TYPE:
            # Before dedup and lateness: an erasure is honoured whenever it arrives, and again if repeated.
            return self._erasure(state, event)
        if not state.remember_id(event.event_id):
            return Step(state, [DuplicateEvent(customer_id=state.customer_id, event_id=event.event_id)])
        if kind == IDENTIFY_EVENT_TYPE:
            if event.properties["canonical_id"] != state.customer_id:
                return self._hand_off(state, event)
            self._take_relinked_alias(state, event)
        if kind == FEEDBACK_EVENT_TYPE:
            # The CRM's report on a trigger, not the customer's activity: linked by id on arrival, so a report
            # stamped before the customer's latest event is not late.
            feedback: list[Output] = []
            self.loop.on_feedback(state, event, feedback)
            return Step(state, feedback)
        ts = to_ms(event.ts)
        if kind in CONSENT_TYPES:
            # On arrival, not in event-time order: a withdrawal binds at once, even when late.
            apply_consent(state.consent, kind == CONSENT_GRANTED, event.channel, ts)
        if ts < state.frontier:
            # The audit keeps what identifies the event, not its payload (free text, properties): those may be
            # personal and would outlive an erasure in the audit topic.
            bare = event.model_copy(update={"text": None, "properties": {}})
            late: list[Output] = [LateEvent(event=bare, frontier=ms_to_datetime(state.frontier))]
            revoked = self.delivery.revocations(state, event, ts)
            late.extend(revoked)
            if revoked and self.loop.active:
                self.loop.forget(state, [r for r in revoked if isinstance(r, TriggerRevoked)])
            return Step(state, late)
        weight = state.buffer_event(ts, event)
        state.max_seen = max(state.max_seen, ts)
        outputs: list[Output] = []
        self._run_held(state, outputs)
        self._keep_within_budget(state, weight, outputs)
        return Step(state, outputs)

    def _run_held(self, state: CustomerState, outputs: list[Output]) -> None:
        """Run what the watermark has passed, and force the oldest held events through over the bounds."""
        config = self.config
        self._advance(state, state.max_seen - config.allowed_lateness_ms, False, outputs)
        buffer = state.buffer
        while buffer and (len(buffer) > config.max_buffered_events or state.buffered_bytes > config.max_buffered_bytes):
            self._advance(state, buffer[0][0], False, outputs)

    def on_tick(self, state: CustomerState, now: int, final: bool = False) -> Step:
        """The clock reached ``now`` (event-time ms): release events and fire timers that are due.

        A ``final`` tick ends the input: no lateness is kept back and timers due exactly at
        ``now`` fire too.
        """
        outputs: list[Output] = []
        watermark = now if final else now - self.config.allowed_lateness_ms
        self._evicting = False
        seq = state.seq
        self._advance(state, watermark, final, outputs)
        if state.seq != seq and not self._evicting:  # held events ran: partial matches may have grown
            self._keep_within_budget(state, 0, outputs)
        return Step(state, outputs, evict=self._evicting)

    def _keep_within_budget(self, state: CustomerState, weight: int, outputs: list[Output]) -> None:
        """See :func:`momentstream.core.state_budget.keep_within_budget`; held events run early rather than go."""
        budget = self.config.max_state_bytes
        if budget is not None and should_measure(state, weight, budget):

            def run_held() -> None:
                while state.buffer:
                    self._advance(state, state.buffer[0][0], False, outputs)

            trimmed = keep_within_budget(state, budget, run_held)
            if trimmed is not None:
                outputs.append(trimmed)

    def next_wakeup(self, state: CustomerState) -> int | None:
        """The clock time at which :meth:`on_tick` would have work for this customer."""
        lateness = self.config.allowed_lateness_ms
        wakeup = None
        if state.buffer:
            wakeup = state.buffer[0][0] + lateness
        fire_at = state.timers.peek()
        if fire_at is not None:
            due = fire_at + lateness + 1
            wakeup = due if wakeup is None else min(wakeup, due)
        return wakeup

    # -- ordering -------------------------------------------------------------------------
    def _advance(self, state: CustomerState, watermark: int, inclusive: bool, outputs: list[Output]) -> None:
        if watermark > state.watermark:
            state.watermark = watermark
        else:
            watermark = state.watermark
        buffer, timers = state.buffer, state.timers
        due = timers.entries
        if not ((buffer and buffer[0][0] <= watermark) or (due and is_due(due[0].fire_at, watermark, inclusive))):
            return  # the common case at an event's arrival: nothing has come due (and nothing is pending)
        self._pending.clear()
        while True:
            event_due = bool(buffer) and buffer[0][0] <= watermark
            fire_at = timers.peek()
            timer_due = fire_at is not None and is_due(fire_at, watermark, inclusive)
            take_event = event_due and (not timer_due or buffer[0][0] <= fire_at)  # type: ignore[operator]
            if self._pending:
                at = buffer[0][0] if take_event else fire_at if timer_due else None
                if at is None or at != to_ms(self._pending[0].emitted_at):
                    self._decide_pending(state, outputs)
            if take_event:
                ts, event = state.pop_buffered()
                self._process_event(state, ts, event, outputs)
            elif timer_due:
                timer = timers.pop_next_due(watermark, inclusive)
                assert timer is not None
                self._process_timer(state, timer, outputs)
            else:
                return

    def _process_event(self, state: CustomerState, ts: int, event: TouchpointEvent, outputs: list[Output]) -> None:
        if event.type == IDENTIFY_EVENT_TYPE and event.event_id in state.merging:
            self._adopt(state, event, outputs, late=False)
        state.seq += 1
        seq = state.seq
        state.frontier = max(state.frontier, ts)
        state.add_to_story(event, ts)
        state.zone = _zone_of(event)
        ttl = self.config.idle_ttl_ms
        if ttl is not None and state.idle_at is None:
            state.idle_at = ts + ttl
            state.timers.schedule(state.idle_at, IDLE_TIMER, IDLE_OWNER, 0)
        if self.scorer is not None:
            for fire_at, kind, name, ref in self.scorer.observe(state, event, ts):
                state.timers.schedule(fire_at, kind, name, ref)
        if state.open_triggers:
            self.loop.on_event(state, event, ts)
        if self.loop.prefers and event.properties:
            self.loop.note_preferences(state, event, ts)
        if state.sequences:
            self.sequences.on_event(state, event, ts, outputs)
        for m in self._moments_for(event.type, state):
            mask = m.evaluate(event)
            ms = state.moments.get(m.name)
            if ms is None or ms.version != m.version:
                if not mask & m.start_bits:
                    continue  # nothing in progress and nothing can start: no state needed
                ms = state.moment(m.name, m.version)
            elif not mask and not (m.has_next and ms.partials):
                continue
            if mask and m.window is not None:
                self._window_events(m, state, windows.on_event(m, ms, mask, ts), outputs)
            outcome = nfa.advance(m, ms, event.event_id, ts, seq, mask)
            self._apply(m, state, outcome, outputs)
            if ms.is_empty():
                self._forget(state, m.name)

    def _moments_for(self, event_type: str, state: CustomerState) -> tuple[CompiledMoment, ...]:
        found = self._by_type.get(event_type, self._untyped)
        others = self._next_others.get(event_type, self._next_untyped)
        if not others:
            return found
        moments = state.moments
        extra = tuple(m for m in others if (ms := moments.get(m.name)) is not None and ms.partials)
        return found + extra if extra else found

    def _process_timer(self, state: CustomerState, timer: Timer, outputs: list[Output]) -> None:
        state.frontier = max(state.frontier, timer.fire_at)
        if timer.kind == LABEL_TIMER:
            if self.scorer is not None:
                self.scorer.on_label_timer(state, timer.moment, timer.ref, timer.fire_at)
            return
        if timer.kind == RESCORE_TIMER:
            if self.scorer is not None:
                for fire_at, kind, name, ref in self.scorer.on_rescore_timer(state, timer.fire_at):
                    state.timers.schedule(fire_at, kind, name, ref)
            return
        if timer.kind == IDLE_TIMER:
            self._idle(state, timer.fire_at)
            return
        if timer.kind == LOOP_TIMER:
            self.loop.on_timer(state, timer.ref, timer.fire_at, outputs)
            return
        if timer.kind == SEQUENCE_TIMER:
            self.sequences.on_timer(state, timer.ref, timer.fire_at, outputs)
            return
        if timer.kind == DEFER_TIMER:
            held = state.deferred.pop(timer.ref, None)
            released = self.delivery.release(state, held, timer.fire_at, outputs) if held is not None else None
            if released is not None:
                self._emit(state, released, outputs)
            return
        m = self._by_name.get(timer.moment)
        ms = state.moments.get(timer.moment)
        if m is None or ms is None or ms.version != m.version:
            return
        if timer.kind == "absence":
            self._apply(m, state, nfa.fire_absence(m, ms, timer.ref), outputs)
        else:
            events, new_timers = windows.close_or_open(ms, timer.kind, timer.ref, timer.fire_at)
            self._window_events(m, state, events, outputs)
            for fire_at, kind, ref in new_timers:
                state.timers.schedule(fire_at, kind, m.name, ref)
        nfa.expire(m, ms, timer.fire_at)
        if ms.is_empty():
            self._forget(state, m.name)

    def _apply(self, m: CompiledMoment, state: CustomerState, outcome: StepOutcome, outputs: list[Output]) -> None:
        if outcome.cancelled:
            state.timers.discard_refs(m.name, frozenset(outcome.cancelled))
        for fire_at, kind, ref in outcome.timers:
            state.timers.schedule(fire_at, kind, m.name, ref)
        for done in outcome.completions:
            if m.window is None:
                self._emit(state, match_trigger(m, state, done), outputs)
                continue
            ms = state.moments[m.name]
            events, new_timers = windows.create_window(m, ms, done)
            self._window_events(m, state, events, outputs)
            for fire_at, kind, ref in new_timers:
                state.timers.schedule(fire_at, kind, m.name, ref)

    def _window_events(
        self, m: CompiledMoment, state: CustomerState, events: list[WindowEvent], outputs: list[Output]
    ) -> None:
        for event in events:
            if event.kind == "cancelled":
                outputs.append(cancelled_record(m, state, event))
            else:
                self._emit(state, window_trigger(m, state, event), outputs)

    def _emit(self, state: CustomerState, trigger: Trigger, outputs: list[Output]) -> None:
        """Hold a fired trigger until everything at its instant has run (see :meth:`_decide_pending`)."""
        self._pending.append(trigger)

    def _decide_pending(self, state: CustomerState, outputs: list[Output]) -> None:
        """Decide the triggers of one instant, higher priority first, so they win a full cap."""
        pending = sorted(self._pending, key=lambda t: -self.policy.priority(t.moment))
        self._pending.clear()
        for trigger in pending:
            scored = self._score(state, trigger, outputs)
            if scored is None:
                continue
            if scored.moment in self._shadows:  # runs and is scored like the live moments; nobody is contacted
                outputs.append(ShadowTrigger(customer_id=scored.customer_id, moment=scored.moment,
                                             compare_to=self._shadows[scored.moment], trigger=scored))  # fmt: skip
                continue
            x = None
            if self.loop.active:
                scored, send, x = self.loop.decide(state, scored)
                if not send:
                    outputs.append(suppressed(scored, "low_uplift"))
                    continue
            before = len(outputs)
            self.delivery.deliver(state, scored, outputs)
            if self.loop.active:  # a trigger it superseded closes its outcome window unrecorded
                self.loop.forget(state, [o for o in outputs[before:] if isinstance(o, TriggerRevoked)])
            sent = outputs[-1] if outputs else None
            if not (isinstance(sent, Trigger) and sent.trigger_id == scored.trigger_id):
                continue  # suppressed or held over quiet hours: nothing reached the CRM
            if self.sequences.active:
                self.sequences.start(state, sent)
            if self.loop.active:
                timer = self.loop.on_sent(state, sent, x, outputs)
                if timer is not None:
                    state.timers.schedule(*timer)

    def _score(self, state: CustomerState, trigger: Trigger, outputs: list[Output]) -> Trigger | None:
        """Attach the moment's objective score; a failed score condition suppresses (audited: None)."""
        if self.scorer is None:
            return trigger
        at = to_ms(trigger.emitted_at)
        trigger = trigger.model_copy(update={"signals": self.scorer.signals(state, at)})
        scored = self.scorer.trigger_score(state, trigger.moment, at)
        if scored is None:
            return trigger
        reasons = [Reason(feature=r.feature, contribution=round(r.contribution, 4), points=round(r.points, 2))
                   for r in scored.reasons]  # fmt: skip
        why = [Why(reason=g.reason, says=g.says, points=round(g.points, 2), contribution=round(g.contribution, 4),
                   features=list(g.features)) for g in scored.why]  # fmt: skip
        score = Score(objective=scored.objective, score=scored.score, model_version=scored.model_version,
                      tier=scored.tier, owner=scored.owner, reasons=reasons, why=why, value=scored.value)  # fmt: skip
        if not scored.condition_met and trigger.kind != "window_expired":
            outputs.append(suppressed(trigger, scored.condition, score))
            return None
        return trigger.model_copy(update={"score": score})

    def _idle(self, state: CustomerState, now: int) -> None:
        """The idle timer fired: evict if silent for the whole TTL with nothing pending.

        One idle timer per customer, moved lazily (an event does not cancel it): after a newer
        event it moves to that event plus the TTL; while timers are pending, to just after the
        last of them. Partial matches without a timer go with the customer, like state under a
        time-to-live (choose a TTL longer than any moment's ``within``). Consent records pin the
        customer until their next event, which arms the timer again: a withdrawal must outlive
        any silence.
        """
        ttl = self.config.idle_ttl_ms
        state.idle_at = None
        if ttl is None:
            return
        if now - state.max_seen < ttl:
            state.idle_at = state.max_seen + ttl
        elif state.timers:
            state.idle_at = max(t.fire_at for t in state.timers.entries) + 1
        elif not (state.buffer or state.deferred or state.consent):
            self._evicting = True
        if state.idle_at is not None:
            state.timers.schedule(state.idle_at, IDLE_TIMER, IDLE_OWNER, 0)

    @staticmethod
    def _forget(state: CustomerState, name: str) -> None:
        """Drop an empty moment state and its stale timers, so idle customers stay small."""
        del state.moments[name]
        state.timers.discard(name)


def _others(moments: list[CompiledMoment], found: tuple[CompiledMoment, ...]) -> tuple[CompiledMoment, ...]:
    """``moments`` not in ``found``, by identity (a compiled moment's equality compares every field)."""
    return tuple(m for m in moments if all(m is not f for f in found))


_OFFSETS: dict[int, str] = {}


def _zone_of(event: TouchpointEvent) -> str:
    """The customer's zone as this event tells it: ``properties.timezone``, else the offset of ``ts``."""
    named = event.properties.get("timezone")
    if isinstance(named, str) and named:
        return named
    offset = event.ts.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    text = _OFFSETS.get(seconds)
    if text is None:
        sign = "-" if seconds < 0 else "+"
        text = _OFFSETS[seconds] = f"{sign}{abs(seconds) // 3600:02d}:{abs(seconds) % 3600 // 60:02d}"
    return text
