"""Files shipped inside the package."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["bundled_moments_path", "bundled_objectives_path", "spark_logging_path"]


def bundled_moments_path() -> Path:
    """The example moments file used when no ``-c`` is given."""
    return Path(str(files("momentstream") / "data" / "moments.yaml"))


def bundled_objectives_path() -> Path:
    """The example objectives (churn, expansion, advocacy) used when no ``--objectives`` is given."""
    return Path(str(files("momentstream") / "data" / "objectives.yaml"))


def spark_logging_path() -> Path:
    """Spark's logging settings when momentstream starts Spark itself: errors only (the command's output is its own)."""
    return Path(str(files("momentstream") / "data" / "spark-log4j2.properties"))
