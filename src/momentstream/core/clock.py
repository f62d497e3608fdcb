"""Event time: durations, the per-customer watermark rules, and a serializable timer heap.

Time inside the engine is integer epoch milliseconds so that state stays compact and
comparisons are exact; datetimes exist only at the edges.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

__all__ = ["Timer", "TimerHeap", "WakeupIndex", "format_duration", "is_due", "parse_duration", "to_ms"]

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def to_ms(ts: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(ts.timestamp() * 1000)


def parse_instant(text: str) -> int:
    """An ISO 8601 time *with* a timezone, in epoch milliseconds; ValueError otherwise.

    Examples
    --------
    >>> parse_instant("2026-01-05T00:00:00Z")
    1767571200000
    """
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO time: {text!r} (e.g. 2026-05-01T00:00:00Z)") from None
    if when.tzinfo is None:
        raise ValueError(f"{text!r} needs a timezone, e.g. 2026-05-01T00:00:00Z")
    return to_ms(when)


def parse_duration(text: str | int | float) -> int:
    """Parse ``"19h"``, ``"1d12h"``, ``"90s"`` or a number of seconds into milliseconds.

    Examples
    --------
    >>> parse_duration("19h"), parse_duration("1d12h"), parse_duration(30)
    (68400000, 129600000, 30000)
    """
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"a duration cannot be negative: {text!r}")
        return int(text * 1000)
    compact = text.replace(" ", "").lower()
    pos = 0
    total = 0.0
    for found in _DURATION.finditer(compact):
        if found.start() != pos:
            break
        total += float(found.group(1)) * _UNIT_MS[found.group(2)]
        pos = found.end()
    if pos != len(compact) or not compact:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 19h, 14d, 1d12h)")
    return int(total)


def format_duration(ms: int) -> str:
    """The inverse of :func:`parse_duration`, for messages and tables.

    >>> format_duration(129600000)
    '1d12h'
    """
    if ms == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = _UNIT_MS[unit]
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts)


def is_due(fire_at: int, watermark: int, inclusive: bool) -> bool:
    """A timer fires once the watermark has passed it (or reached it, on a final tick)."""
    return fire_at < watermark or (inclusive and fire_at == watermark)


class Timer(NamedTuple):
    """A timer in a customer's state; ``seq`` breaks ties so firing order is total.

    A tuple, so the heap compares timers in C: ``seq`` is unique, so comparison never reaches the strings.
    """

    fire_at: int
    seq: int
    kind: str
    moment: str
    ref: int


@dataclass(slots=True)
class TimerHeap:
    """A min-heap of timers that serializes to a plain list.

    Timers are never removed eagerly: the owner ignores a timer whose target is gone,
    which keeps cancellation O(1).

    Examples
    --------
    >>> heap = TimerHeap()
    >>> heap.schedule(5_000, "window_open", "m", 1)
    >>> heap.schedule(1_000, "absence", "m", 2)
    >>> [t.kind for t in heap.pop_due(5_000)]
    ['absence']
    >>> [t.kind for t in heap.pop_due(5_000, inclusive=True)]
    ['window_open']
    """

    entries: list[Timer] = field(default_factory=list)
    next_seq: int = 0

    def schedule(self, fire_at: int, kind: str, moment: str, ref: int) -> None:
        """Add a timer; firing order is (fire_at, order of scheduling)."""
        heapq.heappush(self.entries, Timer(fire_at, self.next_seq, kind, moment, ref))
        self.next_seq += 1

    def peek(self) -> int | None:
        """Fire time of the earliest timer, if any."""
        return self.entries[0].fire_at if self.entries else None

    def pop_due(self, watermark: int, inclusive: bool = False) -> list[Timer]:
        """Remove and return timers due before (or at, if ``inclusive``) the watermark."""
        due = []
        while (timer := self.pop_next_due(watermark, inclusive)) is not None:
            due.append(timer)
        return due

    def pop_next_due(self, watermark: int, inclusive: bool) -> Timer | None:
        """Remove and return the single earliest due timer, so callers can interleave."""
        if self.entries and is_due(self.entries[0].fire_at, watermark, inclusive):
            return heapq.heappop(self.entries)
        return None

    def discard(self, moment: str) -> None:
        """Drop every timer of one moment; used when its state is reset or forgotten."""
        self._drop(lambda t: t.moment == moment)

    def discard_refs(self, moment: str, refs: frozenset[int]) -> None:
        """Drop the timers pointing at ``refs`` of one moment in a single pass."""
        self._drop(lambda t: t.moment == moment and t.ref in refs)

    def _drop(self, doomed: Callable[[Timer], bool]) -> None:
        if not self.entries:
            return
        kept = [t for t in self.entries if not doomed(t)]
        if len(kept) != len(self.entries):
            heapq.heapify(kept)
            self.entries = kept

    def __len__(self) -> int:
        return len(self.entries)

    def to_list(self) -> list[list[int | str]]:
        """Plain-list form for msgpack."""
        return [[t.fire_at, t.seq, t.kind, t.moment, t.ref] for t in self.entries]

    @classmethod
    def from_list(cls, rows: list[list[int | str]], next_seq: int) -> TimerHeap:
        """Inverse of :meth:`to_list`."""
        entries = [Timer(int(r[0]), int(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows]
        heapq.heapify(entries)
        return cls(entries, next_seq)


@dataclass(slots=True)
class WakeupIndex:
    """Which customers need the clock's attention, and when.

    Runtimes keep one per partition (or one for a replay): after each step they record the
    customer's next wake-up time, and as the clock advances they pop the customers whose time
    has come. Stale entries are skipped lazily, so updates are O(log n).

    Examples
    --------
    >>> idx = WakeupIndex()
    >>> idx.update("a", 10); idx.update("b", 5); idx.update("a", 3)
    >>> idx.pop_due(5)
    ['a', 'b']
    >>> idx.pop_due(100)
    []
    """

    heap: list[tuple[int, str]] = field(default_factory=list)
    current: dict[str, int] = field(default_factory=dict)

    def update(self, customer_id: str, wakeup: int | None) -> None:
        """Record the customer's next wake-up (None: no pending work)."""
        if wakeup is None:
            self.current.pop(customer_id, None)
            return
        if self.current.get(customer_id) == wakeup:
            return
        self.current[customer_id] = wakeup
        heapq.heappush(self.heap, (wakeup, customer_id))

    def pop_due(self, now: int) -> list[str]:
        """Customers whose wake-up is at or before ``now``, earliest first, each once."""
        due = []
        while self.heap and self.heap[0][0] <= now:
            wakeup, customer_id = heapq.heappop(self.heap)
            if self.current.get(customer_id) == wakeup:
                del self.current[customer_id]
                due.append(customer_id)
        return due

    def earliest(self) -> int | None:
        """The earliest live wake-up, if any."""
        while self.heap and self.current.get(self.heap[0][1]) != self.heap[0][0]:
            heapq.heappop(self.heap)
        return self.heap[0][0] if self.heap else None

    def __len__(self) -> int:
        return len(self.current)
