"""``momentstream suppress``: a suppression list (do-not-contact file) as consent events.

A list read wrong leaves people contactable without a word, so what could be read wrong is refused
with what to pass instead (see :func:`momentstream.triggers.consent.read_customer_list`), and so is a
channel no moment uses (a typo such as ``emial`` would suppress nothing).
"""

from __future__ import annotations

import argparse
import csv
import difflib
import sys
from datetime import UTC, datetime
from pathlib import Path

from momentstream.cli.argtypes import instant
from momentstream.core.schema import ms_to_datetime
from momentstream.data import bundled_moments_path
from momentstream.runtime.sources import open_binary, write_events
from momentstream.triggers.consent import (
    ALL_CHANNELS,
    SuppressionListError,
    read_customer_list,
    suppression_events,
)

__all__ = ["SUPPRESS_HELP", "add_suppress_command", "run_suppress"]

SUPPRESS_HELP = """\
Write one consent event per customer and channel: consent_withdrawn (or with
--lift, consent_granted). Produce them to the touchpoints topic, or add them to
a replay's input: the engine applies consent on arrival, keeps it per customer
and channel, and suppresses triggers of moments whose channels are all
withdrawn (reason no_consent). Moments name their channels with `channels:`.

A list that would leave people contactable is refused: an unknown --channel,
a first row that looks like a header other than customer_id (name the column
with --id-column), an id holding a delimiter (the delimiter is sniffed among
, ; tab |, or --delimiter).

  momentstream suppress do_not_email.csv --channel email | momentstream produce -
  momentstream suppress export.csv --id-column Email --channel email -o consent.jsonl
  momentstream suppress opt_outs.txt -o consent.jsonl --at 2026-05-01T00:00:00Z
"""


def add_suppress_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``suppress`` command and its options."""
    suppress = sub.add_parser("suppress", formatter_class=argparse.RawTextHelpFormatter,
                              help="turn a suppression list into consent events (JSON lines)",
                              description=SUPPRESS_HELP)  # fmt: skip
    suppress.add_argument("list", help="customer ids, one per line (CSV: the first column, or --id-column; the "
                          "delimiter is sniffed among , ; tab |; # comments), or -")  # fmt: skip
    suppress.add_argument("-o", "--output", default="-", help="events file (default: standard output)")
    suppress.add_argument("--channel", action="append", default=[],
                          help="channel to suppress, repeatable (default: all channels); a known channel name or "
                          "one your moments file (-c) uses: a typo is refused")  # fmt: skip
    suppress.add_argument("--id-column", help="the column holding customer ids, named in the first row (e.g. Email)")
    suppress.add_argument("--delimiter", choices=[",", ";", "tab", "|"], help="the CSV delimiter (default: sniffed)")
    suppress.add_argument("-c", "--moments", type=Path,
                          help="moments YAML whose channels --channel may name (default: bundled)")  # fmt: skip
    suppress.add_argument("--at", type=instant, default=None,
                          help="event time of the change, ISO with timezone (default: now)")  # fmt: skip
    suppress.add_argument("--lift", action="store_true", help="give consent back instead (consent_granted)")
    suppress.add_argument("--name", default="suppression",
                          help="list name, kept in each event and its id (default suppression)")  # fmt: skip


def run_suppress(args: argparse.Namespace) -> int:
    """Write the consent events; exit code 2 for a list or channel that would be read wrong."""
    from momentstream.patterns.dsl import KNOWN_CHANNELS, load_moments

    at = datetime.now(UTC).replace(microsecond=0) if args.at is None else ms_to_datetime(args.at)
    known = {ALL_CHANNELS, *KNOWN_CHANNELS}
    known.update(c for m in load_moments(args.moments or bundled_moments_path()) for c in m.spec.channels)
    for channel in args.channel:
        if channel not in known:
            near = difflib.get_close_matches(channel, sorted(known), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            print(f"momentstream: unknown channel {channel!r}{hint}: a suppression on a channel no moment uses "
                  "leaves people contactable; name a channel of your moments file (-c) or a known one",
                  file=sys.stderr)  # fmt: skip
            return 2
    with open_binary(args.list) as stream:
        data = stream.read()
    delimiter = "\t" if args.delimiter == "tab" else args.delimiter
    try:
        customers = read_customer_list(data, args.id_column, delimiter)
    except (UnicodeDecodeError, csv.Error) as err:
        print(f"momentstream: {args.list}: not a UTF-8 list of customer ids ({err})", file=sys.stderr)
        return 2
    except SuppressionListError as err:
        print(f"momentstream: {args.list}: {err}; nothing written", file=sys.stderr)
        return 2
    events = suppression_events(dict.fromkeys(customers), args.channel, at, args.lift, args.name)
    if args.output == "-":
        written = write_events(events, sys.stdout)
    else:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        with Path(args.output).open("w") as out:
            written = write_events(events, out)
    change = "granted" if args.lift else "withdrawn"
    print(f"wrote {written:,} consent_{change} events for {len(set(customers)):,} customers "
          f"({', '.join(args.channel) or 'all channels'})", file=sys.stderr)  # fmt: skip
    return 0
