"""A real Prometheus scrapes a running worker: the target is up, the alert rules load and evaluate
without error, and stopping the worker makes MomentstreamWorkerDown pending."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from momentstream.devtools.broker import Broker, free_port
from momentstream.devtools.cluster import Deployment, WorkerProcess, wait_until
from momentstream.sim.journeys import simulate
from tests.integration.test_kafka_runtime import lines_of

pytestmark = pytest.mark.kafka

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yaml"


class Prometheus:
    """``prometheus`` (Debian's 2.42) on a free port, scraping and evaluating every second."""

    def __init__(self, target: str, folder: Path) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail("CI needs prometheus (.ci/run installs Debian's package)")
            pytest.skip("prometheus not installed")
        config = folder / "prometheus.yml"
        config.write_text(json.dumps({  # JSON is YAML
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [{"job_name": "momentstream", "static_configs": [{"targets": [target]}]}],
        }))  # fmt: skip
        self.port = free_port()
        self.log = (folder / "prometheus.log").open("wb")
        self.proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'tsdb'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}"],
                                     stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip

    def api(self, path: str, **query: str) -> Any:
        """The ``data`` of a Prometheus HTTP API answer, or None while it is not up."""
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())["data"]
        except OSError:
            return None

    def value(self, expr: str) -> float | None:
        """The single value of an instant query, or None when it has no result."""
        result = (self.api("query", query=expr) or {}).get("result") or []
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        """Stop the server and close its log."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture
def scraped_worker(kafka_broker: Broker, tmp_path: Path) -> Iterator[tuple[Deployment, WorkerProcess, Prometheus]]:
    """A worker on the shared broker, and a Prometheus scraping it under job momentstream."""
    deployment = Deployment(kafka_broker.bootstrap, extra_env={"MOMENTSTREAM_SCORING": "false"})
    deployment.create_topics()
    worker = WorkerProcess(deployment, tmp_path)
    prometheus = Prometheus(f"127.0.0.1:{worker.port}", tmp_path)
    try:
        yield deployment, worker, prometheus
    finally:
        prometheus.stop()
        worker.kill(signal.SIGTERM)


def test_prometheus_scrapes_a_worker_and_the_alert_rules_evaluate(
    scraped_worker: tuple[Deployment, WorkerProcess, Prometheus],
) -> None:
    deployment, worker, prometheus = scraped_worker
    worker.wait_ready()
    events = simulate(40, 20, 3).events
    deployment.produce(lines_of(events))
    wait_until(lambda: prometheus.value('up{job="momentstream"}') == 1.0, 60, "the worker scraped", [worker])
    wait_until(lambda: prometheus.value('sum(momentstream_events_total{result="processed"})') == len(events), 90,
               "every event counted in Prometheus", [worker])  # fmt: skip
    assert prometheus.value("momentstream_build_info") == 1.0
    assert prometheus.value('momentstream_dead_letters_total{reason="invalid_json"}') == 0.0  # created at 0

    def evaluated() -> list[dict[str, Any]]:
        groups = (prometheus.api("rules") or {}).get("groups") or []
        return [rule for group in groups for rule in group["rules"]]

    rules = len(yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"])
    assert rules >= 16
    wait_until(lambda: all(r.get("lastEvaluation", "0001").startswith("20") for r in evaluated()) and
               len(evaluated()) == rules, 30, "every rule evaluated")  # fmt: skip
    assert [(r["name"], r.get("lastError", "")) for r in evaluated() if r["health"] != "ok"] == []
    # Before its first scrape no worker existed, so MomentstreamNoWorker may be pending for a moment: not firing.
    firing = [a["labels"]["alertname"] for a in (prometheus.api("alerts") or {}).get("alerts", [])
              if a["state"] == "firing"]  # fmt: skip
    assert "MomentstreamWorkerDown" not in firing
    assert "MomentstreamNoWorker" not in firing

    worker.kill(signal.SIGTERM)
    wait_until(lambda: prometheus.value('up{job="momentstream"}') == 0.0, 30, "the stopped worker seen as down")

    def worker_down() -> str | None:
        alerts = (prometheus.api("alerts") or {}).get("alerts", [])
        return next((a["state"] for a in alerts if a["labels"]["alertname"] == "MomentstreamWorkerDown"), None)

    wait_until(lambda: worker_down() == "pending", 30, "MomentstreamWorkerDown pending (it fires after 2m)")
