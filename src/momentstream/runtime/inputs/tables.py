"""Tables on disk as rows: CSV (any delimiter, or runs of blanks for aligned text) and Parquet.

Each yields ``(number, row)`` (a CSV's line number, a Parquet row's number from 1), or ``(number, Refusal)``
for a row that cannot be a row (undecodable bytes, too many cells), so the caller rejects it and goes on.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from momentstream.core.schema import MAX_EVENT_BYTES
from momentstream.runtime.sources import Refusal

__all__ = ["WHITESPACE", "TableError", "csv_rows", "parquet_row_count", "parquet_rows"]

WHITESPACE = "whitespace"
"""The delimiter name for text aligned with blanks (``CDNOW_master.txt``)."""

Rows = Iterator[tuple[int, dict[str, Any] | Refusal]]


class TableError(ValueError):
    """A file that is not the table it was said to be (no header, not Parquet, pyarrow missing)."""


def csv_rows(path: str | Path, delimiter: str = ",", header: Callable[[list[str]], None] | None = None) -> Rows:
    """Rows of a delimited text file with a header line, numbered by line; ``header`` sees the column names
    first.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    ...     _ = f.write("user,day\\nu1,2026-01-01\\n\\nu2\\n")
    >>> list(csv_rows(f.name))
    [(2, {'user': 'u1', 'day': '2026-01-01'}), (4, {'user': 'u2', 'day': ''})]
    >>> os.unlink(f.name)
    """
    with _open(path) as stream:
        cells_of = _reader(stream, delimiter)
        names: list[str] | None = None
        for number, cells in cells_of:
            if not any(cell.strip() for cell in cells):
                continue
            if names is None:
                names = [name.strip().lstrip("\ufeff") for name in cells]
                if len(set(names)) != len(names) or not all(names):
                    raise TableError("its header line has empty or repeated column names")
                if header is not None:
                    header(names)
                continue
            size = sum(len(cell) for cell in cells)
            if size > MAX_EVENT_BYTES:
                yield number, Refusal("too_large", f"row of {size:,} characters is over the limit")
            elif any(_undecodable(cell) for cell in cells):
                yield number, Refusal("invalid_row", "not UTF-8 text")
            elif len(cells) > len(names):
                yield number, Refusal("invalid_row", f"{len(cells)} cells for {len(names)} columns")
            else:
                yield number, {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(names)}
        if names is None:
            raise TableError("is empty: a table needs a header line naming its columns")


def _reader(stream: IO[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Cells per row with the file's line number (a quoted field may span lines: the row's last line)."""
    if delimiter == WHITESPACE:
        yield from ((number, line.split()) for number, line in enumerate(stream, start=1))
        return
    if len(delimiter) != 1:
        raise TableError(f"delimiter {delimiter!r}: one character (, ; | tab) or {WHITESPACE}")
    reader = csv.reader(stream, delimiter=delimiter)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as err:  # a NUL byte, an unterminated quote at the end: the rest is unreadable
        raise TableError(f"unreadable at line {reader.line_num} ({err})") from None


def _open(path: str | Path) -> IO[str]:
    if str(path) == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape", newline="")
    return Path(path).open(encoding="utf-8", errors="surrogateescape", newline="")


def _undecodable(line: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in line)


def parquet_row_count(path: str | Path) -> int | None:
    """Rows of a Parquet file from its footer (None when it cannot be read: the reader will say why)."""
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415 - optional: only Parquet readers need it

        return int(pq.ParquetFile(str(path)).metadata.num_rows)
    except Exception:  # not installed, or not Parquet: read_input reports it with the reason
        return None


def parquet_rows(path: str | Path, header: Callable[[list[str]], None] | None = None, batch: int = 8_192) -> Rows:
    """Rows of a Parquet file, read a batch at a time (typed: times, numbers and text as they are stored)."""
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415 - optional: only Parquet readers need it
    except ImportError:
        raise TableError("needs pyarrow to read Parquet: pip install 'momentstream[parquet]'") from None
    try:
        table = pq.ParquetFile(str(path))
    except Exception as err:  # pyarrow raises its own error types for a file that is not Parquet
        raise TableError(f"is not a Parquet file ({type(err).__name__})") from None
    names = [str(name) for name in table.schema_arrow.names]
    if header is not None:
        header(names)
    number = 0
    for chunk in table.iter_batches(batch_size=batch):
        for row in chunk.to_pylist():
            number += 1
            yield number, row
