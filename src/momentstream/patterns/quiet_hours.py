"""Quiet hours: local wall-clock spans in which no one should be contacted.

The span is in the customer's own timezone (or a named one), so it follows daylight saving
time: 21:00-08:00 in Europe/Berlin is 20:00-07:00 UTC in winter and 19:00-06:00 UTC in
summer. Deferring a trigger needs the *first instant* at which the span is over, which a
DST change can move: when the end falls in a spring-forward gap (02:30 on the night clocks
jump from 02:00 to 03:00), quiet hours end at the jump; when it falls in a fall-back
overlap, at its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["QuietHours", "parse_clock_time", "zone_named"]

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_OFFSET = re.compile(r"^([+-])(\d\d):(\d\d)$")


def parse_clock_time(text: object) -> int:
    """``"21:00"`` -> minutes after midnight; ValueError for anything else.

    >>> parse_clock_time("21:30"), parse_clock_time("8:00")
    (1290, 480)
    """
    found = _CLOCK.match(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"expected a local time HH:MM, got {text!r}")
    return int(found.group(1)) * 60 + int(found.group(2))


@lru_cache(maxsize=512)
def zone_named(name: str) -> tzinfo:
    """An IANA zone, or a fixed offset written ``+01:00`` (what an event's ``ts`` alone tells).

    Unknown names fall back to UTC: a customer's zone comes from their events, and a typo
    there must not stop the policy.
    """
    found = _OFFSET.match(name)
    if found is not None:
        sign = -1 if found.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(found.group(2)), minutes=int(found.group(3))))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


@dataclass(frozen=True, slots=True)
class QuietHours:
    """No contact from ``start`` to ``end`` (minutes after local midnight; the span may wrap midnight).

    ``timezone`` None means the customer's own zone, learnt from their events.

    Examples
    --------
    >>> quiet = QuietHours(start=21 * 60, end=8 * 60)
    >>> berlin = zone_named("Europe/Berlin")
    >>> at = int(datetime(2026, 3, 28, 22, 0, tzinfo=UTC).timestamp() * 1000)   # 23:00 in Berlin
    >>> quiet.is_quiet(at, berlin)
    True
    >>> datetime.fromtimestamp(quiet.next_allowed(at, berlin) / 1000, tz=berlin).isoformat()
    '2026-03-29T08:00:00+02:00'
    """

    start: int
    end: int
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.start < 1440 and 0 <= self.end < 1440) or self.start == self.end:
            raise ValueError("quiet hours need two different local times between 00:00 and 23:59")

    def zone(self, customer_zone: str | None, fallback: str = "UTC") -> tzinfo:
        """The zone the span is read in: the named one, else the customer's, else ``fallback``."""
        return zone_named(self.timezone or customer_zone or fallback)

    def is_quiet(self, at_ms: int, zone: tzinfo) -> bool:
        """Whether the local wall-clock time at ``at_ms`` is inside the span."""
        local = datetime.fromtimestamp(at_ms / 1000, tz=zone)
        minute = local.hour * 60 + local.minute
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def next_allowed(self, at_ms: int, zone: tzinfo) -> int:
        """The first instant at or after ``at_ms`` outside the span (``at_ms`` itself if it is)."""
        if not self.is_quiet(at_ms, zone):
            return at_ms
        day = datetime.fromtimestamp(at_ms / 1000, tz=zone).date()
        candidates = []
        for offset in (-1, 0, 1, 2):
            for instant in self._span_ends(day + timedelta(days=offset), zone):
                if instant >= at_ms and not self.is_quiet(instant, zone):
                    candidates.append(instant)
        if not candidates:  # pragma: no cover - every zone leaves quiet hours within two days
            raise ValueError("quiet hours never end in this timezone")
        return min(candidates)

    def _span_ends(self, day: date, zone: tzinfo) -> list[int]:
        """The instants the local clock shows ``end`` on ``day`` (two in an overlap); in a gap, the jump."""
        wall = datetime(day.year, day.month, day.day, self.end // 60, self.end % 60)
        early = _epoch_ms(wall.replace(tzinfo=zone, fold=0))
        late = _epoch_ms(wall.replace(tzinfo=zone, fold=1))
        if _wall_minute(early, zone) == self.end and _wall_minute(late, zone) == self.end:
            return sorted({early, late})
        # The wall time does not exist: the clock jumped over it somewhere between the two readings.
        low, high = min(early, late), max(early, late)
        while high - low > 1:
            mid = (low + high) // 2
            if self.is_quiet(mid, zone):
                low = mid
            else:
                high = mid
        return [high]


def _epoch_ms(local: datetime) -> int:
    return int(local.astimezone(UTC).timestamp() * 1000)


def _wall_minute(at_ms: int, zone: tzinfo) -> int:
    local = datetime.fromtimestamp(at_ms / 1000, tz=zone)
    return local.hour * 60 + local.minute
