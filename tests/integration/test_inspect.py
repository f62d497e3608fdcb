"""``momentstream inspect`` against running workers of both runtimes, and the event-to-trigger latency."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from momentstream.core.schema import TouchpointEvent
from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, run_command, wait_until
from momentstream.runtime.kafka.admin import consumer_lag
from momentstream.sim.journeys import simulate
from tests.integration.test_kafka_runtime import lines_of

pytestmark = pytest.mark.kafka

TOKEN = "inspect-t0ken-xyz"
CUSTOMER = "acme/cust ü-1"
T0 = datetime(2026, 1, 20, 9, tzinfo=UTC)


def inspect(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_command(env, "inspect", *args, timeout_s=60)


def test_an_operator_reads_a_customers_story_from_the_worker_that_holds_it(
    kafka_broker: Broker, tmp_path: Path
) -> None:
    """The batch runtime here; the Faust runtime's page is checked in test_rollout (one worker start less)."""
    runtime = "batch"
    journeys = simulate(40, 20, 3).events
    ticket = TouchpointEvent(event_id="t-1", customer_id=CUSTOMER, type="support_ticket", channel="email", ts=T0)
    later = TouchpointEvent(event_id="v-1", customer_id=CUSTOMER, type="page_view", ts=T0 + timedelta(hours=2))
    env = {"MOMENTSTREAM_INSPECT_TOKEN": TOKEN, "MOMENTSTREAM_RUNTIME": runtime}
    deployment = Deployment(kafka_broker.bootstrap, extra_env=env)
    deployment.create_topics()
    worker = WorkerProcess(deployment, tmp_path)
    try:
        worker.wait_ready(120)
        deployment.produce(lines_of([*journeys, ticket, later]))
        settings = deployment.settings()
        wait_until(lambda: not any(consumer_lag(settings).values()), 120, "all events processed", [worker])
        address = worker.url("")
        shown = inspect(env, CUSTOMER, "--worker", "http://127.0.0.1:1", "--worker", address)
        assert shown.returncode == 0, shown.stderr
        assert f"customer {CUSTOMER}" in shown.stdout
        assert "support_ticket" in shown.stdout
        assert "post_purchase_window" in shown.stdout  # the ticket started it: step 1 of its pattern
        doc = json.loads(inspect(env, CUSTOMER, "--worker", address, "--json").stdout)
        assert [e["event_id"] for e in doc["story"]] == ["t-1", "v-1"]
        assert doc["moments"]["post_purchase_window"]["partial_matches"][0]["evidence"][0]["event_id"] == "t-1"
        wrong = inspect({**env, "MOMENTSTREAM_INSPECT_TOKEN": "not-it-but-as-long"}, CUSTOMER, "--worker", address)
        assert wrong.returncode == 2
        assert "Bearer" in wrong.stderr
        missing = inspect(env, "nobody-at-all", "--worker", address)
        assert missing.returncode == 1
        assert "not found on 1 worker" in missing.stderr
        metrics = worker.metrics()
    finally:
        worker.kill(signal.SIGTERM)
    assert metrics["momentstream_inspections_total{result=found}"] == 2
    assert metrics["momentstream_inspections_total{result=unauthorized}"] == 1
    assert metrics["momentstream_trigger_latency_seconds_count{}"] > 0  # triggers that events completed
    assert (
        metrics["momentstream_trigger_latency_seconds_sum{}"] / metrics["momentstream_trigger_latency_seconds_count{}"]
        < 60
    )
    log = worker.log_path.read_text()
    assert "operator look-up: found" in log
    assert CUSTOMER not in log
    assert TOKEN not in log
