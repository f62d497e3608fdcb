"""The Spark session ``--engine spark`` runs in: a cluster's when submitted there, else ``local[*]``.

Times are UTC throughout (a Parquet timestamp read in the driver's zone would shift every event), Spark's
console is kept to warnings, and local executors run this interpreter, so they import the same momentstream.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from momentstream.data import spark_logging_path

__all__ = ["MASTER_ENV", "SparkMissingError", "spark_session"]

MASTER_ENV = "MOMENTSTREAM_SPARK_MASTER"
"""Where ``--engine spark`` runs when ``--spark-master`` is not given (default ``local[*]``; under
spark-submit the master it was submitted with)."""


_SUBMITTED = "PYSPARK_GATEWAY_PORT"
"""Set by spark-submit for the Python program it starts: a JVM with the submitted master is already running."""


class SparkMissingError(RuntimeError):
    """pyspark (or the Java it needs) is not installed: the message says what to install."""


def spark_session(master: str | None = None, *, progress: bool = False) -> Any:
    """The running Spark session, or a new one on ``master`` (``--spark-master``, ``$MOMENTSTREAM_SPARK_MASTER``,
    else ``local[*]``; a session spark-submit already made is used as it is)."""
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415 - optional: only --engine spark needs it
    except ImportError:
        raise SparkMissingError("--engine spark needs pyspark: pip install 'momentstream[spark]' "
                                "(and Java 17 on the machine)") from None  # fmt: skip
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if master is None and os.environ.get(MASTER_ENV) is None and os.environ.get(_SUBMITTED):
        # Under spark-submit (or a Databricks job): the master it was submitted with, and its settings.
        return SparkSession.builder.appName("momentstream").getOrCreate()
    chosen = master or os.environ.get(MASTER_ENV) or "local[*]"
    if chosen.startswith("local"):  # executors are this machine's processes: this interpreter, this package
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (SparkSession.builder.master(chosen).appName("momentstream")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.showConsoleProgress", "true" if progress else "false")
               .config("spark.python.worker.reuse", "true"))  # fmt: skip
    if chosen.startswith("local"):
        quiet = f"-Dlog4j2.configurationFile={spark_logging_path().as_uri()}"
        builder = (builder.config("spark.ui.enabled", "false").config("spark.driver.memory", "2g")
                   .config("spark.driver.extraJavaOptions", quiet))  # fmt: skip
    try:
        session = builder.getOrCreate()
    except Exception as err:  # py4j: no Java, or the JVM did not start
        raise SparkMissingError(f"Spark did not start on {chosen!r}: {type(err).__name__}: {err} "
                                "(Spark needs Java 17; JAVA_HOME says which)") from None  # fmt: skip
    session.sparkContext.setLogLevel("ERROR")
    return session
