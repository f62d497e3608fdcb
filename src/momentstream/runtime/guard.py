"""What both runtimes use to keep one bad record from harming the rest: the clock-skew bound and
safe error texts for dead letters and rejects.
"""

from __future__ import annotations

from collections.abc import Callable

from momentstream.clock import format_duration
from momentstream.schema import LateEvent, Output

__all__ = ["DEFAULT_MAX_SKEW_MS", "SkewGuard", "error_text", "output_customer"]

DEFAULT_MAX_SKEW_MS = 7 * 86_400_000
"""Events more than this ahead of their partition's clock are refused (``max_skew``)."""


class SkewGuard:
    """Refuses events too far ahead of shared time, so one wrong device clock cannot fire everyone's timers.

    The partition clock (the replay runner's global clock) is the newest event time seen; with a
    wall clock, now is a second reference. An event more than ``max_skew_ms`` ahead of either is
    refused: accepting it would move the shared clock, fire other customers' timers early and make
    their later events late.

    Examples
    --------
    >>> guard = SkewGuard(86_400_000)
    >>> guard.refusal(1_000, None) is None, guard.refusal(86_400_000, 0) is None
    (True, True)
    >>> guard.refusal(3 * 86_400_000, 0)
    'ts is 3d ahead of the partition clock (max_skew 1d)'
    """

    def __init__(self, max_skew_ms: int | None = DEFAULT_MAX_SKEW_MS, wall_clock: Callable[[], int] | None = None):
        self.max_skew_ms = max_skew_ms
        self.wall_clock = wall_clock

    def refusal(self, ts: int, clock_now: int | None) -> str | None:
        """Why an event at ``ts`` is refused against the clock at ``clock_now`` (None: it is accepted)."""
        skew = self.max_skew_ms
        if skew is None:
            return None
        bound = f"max_skew {format_duration(skew)}"
        if clock_now is not None and ts - clock_now > skew:
            return f"ts is {format_duration(ts - clock_now)} ahead of the partition clock ({bound})"
        if self.wall_clock is not None:
            now = self.wall_clock()
            if ts - now > skew:
                return f"ts is {format_duration(ts - now)} ahead of the wall clock ({bound})"
        return None


def error_text(err: BaseException, customer_id: str) -> str:
    """An exception as one line for a dead letter or reject, with the customer id masked (no PII)."""
    message = str(err).replace(customer_id, "<customer>") if customer_id else str(err)
    return f"{type(err).__name__}: {message}"[:500]


def output_customer(output: Output) -> str:
    """The customer an output belongs to."""
    if isinstance(output, LateEvent):
        return output.event.customer_id
    return output.customer_id
