"""``momentstream report uplift``: treated against control, from the engine's linked outcomes or from files.

Two ways in. The live way reads ``trigger_outcome`` records (a replay's audit file, or a capture
of a running deployment's audit topic: ``momentstream tail audit > audit.jsonl``), which the
engine linked to their triggers while running. The offline way re-derives outcomes from trigger
files and an events file (``--events``), for moments without an ``outcome:``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from momentstream.cli.argtypes import duration
from momentstream.core.clock import format_duration
from momentstream.core.schema import TouchpointEvent, Trigger, TriggerOutcome, describe_error
from momentstream.core.schema_files import validate_ignoring_unknown
from momentstream.ops.textable import format_table
from momentstream.runtime.sources import open_binary, open_text, read_events
from momentstream.triggers.contract import json_records, read_triggers
from momentstream.triggers.uplift import GroupRate, Uplift, outcome_uplift, uplift, uplift_over_time
from momentstream.triggers.uplift_plot import uplift_svg

__all__ = ["add_uplift_report", "run_uplift_report"]

UPLIFT_HELP = """\
Treated against holdout (control) triggers, per moment, with 95% intervals
(Wilson for rates, Newcombe for the difference).

Live, from the outcomes the engine linked (moments with `outcome:` and a
`holdout:` share): pass audit files, the replay's --audit output or a capture of
a deployment's audit topic. Each trigger counts once, whatever repeats.

  momentstream replay ev.jsonl -c m.yaml -o t.jsonl --audit audit.jsonl
  momentstream report uplift audit.jsonl --by-tier --plot uplift.svg
  momentstream tail audit | momentstream report uplift -

Offline, for moments without `outcome:`: trigger files and the events file
holding the outcomes; a customer counts once per moment, from their first
actionable trigger.

  momentstream replay ev.jsonl -c m.yaml -o t.jsonl --holdout h.jsonl
  momentstream report uplift t.jsonl h.jsonl --events ev.jsonl --within 14d
"""


def add_uplift_report(reports: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``report uplift``."""
    up = reports.add_parser("uplift", formatter_class=argparse.RawTextHelpFormatter,
                            help="outcome rate of treated vs holdout triggers, per moment",
                            description=UPLIFT_HELP)  # fmt: skip
    up.add_argument("files", nargs="+",
                    help="audit files (trigger_outcome records; - for standard input), or with\n"
                         "--events: trigger files (replay output and --holdout file, or\n"
                         "`momentstream tail actions` / `tail holdout` captures)")  # fmt: skip
    up.add_argument("--by-tier", action="store_true", help="a row per moment and confidence tier (live only)")
    up.add_argument("--plot", type=Path, help="write the uplift over time as an SVG picture (live only)")
    up.add_argument("--events", help="offline: events file holding the outcomes (JSON lines)")
    up.add_argument("--outcome", default="purchase", help="offline: event type of the outcome (default purchase)")
    up.add_argument("--within", type=duration, default="7d", help="offline: time after the first trigger (default 7d)")


def run_uplift_report(args: argparse.Namespace) -> int:
    """Print the uplift table (and write the picture); 2 for unusable input."""
    if [args.events, *args.files].count("-") > 1:
        print("momentstream: only one of the files can be standard input (-)", file=sys.stderr)
        return 2
    return _offline(args) if args.events else _live(args)


def read_outcomes(lines: list[str], source: str) -> tuple[list[TriggerOutcome], int]:
    """The ``trigger_outcome`` records among audit lines, and how many other records were skipped."""
    outcomes, other = [], 0
    try:
        records = list(json_records(lines))
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None
    for number, doc in records:
        if not isinstance(doc, dict) or doc.get("output") != "trigger_outcome":
            other += 1
            continue
        try:
            outcomes.append(validate_ignoring_unknown(TriggerOutcome, doc))
        except ValidationError as err:
            raise ValueError(f"{source}: line {number}: not a trigger outcome ({describe_error(err)[:300]})") from None
    return outcomes, other


def _live(args: argparse.Namespace) -> int:
    outcomes: list[TriggerOutcome] = []
    skipped = 0
    for path in args.files:
        with open_text(path) as stream:
            try:
                found, other = read_outcomes(list(stream), path)
            except ValueError as err:
                print(f"momentstream: {err}", file=sys.stderr)
                return 2
        outcomes += found
        skipped += other
    if not outcomes:
        print(f"momentstream: no trigger_outcome records in {', '.join(args.files)} ({skipped:,} other records). "
              "Give a moment `outcome:` and `holdout:` in its moments file, pass the audit output, and let "
              "outcome windows close; or pass trigger files with --events", file=sys.stderr)  # fmt: skip
        return 2
    results = outcome_uplift(outcomes, by_tier=args.by_tier)
    repeats = len(outcomes) - sum(u.treated.customers + u.holdout.customers for u in results)
    print(f"linked outcomes of {len(outcomes) - repeats:,} triggers" + (f" ({repeats:,} repeats ignored)" if repeats
          else "") + "; rates per trigger, 95% intervals")  # fmt: skip
    _print_table(results, "triggers")
    if args.plot is not None:
        args.plot.write_text(uplift_svg(uplift_over_time(outcomes)))
        print(f"wrote {args.plot}")
    return 0


def _offline(args: argparse.Namespace) -> int:
    if args.plot is not None or args.by_tier:
        print("momentstream: --plot and --by-tier need the linked outcomes (audit files), not --events",
              file=sys.stderr)  # fmt: skip
        return 2
    triggers: list[Trigger] = []
    for path in args.files:
        with open_text(path) as stream:
            try:
                triggers.extend(read_triggers(stream))
            except ValueError as err:
                print(f"momentstream: {path}: {err}", file=sys.stderr)
                return 2
    with open_binary(args.events) as source:
        events = [item for _, item in read_events(source) if isinstance(item, TouchpointEvent)]
    results = uplift(triggers, events, args.outcome, args.within)
    if not results:
        print("momentstream: no actionable triggers in the given files", file=sys.stderr)
        return 2
    seen_types = Counter(e.type for e in events)
    if not seen_types[args.outcome]:
        common = ", ".join(t for t, _ in seen_types.most_common(8)) or "none: no valid events"
        print(f"momentstream: no {args.outcome!r} event in {args.events}, so every rate would be 0%. "
              f"Event types there: {common}", file=sys.stderr)  # fmt: skip
        return 1
    print(f"outcome: {args.outcome} within {format_duration(args.within)} of the first trigger (95% intervals)")
    _print_table(results, "customers")
    return 0


def _print_table(results: list[Uplift], unit: str) -> None:
    def group(g: GroupRate) -> list[str]:
        return [f"{g.customers:,}", f"{g.rate:.1%} [{g.low:.1%}, {g.high:.1%}]" if g.customers else "-"]

    rows = [[u.moment, *group(u.treated), *group(u.holdout),
             f"{u.difference:+.1%} [{u.low:+.1%}, {u.high:+.1%}]" if u.treated.customers and u.holdout.customers
             else "no holdout" if u.treated.customers else "-"] for u in results]  # fmt: skip
    print(format_table(["moment", f"treated {unit}", "rate", "holdout", "rate", "uplift"], rows))
