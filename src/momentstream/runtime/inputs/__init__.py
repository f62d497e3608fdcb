"""Histories as users have them: our JSON lines, CSV or Parquet exports mapped by column, Segment messages.

Every reader yields ``(number, TouchpointEvent | Reject)``: a bad row costs one reject with its reason,
never the run. :class:`InputFormat` says how to read a file; ``auto`` decides by the file's name
(``.csv``, ``.tsv``, ``.txt``, ``.parquet``) and, for JSON lines, by the first line (a Segment message
or one of our events). A file that is none of these stops before the first event, with a hint.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from momentstream.core.schema import TouchpointEvent
from momentstream.runtime.inputs.columns import FIELDS, ColumnMap, MappingError
from momentstream.runtime.inputs.naming import snake_case
from momentstream.runtime.inputs.segment import looks_like_segment, parse_segment, segment_event, segment_key
from momentstream.runtime.inputs.tables import WHITESPACE, TableError, csv_rows, parquet_row_count, parquet_rows
from momentstream.runtime.inputs.timestamps import TimeError, TimeFormat
from momentstream.runtime.sources import Refusal, Reject, open_binary, parse_event, parsed_lines

__all__ = [
    "FIELDS",
    "FORMATS",
    "WHITESPACE",
    "ColumnMap",
    "InputError",
    "InputFormat",
    "Kind",
    "MappingError",
    "TableError",
    "TimeError",
    "TimeFormat",
    "detected",
    "estimated_rows",
    "line_parser",
    "looks_like_segment",
    "parse_segment",
    "read_input",
    "record_parser",
    "segment_event",
    "segment_key",
    "snake_case",
    "table_record",
]

Kind = Literal["auto", "jsonl", "csv", "parquet", "segment"]
FORMATS: tuple[Kind, ...] = ("auto", "jsonl", "csv", "parquet", "segment")

Parse = Callable[[bytes], TouchpointEvent | Refusal]

_SAMPLE_BYTES = 1 << 20
"""Bytes of a CSV read to estimate its rows."""

_SNIFF_LINES = 10
"""Non-blank lines read to tell JSON lines from a table, and ours from Segment's."""

_TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": WHITESPACE}


class InputError(ValueError):
    """A whole input that cannot be read as stated: the message names the file and what would read it."""


@dataclass(frozen=True, slots=True)
class InputFormat:
    """How to read a history: the ``kind``, the column mapping of tables, the delimiter of CSV."""

    kind: Kind = "auto"
    columns: ColumnMap = field(default_factory=ColumnMap)
    delimiter: str | None = None

    def resolved(self, path: str | Path) -> InputFormat:
        """The kind ``auto`` stands for with this file (by its name; JSON lines by their first line)."""
        if self.kind != "auto":
            return self
        suffix = Path(str(path)).suffix.lower()
        if suffix == ".parquet":
            return InputFormat("parquet", self.columns, self.delimiter)
        if suffix in _TABLE_SUFFIXES or self.delimiter is not None:
            return InputFormat("csv", self.columns, self.delimiter or _TABLE_SUFFIXES.get(suffix, ","))
        return self


def record_parser(touchpoints_format: str) -> Parse:
    """How a worker reads a touchpoints record: as our event, or as a Segment message (``touchpoints_format``)."""
    return parse_segment if touchpoints_format == "segment" else parse_event


def estimated_rows(path: str | Path, fmt: InputFormat | None = None) -> int | None:
    """About how many records a table holds (Parquet: exactly, from its footer; CSV: its size over the mean size
    of its first lines); None for JSON lines and standard input, whose size says it already."""
    fmt = (fmt or InputFormat()).resolved(path)
    if str(path) == "-" or fmt.kind not in ("csv", "parquet"):
        return None
    if fmt.kind == "parquet":
        return parquet_row_count(path)
    with Path(path).open("rb") as stream:
        head = stream.read(_SAMPLE_BYTES)
    lines = head.count(b"\n") or 1
    return int(Path(path).stat().st_size * lines / max(len(head), 1))


def detected(path: str | Path, fmt: InputFormat | None = None) -> Kind:
    """The format ``path`` will be read as (standard input: as stated, JSON lines when not)."""
    fmt = (fmt or InputFormat()).resolved(path)
    if fmt.kind != "auto" or str(path) == "-":
        return "jsonl" if fmt.kind == "auto" else fmt.kind
    with open_binary(path) as stream:
        return _sniff(list(itertools.islice(_skip_blank(stream), _SNIFF_LINES)))


def read_input(path: str | Path, fmt: InputFormat | None = None) -> Iterator[tuple[int, TouchpointEvent | Reject]]:
    """The events of ``path`` (``-`` for standard input) read as ``fmt`` says, with rejects in place.

    Raises :class:`InputError` before the first event when the file cannot be the format at all.
    """
    fmt = (fmt or InputFormat()).resolved(path)
    try:
        if fmt.kind in ("csv", "parquet"):
            yield from _table(path, fmt)
            return
        with open_binary(path) as stream:
            lines = _skip_blank(stream)
            head = list(itertools.islice(lines, _SNIFF_LINES))
            if not head:
                return
            rest = itertools.chain(head, lines)
            yield from parsed_lines(rest, line_parser(path, fmt, head))
    except (TableError, MappingError, TimeError) as err:
        raise InputError(f"{path}: {err}") from None


def line_parser(path: str | Path, fmt: InputFormat, head: list[tuple[int, bytes]]) -> Parse:
    """How to parse the lines of a JSON-lines history whose first non-blank lines are ``head`` (numbered): ours or
    Segment's. Raises :class:`InputError` when none of them is a JSON object (a CSV given as JSON lines)."""
    if not any(line.lstrip().removeprefix(b"\xef\xbb\xbf").startswith(b"{") for _, line in head):
        raise InputError(f"{path}: line {head[0][0]} is not a JSON object, so this is not a JSON-lines "
                         "history. For a CSV or Parquet export say --format csv or --format parquet (or "
                         "name the file .csv, .tsv or .parquet) and map its columns with --map")  # fmt: skip
    kind = fmt.kind if fmt.kind != "auto" else _sniff(head)
    return parse_segment if kind == "segment" else parse_event


def table_record(columns: ColumnMap, number: int, row: dict[str, object] | Refusal) -> TouchpointEvent | Reject:
    """One row of a table (CSV or Parquet, as a dict by column) as an event, or a reject with its reason."""
    event = row if isinstance(row, Refusal) else columns.event(row, number)
    if isinstance(event, Refusal):
        raw = json.dumps(row, default=str) if isinstance(row, dict) else ""
        return Reject.of(number, event, raw.encode("utf-8", "backslashreplace"))
    return event


def _skip_blank(stream: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield number, line


def _sniff(head: list[tuple[int, bytes]]) -> Kind:
    """Segment when the first line that is JSON is a Segment message, else our JSON lines."""
    for _, line in head:
        try:
            doc = json.loads(line.removeprefix(b"\xef\xbb\xbf"))
        except (ValueError, UnicodeError, RecursionError):
            continue
        return "segment" if looks_like_segment(doc) else "jsonl"
    return "jsonl"


def _table(path: str | Path, fmt: InputFormat) -> Iterator[tuple[int, TouchpointEvent | Reject]]:
    columns = fmt.columns
    rows = (parquet_rows(path, columns.check) if fmt.kind == "parquet"
            else csv_rows(path, fmt.delimiter or ",", columns.check))  # fmt: skip
    for number, row in rows:
        yield number, table_record(columns, number, row)
