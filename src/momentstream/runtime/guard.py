"""What both runtimes use to keep one bad record from harming the rest: the shared clock's skew bound
and safe error texts for dead letters and rejects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise

from momentstream.core.schema import LateEvent, Output

__all__ = ["DEFAULT_MAX_SKEW_MS", "SharedClock", "confirmed_newest", "error_text", "output_customer"]

DEFAULT_MAX_SKEW_MS = 7 * 86_400_000
"""An event further than this ahead of the shared clock moves it only when another customer confirms."""


@dataclass(slots=True)
class SharedClock:
    """A partition's event-time clock (the replay runner's global one), hardened against wrong clocks.

    The clock is the newest event time seen. An event more than ``max_skew_ms`` ahead of it is
    still processed for its own customer (nothing is lost), but it is *held*: it does not move
    the shared clock, so it cannot fire other customers' timers or make their events late. It
    moves the clock only when an event of another customer confirms the jump (comes within
    ``max_skew_ms`` of it): then time really moved on, as after a gap in the stream or at the
    start of a backfill. With a wall clock, an event more than ``max_skew_ms`` ahead of now never
    moves it.

    Examples
    --------
    >>> day = 86_400_000
    >>> clock = SharedClock(max_skew_ms=day)
    >>> clock.observe(10 * day, "a"), clock.now              # the first event sets it
    (False, 864000000)
    >>> clock.observe(400 * day, "wrong-device"), clock.now   # held: too far ahead, unconfirmed
    (True, 864000000)
    >>> clock.observe(400 * day + 5, "wrong-device"), clock.now  # the same customer confirms nothing
    (True, 864000000)
    >>> clock.observe(400 * day + 9, "b"), clock.now          # another customer: time did move
    (False, 34560000009)

    Until a second customer's event agrees with it (within the skew), the clock is only tentative: a
    far-future event first on a fresh partition sets it, and the next customer's event far behind it
    takes it back, holding that first event as a candidate instead (that call answers True: it held one).

    >>> fresh = SharedClock(max_skew_ms=day)
    >>> fresh.observe(13_000 * day, "wrong-device"), fresh.observe(10 * day, "a"), fresh.now
    (False, True, 864000000)
    >>> fresh.observe(10 * day + 5, "b"), fresh.confirmed, fresh.observe(13_000 * day + 1, "wrong-device")
    (False, True, True)
    """

    max_skew_ms: int | None = DEFAULT_MAX_SKEW_MS
    wall_clock: Callable[[], int] | None = None
    now: int | None = None
    candidate: tuple[int, str] | None = None
    """The newest held jump: (event time, customer), waiting for another customer to confirm it."""
    confirmed: bool = False
    """Two customers' events (or a tick) agree with the clock; before that it is tentative."""
    setter: str | None = None
    """The customer whose event set a tentative clock."""

    def observe(self, ts: int, customer: str) -> bool:
        """Take an event's time; True if an event was held by it: this one (too far ahead: the clock did not
        move), or the one that had set a tentative clock this event takes back."""
        skew = self.max_skew_ms
        if skew is not None and self.wall_clock is not None and ts - self.wall_clock() > skew:
            return True
        now = self.now
        if now is None or skew is None:
            if now is None or ts > now:
                self.now, self.setter = ts, customer
            return False
        if not self.confirmed and customer != self.setter:
            if now - ts > skew:  # one customer's far-future event set the clock: it becomes a held candidate
                self.now, self.candidate, self.setter = ts, (now, self.setter or ""), customer
                return True
            if ts - now <= skew:
                self.confirmed = True
        if ts - now <= skew:
            if ts > now:
                self.now = ts
            return False
        held = self.candidate
        if held is not None and held[1] != customer and abs(ts - held[0]) <= skew:
            self.now, self.candidate, self.confirmed = max(ts, held[0]), None, True
            return False
        self.candidate = (ts, customer)
        return True

    def tick(self, now_ms: int) -> int:
        """A tick record: time reached ``now_ms`` (ticks are trusted; returns the clock)."""
        self.confirmed = True
        if self.now is None or now_ms > self.now:
            self.now = now_ms
        return self.now


def confirmed_newest(times: Iterable[int], max_skew_ms: int | None) -> int | None:
    """The newest of stored customers' newest event times that another customer's confirms (within the
    skew): where a restarted partition clock resumes, so one customer's far-future state cannot set it.

    >>> confirmed_newest([5, 9, 400, 8], 3), confirmed_newest([7], 3), confirmed_newest([], 3)
    (9, 7, None)
    """
    ordered = sorted(times, reverse=True)
    if not ordered:
        return None
    if max_skew_ms is None or len(ordered) == 1:
        return ordered[0]
    for newer, older in pairwise(ordered):
        if newer - older <= max_skew_ms:
            return newer
    return ordered[-1]


def error_text(err: BaseException, customer_id: str) -> str:
    """An exception as one line for a dead letter or reject, with the customer id masked (no PII)."""
    message = str(err).replace(customer_id, "<customer>") if customer_id else str(err)
    return f"{type(err).__name__}: {message}"[:500]


def output_customer(output: Output) -> str:
    """The customer an output belongs to."""
    if isinstance(output, LateEvent):
        return output.event.customer_id
    return output.customer_id
