"""``momentstream discover``: the command line of :mod:`momentstream.discovery`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from momentstream.cli.argtypes import positive_duration, positive_int
from momentstream.cli.input_options import add_input_options, input_format
from momentstream.cli.spark_options import add_engine_options, spark_loader
from momentstream.core.clock import parse_instant, to_ms
from momentstream.data import bundled_moments_path

if TYPE_CHECKING:
    from momentstream.discovery.run import Anchor, DiscoverOptions

__all__ = ["DISCOVER_HELP", "add_discover_command", "run_discover"]

DISCOVER_HELP = """\
Find the behavioural sequences after which an outcome becomes likelier (or rarer),
and when to intervene after them; write them as a moments file the engine runs.

  1. moments of four shapes: sequences of 2-4 steps (event types, refined by
     channel, a property or a threshold such as value >= 100) with gaps learned
     from the data and an optional trailing silence; "at least 3 of these 5
     within 7d" sets; "A, then no B for 12h" absences. They are searched on at
     most half the customers, then the best are compiled into moments and
     counted by the engine on the other half, which the search never saw:
     outcome rate with a 95% Wilson interval, lift, Fisher's exact test,
     Benjamini-Hochberg over the candidates tested;
  2. with --intervention: the outcome rate by delay from the moment's anchor
     step to the first intervention, and the window where reaching out did
     best (observational: the balance of prior behaviour is reported);
  3. with --split: discovery uses only the earlier period; the moments and the
     usual rules (30/60-day win-back, the best frequency threshold) are then
     replayed through the engine over the later period.

examples:
  momentstream discover events.jsonl --outcome purchase --within 30d -o discovered.yaml
  momentstream discover events.jsonl --outcome "{type: purchase, value: {gte: 100}}" --within 30d \\
      --intervention outreach --split 2026-04-01 -o discovered.yaml --report report.json --plot report.html
  momentstream discover events.jsonl --outcome login --within 14d --outcome-absent -o churn.yaml
  momentstream discover events.jsonl --outcome purchase --within 30d --intervention outreach \\
      --anchor post_purchase_window -c moments.yaml --report window.json

Exit codes: 0 done (with nothing significant, no moments file is written and the
report says so), 2 bad options or input. Invalid lines go to --rejects.
"""


def _split(text: str) -> int:
    """A date (midnight UTC) or an ISO time with a timezone."""
    try:
        return to_ms(datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC))
    except ValueError:
        pass
    try:
        return parse_instant(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date (2026-04-01) or an ISO time with a timezone, "
                                         f"not {text!r}") from None  # fmt: skip


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, not {value}")
    return value


def add_discover_command(sub: Any) -> None:
    """Register ``discover`` on the main parser's subcommands."""
    p = sub.add_parser("discover", help="find moments and intervention windows in a history, with a backtest",
                       formatter_class=argparse.RawTextHelpFormatter, description=DISCOVER_HELP)  # fmt: skip
    p.add_argument(
        "events",
        help="history of touchpoint events (JSON lines, CSV, Parquet or Segment messages;\nany order), or - for stdin",
    )
    p.add_argument("--outcome", required=True, metavar="WHERE",
                   help="what to predict: an event type (purchase), types (purchase,upgrade) or a\n"
                        "where: mapping as in moments files, e.g. '{type: purchase, value: {gte: 100}}'")  # fmt: skip
    p.add_argument("--within", required=True, type=positive_duration, metavar="DURATION",
                   help="horizon after a moment in which the outcome counts (e.g. 30d)")  # fmt: skip
    p.add_argument("--outcome-absent", action="store_true",
                   help="the outcome is that no such event happens within the horizon (churn)")  # fmt: skip
    p.add_argument("--intervention", metavar="WHERE",
                   help="your own contacts (e.g. outreach): never a step; find when they worked best")  # fmt: skip
    p.add_argument("--randomised", metavar="WHERE",
                   help="interventions whose timing was drawn at random (e.g. '{type: outreach,\n"
                        "properties: {timing: random}}'): the window is learned from them alone")  # fmt: skip
    p.add_argument("--anchor", metavar="MOMENT",
                   help="find the window after this moment of -c (default: after the discovered ones)")  # fmt: skip
    p.add_argument("-c", "--moments", type=Path, help="moments file for --anchor (default: the bundled example)")
    p.add_argument("--split", type=_split, metavar="DATE",
                   help="discover before this date, backtest from it (2026-04-01 or an ISO time)")  # fmt: skip
    p.add_argument("-o", "--output", type=Path, default=Path("discovered.yaml"),
                   help="moments file to write (default discovered.yaml)")  # fmt: skip
    p.add_argument("--report", type=Path, help="every figure as JSON")
    p.add_argument("--plot", type=Path, help="pictures and summary as one self-contained HTML file")
    p.add_argument("--rejects", type=Path, help="invalid lines with line number and reason (JSON lines)")
    p.add_argument("--top", type=positive_int, default=5, help="moments to write at most (default 5)")
    p.add_argument("--max-steps", type=int, choices=[2, 3, 4], default=4, help="longest sequence (default 4)")
    p.add_argument("--max-gap", type=positive_duration, default="7d", help="longest gap between steps (default 7d)")
    p.add_argument("--min-support", type=positive_int, default=30,
                   help="customers a sequence must fire for to be tested (default 30)")  # fmt: skip
    p.add_argument("--max-delay", type=positive_duration, default="3d",
                   help="longest delay to the intervention the timing curve covers (default 3d)")  # fmt: skip
    p.add_argument("--fdr", type=_share, default=0.05, help="false discovery rate (default 0.05)")
    p.add_argument("--sample", type=positive_int, default=20_000,
                   help="customers the search runs on, at most half of them all; the engine's counts\n"
                        "and tests use only the others (default 20000)")  # fmt: skip
    p.add_argument("--write-protective", action="store_true",
                   help="also write the sequences after which the outcome is LESS likely, as shadow\n"
                        "(watch) moments: they run and are audited, never sent to the CRM")  # fmt: skip
    p.add_argument("--write-predictors", action="store_true",
                   help="also write sequences made only of events that may be the outcome (buy, buy ->\n"
                        "buys again): they say who is on course; for histories of purchases only")  # fmt: skip
    p.add_argument("--workers", type=positive_int, help="processes for the engine counts (default: up to 2)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    add_input_options(p)
    add_engine_options(p)


def _anchor(name: str, path: Path | None) -> Anchor:
    from momentstream.discovery.run import Anchor
    from momentstream.patterns.dsl import load_moments
    from momentstream.patterns.errors import PatternError

    moments = load_moments(path or bundled_moments_path())
    for m in moments:
        if m.name == name:
            return Anchor.of(m.spec)
    raise PatternError(f"--anchor: no moment named {name!r} (moments: {', '.join(m.name for m in moments)})")


def options_from(args: argparse.Namespace) -> DiscoverOptions:
    """The discovery options of parsed arguments (PatternError for a bad WHERE or anchor)."""
    from momentstream.discovery.mining import MiningOptions
    from momentstream.discovery.outcome import Outcome, parse_where
    from momentstream.discovery.run import DiscoverOptions
    from momentstream.patterns.errors import PatternError

    where, predicate = parse_where(args.outcome, "--outcome")
    outcome = Outcome(where, predicate, args.within, args.outcome_absent)
    intervention = parse_where(args.intervention, "--intervention") if args.intervention else None
    if args.anchor and intervention is None:
        raise PatternError("--anchor needs --intervention: the window is the delay from the anchor to it")
    randomised = parse_where(args.randomised, "--randomised") if args.randomised else None
    if randomised is not None and intervention is None:
        raise PatternError("--randomised needs --intervention: it marks which of those sends were timed at random")
    mining = MiningOptions(max_steps=args.max_steps, max_gap_ms=args.max_gap, min_support=args.min_support)
    anchor = _anchor(args.anchor, args.moments) if args.anchor else None
    return DiscoverOptions(outcome, intervention, randomised, anchor, args.split, mining, sample_customers=args.sample,
                           top=args.top, q=args.fdr, max_delay_ms=args.max_delay, progress=not args.quiet,
                           workers=args.workers, write_protective=args.write_protective,
                           write_predictors=args.write_predictors, input_format=input_format(args))  # fmt: skip


def run_discover(args: argparse.Namespace) -> int:
    """``momentstream discover``; raises ValueError with a one-line message for bad input."""
    from momentstream.discovery.moments_file import write_moments
    from momentstream.discovery.objectives_file import objectives_path_for, write_objectives
    from momentstream.discovery.plot import report_html
    from momentstream.discovery.report import report_json, report_text
    from momentstream.discovery.run import discover

    if args.plot is not None and args.plot.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--plot writes one self-contained HTML file: name it .html, not {args.plot.name!r}")
    options = options_from(args)
    rejects = args.rejects.open("w") if args.rejects else None
    try:
        result = discover(args.events, options, rejects, load=spark_loader(args))
    finally:
        if rejects is not None:
            rejects.close()
    if not result.history.events:
        raise ValueError(f"no valid events in {args.events} ({result.history.rejected:,} rejected)")
    summary = report_text(result, options)
    print(summary)
    if result.written:
        header = (f"Discovered by momentstream discover from {args.events}\n"
                  f"outcome: {options.outcome.describe()}; evidence in each description.\n"
                  "Review before use: the figures are associations in past data, not proof of cause.")  # fmt: skip
        args.output.parent.mkdir(parents=True, exist_ok=True)
        write_moments(args.output, result.written, header)
        scored_by = objectives_path_for(args.output)
        note = (
            f"Written by momentstream discover beside {args.output.name}: one model of the outcome it\n"
            "studied scores each discovered moment's triggers (set owner, tiers, warm_up to suit)."
        )
        write_objectives(scored_by, options.outcome, [spec.name for spec in result.written], note)
        print(f"\nWrote {args.output} ({len(result.written)} moments) and {scored_by} (the model that scores them).\n"
              f"Next: `momentstream check {args.output}`, then `momentstream replay EVENTS -c {args.output}`\n"
              f"(replay reads {scored_by.name} beside it).")  # fmt: skip
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report_json(result, options), indent=2) + "\n")
        print(f"Wrote {args.report}.")
    if args.plot is not None:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        args.plot.write_text(report_html(result, options, summary), encoding="utf-8")
        print(f"Wrote {args.plot}.")
    if result.history.rejected:
        print(f"{result.history.rejected:,} invalid lines were left out"
              + (f" (see {args.rejects})." if args.rejects else "; use --rejects FILE to see them."),
              file=sys.stderr)  # fmt: skip
    return 0
