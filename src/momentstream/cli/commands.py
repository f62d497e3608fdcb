"""The ``momentstream`` command line: the parser, and each command's run function imported when it runs.

The parser's modules import nothing heavy (no engine, models or Kafka clients), so ``momentstream --help``
and a mistyped option answer at once."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from momentstream.cli.argtypes import ConfigurationError, moments_options, positive_int, quiet_option, share
from momentstream.cli.demo_options import DemoOptions
from momentstream.cli.discover import add_discover_command
from momentstream.cli.input_options import add_input_options
from momentstream.cli.journeys import add_journeys_command
from momentstream.cli.kafka import KAFKA_COMMANDS, add_kafka_commands
from momentstream.cli.profile import add_profile_command
from momentstream.cli.replay import add_replay_command
from momentstream.cli.shadow import add_shadow_report
from momentstream.cli.suppress import add_suppress_command
from momentstream.cli.uplift import add_uplift_report
from momentstream.ops.redact import install_log_redaction

__all__ = ["main"]

logger = logging.getLogger(__name__)


_DESCRIPTION = """\
momentstream finds the moments in a customer's behaviour when an intervention matters most.

Moments are patterns over each customer's touchpoints (see the bundled example with
`momentstream check --show`); the engine runs them in event time and emits triggers
(JSON lines, one per moment that fired or window that opened) for a CRM to act on.
"""

_EPILOG = """\
examples:
  momentstream demo                                  simulate 5,000 customers, discover their moments, run them
  momentstream simulate -o events.jsonl --customers 10000
  momentstream replay events.jsonl -c moments.yaml -o triggers.jsonl --rejects rejects.jsonl
  momentstream discover events.jsonl --outcome purchase --within 30d --intervention outreach \
      --split 2026-04-01 -o discovered.yaml   find moments and windows in a history, backtest them
  momentstream journeys events.jsonl --top 5% --by 'value within 180d' -o map.html
                                                     how the best customers got there, and who is on the way
  momentstream check moments.yaml                    validate a moments file
  momentstream profile events.jsonl                  your event types against what the moments need
  momentstream schema -o schemas/                    JSON Schema of events and triggers
  momentstream suppress opt_outs.csv --channel email  consent events from a suppression list
"""


_DEMO = DemoOptions()


def _version() -> str:
    try:
        return importlib.metadata.version("momentstream")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (``--help`` and the generated CLI reference read it)."""
    parser = argparse.ArgumentParser(
        prog="momentstream",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to standard error")
    parser.add_argument("--version", action="version", version=f"momentstream {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="simulate journeys, replay them, explain what fired",
                          formatter_class=argparse.RawTextHelpFormatter,
                          description="Simulate customer journeys (including the seed scenario: support on Monday,\n"
                                      "a second purchase on Wednesday, then silence); discover from the first 60%\n"
                                      "of the days which sequences precede a third order and when reaching\n"
                                      "out after them worked; run the discovered moments, then the bundled ones\n"
                                      "with contact policy and scoring, over the rest; print what fired and\n"
                                      "why.")  # fmt: skip
    demo.add_argument("--customers", type=positive_int, default=_DEMO.customers,
                      help=f"customers to simulate (default {_DEMO.customers})")  # fmt: skip
    demo.add_argument("--days", type=positive_int, default=_DEMO.days,
                      help=f"days of history (default {_DEMO.days}); discovery uses the first 60%%")  # fmt: skip
    demo.add_argument("--seed", type=int, default=7, help="random seed; same seed, same journeys (default 7)")
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="where to write files (default out/demo)")
    moments_options(demo)
    quiet_option(demo)

    simulate = sub.add_parser("simulate", help="write simulated journeys as JSON-lines events",
                              description="Write simulated customer journeys (every archetype, the seed scenario\n"
                                          "included) as touchpoint events, one JSON object per line.",
                              formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    simulate.add_argument("-o", "--output", default="-", help="events file (default: standard output)")
    simulate.add_argument("--customers", type=positive_int, default=3000, help="customers to simulate (default 3000)")
    simulate.add_argument("--days", type=positive_int, default=120, help="days of history (default 120)")
    simulate.add_argument("--seed", type=int, default=7, help="random seed; same seed, same journeys (default 7)")
    simulate.add_argument("--split-ids", type=share, default=0.0, metavar="SHARE",
                          help="give this share of customers (0.3 or 30%%) a device id for their events before a\n"
                               "login, and an identify event at the login; a fifth of those have an email id\n"
                               "in between (docs/guide/identity.md)")  # fmt: skip

    check = sub.add_parser("check", help="validate a moments file and list its moments")
    check.add_argument("moments", nargs="?", type=Path, help="moments YAML (default: the bundled example)")
    check.add_argument("--show", action="store_true", help="print the file's text as well")
    check.add_argument("--events", metavar="FILE",
                       help="a sample of your events (any format replay reads; the first 100,000 are read):\n"
                            "warn about moments and objectives none of whose event types occur in it")  # fmt: skip
    check.add_argument("--objectives", type=Path, help="objectives YAML checked with --events (default: bundled)")
    add_input_options(check)
    check.add_argument("--against", type=Path, metavar="RUNNING",
                       help="the moments file now running: say what the new one keeps, resets\n"
                       "and adds, and refuse a pattern changed without a new version")  # fmt: skip

    schema = sub.add_parser("schema", help="export the JSON Schemas of events, triggers and the CRM's CloudEvent")
    schema.add_argument("-o", "--output", type=Path, default=Path("schemas"), help="directory (default schemas/)")
    add_replay_command(sub)
    add_suppress_command(sub)
    report = sub.add_parser(
        "report", help="reports over outputs (uplift of treated vs holdout customers; shadow vs live moments)"
    )
    reports = report.add_subparsers(dest="report", required=True, metavar="REPORT")
    add_uplift_report(reports)
    add_shadow_report(reports)
    add_discover_command(sub)
    add_journeys_command(sub)
    add_profile_command(sub)
    add_kafka_commands(sub)
    _verbose_everywhere(parser)
    return parser


def _verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """Accept -v after the command too (``momentstream replay x.jsonl -v``), without overriding it when given first."""
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for child in getattr(action, "choices", {}).values():
            child.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                               help="log debug details to standard error")  # fmt: skip
            _verbose_everywhere(child)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad input or configuration)."""
    args = build_parser().parse_args(argv)
    install_log_redaction()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    if not args.verbose:
        logging.getLogger("kafka").setLevel(logging.ERROR)  # kafka-python's event-loop timing chatter
    from momentstream.models.objectives import ObjectivesError
    from momentstream.patterns.errors import PatternError
    from momentstream.runtime.inputs import InputError

    try:
        return int(_command(args.command)(args))
    except ObjectivesError as err:
        print(f"momentstream: invalid objectives: {err}", file=sys.stderr)
        return 2
    except PatternError as err:
        print(f"momentstream: invalid moments: {err}", file=sys.stderr)
        return 2
    except ConfigurationError as err:
        print(f"momentstream: {err}", file=sys.stderr)
        return 2
    except InputError as err:
        print(f"momentstream: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"momentstream: {err.strerror}: {err.filename}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


_COMMANDS = {
    "discover": "momentstream.cli.runners:discover",
    "journeys": "momentstream.cli.journeys:run_journeys_command",
    "profile": "momentstream.cli.profile:run_profile",
    "demo": "momentstream.cli.runners:demo",
    "replay": "momentstream.cli.replay:run_replay",
    "simulate": "momentstream.cli.runners:simulate",
    "check": "momentstream.cli.runners:check",
    "schema": "momentstream.cli.runners:schema",
    "report": "momentstream.cli.runners:report",
    "suppress": "momentstream.cli.suppress:run_suppress",
}
"""Each command's run function as ``module:function``, imported only when that command runs: ``--help`` and a
mistyped option never pay for the engine's models."""


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    if name in KAFKA_COMMANDS:  # their module is light: each imports its client libraries when it runs
        return KAFKA_COMMANDS[name]
    module, _, function = _COMMANDS[name].partition(":")
    return cast(Callable[[argparse.Namespace], int], getattr(importlib.import_module(module), function))
