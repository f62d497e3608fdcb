"""The ``momentstream`` command line: demo, replay, simulate, check, schema, and the Kafka commands."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from momentstream.cli.argtypes import ConfigurationError, moments_options, open_out, positive_int, quiet_option, share
from momentstream.cli.demo import DemoOptions, default_engine, run_demo
from momentstream.cli.discover import add_discover_command, run_discover
from momentstream.cli.input_options import add_input_options, input_format
from momentstream.cli.kafka import KAFKA_COMMANDS, add_kafka_commands
from momentstream.cli.profile import add_profile_command, run_profile, sample_warnings, typo_warnings
from momentstream.cli.replay import add_replay_command, run_replay
from momentstream.cli.schemas import write_schemas
from momentstream.cli.shadow import add_shadow_report, run_shadow_report
from momentstream.cli.suppress import add_suppress_command, run_suppress
from momentstream.cli.uplift import add_uplift_report, run_uplift_report
from momentstream.core.clock import format_duration
from momentstream.core.engine import Engine
from momentstream.data import bundled_moments_path
from momentstream.models.objectives import ObjectivesError
from momentstream.ops.redact import install_log_redaction
from momentstream.ops.textable import format_table
from momentstream.patterns.dsl import load_moments
from momentstream.patterns.errors import PatternError
from momentstream.patterns.nfa import CompiledMoment
from momentstream.patterns.rollout import plan_rollout, registry
from momentstream.runtime.inputs import InputError
from momentstream.runtime.sources import write_events
from momentstream.sim.identities import split_identities
from momentstream.sim.journeys import simulate

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
  momentstream check moments.yaml                    validate a moments file
  momentstream profile events.jsonl                  your event types against what the moments need
  momentstream schema -o schemas/                    JSON Schema of events and triggers
  momentstream suppress opt_outs.csv --channel email  consent events from a suppression list
"""


_DEMO = DemoOptions()
VOCABULARY_SAMPLE = 100_000
"""Lines of `check --events` read: enough to see every common type, quick on any file."""


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
                       help="a sample of your events (JSON lines; the first 100,000 are read): warn about\n"
                            "moments and objectives none of whose event types occur in it")  # fmt: skip
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
    try:
        return int(_COMMANDS[args.command](args))
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


def _demo(args: argparse.Namespace) -> int:
    engine = default_engine(args.moments, None, args.objectives, not args.no_scoring)
    options = DemoOptions(args.customers, args.days, args.seed, args.out, not args.quiet)
    run_demo(options, engine, sys.stdout)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    sim = simulate(args.customers, args.days, args.seed)
    events, aliases = sim.events, 0
    if args.split_ids:
        split = split_identities(events, args.split_ids, seed=args.seed, chained=0.2)
        events, aliases = split.events, len(split.aliases)
    with open_out(args.output) as out:
        assert out is not None
        write_events(events, out)
    extra = f" (and {aliases:,} alias ids joined to them by identify events)" if aliases else ""
    print(f"wrote {len(events):,} events of {len(sim.truth):,} customers{extra}", file=sys.stderr)
    return 0


def _check(args: argparse.Namespace) -> int:
    path = args.moments or bundled_moments_path()
    moments = load_moments(path)
    if args.show:
        print(Path(path).read_text())
    rows = []
    for m in moments:
        steps = " -> ".join(g.name for g in m.groups)
        if m.end_absence_ms is not None:
            steps += f" -> (nothing for {format_duration(m.end_absence_ms)})"
        window = "-"
        if m.window is not None:
            window = f"{format_duration(m.window.opens_after_ms)}..{format_duration(m.window.closes_after_ms)}"
        skip = f"{m.skip}[{m.spec.skip_step}]" if m.spec.skip_step else m.skip
        rows.append([m.name, m.version, steps, window, skip])
    if args.against is not None:
        plan = plan_rollout(registry(load_moments(args.against)), moments)
        print(f"against {args.against}:")
        for line in plan.lines():
            print(f"  {line}")
        if plan.refused:
            return 2
    print(f"{path}: {len(moments)} moments OK")
    for warning in [*Engine(moments).warnings, *typo_warnings(args.moments, args.objectives)]:
        print(f"warning: {warning}")
    if args.events:
        for warning in sample_warnings(
            args.events, args.moments, args.objectives, VOCABULARY_SAMPLE, input_format(args)
        ):
            print(f"warning: {warning} (see `momentstream profile`)")
    print(format_table(["moment", "version", "steps", "window", "skip"], rows))
    print()
    print(_policy_table(moments))
    looped = [m for m in moments if m.spec.loop.outcome is not None]
    if looped:
        print()
        print(_loop_table(looped))
    return 0


def _loop_table(moments: Sequence[CompiledMoment]) -> str:
    """What each moment counts as success, and how it decides and chooses (see ``triggers/loop_spec.py``)."""
    rows = []
    for m in moments:
        loop = m.spec.loop
        where = ", ".join(f"{k}: {v}" for k, v in (loop.outcome or {}).items())
        cost = "the action's cost" if loop.actions else f"{loop.decide.cost:g}" if loop.decide else ""
        decide = f"uplift x {loop.value:g} > {cost}" if loop.decide else "-"
        actions = ", ".join(f"{a.name} ({a.cost:g})" for a in loop.actions) or "-"
        rows.append([m.name, where, format_duration(loop.outcome_within_ms), decide, actions])
    return "closing the loop\n" + format_table(["moment", "outcome", "within", "send when", "actions (cost)"], rows)


def _policy_table(moments: Sequence[CompiledMoment]) -> str:
    """The contact policy each moment gets, as the engine will apply it."""
    cap = next((m.spec.contact_cap for m in moments if m.spec.contact_cap is not None), None)
    rows = []
    for m in moments:
        spec = m.spec
        quiet = spec.quiet_hours
        quiet_text = "-" if quiet is None else (
            f"{quiet.start // 60:02d}:{quiet.start % 60:02d}-{quiet.end // 60:02d}:{quiet.end % 60:02d} "
            f"({quiet.timezone or 'customer'})")  # fmt: skip
        rows.append([m.name, spec.priority, ", ".join(spec.channels) or "any",
                     format_duration(spec.cooldown_ms) if spec.cooldown_ms else "-", quiet_text,
                     f"{spec.holdout_share:.0%}" if spec.holdout_share else "-"])  # fmt: skip
    limit = "no frequency cap" if cap is None else f"frequency cap: {cap[0]} per {format_duration(cap[1])}"
    table = format_table(["moment", "priority", "channels", "cooldown", "quiet hours", "holdout"], rows)
    return f"contact policy ({limit} per customer, across moments)\n{table}"


def _schema(args: argparse.Namespace) -> int:
    for path in write_schemas(args.output):
        print(path)
    return 0


def _discover(args: argparse.Namespace) -> int:
    try:
        return run_discover(args)
    except ValueError as err:
        raise ConfigurationError(str(err)) from None


_COMMANDS = {
    "discover": _discover,
    "profile": run_profile,
    "demo": _demo,
    "replay": run_replay,
    "simulate": _simulate,
    "check": _check,
    "schema": _schema,
    "report": lambda args: run_shadow_report(args) if args.report == "shadow" else run_uplift_report(args),
    "suppress": run_suppress,
    **KAFKA_COMMANDS,
}
