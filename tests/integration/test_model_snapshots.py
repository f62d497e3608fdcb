"""A forged model snapshot on the models topic runs nothing: the worker refuses it with a reason and a
metric, and starts with fresh models (issue: code execution through a topic)."""

from __future__ import annotations

import pickle
import signal
from pathlib import Path
from typing import Any

import msgpack
import pytest

from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess
from momentstream.models.scorer import SNAPSHOT_FORMAT
from momentstream.models.snapshot_codec import PLAIN, SIGNED
from momentstream.runtime.kafka.io import producer
from momentstream.runtime.kafka.moment_registry import MODELS_KEY

pytestmark = pytest.mark.kafka


class Payload:
    """Unpickling this creates a file: proof that code ran on the worker."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def forged(kind: str, marker: Path) -> tuple[bytes, dict[str, str]]:
    """The bytes an attacker writes to the models topic, and the reasons the worker should count."""
    body = pickle.dumps(Payload(marker))
    if kind == "pickled":  # the old unsigned format, as the worker used to write it
        doc: list[Any] = [1, ["churn"], {"churn": body}]
        return msgpack.packb(doc, use_bin_type=True), {"pickled_format": "1"}
    hostile_plain = {"estimator": "logistic_regression", "counts": [1, 0, 0, 0, 0], "rates": [0.05, 0, 0.01, 5, 0],
                     "stats": {"x": [1, float("nan"), 0, 0, 0]}, "auc": [[0], [0]], "log_loss": [0, 0]}  # fmt: skip
    entries = {"churn": [SIGNED, body, b"\0" * 32], "expansion": [PLAIN, hostile_plain]}
    data = msgpack.packb([SNAPSHOT_FORMAT, list(entries), entries], use_bin_type=True)
    return data, {"bad_signature": "1", "malformed": "1"}


@pytest.mark.parametrize("kind", ["pickled", "signed"])
def test_a_forged_snapshot_runs_nothing_and_the_worker_starts_fresh(
    kafka_broker: Broker, tmp_path: Path, kind: str
) -> None:
    marker = tmp_path / f"owned-{kind}"
    data, reasons = forged(kind, marker)
    deployment = Deployment(kafka_broker.bootstrap, partitions=1,
                            extra_env={"MOMENTSTREAM_MODEL_SNAPSHOT_KEY": "the-deployments-own-key"})  # fmt: skip
    deployment.create_topics()
    settings = deployment.settings()
    out = producer(settings.kafka)
    out.send(settings.models_topic, key=MODELS_KEY, value=data)
    out.flush()
    out.close()
    worker = WorkerProcess(deployment, tmp_path, kind)
    try:
        worker.wait_ready()
        metrics = worker.metrics()
    finally:
        worker.kill(signal.SIGTERM)
    assert not marker.exists(), "the forged snapshot ran code on the worker"
    for reason, count in reasons.items():
        assert metrics[f"momentstream_model_snapshot_refusals_total{{reason={reason}}}"] == float(count)
    assert sum(v for k, v in metrics.items() if k.startswith("momentstream_model_labels_learned{")) == 0
    log = worker.log_path.read_text(errors="replace")
    assert "refused" in log
    assert "the-deployments-own-key" not in log
    assert worker.proc.returncode == 0, worker.log_tail()
