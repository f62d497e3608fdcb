"""The engine's identity steps (see :mod:`momentstream.core.identity`): hand an alias off, forward a stub's
events, and take an alias's state in. A mixin of :class:`momentstream.core.engine.Engine`, kept apart so each
module stays small; the pure merging itself is :func:`momentstream.core.identity.adopt`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from momentstream.core.clock import to_ms
from momentstream.core.identity import MAX_ALIASES, Forward, IdentityError, MergeRecord, adopt, alias_erasures
from momentstream.core.schema import (
    ERASURE_EVENT_TYPE,
    IDENTIFY_EVENT_TYPE,
    RELINKED_ALIAS,
    CustomerErased,
    DuplicateEvent,
    IdentityMerged,
    IdentityRelinked,
    Output,
    TouchpointEvent,
)
from momentstream.core.state import CustomerState
from momentstream.core.step import IDLE_OWNER, IDLE_TIMER, Step
from momentstream.models.scorer import Scorer

if TYPE_CHECKING:
    from momentstream.core.engine_config import EngineConfig
    from momentstream.patterns.nfa import CompiledMoment

__all__ = ["IdentitySteps"]


class _Engine(Protocol):
    """What the identity steps use of the engine."""

    config: EngineConfig
    _by_name: dict[str, CompiledMoment]

    def _advance(self, state: CustomerState, watermark: int, inclusive: bool, outputs: list[Output]) -> None: ...

    def _run_held(self, state: CustomerState, outputs: list[Output]) -> None: ...

    def _keep_within_budget(self, state: CustomerState, weight: int, outputs: list[Output]) -> None: ...

    def _adopt(self, state: CustomerState, marker: TouchpointEvent, outputs: list[Output], late: bool) -> None: ...


class IdentitySteps:
    """Identity stitching inside the engine (mixed into :class:`momentstream.core.engine.Engine`)."""

    @staticmethod
    def _erased(state: CustomerState, event: TouchpointEvent) -> CustomerErased:
        """The confirmation of an erasure, counting what went (a customer's, or a stub's)."""
        scoring = Scorer.scoring(state) if state.scoring is not None else None  # may still be raw, as read back
        pending = len(scoring.pending) if scoring is not None else 0
        removed = {"timers": len(state.timers), "pending_labels": pending, "story_items": len(state.story),
                   "held_events": len(state.buffer), "partial_matches": len(state.moments),
                   "deferred_triggers": len(state.deferred),
                   "open_outcome_windows": len(state.open_triggers)}  # fmt: skip
        return CustomerErased(customer_id=state.customer_id, request_event_id=event.event_id,
                              requested_at=event.ts, removed=removed)  # fmt: skip

    def _erasure(self, state: CustomerState, event: TouchpointEvent) -> Step:
        """Erase the customer and every alias; an erasure sent for another customer (by an id since re-linked to
        this one, or reaching an id already erased) erases nothing here and leaves no blank state behind."""
        if event.properties.get("erases_alias_of", state.customer_id) != state.customer_id:
            blank = state.to_bytes() == CustomerState(state.customer_id, dedup_size=state.dedup_size,
                                                      story_size=state.story_size).to_bytes()  # fmt: skip
            return Step(state, [], erase=blank)
        return Step(state, [self._erased(state, event)], erase=True, handoffs=alias_erasures(state, event))

    @staticmethod
    def _take_relinked_alias(state: CustomerState, event: TouchpointEvent) -> None:
        """An identify naming this customer, forwarded by a re-linked id: that id is now this customer's alias."""
        relinked = event.properties.get(RELINKED_ALIAS)
        if (isinstance(relinked, str) and relinked != state.customer_id and relinked not in state.aliases
                and len(state.aliases) < MAX_ALIASES):  # fmt: skip
            state.aliases.append(relinked)

    def _hand_off(self: _Engine, state: CustomerState, event: TouchpointEvent) -> Step:
        """An alias is identified: run it up to the identify time, send its state on and leave a stub."""
        canonical = str(event.properties["canonical_id"])
        if canonical in state.aliases:
            raise IdentityError("identify would make a customer an alias of its own alias (an identity cycle)")
        outputs: list[Output] = []
        self._advance(state, to_ms(event.ts), True, outputs)
        record = MergeRecord(event.event_id, state.customer_id, canonical, event, state.to_bytes())
        state.become_stub(canonical)
        ttl = self.config.idle_ttl_ms
        if ttl is not None:  # a stub is forgotten after a silence like any customer
            state.idle_at = state.max_seen + ttl
            state.timers.schedule(state.idle_at, IDLE_TIMER, IDLE_OWNER, 0)
        return Step(state, outputs, handoffs=(record,))

    def _forward(self, state: CustomerState, event: TouchpointEvent) -> Step:
        """An event under a stub: it belongs to the canonical customer (an erasure also erases the stub)."""
        canonical = state.alias_of
        assert canonical is not None
        if event.type == ERASURE_EVENT_TYPE:
            erased: list[Output] = [self._erased(state, event)]
            if event.properties.get("erases_alias_of") == canonical:
                return Step(state, erased, erase=True)  # sent by the canonical customer's own erasure
            forwarded = event.model_copy(update={"customer_id": canonical})
            return Step(state, erased, erase=True, handoffs=(Forward(forwarded),))
        if not state.remember_id(event.event_id):  # also ends any forwarding loop
            return Step(state, [DuplicateEvent(customer_id=state.customer_id, event_id=event.event_id)])
        state.max_seen = max(state.max_seen, to_ms(event.ts))
        if event.type == IDENTIFY_EVENT_TYPE:
            named = str(event.properties["canonical_id"])
            if named == canonical:
                return Step(state, [])  # the link is known
            if named != state.customer_id:
                return self._relink(state, event, named)
        return Step(state, [], handoffs=(Forward(event.model_copy(update={"customer_id": canonical})),))

    @staticmethod
    def _relink(state: CustomerState, event: TouchpointEvent, named: str) -> Step:
        """A stitched id identifies as another customer (a shared device): it forwards there from now on.

        The customer it belonged to is not merged into the new one: an identify only ever moves the state of the
        id it is keyed by, and a stub has none. The identify goes on to the new customer as its own event, naming
        this id as its alias so that customer's erasure reaches it.
        """
        previous = state.alias_of
        assert previous is not None
        state.alias_of = named
        relinked = IdentityRelinked(customer_id=state.customer_id, previous_id=previous, canonical_id=named,
                                    event_id=event.event_id, identified_at=event.ts)  # fmt: skip
        properties = {**event.properties, RELINKED_ALIAS: state.customer_id}
        forwarded = event.model_copy(update={"customer_id": named, "properties": properties})
        return Step(state, [relinked], handoffs=(Forward(forwarded),))

    def on_merge(self: _Engine, state: CustomerState, record: MergeRecord) -> Step:
        """An alias's state arrives for ``state``'s customer: held at the identify time like an event.

        Its held events join this customer's; its progress is taken over when the watermark passes
        the identify time (on arrival if this customer has already run past it: ``late``).
        """
        if record.canonical_id != state.customer_id:
            raise ValueError("merge record and state belong to different customers")
        if state.alias_of is not None:
            if state.alias_of == record.alias_id:
                raise IdentityError("two ids were identified as each other (an identity cycle)")
            return Step(state, [], handoffs=(record.towards(state.alias_of),))
        try:  # every check before the first change of state
            alias = CustomerState.from_bytes(record.state)
        except (ValueError, TypeError, IndexError, KeyError) as err:
            raise IdentityError(f"the merge record's alias state is unreadable ({type(err).__name__})") from None
        if alias.customer_id != record.alias_id or record.alias_id == state.customer_id:
            raise IdentityError("merge record names another alias than its state")
        if state.customer_id in alias.aliases:
            raise IdentityError("a customer would become its own alias (an identity cycle)")
        if not state.remember_id(record.merge_id):
            return Step(state, [DuplicateEvent(customer_id=state.customer_id, event_id=record.merge_id)])
        for event_id in alias.recent_ids:  # a repeat of an alias event forwarded later is a duplicate here
            state.remember_id(event_id)
        held = [alias.pop_buffered() for _ in range(len(alias.buffer))]
        state.merging[record.merge_id] = alias.to_bytes()
        marker = record.identify.model_copy(update={"customer_id": state.customer_id, "event_id": record.merge_id})
        outputs: list[Output] = []
        ts = to_ms(marker.ts)
        if ts < state.frontier:
            self._adopt(state, marker, outputs, late=True)
        else:
            state.buffer_event(ts, marker)
            state.max_seen = max(state.max_seen, ts)
        for held_ts, event in held:
            state.buffer_event(held_ts, event.model_copy(update={"customer_id": state.customer_id}))
            state.max_seen = max(state.max_seen, held_ts)
        self._run_held(state, outputs)
        self._keep_within_budget(state, len(record.state), outputs)
        return Step(state, outputs)

    def _adopt(self: _Engine, state: CustomerState, marker: TouchpointEvent, outputs: list[Output],
               late: bool) -> None:  # fmt: skip
        alias = CustomerState.from_bytes(state.merging.pop(marker.event_id))
        # No idle timer to arm here: the identify event runs next and arms it, and a late merge's customer has
        # run events already.
        adopted = adopt(state, alias, self._by_name)
        outputs.append(IdentityMerged(customer_id=state.customer_id, alias_id=alias.customer_id,
                                      merge_id=marker.event_id, identified_at=marker.ts, late=late,
                                      adopted=adopted))  # fmt: skip
