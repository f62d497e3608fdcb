"""MOMENTSTREAM_LOG_FORMAT=json: every line a worker writes is one JSON object, the Kafka clients' lines too."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize("runtime", ["batch", "faust"])
def test_json_logs_are_one_object_per_line(kafka_broker: Broker, tmp_path: Path, runtime: str) -> None:
    deployment = Deployment(kafka_broker.bootstrap, extra_env={"MOMENTSTREAM_LOG_FORMAT": "json",
                                                               "MOMENTSTREAM_RUNTIME": runtime})  # fmt: skip
    deployment.create_topics()
    worker = WorkerProcess(deployment, tmp_path, runtime)
    try:
        worker.wait_ready()
    finally:
        worker.kill(signal.SIGTERM)
    lines = [line for line in worker.log_path.read_text().splitlines() if line.strip()]
    assert len(lines) >= 2
    docs = []
    for line in lines:
        try:
            docs.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON object: {line[:200]}")
    assert all({"time", "level", "logger", "message"} <= set(d) for d in docs)
    assert any(d["logger"].startswith("momentstream") for d in docs)
