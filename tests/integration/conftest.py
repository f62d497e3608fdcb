"""The session's Kafka broker: external, testcontainers or local jars (see devtools.broker).

Outside CI a broker that cannot be had skips these tests with the reason; with CI=true it
fails the run, because a green CI without the real-broker tests would prove nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from momentstream.devtools.broker import Broker, BrokerUnavailableError, dev_broker


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Broker]:
    """One real broker for every integration test of the session."""
    try:
        with dev_broker() as broker:
            print(f"\nkafka broker: {broker.bootstrap} ({broker.source})")
            yield broker
    except BrokerUnavailableError as err:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI needs a real Kafka broker: {err}")
        pytest.skip(f"no Kafka broker: {err}")


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Where worker logs and data go (pytest keeps the last runs' tmp dirs for post-mortems)."""
    return tmp_path
