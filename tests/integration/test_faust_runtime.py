"""The Faust runtime (``runtime: faust``), kept as an alternative to the batched worker, on the same
scenarios: a SIGKILL mid-stream, two workers sharing the partitions, and identity handoffs between partitions
give the replay runner's triggers.

(The whole integration suite passes with MOMENTSTREAM_RUNTIME=faust too; these two run in every CI.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from momentstream.core.schema import TouchpointEvent
from momentstream.devtools.broker import Broker
from momentstream.sim.journeys import simulate
from tests.integration import test_identity as identity
from tests.integration import test_kafka_runtime as scenarios

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def journeys() -> list[TouchpointEvent]:
    """The same journeys as the batched worker's scenarios."""
    return simulate(scenarios.CUSTOMERS, scenarios.DAYS, scenarios.SEED).events


@pytest.fixture(autouse=True)
def faust_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Worker processes inherit the environment: every worker of these tests runs on Faust (their logs say so)."""
    monkeypatch.setenv("MOMENTSTREAM_RUNTIME", "faust")
    yield
    logs = [p.read_text(errors="replace") for p in tmp_path.glob("*.log")]
    assert logs
    assert all("faust" in log.lower() and "batched worker started" not in log for log in logs)


def test_faust_sigkill_mid_stream_loses_no_trigger(kafka_broker: Broker, journeys: list[TouchpointEvent],
                                                   tmp_path: Path) -> None:  # fmt: skip
    scenarios.test_sigkill_mid_stream_loses_no_trigger_and_no_timer(kafka_broker, journeys, tmp_path)


def test_faust_two_workers_agree_with_replay(kafka_broker: Broker, journeys: list[TouchpointEvent],
                                             tmp_path: Path) -> None:  # fmt: skip
    scenarios.test_two_workers_split_partitions_and_agree(kafka_broker, journeys, tmp_path)


def test_faust_stitches_ids(kafka_broker: Broker, tmp_path: Path) -> None:
    """One Faust worker (the batch runtime's test adds a second worker and a SIGKILL)."""
    identity.stitch_split_ids(kafka_broker, tmp_path, customers=40, crash=False)
