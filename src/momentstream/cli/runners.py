"""The commands' run functions that need the engine, discovery or the simulator (demo, simulate, check,
schema, discover, report): imported by :mod:`~momentstream.cli.commands` only once one of them runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from momentstream.cli.argtypes import ConfigurationError, open_out
from momentstream.cli.demo import DemoOptions, default_engine, run_demo
from momentstream.cli.discover import run_discover
from momentstream.cli.input_options import input_format
from momentstream.cli.profile import sample_warnings, typo_warnings
from momentstream.cli.schemas import write_schemas
from momentstream.cli.shadow import run_shadow_report
from momentstream.cli.uplift import run_uplift_report
from momentstream.core.clock import format_duration
from momentstream.core.engine import Engine
from momentstream.data import bundled_moments_path
from momentstream.ops.textable import format_table
from momentstream.patterns.dsl import load_moments
from momentstream.patterns.nfa import CompiledMoment
from momentstream.patterns.rollout import plan_rollout, registry
from momentstream.runtime.sources import write_events
from momentstream.sim.identities import split_identities
from momentstream.sim.journeys import simulate as simulate_journeys

__all__ = ["VOCABULARY_SAMPLE", "check", "demo", "discover", "report", "schema", "simulate"]

VOCABULARY_SAMPLE = 100_000
"""Lines of `check --events` read: enough to see every common type, quick on any file."""


def demo(args: argparse.Namespace) -> int:
    engine = default_engine(args.moments, None, args.objectives, not args.no_scoring)
    options = DemoOptions(args.customers, args.days, args.seed, args.out, not args.quiet)
    run_demo(options, engine, sys.stdout)
    return 0


def simulate(args: argparse.Namespace) -> int:
    sim = simulate_journeys(args.customers, args.days, args.seed)
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


def check(args: argparse.Namespace) -> int:
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


def schema(args: argparse.Namespace) -> int:
    for path in write_schemas(args.output):
        print(path)
    return 0


def discover(args: argparse.Namespace) -> int:
    try:
        return run_discover(args)
    except ValueError as err:
        raise ConfigurationError(str(err)) from None


def report(args: argparse.Namespace) -> int:
    """``momentstream report shadow|uplift``."""
    return run_shadow_report(args) if args.report == "shadow" else run_uplift_report(args)
