"""Event times from exports: ISO 8601 with a timezone, naive times with a stated zone, a stated
``strptime`` format, or stated epoch units. A bare number is never guessed (seconds, milliseconds
and ``19970101`` all look alike), and a naive time never silently becomes UTC."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["EpochUnit", "TimeError", "TimeFormat", "zone"]

EpochUnit = Literal["s", "ms"]

_BARE_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


class TimeError(ValueError):
    """A time that cannot be read as stated; the message says which option would read it."""


def zone(name: str) -> tzinfo:
    """An IANA zone (``Europe/Berlin``) or ``UTC``; a typo is an error naming an example."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeError(f"{name!r} is not an IANA timezone name (e.g. UTC, Europe/Berlin, America/New_York)") from None


@dataclass(frozen=True, slots=True)
class TimeFormat:
    """How to read the ``ts`` column: ``tz`` for times without an offset, ``pattern`` for ``strptime``,
    ``epoch`` when it holds seconds or milliseconds since 1970 (UTC).

    >>> TimeFormat().read("2026-03-02T10:00:00Z").isoformat()
    '2026-03-02T10:00:00+00:00'
    >>> TimeFormat(tz="Europe/Berlin").read("2026-03-02 10:00").isoformat()
    '2026-03-02T10:00:00+01:00'
    >>> TimeFormat(pattern="%Y%m%d", tz="UTC").read("19970101").isoformat()
    '1997-01-01T00:00:00+00:00'
    >>> TimeFormat(epoch="ms").read("1767225600000").isoformat()
    '2026-01-01T00:00:00+00:00'
    >>> try:
    ...     TimeFormat().read("19970101")
    ... except TimeError as err:
    ...     print(err)
    is a bare number: say what it is with --epoch s|ms (since 1970) or --ts-format (e.g. %Y%m%d)
    """

    tz: str | None = None
    pattern: str | None = None
    epoch: EpochUnit | None = None

    def __post_init__(self) -> None:
        if self.tz is not None:
            zone(self.tz)  # a typo fails before the first row
        if self.epoch is not None and self.pattern is not None:
            raise TimeError("--epoch and --ts-format exclude each other")

    def read(self, raw: object) -> datetime:
        """``raw`` (text from a CSV, or a value from Parquet or JSON) as an aware time."""
        if isinstance(raw, datetime):
            return self._aware(raw)
        if isinstance(raw, date):
            return self._aware(datetime(raw.year, raw.month, raw.day))
        if self.epoch is not None:
            return self._from_epoch(raw)
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise TimeError(f"is a {type(raw).__name__}, not a time")
        text = str(raw).strip()
        if not text:
            raise TimeError("is empty")
        if self.pattern is not None:
            try:
                return self._aware(datetime.strptime(text, self.pattern))
            except ValueError:
                raise TimeError(f"does not match --ts-format {self.pattern}") from None
        if _BARE_NUMBER.match(text):
            raise TimeError("is a bare number: say what it is with --epoch s|ms (since 1970) or --ts-format "
                            "(e.g. %Y%m%d)")  # fmt: skip
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise TimeError("is not an ISO 8601 time (e.g. 2026-03-02T10:00:00Z); for another layout give "
                            "--ts-format") from None  # fmt: skip
        return self._aware(parsed)

    def _aware(self, value: datetime) -> datetime:
        if value.tzinfo is not None:
            return value
        if self.tz is None:
            raise TimeError("has no timezone: give --tz with the zone it was recorded in (e.g. --tz UTC)")
        return value.replace(tzinfo=zone(self.tz))

    def _from_epoch(self, raw: object) -> datetime:
        try:
            number = float(raw) if isinstance(raw, (str, int, float)) and not isinstance(raw, bool) else math.nan
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise TimeError(f"is not a number of {'seconds' if self.epoch == 's' else 'milliseconds'} (--epoch)")
        seconds = number if self.epoch == "s" else number / 1000
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise TimeError("is out of range") from None
