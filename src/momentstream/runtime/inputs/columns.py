"""Rows of a table (a CSV or Parquet export) as touchpoint events, by a column mapping.

The mapped columns fill the event's fields; every other non-empty column becomes a property, as a number
when it reads as one (``00042`` stays text: leading zeros are an id, not an amount) and as true or false when
it says so. A row without an id
column gets a stable one from its number and content, so replaying the same export twice deduplicates.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from momentstream.core.schema import TouchpointEvent, describe_error
from momentstream.runtime.inputs.naming import snake_case
from momentstream.runtime.inputs.timestamps import TimeError, TimeFormat
from momentstream.runtime.sources import Refusal

__all__ = ["FIELDS", "ColumnMap", "MappingError"]

FIELDS = ("customer_id", "type", "ts", "value", "event_id", "channel", "text")
"""The event fields a column can fill (the rest of the row goes into ``properties``)."""

_INTEGER = re.compile(r"^[+-]?(0|[1-9]\d{0,17})$")
_DECIMAL = re.compile(r"^[+-]?(0|[1-9]\d*)?\.\d+([eE][+-]?\d+)?$|^[+-]?(0|[1-9]\d*)[eE][+-]?\d+$")


class MappingError(ValueError):
    """A column mapping that cannot work (an unknown field, a column the file lacks)."""


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which column holds which event field; ``event_type`` names the type when no column does.

    Examples
    --------
    >>> m = ColumnMap.parse("customer_id=user,ts=day,value=amount", event_type="purchase",
    ...                     times=TimeFormat(tz="UTC"))
    >>> m.check(["user", "day", "amount", "store"])
    >>> e = m.event({"user": "u1", "day": "2026-01-02", "amount": "12.50", "store": "00042"}, 2)
    >>> e.customer_id, e.type, e.ts.isoformat(), e.value, e.properties
    ('u1', 'purchase', '2026-01-02T00:00:00+00:00', 12.5, {'store': '00042'})
    >>> m.event({"user": "u1", "day": "soon", "amount": "1"}, 3).error
    'ts: is not an ISO 8601 time (e.g. 2026-03-02T10:00:00Z); for another layout give --ts-format'
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    event_type: str | None = None
    times: TimeFormat = field(default_factory=TimeFormat)
    mapped: frozenset[str] = field(init=False)
    """The columns that fill event fields (every other one is a property), derived once, not per row."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "mapped", frozenset(self.column(name) for name in FIELDS))

    @staticmethod
    def parse(text: str | None, *, event_type: str | None = None, times: TimeFormat | None = None) -> ColumnMap:
        """``field=column,...``; unmapped fields are read from columns of their own name."""
        columns: dict[str, str] = {}
        for part in (text or "").split(","):
            if not part.strip():
                continue
            name, sep, column = (s.strip() for s in part.partition("="))
            if not sep or not column:
                raise MappingError(f"--map {part.strip()!r}: expected field=column, e.g. customer_id=user_id")
            if name not in FIELDS:
                raise MappingError(f"--map: {name!r} is not an event field; the fields are {', '.join(FIELDS)} "
                                   "(other columns become properties by themselves)")  # fmt: skip
            columns[name] = column
        if event_type is not None and "type" in columns:
            raise MappingError("give the event type either as a column (--map type=...) or for every row (--type)")
        if event_type is not None and not snake_case(event_type):
            raise MappingError(f"--type {event_type!r}: an event type needs a letter")
        return ColumnMap(columns, snake_case(event_type) if event_type else None, times or TimeFormat())

    def column(self, name: str) -> str:
        """The column that holds field ``name``."""
        return self.columns.get(name, name)

    def check(self, header: list[str]) -> None:
        """Refuse a header that lacks a needed column, naming what it has (before reading any row)."""
        needed = ["customer_id", "ts"] + ([] if self.event_type else ["type"])
        needed += [name for name in self.columns if name not in needed]
        missing = [f"{name} (column {self.column(name)!r})" for name in needed if self.column(name) not in header]
        if missing:
            shown = ", ".join(repr(h) for h in header[:20]) + (" …" if len(header) > 20 else "")
            hint = "" if self.event_type or "type" in self.columns else "; a file of one event type: --type NAME"
            raise MappingError(f"no column for {', '.join(missing)}; the columns are {shown}. Map them with "
                               f"--map field=column{hint}")  # fmt: skip

    def event(self, row: Mapping[str, Any], number: int) -> TouchpointEvent | Refusal:
        """Row ``number`` (its line, or its place in the file) as an event, or why it is refused (never raises)."""
        doc: dict[str, Any] = {}
        try:
            doc["ts"] = self.times.read(row.get(self.column("ts")))
        except TimeError as err:
            return Refusal("invalid_event", f"ts: {err}")
        kind = self.event_type or snake_case(str(row.get(self.column("type")) or ""))
        doc["type"] = kind or row.get(self.column("type"))
        for name in ("customer_id", "event_id", "channel", "text"):
            cell = row.get(self.column(name))
            if cell is not None and cell != "":
                doc[name] = str(cell) if isinstance(cell, (int, str)) else cell
        cell = row.get(self.column("value"))
        if cell is not None and cell != "":
            number_value = _number(cell)
            if number_value is None:
                return Refusal("invalid_event", "value: is not a number")
            doc["value"] = number_value
        doc["properties"] = {k: _property(v) for k, v in row.items() if k not in self.mapped and v not in (None, "")}
        if "event_id" not in doc:
            content = "\x1f".join(f"{k}={row[k]}" for k in sorted(row))
            doc["event_id"] = f"row-{number}-{hashlib.sha1(content.encode(errors='replace')).hexdigest()[:12]}"
        try:
            return TouchpointEvent.model_validate(doc)
        except ValidationError as err:
            return Refusal("invalid_event", describe_error(err, "(row)"))


def _number(cell: Any) -> float | None:
    if isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float)):
        return float(cell)
    try:
        parsed = float(str(cell).strip())
    except ValueError:
        return None
    return parsed if math.isfinite(parsed) else None


def _property(cell: Any) -> Any:
    """A cell as a property: text that reads as a plain number becomes one; other types pass as they are."""
    if not isinstance(cell, str):
        return cell.isoformat() if hasattr(cell, "isoformat") else cell
    text = cell.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INTEGER.match(text):
        return int(text)
    if _DECIMAL.match(text):
        number = float(text)
        return number if math.isfinite(number) else cell
    return cell
