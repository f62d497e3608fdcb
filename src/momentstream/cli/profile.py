"""``momentstream profile``: a history's event types against what the moments and objectives need."""

from __future__ import annotations

import argparse
import difflib
import itertools
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from momentstream.cli.argtypes import positive_int
from momentstream.cli.input_options import add_input_options, input_format, no_valid_event
from momentstream.core.schema import (
    CONSENT_TYPES,
    ERASURE_EVENT_TYPE,
    FEEDBACK_EVENT_TYPE,
    IDENTIFY_EVENT_TYPE,
    TouchpointEvent,
    ms_to_datetime,
)
from momentstream.data import bundled_moments_path, bundled_objectives_path
from momentstream.ops.textable import format_table
from momentstream.runtime.inputs import InputFormat, read_input
from momentstream.runtime.sources import Reject

if TYPE_CHECKING:
    from momentstream.discovery.vocabulary import Need, Profile

__all__ = [
    "PROFILE_HELP",
    "RESERVED_TYPES",
    "add_profile_command",
    "moment_of",
    "needs_of",
    "run_profile",
    "sample_warnings",
    "typo_warnings",
    "unserved",
    "vocabulary_warnings",
]

PROFILE_HELP = """\
List the event types of a history (events, customers, median gap between a
customer's events of that type) and check them against what the moments and
objectives wait for. A type they need that never occurs is flagged, with the
history's likeliest types for it (by synonym and by spelling), so you can map
your vocabulary: list your names in the moments file (where: {type: [...]}) and
in the objectives' outcome (outcome: {type: [...]}).

examples:
  momentstream profile events.jsonl
  momentstream profile events.jsonl -c moments.yaml --objectives objectives.yaml
  head -n 100000 events.jsonl | momentstream profile -

Exit codes: 0 every moment and objective can be served, 1 some cannot (their
types never occur), 2 bad options or input. Invalid lines are counted, not fatal.
"""


def add_profile_command(sub: Any) -> None:
    """Register ``profile`` on the main parser's subcommands."""
    p = sub.add_parser("profile", help="event types of a history, checked against the moments and objectives",
                       formatter_class=argparse.RawTextHelpFormatter, description=PROFILE_HELP)  # fmt: skip
    p.add_argument("events", help="touchpoint events (JSON lines, CSV, Parquet or Segment messages), or - for stdin")
    p.add_argument("-c", "--moments", type=Path, help="moments YAML (default: the bundled example)")
    p.add_argument("--objectives", type=Path, help="objectives YAML (default: the bundled one)")
    p.add_argument("--top", type=positive_int, default=40, help="event types to list at most (default 40)")
    add_input_options(p)


def needs_of(moments_path: Path | None, objectives_path: Path | None) -> list[tuple[str, frozenset[str] | None]]:
    """(who, event types it waits for) of every step a moment cannot complete without, and every
    objective's outcome. Absences and windows' cancel events are not needed: they may never occur."""
    from momentstream.models.objectives import load_objectives
    from momentstream.patterns.dsl import load_moments
    from momentstream.patterns.predicates import compile_predicate
    from momentstream.patterns.spec import EventStep, KOfNStep

    needs: list[tuple[str, frozenset[str] | None]] = []
    for m in load_moments(moments_path or bundled_moments_path()):
        zone = m.spec.timezone or "UTC"
        for step in m.spec.steps:
            if isinstance(step, EventStep):
                needs.append((f"moment {m.name}, step {step.name}", compile_predicate(step.where, zone).types))
            elif isinstance(step, KOfNStep):
                kinds = [compile_predicate(where, zone).types for _, where in step.indicators]
                union = None if any(k is None for k in kinds) else frozenset().union(*(k for k in kinds if k))
                needs.append((f"moment {m.name}, step {step.name}", union))
    for o in load_objectives(objectives_path or bundled_objectives_path()).objectives:
        needs.append((f"objective {o.name} (outcome)", o.outcome.types))
    return needs


RESERVED_TYPES = frozenset({IDENTIFY_EVENT_TYPE, ERASURE_EVENT_TYPE, FEEDBACK_EVENT_TYPE, *CONSENT_TYPES})
"""Event types the engine itself gives a meaning to."""


def typo_warnings(moments: Path | None, objectives: Path | None) -> list[str]:
    """Step and outcome types that look like a misspelling of a type the bundled moments, objectives or the
    file itself use (``purchse``); a type of your own that resembles nothing is left alone.

    >>> typo_warnings(None, None)
    []
    """
    needs = needs_of(moments, objectives)
    known = {t for _, types in needs_of(None, None) for t in types or ()} | set(RESERVED_TYPES)
    mine = Counter(t for _, types in needs for t in types or ())
    warnings = []
    for who, types in needs:
        for kind in sorted(types or ()):
            if kind in known:
                continue
            others = sorted((known | set(mine)) - {kind})
            close = difflib.get_close_matches(kind, others, n=1, cutoff=0.8)
            if close and not (close[0] in mine and mine[close[0]] < mine[kind]):
                warnings.append(f"{who} waits for {kind!r}: did you mean {close[0]!r}?")
    return warnings


def unserved(rows: list[Need]) -> list[list[Need]]:
    """The rows of each moment step or objective none of whose event types occur, one list per ``who``."""
    groups = (list(group) for _, group in itertools.groupby(rows, key=lambda r: r.who))
    return [needs for needs in groups if not any(n.events for n in needs)]


def moment_of(who: str) -> str | None:
    """The moment a row of :func:`needs_of` is about (None for an objective).

    >>> moment_of("moment churn_risk, step silent"), moment_of("objective churn (outcome)")
    ('churn_risk', None)
    """
    return who.removeprefix("moment ").split(", step ")[0] if who.startswith("moment ") else None


def vocabulary_warnings(rows: list[Need]) -> list[str]:
    """One line per moment step or objective none of whose event types occur (a moment then never fires,
    an objective's model never sees its outcome)."""
    warnings = []
    for needs in unserved(rows):
        who = needs[0].who
        hints = sorted({s for n in needs for s in n.suggestions})
        hint = f"; this history has {', '.join(hints)}" if hints else ""
        types = ", ".join(n.type for n in needs)
        effect = "the moment can never fire" if moment_of(who) else "the model never sees an outcome"
        warnings.append(f"{who} waits for {types}, and none occurs: {effect}{hint}")
    return warnings


def sample_warnings(events: str, moments: Path | None, objectives: Path | None, lines: int,
                    fmt: InputFormat | None = None) -> list[str]:  # fmt: skip
    """:func:`vocabulary_warnings` from the first ``lines`` records of an events file (``check --events``)."""
    from momentstream.discovery.vocabulary import coverage, profile_events

    needs = needs_of(moments, objectives)
    profile = profile_events(_events(itertools.islice(read_input(events, fmt), lines), []))
    return vocabulary_warnings(coverage(needs, profile))


def _events(
    source: Iterable[tuple[int, TouchpointEvent | Reject]], rejected: list[Reject]
) -> Iterator[TouchpointEvent]:
    for _, item in source:
        if isinstance(item, Reject):
            rejected.append(item)
        else:
            yield item


def run_profile(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """Profile, print, and return 1 when some moment or objective can never be served (2: no valid event)."""
    from momentstream.discovery.vocabulary import coverage, profile_events

    out = out or sys.stdout
    needs = needs_of(args.moments, args.objectives)  # configuration errors before reading a large file
    rejected: list[Reject] = []
    profile = profile_events(_events(read_input(args.events, input_format(args)), rejected))
    if not profile.events:
        print(no_valid_event(args.events, len(rejected), rejected[0] if rejected else None), file=sys.stderr)
        return 2
    rows = coverage(needs, profile)
    _print_profile(profile, rejected, args.top, out)
    print(file=out)
    print("what the moments and objectives wait for", file=out)
    table = [[n.who, n.type, f"{n.events:,}", ", ".join(n.suggestions) if not n.events else ""] for n in rows]
    print(format_table(["needed by", "event type", "events here", "likely yours"], table), file=out)
    warnings = vocabulary_warnings(rows)
    for warning in warnings:
        print(f"warning: {warning}", file=out)
    if warnings:
        print("map your names in the moments file (where: {type: [yours, ...]}) and the objectives file\n"
              "(outcome: {type: [yours, ...]}), then run this again.", file=out)  # fmt: skip
    return 1 if warnings else 0


def _print_profile(profile: Profile, rejected: list[Reject], top: int, out: IO[str]) -> None:
    span = ""
    if profile.first_ms is not None and profile.last_ms is not None:
        first, last = ms_to_datetime(profile.first_ms), ms_to_datetime(profile.last_ms)
        span = f", {first:%Y-%m-%d} .. {last:%Y-%m-%d}"
    more = "+" if profile.customers_capped else ""
    print(f"{profile.events:,} events, {profile.customers:,}{more} customers{span}; {len(rejected):,} invalid lines",
          file=out)  # fmt: skip
    if profile.customers_capped:
        print(f"  customers per type and gaps: the first {profile.customers:,} customers only", file=out)
    for reject in rejected[:3]:
        print(f"  line {reject.line}: {reject.error}", file=out)
    rows = [
        [t.type, f"{t.events:,}", f"{t.events / max(profile.events, 1):.1%}", f"{t.customers:,}",
         "-" if t.median_gap_days is None else f"{t.median_gap_days:.1f}"]
        for t in profile.types[:top]
    ]  # fmt: skip
    print(format_table(["event type", "events", "share", "customers", "median gap (days)"], rows), file=out)
    if len(profile.types) > top:
        print(f"... and {len(profile.types) - top:,} more types (--top)", file=out)
