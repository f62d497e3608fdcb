"""Reading touchpoint events from JSON lines, keeping every bad line with its reason.

Lines are read as bytes and decoded one at a time, so a stray non-UTF-8 byte costs one
line (a reject with its number), never the run. The same checks refuse a Kafka record in
the worker (:func:`parse_event`), so both runtimes refuse the same input for the same reason.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from momentstream.core.schema import MAX_EVENT_BYTES, TouchpointEvent, describe_error

__all__ = [
    "RAW_KEPT",
    "Refusal",
    "Reject",
    "describe_error",
    "kept_raw",
    "open_binary",
    "open_text",
    "parse_event",
    "parsed_lines",
    "read_events",
    "write_events",
]

RAW_KEPT = 4_096
"""Bytes of a refused oversized record kept in a reject or dead letter (with its size and hash)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a record is not an event: a short reason code and a message naming fields, not values."""

    reason: str
    error: str


@dataclass(frozen=True, slots=True)
class Reject:
    """A line that is not a valid event: where it was, why, and the line itself.

    ``size`` and ``sha256`` are set when ``raw`` holds only the first :data:`RAW_KEPT` bytes.
    """

    line: int
    error: str
    raw: str
    reason: str = "invalid_event"
    size: int | None = None
    sha256: str | None = None

    @classmethod
    def of(cls, line: int, refusal: Refusal, data: bytes) -> Reject:
        """The reject of record ``data`` at ``line``, keeping all of it or its first bytes with size and hash."""
        kept, size, digest = kept_raw(data)
        return cls(line, refusal.error, kept.decode("utf-8", "backslashreplace"), refusal.reason, size, digest)

    def to_json(self) -> dict[str, object]:
        """The rejects-file record."""
        doc: dict[str, object] = {"line": self.line, "reason": self.reason, "error": self.error, "raw": self.raw}
        if self.size is not None:
            doc.update(size=self.size, sha256=self.sha256, truncated=True)
        return doc


def parse_event(data: bytes) -> TouchpointEvent | Refusal:
    """One record's bytes as an event, or the reason it is refused (never raises).

    Examples
    --------
    >>> parse_event(b'{"event_id":"e","customer_id":"c","type":"purchase","ts":"2026-01-01T00:00:00Z"}').type
    'purchase'
    >>> parse_event(b'{"event_id":"e","customer_id":"c","type":"purchase","ts":"2026-01-01T00:00:00Z","value":NaN}')
    Refusal(reason='invalid_event', error='value: Input should be a finite number')
    >>> parse_event(b"\\xff").reason
    'invalid_json'
    """
    if len(data) > MAX_EVENT_BYTES:
        return Refusal("too_large", f"record of {len(data):,} bytes is over the {MAX_EVENT_BYTES:,}-byte limit")
    try:
        return TouchpointEvent.model_validate_json(data)
    except ValidationError as err:
        json_broken = any(e["type"] in ("json_invalid", "json_type") for e in err.errors(include_url=False))
        return Refusal("invalid_json" if json_broken else "invalid_event", describe_error(err))
    except (ValueError, UnicodeError, RecursionError) as err:  # deeply nested or undecodable input
        return Refusal("invalid_json", f"{type(err).__name__}: unreadable record")


def kept_raw(data: bytes) -> tuple[bytes, int | None, str | None]:
    """What to keep of a refused record: all of it, or its first :data:`RAW_KEPT` bytes with size and hash."""
    if len(data) <= RAW_KEPT:
        return data, None, None
    return data[:RAW_KEPT], len(data), hashlib.sha256(data).hexdigest()


def open_text(path: str | Path) -> IO[str]:
    """Open a file for reading, or standard input for ``-``."""
    if str(path) == "-":
        return sys.stdin
    return Path(path).open(encoding="utf-8")


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file of lines as bytes (decoded per line by :func:`read_events`), or standard input for ``-``."""
    if str(path) == "-":
        return sys.stdin.buffer
    return Path(path).open("rb")


def write_events(events: Iterable[TouchpointEvent], out: IO[str]) -> int:
    """Write events as JSON lines (the format :func:`read_events` reads); returns how many."""
    count = 0
    for event in events:
        out.write(event.model_dump_json(exclude_defaults=True) + "\n")
        count += 1
    return count


def read_events(lines: Iterable[str | bytes]) -> Iterator[tuple[int, TouchpointEvent | Reject]]:
    """Parse JSON lines (text or bytes) into events; blank lines are skipped, bad lines become :class:`Reject`.

    Examples
    --------
    >>> rows = ['{"event_id":"e1","customer_id":"c","type":"purchase","ts":"2026-01-01T00:00:00Z"}',
    ...         '', '{"event_id": 3}', b'\\xff\\n']
    >>> [(n, type(x).__name__) for n, x in read_events(rows)]
    [(1, 'TouchpointEvent'), (3, 'Reject'), (4, 'Reject')]
    """
    numbered = ((n, line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line)
                for n, line in enumerate(lines, start=1))  # fmt: skip
    yield from parsed_lines((n, data) for n, data in numbered if data.strip())


def parsed_lines(lines: Iterable[tuple[int, bytes]],
                 parse: Callable[[bytes], TouchpointEvent | Refusal] = parse_event,
                 ) -> Iterator[tuple[int, TouchpointEvent | Reject]]:  # fmt: skip
    """Numbered non-blank records parsed by ``parse`` (ours, or another format's), each refusal a :class:`Reject`."""
    for number, line in lines:
        data = line.strip().removeprefix(b"\xef\xbb\xbf")  # a byte-order mark (an editor's, on the first line)
        parsed = parse(data)
        yield number, Reject.of(number, parsed, data) if isinstance(parsed, Refusal) else parsed
