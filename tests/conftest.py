"""Shared fixtures. One Spark session in local mode for every Spark test (its JVM takes seconds to start).

In CI a machine that cannot start Spark (no pyspark, no Java 17) fails these tests, never skips them;
elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from momentstream.spark.session import SparkMissingError, spark_session


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    try:
        session = spark_session("local[2]")
    except SparkMissingError as err:
        if os.environ.get("CI"):
            pytest.fail(f"Spark is part of CI: {err}")
        pytest.skip(str(err))
    # Small histories: a few partitions keep each job quick, and still more than one.
    session.conf.set("spark.sql.shuffle.partitions", "4")
    yield session
    session.stop()
