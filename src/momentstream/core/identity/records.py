"""Identity stitching: an alias id joins a canonical customer, and its state goes along.

Real histories are split across ids: a device id before login, an email, a CRM id. An
``identify`` event under the alias names the customer it is in ``properties.canonical_id``.
The engine then works in two halves, which on Kafka run wherever the two ids live:

1. On the alias (:meth:`momentstream.core.engine.Engine.on_event`): the alias's held events and
   timers run up to the identify time, its state is packed into a :class:`MergeRecord`, and the
   alias becomes a stub that forwards its later events to the canonical id (:class:`Forward`).
2. On the canonical customer (:meth:`momentstream.core.engine.Engine.on_merge`): the merge is held
   like an event at the identify time; when the watermark passes it, :func:`adopt` takes over
   the alias's partial matches, pending absences, windows, story, consent, contacts, held
   triggers and open outcome windows, and a pattern begun under the alias completes under the
   canonical id. The identify event itself then runs like any event (a moment may use it).

Exactly once in effect: a runtime sends the merge record before it saves the alias's stub. A
crash between the two re-runs the identify event on the old state and re-sends the same merge
id, which the canonical customer remembers like an event id.

On the wire a merge record is binary (a NUL-led magic, then msgpack), so no JSON event can be
mistaken for one and an alias state near the stored-size limit still fits one Kafka message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack
from pydantic import ValidationError

from momentstream.core.bounded import Bounded
from momentstream.core.schema import ERASURE_EVENT_TYPE, TouchpointEvent
from momentstream.core.state import (
    CONTACTS,
    REVOCABLE,
    CustomerState,
    EvidenceRow,
    PartialMatch,
    PendingMatch,
    WindowState,
)
from momentstream.models.scorer import LABEL_TIMER, RESCORE_TIMER
from momentstream.patterns.nfa import CompiledMoment
from momentstream.triggers.delivery import DEFER_OWNER
from momentstream.triggers.loop import LOOP_OWNER
from momentstream.triggers.sequences import SEQUENCE_OWNER

__all__ = [
    "MAX_ALIASES",
    "MERGE_MAGIC",
    "Forward",
    "Handoff",
    "IdentityError",
    "MergeRecord",
    "adopt",
    "alias_erasures",
    "decode_merge",
    "handoff_target",
]

MAX_ALIASES = 1000
"""Ids a re-linked identify may add to a customer's aliases (each is an erasure target; the list stays small)."""
MERGE_MAGIC = b"\x00momentstream.merge.1\x00"
"""The first bytes of a merge record on the touchpoints topic."""


class IdentityError(ValueError):
    """An identity change that cannot be applied (a cycle, a record for another customer)."""


@dataclass(frozen=True, slots=True)
class MergeRecord:
    """An alias's state on its way to the canonical customer.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> event = TouchpointEvent(event_id="id-1", customer_id="dev-1", type="identify",
    ...                         ts=datetime(2026, 1, 5, tzinfo=timezone.utc), properties={"canonical_id": "a@x"})
    >>> record = MergeRecord("id-1", "dev-1", "a@x", event, CustomerState("dev-1").to_bytes())
    >>> decode_merge(record.encode()) == record
    True
    """

    merge_id: str
    alias_id: str
    canonical_id: str
    identify: TouchpointEvent
    state: bytes

    def encode(self) -> bytes:
        """The record's bytes (see :data:`MERGE_MAGIC`)."""
        doc = [self.merge_id, self.alias_id, self.canonical_id, self.identify.model_dump_json(), self.state]
        return MERGE_MAGIC + msgpack.packb(doc, use_bin_type=True)

    def towards(self, canonical_id: str) -> MergeRecord:
        """The same merge, sent on to the customer that ``canonical_id`` has itself become."""
        return MergeRecord(self.merge_id, self.alias_id, canonical_id, self.identify, self.state)


@dataclass(frozen=True, slots=True)
class Forward:
    """An event that arrived under an alias, rewritten to the canonical id it now belongs to."""

    event: TouchpointEvent


Handoff = MergeRecord | Forward
"""What a step sends to another customer: the runtime delivers it keyed by that customer's id."""


def handoff_target(handoff: Handoff) -> str:
    """The customer a handoff is for (its record key)."""
    return handoff.canonical_id if isinstance(handoff, MergeRecord) else handoff.event.customer_id


def decode_merge(data: bytes) -> MergeRecord:
    """Read a merge record; :class:`IdentityError` says why one cannot be read."""
    if not data.startswith(MERGE_MAGIC):
        raise IdentityError("not a merge record")
    try:
        doc = msgpack.unpackb(data[len(MERGE_MAGIC) :], raw=False)
        merge_id, alias_id, canonical_id, identify, state = doc
        fields_ok = all(isinstance(x, str) and 0 < len(x) <= 200 for x in (merge_id, alias_id, canonical_id))
        if not (fields_ok and isinstance(identify, str) and isinstance(state, bytes)):
            raise IdentityError("a merge record's fields have the wrong types")
        event = TouchpointEvent.model_validate_json(identify)
    except (ValueError, TypeError, msgpack.UnpackException, ValidationError) as err:
        if isinstance(err, IdentityError):
            raise
        raise IdentityError(f"unreadable merge record ({type(err).__name__})") from None
    return MergeRecord(merge_id, alias_id, canonical_id, event, state)


def adopt(into: CustomerState, alias: CustomerState, moments: Mapping[str, CompiledMoment]) -> dict[str, int]:
    """Take ``alias``'s progress into ``into``; returns what was taken, by kind.

    Moment progress is kept only for moments still running at the alias's version. Both ids' event
    sequence numbers are shifted to end at the same number, so for a strict-contiguity step of
    either the canonical customer's next event is next. Scoring data stays the
    canonical customer's own (adopted only if it has none): feature aggregates of two ids cannot
    be merged exactly.
    """
    end = max(into.seq, alias.seq)
    _shift_moments(into, end - into.seq)
    shift, into.seq = end - alias.seq, end
    refs: dict[tuple[str, int], int] = {}
    counts = {"partial_matches": 0, "pending_matches": 0, "windows": 0, "timers": 0, "story_items": len(alias.story)}
    for name, theirs in alias.moments.items():
        m = moments.get(name)
        if m is None or theirs.version != m.version:
            continue
        ours = into.moment(name, m.version)
        for p in theirs.partials:
            ours.partials.append(PartialMatch(p.group, p.count, p.start_seq + shift, p.start_ts, p.last_seq + shift,
                                              p.last_ts, _shifted(p.evidence, shift), p.dead,
                                              _shifted_seen(p.seen, shift)))  # fmt: skip
        ours.partials.sort(key=lambda p: p.start_seq)
        excess = len(ours.partials) - m.spec.max_partial_matches
        if excess > 0:
            ours.dropped += excess
            del ours.partials[:excess]
        for pm in theirs.pending.values():
            ref = refs[(name, pm.ref)] = ours.new_ref()
            ours.pending[ref] = PendingMatch(ref, pm.deadline, pm.start_seq + shift, pm.last_seq + shift,
                                             _shifted(pm.evidence, shift))  # fmt: skip
        for w in theirs.windows.values():
            ref = refs[(name, w.ref)] = ours.new_ref()
            ours.windows[ref] = WindowState(ref, w.opens_at, w.closes_at, w.completed_at, _shifted(w.evidence, shift),
                                            w.is_open, w.used)  # fmt: skip
        for index, (ts, seq, event_id) in theirs.indicators.items():
            mine = ours.indicators.get(index)
            if mine is None or ts > mine[0]:
                ours.indicators[index] = (ts, seq + shift, event_id)
        ours.dropped += theirs.dropped
        ours.last_cancel = max(ours.last_cancel, theirs.last_cancel)
        counts["partial_matches"] += len(theirs.partials)
        counts["pending_matches"] += len(theirs.pending)
        counts["windows"] += len(theirs.windows)
    owned = _take_held_and_open(into, alias)
    scoring = into.scoring is None and alias.scoring is not None
    if scoring:
        into.scoring = alias.scoring
    for t in alias.timers.entries:
        if t.kind in (LABEL_TIMER, RESCORE_TIMER):
            moved: int | None = t.ref if scoring else None
        else:
            moved = owned.get((t.moment, t.ref), refs.get((t.moment, t.ref)))
        if moved is not None:
            into.timers.schedule(t.fire_at, t.kind, t.moment, moved)
            counts["timers"] += 1
    _take_history(into, alias)
    return counts


def _take_held_and_open(into: CustomerState, alias: CustomerState) -> dict[tuple[str, int], int]:
    """Triggers held over quiet hours, outcome windows still open and sequences under way, under new refs (by
    their old timer)."""
    owned: dict[tuple[str, int], int] = {}
    for ref, deferred in alias.deferred.items():
        into.next_deferral += 1
        into.deferred[into.next_deferral] = deferred
        owned[(DEFER_OWNER, ref)] = into.next_deferral
    for ref, open_trigger in alias.open_triggers.items():
        into.next_open_ref += 1
        into.open_triggers[into.next_open_ref] = open_trigger
        owned[(LOOP_OWNER, ref)] = into.next_open_ref
    for ref, sequence in alias.sequences.items():
        into.next_sequence += 1
        into.sequences[into.next_sequence] = sequence
        owned[(SEQUENCE_OWNER, ref)] = into.next_sequence
    return owned


def _take_history(into: CustomerState, alias: CustomerState) -> None:
    """The story, contacts, consent and stated preferences of both ids, as one customer's."""
    story = sorted([*into.story, *alias.story], key=lambda s: s[3])
    into.story = story[-into.story_size :]
    for event_id in alias.recent_ids:
        into.remember_id(event_id)
    for channel, (granted, at) in alias.consent.items():
        mine = into.consent.get(channel)
        if mine is None or at > mine[1] or (at == mine[1] and not granted):  # a withdrawal wins a tie
            into.consent[channel] = (granted, at)
    into.contacts = Bounded(sorted([*into.contacts, *alias.contacts], key=lambda c: c[0]), maxlen=CONTACTS)
    into.revocable = Bounded([*into.revocable, *alias.revocable], maxlen=REVOCABLE)
    into.muted_windows = Bounded([*into.muted_windows, *alias.muted_windows], maxlen=REVOCABLE)
    into.zone = into.zone or alias.zone
    for name, (value, at) in alias.preferences.items():
        if name not in into.preferences or at > into.preferences[name][1]:  # the latest stated wins
            into.preferences[name] = (value, at)
    for name in (alias.customer_id, *alias.aliases):
        if name not in into.aliases and name != into.customer_id:
            into.aliases.append(name)


def _shift_moments(state: CustomerState, shift: int) -> None:
    """Renumber a customer's event sequence in its moment progress (``shift`` >= 0 keeps every number >= 1)."""
    if not shift:
        return
    for ms in state.moments.values():
        for p in ms.partials:
            p.start_seq, p.last_seq, p.evidence = p.start_seq + shift, p.last_seq + shift, _shifted(p.evidence, shift)
            p.seen = _shifted_seen(p.seen, shift)
        for pm in ms.pending.values():
            pm.start_seq, pm.last_seq, pm.evidence = (
                pm.start_seq + shift,
                pm.last_seq + shift,
                _shifted(pm.evidence, shift),
            )
        for w in ms.windows.values():
            w.evidence = _shifted(w.evidence, shift)
        ms.indicators = {i: (ts, seq + shift, event_id) for i, (ts, seq, event_id) in ms.indicators.items()}


def _shifted_seen(seen: tuple[tuple[int, int, int, str], ...], shift: int) -> tuple[tuple[int, int, int, str], ...]:
    return tuple((index, ts, seq + shift, event_id) for index, ts, seq, event_id in seen)


def _shifted(evidence: tuple[EvidenceRow, ...], shift: int) -> tuple[EvidenceRow, ...]:
    rows: list[Any] = [(*r[:3], r[3] + shift, *r[4:]) for r in evidence]
    return tuple(rows)


def alias_erasures(state: CustomerState, event: TouchpointEvent) -> tuple[Handoff, ...]:
    """An erasure for each id merged into an erased customer (their stubs still hold event ids)."""
    erasures = []
    waiting = [CustomerState.from_bytes(raw) for raw in state.merging.values()]  # merged, not yet taken in
    aliases = dict.fromkeys(
        [*state.aliases, *(a.customer_id for a in waiting), *(n for a in waiting for n in a.aliases)]
    )
    for alias in aliases:
        event_id = "erase-" + hashlib.sha256(f"{event.event_id}\0{alias}".encode()).hexdigest()[:32]
        erasure = TouchpointEvent(event_id=event_id, customer_id=alias, type=ERASURE_EVENT_TYPE, ts=event.ts,
                                  channel=event.channel, properties={"erases_alias_of": state.customer_id})  # fmt: skip
        erasures.append(Forward(erasure))
    return tuple(erasures)
