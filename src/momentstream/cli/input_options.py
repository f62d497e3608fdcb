"""The options that say how to read a history, shared by replay, discover, profile, produce and check.

JSON lines need none. A CSV or Parquet export needs its columns mapped (``--map``) and its times
explained when they carry no timezone (``--tz``), have another layout (``--ts-format``) or are epoch
numbers (``--epoch``). Segment messages are recognised by themselves.
"""

from __future__ import annotations

import argparse

from momentstream.runtime.inputs import (
    FIELDS,
    FORMATS,
    WHITESPACE,
    ColumnMap,
    InputError,
    InputFormat,
    MappingError,
    TimeError,
    TimeFormat,
)
from momentstream.runtime.sources import Reject

__all__ = ["INPUT_HELP", "add_input_options", "input_format", "no_valid_event"]

INPUT_HELP = f"""\
Histories may be JSON lines (ours, or Segment/RudderStack messages: track, identify, page,
screen, alias, group), CSV or Parquet. A table's columns are mapped to event fields with
--map; the fields are {", ".join(FIELDS)}. Unmapped fields are read from
columns of their own name; every other column becomes a property (numbers as numbers).
  momentstream replay orders.csv --map customer_id=user_id,type=event,ts=created_at,value=amount --tz UTC
  momentstream discover CDNOW_master.txt --format csv --delimiter {WHITESPACE} --type purchase \\
      --map ts=date,value=dollar_value --ts-format %Y%m%d --tz UTC --outcome purchase
"""


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """The reading options, as one group in ``--help``."""
    group = parser.add_argument_group("reading your own data", INPUT_HELP)
    group.add_argument("--format", choices=FORMATS, default="auto",
                       help="auto (default): .csv/.tsv/.txt are tables, .parquet Parquet, else JSON lines\n"
                            "(ours or Segment's, told apart by the first lines)")  # fmt: skip
    group.add_argument("--map", metavar="FIELD=COLUMN,...", help="which column holds which event field")
    group.add_argument("--type", dest="event_type", metavar="NAME",
                       help="every row is an event of this type (a table with no type column)")  # fmt: skip
    group.add_argument("--tz", metavar="ZONE", help="timezone of times written without one, e.g. UTC, Europe/Berlin")
    group.add_argument("--ts-format", metavar="FORMAT", help="strptime layout of the ts column, e.g. %%Y%%m%%d")
    group.add_argument("--epoch", choices=["s", "ms"],
                       help="the ts column holds seconds (s) or milliseconds (ms) since 1970, UTC")  # fmt: skip
    group.add_argument("--delimiter", metavar="CHAR",
                       help=f"CSV delimiter: , (default) ; | tab, or {WHITESPACE} (aligned text)")  # fmt: skip


def input_format(args: argparse.Namespace) -> InputFormat:
    """The :class:`InputFormat` the options describe; a mistake is an :class:`InputError` (exit 2)."""
    delimiter = {"tab": "\t", "\\t": "\t"}.get(args.delimiter, args.delimiter)
    table_only = [name for name in ("map", "event_type", "ts_format", "epoch", "tz") if getattr(args, name)]
    try:
        times = TimeFormat(tz=args.tz, pattern=args.ts_format, epoch=args.epoch)
        columns = ColumnMap.parse(args.map, event_type=args.event_type, times=times)
    except (MappingError, TimeError) as err:
        raise InputError(str(err)) from None
    fmt = InputFormat(args.format, columns, delimiter)
    if table_only and args.format in ("jsonl", "segment"):
        flags = ", ".join("--" + name.replace("event_type", "type").replace("_", "-") for name in table_only)
        raise InputError(f"{flags} read tables (CSV, Parquet); --format {args.format} is not one")
    return fmt


def no_valid_event(source: str, rejected: int, first: Reject | None) -> str:
    """What a command says when a history held no valid event: how many lines were refused, and the first reason.

    >>> no_valid_event("a.csv", 2, Reject(2, "ts: is a bare number", "1767225600"))
    'momentstream: no valid event in a.csv (2 lines rejected; the first, line 2: ts: is a bare number)'
    """
    quoted = f"; the first, line {first.line}: {first.error}" if first is not None else ""
    return f"momentstream: no valid event in {source} ({rejected:,} lines rejected{quoted})"
