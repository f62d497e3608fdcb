"""``momentstream replay``: a history through the moments in event time, triggers out, and what would make
them silent said early (a moment that can never fire, no valid event, a model no moment reads)."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from momentstream.cli.argtypes import (
    ConfigurationError,
    duration,
    moments_options,
    open_out,
    positive_duration,
    quiet_option,
)
from momentstream.cli.input_options import add_input_options, input_format, no_valid_event
from momentstream.cli.profile import moment_of, needs_of, unserved, vocabulary_warnings
from momentstream.cli.replay_report import replay_report
from momentstream.cli.spark_options import add_engine_options
from momentstream.core.clock import parse_instant
from momentstream.runtime.guard import DEFAULT_MAX_SKEW_MS

if TYPE_CHECKING:
    from momentstream.core.engine import Engine

__all__ = ["add_replay_command", "run_replay"]


def add_replay_command(sub: Any) -> None:
    """Register ``replay`` on the main parser's subcommands."""
    replay = sub.add_parser("replay", help="run moments over a history of events",
                            formatter_class=argparse.RawTextHelpFormatter,
                            description="Replay touchpoint events (JSON lines, CSV, Parquet or Segment messages,\n"
                                        "`-` for stdin) through the moments in event time and write the triggers.\n"
                                        "Malformed lines are counted, reported with their line number and\n"
                                        "written to --rejects; valid events are never dropped.")  # fmt: skip
    replay.add_argument("events", help="events file (JSON lines, CSV, Parquet or Segment messages), or - for stdin")
    moments_options(replay)
    replay.add_argument("-o", "--output", default="-", help="triggers file (default: standard output)")
    replay.add_argument("--audit", help="late, duplicate and cancelled-window records (JSON lines)")
    replay.add_argument("--rejects", help="malformed lines with line number and reason (JSON lines)")
    replay.add_argument("--holdout", help="triggers of holdout customers (JSON lines); without it they stay\n"
                                          "in the output, marked \"holdout\": true")  # fmt: skip
    replay.add_argument("--order", choices=["time", "file"], default="time",
                        help="time: sort by event time first (default; past 50,000 events in sorted\n"
                             "runs on disk, under TMPDIR); file: as they arrive, like Kafka")  # fmt: skip
    replay.add_argument("--until", type=_until, default="end",
                        help="after the input, fire timers up to: end (the last event time, default),\n"
                             "drain (every pending timer), or an ISO time")  # fmt: skip
    replay.add_argument("--lateness", type=duration, default=None,
                        help="allowed lateness, e.g. 60s (default 1m); later events are reported late")  # fmt: skip
    replay.add_argument("--max-skew", type=_skew, default=DEFAULT_MAX_SKEW_MS,
                        help="an event this far ahead of the clock (newest event time so far) does not\n"
                             "move it unless another customer's event confirms the jump, e.g. 30d, or\n"
                             "off (default 7d): one wrong device clock would otherwise fire everybody's\n"
                             "timers early")  # fmt: skip
    replay.add_argument("--strict", action="store_true",
                        help="exit with code 1 when any line was rejected (for pipelines)")  # fmt: skip
    replay.add_argument("--idle-ttl", type=positive_duration, default=None,
                        help="forget customers silent this long with nothing pending, e.g. 400d\n"
                             "(default: keep every customer)")  # fmt: skip
    replay.add_argument(
        "--models-in",
        type=Path,
        help="start from this model snapshot (from --models-out); models "
        "that are not plain data load only when signed with MOMENTSTREAM_MODEL_SNAPSHOT_KEY",
    )
    replay.add_argument(
        "--models-out",
        type=Path,
        help="write the models' snapshot here afterwards (models that "
        "are not plain data only with MOMENTSTREAM_MODEL_SNAPSHOT_KEY set, which signs them)",
    )
    quiet_option(replay)
    add_input_options(replay)
    add_engine_options(replay)


def _skew(text: str) -> int | None:
    """``--max-skew 7d``, or ``off``."""
    return None if text == "off" else positive_duration(text)


def _snapshot_key() -> bytes | None:
    """The worker's ``model_snapshot_key`` from the environment, for snapshot files (same check as the worker's)."""
    from momentstream.ops.settings import MIN_KEY_BYTES

    key = os.environ.get("MOMENTSTREAM_MODEL_SNAPSHOT_KEY")
    if key is None:
        return None
    if len(key.strip().encode()) < MIN_KEY_BYTES:
        raise ConfigurationError(f"MOMENTSTREAM_MODEL_SNAPSHOT_KEY must be at least {MIN_KEY_BYTES} characters")
    return key.encode()


def _until(text: str) -> int | None:
    """``end`` -> None (the last event time), ``drain`` -> every timer, else an aware ISO time in ms."""
    if text == "end":  # argparse converts the default too: no import for it
        return None
    if text == "drain":
        from momentstream.runtime.replay.runner import DRAIN

        return DRAIN
    try:
        return parse_instant(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected end, drain or an ISO time with a timezone") from None


def _objectives_beside(args: argparse.Namespace) -> Path | None:
    """``--objectives``, else the objectives file ``discover`` wrote beside ``-c`` (said on stderr when used)."""
    from momentstream.discovery.objectives_file import objectives_for_moments

    if args.no_scoring:
        return cast(Path | None, args.objectives)
    objectives, beside = objectives_for_moments(args.moments, args.objectives)
    if beside:
        print(f"momentstream: scoring with {objectives} (found beside {args.moments}; --objectives overrides)",
              file=sys.stderr)  # fmt: skip
    return objectives


def run_replay(args: argparse.Namespace) -> int:
    from momentstream.cli.demo import default_engine
    from momentstream.models.scorer import PoisonedModelError
    from momentstream.runtime.replay.runner import replay_file

    if args.engine == "spark":
        from momentstream.cli.replay_spark import run_spark_replay

        return run_spark_replay(args)
    objectives = _objectives_beside(args)
    engine = default_engine(args.moments, args.lateness, objectives, not args.no_scoring, args.idle_ttl,
                            only_bound=args.models_out is None)  # fmt: skip
    if engine.scorer is None and not args.no_scoring:
        print("momentstream: no moment is bound to an objective, so triggers carry no score and no model runs\n"
              "  (bind moments under `moments:` in an objectives file, --objectives; `discover` writes one)",
              file=sys.stderr)  # fmt: skip
    if engine.scorer is not None:
        engine.scorer.snapshot_key = _snapshot_key()
    if args.models_in and engine.scorer is not None:
        try:
            refused = engine.scorer.restore(args.models_in.read_bytes())
        except ValueError as err:
            raise ConfigurationError(f"--models-in {args.models_in}: {err}") from None
        for refusal in refused:
            print(f"momentstream: --models-in: model {refusal.name!r} not loaded ({refusal.reason}); it starts fresh",
                  file=sys.stderr)  # fmt: skip
    with (
        open_out(args.output) as out,
        open_out(args.audit) as audit,
        open_out(args.rejects) as rejects,
        open_out(args.holdout) as holdout,
    ):
        assert out is not None
        summary = replay_file(args.events, engine, out, audit_out=audit, rejects_out=rejects, holdout_out=holdout,
                              order=args.order, until=args.until, progress=not args.quiet,
                              max_skew_ms=args.max_skew, input_format=input_format(args),
                              on_types=lambda types: _warn_unserved(args, objectives, types, engine))  # fmt: skip
    if not summary.events:
        print(no_valid_event(args.events, summary.rejected, summary.first_reject), file=sys.stderr)
        return 2
    if args.models_out and engine.scorer is not None:
        try:
            snapshot = engine.scorer.snapshot()
        except PoisonedModelError as err:
            raise ConfigurationError(f"--models-out not written: {err}") from None
        args.models_out.parent.mkdir(parents=True, exist_ok=True)
        args.models_out.write_bytes(snapshot)
    first = (f"replayed {summary.events:,} events from {summary.lines:,} lines in {summary.seconds:.1f} s "
             f"({summary.events / max(summary.seconds, 1e-9):,.0f}/s), {summary.customers:,} customers"
             + (f" held, {summary.evicted:,} forgotten after --idle-ttl" if summary.evicted else ""))  # fmt: skip
    rejected = f"rejected {summary.rejected:,} malformed lines" + (f" (see {args.rejects})" if args.rejects else
                                                                   " (use --rejects FILE to keep them)")  # fmt: skip
    report = replay_report(summary, engine.config.allowed_lateness_ms, first=first, rejected=rejected)
    print(report, file=sys.stderr)
    return 1 if args.strict and summary.rejected else 0


def _warn_unserved(args: argparse.Namespace, objectives: Path | None, types: Counter[str], engine: Engine) -> None:
    """Before the run (in time order): each moment that can never fire on the types this history has; when none
    can, the run goes on without models (their scores would go to no trigger)."""
    from momentstream.discovery.vocabulary import coverage, profile_of_counts

    if not types:
        return  # no valid event: said once, after the run
    rows = coverage(needs_of(args.moments, objectives), profile_of_counts(types))
    warnings = [w for w in vocabulary_warnings(rows) if w.startswith("moment") or not args.no_scoring]
    for warning in warnings:
        print(f"momentstream: warning: {warning}", file=sys.stderr)
    moments = {moment_of(row.who) for row in rows} - {None}
    silent = {moment_of(needs[0].who) for needs in unserved(rows)} - {None}
    if moments and silent == moments:
        print("momentstream: warning: no moment can fire on this history, so it gives no trigger; "
              "`momentstream profile` compares its event types with the moments'", file=sys.stderr)  # fmt: skip
        if engine.scorer is not None and args.order == "time" and args.models_out is None:
            engine.drop_models()
            print("momentstream: running without models (no trigger would carry their scores)", file=sys.stderr)
