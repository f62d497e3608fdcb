"""Maps the wall clock to event time, optionally compressed, for the worker's ticker.

Live traffic uses real time (speed 1, origin now). Tests and rehearsals compress time:
with speed 36,000 a 19-hour window opens about two wall seconds after its anchor. The
mapping is fixed by configuration, so a restarted worker continues the same clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["WallClock"]


@dataclass(frozen=True, slots=True)
class WallClock:
    """Event time = ``origin_ms + (wall - origin_wall) * speed``.

    Examples
    --------
    >>> clock = WallClock(speed=3600.0, origin_ms=0, origin_wall=100.0, wall=lambda: 101.5)
    >>> clock.now_ms()  # 1.5 wall seconds at 1 h per second
    5400000
    """

    speed: float = 1.0
    origin_ms: int | None = None
    origin_wall: float | None = None
    wall: Callable[[], float] = time.time

    def now_ms(self) -> int:
        """The current event time in milliseconds."""
        wall = self.wall()
        origin_wall = wall if self.origin_wall is None else self.origin_wall
        origin_ms = round(origin_wall * 1000) if self.origin_ms is None else self.origin_ms
        return origin_ms + round((wall - origin_wall) * 1000 * self.speed)
