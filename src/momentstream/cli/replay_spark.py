"""``replay --engine spark``: the backfill on Spark (:mod:`momentstream.spark.backfill`) and its summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from momentstream.cli.argtypes import ConfigurationError
from momentstream.cli.input_options import input_format, no_valid_event
from momentstream.cli.replay_report import replay_report
from momentstream.cli.spark_options import spark_of

__all__ = ["run_spark_replay"]

_LOCAL_ONLY = (("audit", "--audit"), ("rejects", "--rejects"), ("holdout", "--holdout"),
               ("models_in", "--models-in"), ("models_out", "--models-out"))  # fmt: skip


def run_spark_replay(args: argparse.Namespace) -> int:
    """Check what a backfill cannot take, run it, print what it wrote; 2 when no event was valid."""
    from momentstream.cli.demo import default_engine
    from momentstream.spark.backfill import OUTPUTS, BackfillOptions, backfill

    given = [flag for name, flag in _LOCAL_ONLY if getattr(args, name)]
    if given:
        raise ConfigurationError(f"--engine spark writes every output under -o DIR ({', '.join(OUTPUTS)}) and runs "
                                 f"no models: leave out {', '.join(given)}")  # fmt: skip
    if args.output == "-":
        raise ConfigurationError("--engine spark writes a directory: give it with -o DIR (a path Spark can write, "
                                 "which must not exist yet)")  # fmt: skip
    target = Path(args.output)
    if "://" not in args.output and target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigurationError(f"-o {args.output} exists: a backfill writes a new directory (remove it, or give "
                                 "another)")  # fmt: skip
    if args.order != "time":
        raise ConfigurationError("--engine spark replays in event time (--order time)")
    if not args.no_scoring:
        print("momentstream: --engine spark replays without models (a model learns from the whole history in "
              "order, which no split of it gives): triggers carry no score", file=sys.stderr)  # fmt: skip
    engine = default_engine(args.moments, args.lateness, None, False, args.idle_ttl)
    spark = spark_of(args)
    options = BackfillOptions(args.until, args.max_skew, input_format(args))
    summary = backfill(spark, args.events, engine, args.output, options)
    if not summary.events:
        print(no_valid_event(args.events, summary.rejected, summary.first_reject), file=sys.stderr)
        return 2
    first = (f"replayed {summary.events:,} events from {summary.lines:,} lines on Spark, {summary.customers:,} "
             f"customers held; outputs under {args.output}/ ({', '.join(OUTPUTS)})")  # fmt: skip
    report = replay_report(summary, engine.config.allowed_lateness_ms, first=first,
                           rejected=f"rejected {summary.rejected:,} lines (in {args.output}/rejects)",
                           holdout_where=f" (in {args.output}/holdout)")  # fmt: skip
    print(report, file=sys.stderr)
    return 1 if args.strict and summary.rejected else 0
