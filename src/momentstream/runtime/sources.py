"""Reading touchpoint events from JSON lines, keeping every bad line with its reason."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from momentstream.schema import TouchpointEvent

__all__ = ["Reject", "describe_error", "open_text", "read_events", "write_events"]


@dataclass(frozen=True, slots=True)
class Reject:
    """A line that is not a valid event: where it was, why, and the line itself."""

    line: int
    error: str
    raw: str


def describe_error(err: ValidationError) -> str:
    """A one-line reason naming the fields, without echoing values (they may be PII)."""
    parts = []
    for item in err.errors(include_url=False, include_input=False):
        where = ".".join(str(x) for x in item["loc"]) or "(line)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def open_text(path: str | Path) -> IO[str]:
    """Open a file for reading, or standard input for ``-``."""
    if str(path) == "-":
        return sys.stdin
    return Path(path).open(encoding="utf-8")


def write_events(events: Iterable[TouchpointEvent], out: IO[str]) -> int:
    """Write events as JSON lines (the format :func:`read_events` reads); returns how many."""
    count = 0
    for event in events:
        out.write(event.model_dump_json(exclude_defaults=True) + "\n")
        count += 1
    return count


def read_events(lines: Iterable[str]) -> Iterator[tuple[int, TouchpointEvent | Reject]]:
    """Parse JSON lines into events; blank lines are skipped, bad lines become :class:`Reject`.

    Examples
    --------
    >>> rows = ['{"event_id":"e1","customer_id":"c","type":"purchase","ts":"2026-01-01T00:00:00Z"}',
    ...         '', '{"event_id": 3}']
    >>> [(n, type(x).__name__) for n, x in read_events(rows)]
    [(1, 'TouchpointEvent'), (3, 'Reject')]
    """
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            yield number, TouchpointEvent.model_validate_json(text)
        except ValidationError as err:
            yield number, Reject(number, describe_error(err), text)
