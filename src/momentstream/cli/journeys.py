"""``momentstream journeys``: the command line of :mod:`momentstream.journeys`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from momentstream.cli.argtypes import positive_duration
from momentstream.cli.input_options import add_input_options, input_format
from momentstream.cli.spark_options import add_engine_options, spark_loader

__all__ = ["JOURNEYS_HELP", "add_journeys_command", "run_journeys_command"]

JOURNEYS_HELP = """\
Map how the best customers' relationships were built, and find the early signs of
the next ones.

  1. each customer's value over their first days (--by 'value within 180d': the
     summed value of the --outcome events from their first event; or 'count
     within 90d'); customers who started too recently to have had that long are
     left out, never ranked as low. The top share (--top) is the cohort;
  2. the steps of each customer's first days (--early, default 30d) that tell
     the cohort apart, single and in ordered pairs ("education_view, then
     feature_success"): chosen on the customers who started in the earlier half
     of the history, then tested on those who started later (cohort rate with a
     95% Wilson interval, lift, Fisher's exact test, Benjamini-Hochberg);
  3. the best indicator that held, written as a moments file (--moments) and run
     by the engine over the later customers' first days: the lift it prints is
     what the moment does;
  4. the typical paths of both cohorts as a picture (-o map.html: self-contained
     HTML, opens in any browser), and report.json (--report).

The outcome's own events (purchases, when the value is spend) are not
candidates: a value made of purchases is trivially told by purchases. Pass
--keep-outcome-events to allow them, --ignore page_view,login to leave noise
out of the paths and candidates.

examples:
  momentstream journeys events.jsonl --top 5% --by 'value within 180d' -o map.html
  momentstream journeys events.jsonl --top 10% --by 'count within 90d' --outcome purchase \\
      --early 14d --moments early.yaml --report journeys.json -o map.html

Exit codes: 0 done (with no indicator that held, no moments file is written and
the summary says so), 2 bad options or input. Invalid lines go to --rejects.
"""


def add_journeys_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``journeys``."""
    journeys = sub.add_parser("journeys", help="journey map of a value cohort: its paths, early signs, a moment",
                              description=JOURNEYS_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    journeys.add_argument("events", help="history as JSON lines, CSV or Parquet (- for standard input)")
    journeys.add_argument("--top", default="5%", help="share of ranked customers in the cohort (default 5%%)")
    journeys.add_argument("--by", default="value within 180d",
                          help="what ranks them: 'value within 180d' (default) or 'count within 90d'")  # fmt: skip
    journeys.add_argument("--outcome", default="purchase",
                          help="the events that make the value: a type, or a where mapping such as\n"
                               "'{type: purchase, value: {gte: 10}}' (default purchase)")  # fmt: skip
    journeys.add_argument("--early", type=positive_duration, default="30d",
                          help="how much of each customer's start to look at (default 30d)")  # fmt: skip
    journeys.add_argument("--ignore", default="", help="event types left out of paths and candidates, comma-separated")
    journeys.add_argument("--keep-outcome-events", action="store_true",
                          help="let the outcome's own events be indicators too")  # fmt: skip
    journeys.add_argument("-o", "--output", type=Path, help="write the journey map (HTML)")
    journeys.add_argument("--moments", type=Path, help="write the best early indicator as a moments file")
    journeys.add_argument("--report", type=Path, help="write the figures as JSON")
    journeys.add_argument("-q", "--quiet", action="store_true", help="no progress on standard error")
    add_input_options(journeys)
    add_engine_options(journeys)


def run_journeys_command(args: argparse.Namespace) -> int:
    """Run it; 2 when the history cannot give a map (the message says why)."""
    from momentstream.journeys.cohort import parse_by, parse_top
    from momentstream.journeys.run import JourneyError, JourneyOptions, run_journeys

    try:
        options = JourneyOptions(
            events=args.events, top=parse_top(args.top), by=parse_by(args.by), outcome=args.outcome,
            early_ms=args.early, ignore=frozenset(t.strip() for t in args.ignore.split(",") if t.strip()),
            keep_outcome_events=args.keep_outcome_events, html_out=args.output, moments_out=args.moments,
            report_out=args.report, input_format=input_format(args), progress=not args.quiet,
        )  # fmt: skip
        run_journeys(options, sys.stdout, load=spark_loader(args))
    except (JourneyError, ValueError) as err:
        print(f"momentstream: {err}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    for path in (args.output, args.moments, args.report):
        if path is not None and path.exists():
            print(f"wrote {path}", file=sys.stderr)
    return 0
