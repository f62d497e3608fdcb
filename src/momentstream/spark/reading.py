"""A history read by Spark into numbered records: the same validation, line numbers and rejects as the local
readers (:mod:`momentstream.runtime.inputs`), on any path Spark reads (a file, a directory, s3://, abfss://).

JSON lines (ours or Segment's) are read as raw bytes and parsed by our own parser, numbered by line in file
order; Parquet is read by Spark and each row goes through the same column mapping (``--map``) as a local
Parquet file, its timestamps as exact UTC instants. CSV stays with the local engine: a warehouse holds Parquet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from momentstream.core.schema import TouchpointEvent
from momentstream.runtime.inputs import InputError, InputFormat, line_parser, table_record
from momentstream.runtime.sources import Reject, parsed_lines

__all__ = ["SNIFF_LINES", "read_records"]

SNIFF_LINES = 10
"""Non-blank lines looked at to tell JSON lines from a table, and ours from Segment's (as the local reader)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def read_records(spark: Any, path: str | Path, fmt: InputFormat | None = None) -> Any:
    """An RDD of ``(number, TouchpointEvent | Reject)`` in file order; :class:`InputError` for an input that
    cannot be the format (before any work is spread)."""
    fmt = (fmt or InputFormat()).resolved(path)
    if str(path) == "-":
        raise InputError("--engine spark reads a path Spark can read, not standard input")
    if fmt.kind == "csv":
        raise InputError(f"{path}: --engine spark reads Parquet and JSON lines; convert the CSV to Parquet "
                         "(or run discovery with the local engine)")  # fmt: skip
    if fmt.kind == "parquet":
        return _parquet(spark, path, fmt)
    from pyspark.sql import functions  # noqa: PLC0415 - optional dependency

    try:
        # Lines as the bytes they are (a cast of the text source's value, never decoded and re-encoded, so bytes
        # that are not UTF-8 are refused as locally), split at \n alone as a local file is.
        text = spark.read.option("lineSep", "\n").text(str(path))
        lines = text.select(functions.col("value").cast("binary")).rdd.map(lambda row: bytes(row[0]))
        numbered = lines.zipWithIndex().map(_numbered).filter(lambda record: record[1].strip())
        head = numbered.take(SNIFF_LINES)
    except Exception as err:  # Spark's own errors for a path it cannot read
        raise InputError(f"{path}: Spark cannot read it ({_first_line(err)})") from None
    if not head:
        return numbered.map(_never)
    parse = line_parser(path, fmt, head)
    return numbered.mapPartitions(lambda records: parsed_lines(records, parse))


def _numbered(pair: tuple[bytes, int]) -> tuple[int, bytes]:
    line, index = pair
    return index + 1, line


def _never(record: tuple[int, bytes]) -> tuple[int, TouchpointEvent | Reject]:
    raise AssertionError("an input without a non-blank line has no records")


def _parquet(spark: Any, path: str | Path, fmt: InputFormat) -> Any:
    from pyspark.sql import functions  # noqa: PLC0415 - optional dependency
    from pyspark.sql.types import TimestampType  # noqa: PLC0415

    try:
        frame = spark.read.parquet(str(path))
    except Exception as err:
        raise InputError(f"{path}: is not Parquet Spark can read ({_first_line(err)})") from None
    columns = fmt.columns
    try:
        columns.check(list(frame.columns))
    except ValueError as err:
        raise InputError(f"{path}: {err}") from None
    stamps = frozenset(f.name for f in frame.schema.fields if isinstance(f.dataType, TimestampType))
    # An instant as microseconds since the epoch: Python's conversion would give a naive time in the worker's zone.
    frame = frame.select(*[functions.unix_micros(functions.col(f"`{name}`")).alias(name) if name in stamps
                           else functions.col(f"`{name}`") for name in frame.columns])  # fmt: skip

    def record(pair: tuple[Any, int]) -> tuple[int, TouchpointEvent | Reject]:
        row, index = pair
        values = row.asDict()
        for name in stamps:
            micros = values.get(name)
            if micros is not None:
                values[name] = _EPOCH + timedelta(microseconds=micros)
        return index + 1, table_record(columns, index + 1, values)

    return frame.rdd.zipWithIndex().map(record)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__
