"""``--engine spark``: the options that send ``discover``, ``journeys`` and ``replay`` to Spark, shared by them.

The default stays the local engine; pyspark is imported only once Spark is asked for, so a machine without
the extra still answers ``--help`` at once and says what to install when Spark is asked for.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from typing import TYPE_CHECKING, Any

from momentstream.cli.argtypes import ConfigurationError

if TYPE_CHECKING:
    from momentstream.discovery.run import HistoryLoader

__all__ = ["ENGINE_HELP", "add_engine_options", "spark_loader", "spark_of"]

ENGINE_HELP = """\
local (default) runs on this machine. spark reads the history where it lives (a file, a
directory of Parquet or JSON lines, s3://, abfss://) and runs the per-customer work on
Spark's executors with the same results (pip install 'momentstream[spark]'; Java 17).
Under spark-submit the submitted session is used; else --spark-master, or
$MOMENTSTREAM_SPARK_MASTER, or local[*]."""


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and ``--spark-master``, as one group in ``--help``."""
    group = parser.add_argument_group("beyond one machine", ENGINE_HELP)
    group.add_argument("--engine", choices=["local", "spark"], default="local",
                       help="where the work runs (default local)")  # fmt: skip
    group.add_argument("--spark-master", metavar="URL",
                       help="Spark master for --engine spark, e.g. local[4], spark://host:7077, yarn")  # fmt: skip


def spark_of(args: argparse.Namespace) -> Any:
    """The Spark session ``--engine spark`` runs in (ConfigurationError when pyspark or Java is missing)."""
    from momentstream.spark.session import SparkMissingError, spark_session

    try:
        session = spark_session(args.spark_master, progress=not args.quiet)
    except SparkMissingError as err:
        raise ConfigurationError(str(err)) from None
    context = session.sparkContext
    print(f"momentstream: on Spark {context.version}, master {context.master}, {context.defaultParallelism} cores",
          file=sys.stderr)  # fmt: skip
    return session


def spark_loader(args: argparse.Namespace) -> HistoryLoader:
    """How discovery reads the history: the local loader, or Spark's in the session ``args`` ask for."""
    from momentstream.discovery.history import load_history

    if args.engine != "spark":
        return load_history
    from momentstream.spark.history import load_spark_history

    return partial(load_spark_history, spark=spark_of(args))
