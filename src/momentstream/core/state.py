"""Per-customer state: small, versioned, serializable values that the engine threads through.

The compiled moments are shared by every customer; a customer's own progress (partial
matches, pending absences, windows, timers, the recent story) lives here and encodes to a
compact msgpack document. Never pickle: the bytes must survive code changes and be safe to
read from a changelog topic.
"""

from __future__ import annotations

import heapq
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

import msgpack

from momentstream.core.bounded import Bounded
from momentstream.core.clock import TimerHeap
from momentstream.core.schema import TouchpointEvent

__all__ = [
    "NEVER",
    "SCAN_IDS",
    "STATE_FORMAT",
    "Contact",
    "CustomerState",
    "DeferredTrigger",
    "EvidenceRow",
    "MomentState",
    "OpenTrigger",
    "PartialMatch",
    "PendingMatch",
    "StateFormatError",
    "WindowState",
]

STATE_FORMAT = 1
"""Bumped whenever the encoding changes; :meth:`CustomerState.from_bytes` refuses unknown formats."""
REVOCABLE = 16
"""Emitted triggers per customer kept checkable for revocation (the oldest is let go)."""
CONTACTS = 64
"""Delivered triggers per customer remembered for caps and cooldowns."""

SCAN_IDS = 64
"""Recent event ids checked by scanning the list; past this many, a sorted array of their hashes is kept beside
it. A set of 44 ids (a simulated customer's history) cost 2.2 KB, a tenth of that customer's memory; the
array costs 8 bytes an id, and a hash found in it is confirmed in the list, so a collision never drops an
event."""

NEVER = -(2**62)
"""A time before every event: the clock of a customer we have not heard from."""

EvidenceRow = tuple[str, int, int, int] | tuple[str, int, int, int, int]
"""(event_id, ts in ms, step group index, the customer's event sequence number), and for an event of a
k-of-n step, the mask of the indicators it satisfied (bit i: indicator i)."""

Contact = tuple[int, str, str, int]
"""A delivered trigger: (emitted ms, moment, trigger id, window opening ms or -1 for a match)."""


@dataclass(slots=True)
class OpenTrigger:
    """A sent or held-out trigger whose outcome window is still open (see :mod:`momentstream.triggers.loop`)."""

    trigger_id: str
    moment: str
    at_ms: int
    deadline_ms: int
    holdout: bool
    x: dict[str, float] | None = None
    """The features the moment's models saw at fire time (None: the moment learns nothing)."""
    action: str | None = None
    predicted: float | None = None
    tier: str | None = None
    feedback: str | None = None
    channel: str | None = None
    cost: float | None = None
    outcome_event_id: str | None = None
    outcome_ms: int | None = None
    preferred: bool = False
    """The action was the customer's stated preference, not the policy's pick: the policy does not learn from it."""
    step: int | None = None
    """For a playbook step's trigger: which step of its sequence."""

    def to_list(self) -> list[Any]:
        """Compact form for the state encoding."""
        return [self.trigger_id, self.moment, self.at_ms, self.deadline_ms, self.holdout, self.x, self.action,
                self.predicted, self.tier, self.feedback, self.channel, self.cost, self.outcome_event_id,
                self.outcome_ms, self.preferred, self.step]  # fmt: skip

    @classmethod
    def from_list(cls, raw: list[Any]) -> OpenTrigger:
        """Inverse of :meth:`to_list`."""
        return cls(*raw)


@dataclass(slots=True)
class DeferredTrigger:
    """A trigger waiting for quiet hours to end: enough to build it again, with the same id."""

    moment: str
    version: int
    kind: str
    evidence: tuple[EvidenceRow, ...]
    window: tuple[int, int] | None
    fired_at: int


@dataclass(slots=True)
class Sequence:
    """A playbook's sequence under way: ``parent`` is the trigger that started it (``fired_at``: when it was
    sent, which the steps' ``at`` count from); ``next_step`` indexes the playbook's timed steps."""

    trigger_id: str
    parent: DeferredTrigger
    next_step: int = 0
    sent: int = 0

    def to_list(self) -> list[Any]:
        """Compact form for the state encoding."""
        p = self.parent
        return [self.trigger_id, [p.moment, p.version, p.kind, _rows(p.evidence), list(p.window) if p.window else None,
                                  p.fired_at], self.next_step, self.sent]  # fmt: skip

    @classmethod
    def from_list(cls, raw: list[Any]) -> Sequence:
        """Inverse of :meth:`to_list`."""
        trigger_id, (moment, version, kind, rows, window, fired_at), next_step, sent = raw
        parent = DeferredTrigger(moment, version, kind, _unrows(rows), (window[0], window[1]) if window else None,
                                 fired_at)  # fmt: skip
        return cls(trigger_id, parent, next_step, sent)


class StateFormatError(ValueError):
    """Stored state bytes are not in a format this version can read."""


@dataclass(slots=True)
class PartialMatch:
    """A match in progress: the last step group it is in and how many events that group holds.

    ``dead`` is a bitmask over the options leaving this position that can no longer be
    taken (for example a ``followed_by`` option after a matching event went by).
    """

    group: int
    count: int
    start_seq: int
    start_ts: int
    last_seq: int
    last_ts: int
    evidence: tuple[EvidenceRow, ...]
    dead: int = 0
    seen: tuple[tuple[int, int, int, str], ...] = ()
    """Before a later k-of-n step: the indicators met since this match's last event, as (indicator, ts, seq,
    event id)."""


@dataclass(slots=True)
class PendingMatch:
    """A match whose steps are all matched and that waits for a trailing absence to hold."""

    ref: int
    deadline: int
    start_seq: int
    last_seq: int
    evidence: tuple[EvidenceRow, ...]


@dataclass(slots=True)
class WindowState:
    """An intervention window created by a match; pending until it opens, then open."""

    ref: int
    opens_at: int
    closes_at: int
    completed_at: int
    evidence: tuple[EvidenceRow, ...]
    is_open: bool = False
    used: bool = False


@dataclass(slots=True)
class MomentState:
    """One customer's progress on one moment."""

    version: int
    partials: list[PartialMatch] = field(default_factory=list)
    pending: dict[int, PendingMatch] = field(default_factory=dict)
    windows: dict[int, WindowState] = field(default_factory=dict)
    indicators: dict[int, tuple[int, int, str]] = field(default_factory=dict)
    next_ref: int = 0
    dropped: int = 0
    last_cancel: int = NEVER

    def new_ref(self) -> int:
        """A reference unique within this moment state, for timers to point at."""
        self.next_ref += 1
        return self.next_ref

    def is_empty(self) -> bool:
        """True when nothing is in progress (the state could be forgotten)."""
        return not (self.partials or self.pending or self.windows or self.indicators)


@dataclass(slots=True)
class CustomerState:
    """Everything the engine keeps for one customer.

    Examples
    --------
    >>> s = CustomerState("c1")
    >>> s.remember_id("e1"), s.remember_id("e1")
    (True, False)
    >>> CustomerState.from_bytes(s.to_bytes()).recent_ids == s.recent_ids
    True
    """

    customer_id: str
    max_seen: int = NEVER
    watermark: int = NEVER
    frontier: int = NEVER
    seq: int = 0
    arrivals: int = 0
    dedup_size: int = 256
    story_size: int = 16
    recent_ids: list[str] = field(default_factory=list)
    """Oldest first, at most ``dedup_size`` (a plain list: appended at C speed, trimmed here)."""
    story: list[tuple[str, str, str, int]] = field(default_factory=list)
    buffer: list[tuple[int, int, TouchpointEvent, int]] = field(default_factory=list)
    """Held events as a heap of (event time, arrival, event, its :func:`event_weight`)."""
    timers: TimerHeap = field(default_factory=TimerHeap)
    moments: dict[str, MomentState] = field(default_factory=dict)
    scoring: Any = None
    """Scoring data (models.scorer.ScoringState), or its raw list until the scorer first reads it."""
    revocable: Bounded[tuple[str, str, str, int, int]] = field(default_factory=lambda: Bounded(maxlen=REVOCABLE))
    """Recent triggers a late event could still disprove: (id, moment, kind, after ms, until ms)."""
    contacts: Bounded[Contact] = field(default_factory=lambda: Bounded(maxlen=CONTACTS))
    """Triggers that passed the contact policy, newest last."""
    muted_windows: Bounded[tuple[str, int]] = field(default_factory=lambda: Bounded(maxlen=REVOCABLE))
    """Windows whose opening the policy suppressed, (moment, opens ms): their expiry is suppressed too."""
    zone: str | None = None
    """The customer's timezone as their latest event told it (IANA name, else its UTC offset)."""
    consent: dict[str, tuple[bool, int]] = field(default_factory=dict)
    """Consent per channel (see :mod:`momentstream.triggers.consent`); empty means every channel."""
    deferred: dict[int, DeferredTrigger] = field(default_factory=dict)
    """Triggers waiting for quiet hours to end, by the ref of their timer."""
    next_deferral: int = 0
    idle_at: int | None = None
    """When the idle timer fires (None: not scheduled; see ``EngineConfig.idle_ttl_ms``)."""
    open_triggers: dict[int, OpenTrigger] = field(default_factory=dict)
    """Triggers waiting for their outcome window to close, by the ref of their timer."""
    next_open_ref: int = 0
    alias_of: str | None = None
    """This id was identified as another customer's alias: its events go on to that customer (a stub)."""
    aliases: list[str] = field(default_factory=list)
    """Ids merged into this customer (erased with it)."""
    merging: dict[str, bytes] = field(default_factory=dict)
    """Alias states that arrived and wait, by merge id, for the watermark to pass their identify event."""
    sequences: dict[int, Sequence] = field(default_factory=dict)
    """Playbook sequences under way, by the ref of their timer (:mod:`momentstream.triggers.sequences`)."""
    next_sequence: int = 0
    preferences: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Stated preferences the moments ask for (``prefer:``), by property: (value, event time stated); latest wins."""
    size_hint: int = 0
    """The encoded size at the engine's last measurement (see :mod:`momentstream.core.state_budget`)."""
    buffered_bytes: int = field(default=0, repr=False, compare=False)
    """Estimated size of the held events (derived from ``buffer``; bounded by the engine)."""
    _id_hashes: array[int] | None = field(default=None, repr=False, compare=False)
    """The recent ids' hashes, sorted, once there are more than :data:`SCAN_IDS` (None: the list is scanned).
    Process-local (``hash`` of a string): rebuilt, never encoded."""

    def remember_id(self, event_id: str) -> bool:
        """Record an event id; False if it was seen among the last ``dedup_size`` ids."""
        ids, index = self.recent_ids, self._id_hashes
        if index is None:
            if event_id in ids:
                return False
        else:
            key = hash(event_id)
            at = bisect_left(index, key)
            if at < len(index) and index[at] == key and event_id in ids:  # the list decides a hash's match
                return False
            index.insert(at, key)
        ids.append(event_id)
        if index is None and len(ids) > SCAN_IDS:
            self.index_ids()
            index = self._id_hashes
        while len(ids) > self.dedup_size:
            gone = ids.pop(0)
            if index is not None:
                del index[bisect_left(index, hash(gone))]
        return True

    def index_ids(self) -> None:
        """Rebuild the id hashes after ``recent_ids`` was replaced or cut (kept only past :data:`SCAN_IDS`)."""
        ids = self.recent_ids
        self._id_hashes = array("q", sorted(map(hash, ids))) if len(ids) > SCAN_IDS else None

    def add_to_story(self, event: TouchpointEvent, ts: int) -> None:
        """Keep the last few events (ids, types, channels, times; no PII) as the customer's story."""
        self.story.append((event.event_id, sys.intern(event.type), sys.intern(event.channel), ts))
        if len(self.story) > self.story_size:
            del self.story[0]

    def buffer_event(self, ts: int, event: TouchpointEvent) -> int:
        """Hold an event until the watermark passes it, ordered by (time, arrival); returns its weight."""
        weight = event_weight(event)
        heapq.heappush(self.buffer, (ts, self.arrivals, event, weight))  # (ts, arrival) is unique: never compared on
        self.arrivals += 1
        self.buffered_bytes += weight
        return weight

    def pop_buffered(self) -> tuple[int, TouchpointEvent]:
        """The oldest held event, taken out of the buffer."""
        ts, _, event, weight = heapq.heappop(self.buffer)
        self.buffered_bytes -= weight
        return ts, event

    def moment(self, name: str, version: int) -> MomentState:
        """This customer's state for a moment; reset if the moment's version changed."""
        ms = self.moments.get(name)
        if ms is None or ms.version != version:
            ms = MomentState(version)
            self.moments[name] = ms
            self.timers.discard(name)
        return ms

    def become_stub(self, canonical_id: str) -> None:
        """Forget everything but the recent event ids: from now on this id only forwards to ``canonical_id``."""
        kept = self.recent_ids
        fresh = CustomerState(self.customer_id, dedup_size=self.dedup_size, story_size=self.story_size,
                              recent_ids=kept, max_seen=self.max_seen)  # fmt: skip
        for name in self.__slots__:
            setattr(self, name, getattr(fresh, name))
        self.index_ids()
        self.alias_of = canonical_id

    # -- encoding -------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Compact, versioned msgpack encoding (see :data:`STATE_FORMAT`)."""
        doc = [
            STATE_FORMAT,
            self.customer_id,
            self.max_seen,
            self.watermark,
            self.frontier,
            self.seq,
            self.arrivals,
            self.dedup_size,
            self.story_size,
            list(self.recent_ids),
            [list(s) for s in self.story],
            [[ts, arrival, e.model_dump(mode="json", exclude_defaults=True)] for ts, arrival, e, _ in self.buffer],
            self.timers.to_list(),
            self.timers.next_seq,
            {name: _moment_to_list(ms) for name, ms in self.moments.items()},
            self.scoring.to_list() if hasattr(self.scoring, "to_list") else self.scoring,
            [list(r) for r in self.revocable],
            [[list(c) for c in self.contacts], [list(w) for w in self.muted_windows]],
            [
                self.zone,
                [[channel, granted, at] for channel, (granted, at) in self.consent.items()],
                [[ref, d.moment, d.version, d.kind, _rows(d.evidence), list(d.window) if d.window else None,
                  d.fired_at] for ref, d in self.deferred.items()],
                self.next_deferral,
                self.idle_at,
            ],
            [self.next_open_ref, [[ref, *t.to_list()] for ref, t in self.open_triggers.items()]],
            [self.alias_of, self.aliases, [[merge_id, raw] for merge_id, raw in self.merging.items()]],
            self.size_hint,
            [[name, value, at] for name, (value, at) in self.preferences.items()],
            [self.next_sequence, [[ref, *q.to_list()] for ref, q in self.sequences.items()]],
        ]  # fmt: skip
        return msgpack.packb(doc, use_bin_type=True)

    @classmethod
    def from_bytes(cls, data: bytes) -> CustomerState:
        """Decode :meth:`to_bytes`; raise :class:`StateFormatError` on an unknown format."""
        try:
            doc = msgpack.unpackb(data, raw=False, strict_map_key=False)
        except (ValueError, msgpack.UnpackException) as err:
            raise StateFormatError(f"not a momentstream state: {err}") from None
        if not isinstance(doc, list) or not doc or doc[0] != STATE_FORMAT:
            found = doc[0] if isinstance(doc, list) and doc else None
            raise StateFormatError(f"state format {found!r} is not {STATE_FORMAT}")
        (_, customer_id, max_seen, watermark, frontier, seq, arrivals, dedup_size, story_size,
         recent, story, buffer, timers, timer_seq, moments, *rest) = doc  # fmt: skip
        state = cls(
            customer_id=customer_id,
            max_seen=max_seen,
            watermark=watermark,
            frontier=frontier,
            seq=seq,
            arrivals=arrivals,
            dedup_size=dedup_size,
            story_size=story_size,
            recent_ids=list(recent),
            story=[(s[0], sys.intern(s[1]), sys.intern(s[2]), s[3]) for s in story],
            buffer=[(b[0], b[1], e, event_weight(e)) for b in buffer for e in [TouchpointEvent.model_validate(b[2])]],
            timers=TimerHeap.from_list(timers, timer_seq),
            moments={name: _moment_from_list(raw) for name, raw in moments.items()},
            scoring=rest[0] if rest else None,
            revocable=Bounded((tuple(r) for r in (rest[1] if len(rest) > 1 else [])), maxlen=REVOCABLE),
            contacts=Bounded((_contact(c) for c in (rest[2][0] if len(rest) > 2 else [])), maxlen=CONTACTS),
            muted_windows=Bounded(((w[0], w[1]) for w in (rest[2][1] if len(rest) > 2 else [])), maxlen=REVOCABLE),
        )
        if len(rest) > 3:
            zone, consent, deferred, state.next_deferral, *idle = rest[3]
            state.idle_at = idle[0] if idle else None
            state.zone = zone
            state.consent = {c[0]: (c[1], c[2]) for c in consent}
            for d in deferred:
                window = (d[5][0], d[5][1]) if d[5] else None
                state.deferred[d[0]] = DeferredTrigger(d[1], d[2], d[3], _unrows(d[4]), window, d[6])
        if len(rest) > 4:
            state.next_open_ref = rest[4][0]
            state.open_triggers = {t[0]: OpenTrigger.from_list(t[1:]) for t in rest[4][1]}
        if len(rest) > 5:
            state.alias_of, state.aliases = rest[5][0], list(rest[5][1])
            state.merging = {m[0]: bytes(m[1]) for m in rest[5][2]}
        if len(rest) > 6:
            state.size_hint = rest[6]
        if len(rest) > 7:
            state.preferences = {name: (value, at) for name, value, at in rest[7]}
        if len(rest) > 8:
            state.next_sequence = rest[8][0]
            state.sequences = {q[0]: Sequence.from_list(q[1:]) for q in rest[8][1]}
        state.index_ids()
        heapq.heapify(state.buffer)
        state.buffered_bytes = sum(b[3] for b in state.buffer)
        return state


def event_weight(event: TouchpointEvent) -> int:
    """About how many bytes an event takes in the state encoding (strings by their UTF-8 length).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> e = TouchpointEvent(event_id="e1", customer_id="c1", type="purchase",
    ...                     ts=datetime(2026, 1, 1, tzinfo=timezone.utc), text="é" * 10, properties={"plan": "pro"})
    >>> event_weight(e)
    110
    """
    size = 64 + len(event.event_id) + len(event.customer_id) + len(event.type) + len(event.channel)
    if event.text:
        size += _utf8_len(event.text)
    for name, value in event.properties.items():
        size += len(name) + (_utf8_len(value) if isinstance(value, str) else 9)
    return size


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _contact(row: list[Any]) -> Contact:
    """Contacts written before trigger ids were kept have two fields; they can still count."""
    return (row[0], row[1], row[2] if len(row) > 2 else "", row[3] if len(row) > 3 else -1)


def _rows(evidence: tuple[EvidenceRow, ...]) -> list[list[Any]]:
    return [list(r) for r in evidence]


def _unrows(rows: list[list[Any]]) -> tuple[EvidenceRow, ...]:
    return tuple((r[0], r[1], r[2], r[3]) if len(r) < 5 else (r[0], r[1], r[2], r[3], r[4]) for r in rows)


def _moment_to_list(ms: MomentState) -> list[Any]:
    return [
        ms.version,
        [[p.group, p.count, p.start_seq, p.start_ts, p.last_seq, p.last_ts, p.dead, _rows(p.evidence),
          *([[list(x) for x in p.seen]] if p.seen else [])] for p in ms.partials],
        [[p.ref, p.deadline, p.start_seq, p.last_seq, _rows(p.evidence)] for p in ms.pending.values()],
        [[w.ref, w.opens_at, w.closes_at, w.completed_at, w.is_open, w.used, _rows(w.evidence)]
         for w in ms.windows.values()],
        [[k, *v] for k, v in ms.indicators.items()],
        ms.next_ref,
        ms.dropped,
        ms.last_cancel,
    ]  # fmt: skip


def _moment_from_list(raw: list[Any]) -> MomentState:
    version, partials, pending, windows, indicators, next_ref, dropped, last_cancel = raw
    ms = MomentState(version, next_ref=next_ref, dropped=dropped, last_cancel=last_cancel)
    ms.partials = [PartialMatch(p[0], p[1], p[2], p[3], p[4], p[5], _unrows(p[7]), p[6],
                                tuple((x[0], x[1], x[2], x[3]) for x in p[8]) if len(p) > 8 else ())
                   for p in partials]  # fmt: skip
    for p in pending:
        ms.pending[p[0]] = PendingMatch(p[0], p[1], p[2], p[3], _unrows(p[4]))
    for w in windows:
        ms.windows[w[0]] = WindowState(w[0], w[1], w[2], w[3], _unrows(w[6]), w[4], w[5])
    ms.indicators = {i[0]: (i[1], i[2], i[3]) for i in indicators}
    return ms
