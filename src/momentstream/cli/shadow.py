"""``momentstream report shadow``: shadow moments against the live moments they may replace."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from momentstream.core.schema import ShadowTrigger, Trigger, describe_error
from momentstream.core.schema_files import validate_ignoring_unknown
from momentstream.ops.textable import format_table
from momentstream.runtime.sources import open_text
from momentstream.triggers.contract import json_records, read_triggers
from momentstream.triggers.shadow import compare_shadow

__all__ = ["add_shadow_report", "run_shadow_report"]

SHADOW_HELP = """\
Compare each shadow moment (mode: shadow) with the live moment it names in
compare_to: triggers and customers of each, customers both reach or only one
does, and the median lead of the shadow moment (hours earlier than the live
one, for customers both reach). Only window openings and matches count.

  momentstream replay ev.jsonl -c m.yaml -o t.jsonl --holdout h.jsonl --audit a.jsonl
  momentstream report shadow a.jsonl t.jsonl h.jsonl
  momentstream tail audit > a.jsonl; momentstream tail actions > t.jsonl   (a deployment)
"""


def add_shadow_report(reports: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``report shadow``."""
    shadow = reports.add_parser("shadow", formatter_class=argparse.RawTextHelpFormatter,
                                help="shadow moments against the live moments they may replace",
                                description=SHADOW_HELP)  # fmt: skip
    shadow.add_argument("audit", help="audit file with the shadow_trigger records (- for standard input)")
    shadow.add_argument("triggers", nargs="*", help="trigger files of the live moments (replay output, its\n"
                        "--holdout file, or tail actions / tail holdout captures)")  # fmt: skip


def _read_shadow(path: str) -> list[ShadowTrigger]:
    found = []
    with open_text(path) as stream:
        for number, doc in json_records(stream):
            if not isinstance(doc, dict) or doc.get("output") != "shadow_trigger":
                continue
            try:
                found.append(validate_ignoring_unknown(ShadowTrigger, doc))
            except ValidationError as err:
                raise ValueError(f"{path}: line {number}: not a shadow trigger ({describe_error(err)[:300]})") from None
    return found


def run_shadow_report(args: argparse.Namespace) -> int:
    """Print the comparison table; 2 for unusable input."""
    if [args.audit, *args.triggers].count("-") > 1:
        print("momentstream: only one of the files can be standard input (-)", file=sys.stderr)
        return 2
    try:
        shadow = _read_shadow(args.audit)
        live: list[Trigger] = []
        for path in args.triggers:
            with open_text(path) as stream:
                try:
                    live += list(read_triggers(stream))
                except ValueError as err:
                    raise ValueError(f"{path}: {err}") from None
    except ValueError as err:
        print(f"momentstream: {err}", file=sys.stderr)
        return 2
    if not shadow:
        print(f"momentstream: no shadow_trigger records in {args.audit}: give a moment `mode: shadow` and pass the "
              "audit output (replay --audit, or momentstream tail audit)", file=sys.stderr)  # fmt: skip
        return 2
    rows = []
    for row in compare_shadow(shadow, live):
        lead = "" if row.median_lead_hours is None else f"{row.median_lead_hours:+.1f} h"
        rows.append([row.moment, row.compare_to or "-", row.shadow_triggers, row.shadow_customers, row.live_triggers,
                     row.live_customers, row.both, row.shadow_only, row.live_only, lead])  # fmt: skip
    print(format_table(["shadow moment", "compare to", "shadow triggers", "customers", "live triggers", "customers",
                        "both", "shadow only", "live only", "shadow leads by"], rows))  # fmt: skip
    return 0
