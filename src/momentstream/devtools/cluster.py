"""Real worker processes for integration tests and benchmarks: start, wait, read metrics, kill.

Each :class:`Deployment` has its own app id and topic names, so tests share one broker without
sharing state; a :class:`WorkerProcess` runs ``momentstream worker`` in a subprocess, exactly
as an operator would, and is observed only through Kafka and its web port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Deployment", "WorkerProcess", "free_port", "run_command", "wait_until"]

from momentstream.devtools.broker import free_port
from momentstream.ops.settings import WorkerSettings, load_settings
from momentstream.runtime.kafka.admin import ensure_topics
from momentstream.runtime.kafka.io import TopicRecord, produce_lines, read_topic


@dataclass
class Deployment:
    """One isolated set of topics (and a consumer group) on the shared broker."""

    bootstrap: str
    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    name: str = field(default_factory=lambda: f"it-{uuid.uuid4().hex[:8]}")

    def env(self) -> dict[str, str]:
        """Worker settings as MOMENTSTREAM_* variables."""
        n = self.name
        return {
            "MOMENTSTREAM_BROKER": self.bootstrap,
            "MOMENTSTREAM_APP_ID": n,
            "MOMENTSTREAM_PARTITIONS": str(self.partitions),
            "MOMENTSTREAM_TOUCHPOINTS_TOPIC": f"{n}.touchpoints",
            "MOMENTSTREAM_TICKS_TOPIC": f"{n}.ticks",
            "MOMENTSTREAM_ACTIONS_TOPIC": f"{n}.actions",
            "MOMENTSTREAM_HOLDOUT_TOPIC": f"{n}.holdout",
            "MOMENTSTREAM_AUDIT_TOPIC": f"{n}.audit",
            "MOMENTSTREAM_DEAD_LETTER_TOPIC": f"{n}.dead-letter",
            "MOMENTSTREAM_MODELS_TOPIC": f"{n}.models",
            "MOMENTSTREAM_COMMIT_INTERVAL": "0.5",
            "MOMENTSTREAM_SESSION_TIMEOUT": "6",
            **self.extra_env,
        }

    def settings(self) -> WorkerSettings:
        """The same settings, as the worker will read them."""
        values: dict[str, Any] = {k.removeprefix("MOMENTSTREAM_").lower(): v for k, v in self.env().items()}
        secrets = values.pop("secrets_dir", None)
        return load_settings(None, secrets_dir=None if secrets is None else Path(secrets), **values)

    def create_topics(self) -> None:
        """Make this deployment's topics."""
        ensure_topics(self.settings())

    def produce(self, lines: Iterable[bytes], topic: str | None = None) -> int:
        """Send event lines keyed by customer id; returns how many."""
        s = self.settings()
        return produce_lines(s.kafka, topic or s.touchpoints_topic, lines).sent

    def read(self, which: str, idle_s: float = 3.0) -> list[TopicRecord]:
        """All records of one topic by its short name (actions, holdout, audit, dead-letter, ...)."""
        s = self.settings()
        topic = s.topic_aliases()[which]
        return list(read_topic(s.kafka, topic, idle_timeout_s=idle_s))


class WorkerProcess:
    """``momentstream worker`` in a subprocess, with its web port for metrics and readiness."""

    def __init__(self, deployment: Deployment, log_dir: Path, label: str = "w1") -> None:
        self.port = free_port()
        self.log_path = log_dir / f"{deployment.name}-{label}.log"
        env = {**os.environ, **deployment.env(), "MOMENTSTREAM_WEB_PORT": str(self.port),
               "MOMENTSTREAM_WEB_HOST": "127.0.0.1",
               "MOMENTSTREAM_DATA_DIR": str(log_dir / f"{deployment.name}-{label}-data")}  # fmt: skip
        self.readyz_statuses: set[int] = set()
        """Every /readyz status seen (0: not answering yet): a worker must never answer 500."""
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "momentstream", "worker"], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def url(self, path: str) -> str:
        """An address on the worker's web port."""
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, bytes]:
        """Status and body of a GET (status 0 while the server is not up)."""
        try:
            with urllib.request.urlopen(self.url(path), timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
        except OSError:
            return 0, b""

    def readiness(self) -> dict[str, Any]:
        """The /readyz document (empty while the server is not up)."""
        status, body = self.get("/readyz")
        self.readyz_statuses.add(status)
        return json.loads(body) if status in (200, 503) else {}

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Until /readyz says ready; fails with the log tail if the process dies."""
        self._wait(lambda: self.readiness().get("ready") is True, timeout_s, "ready")

    def metrics(self) -> dict[str, float]:
        """Samples of /metrics as {"name{label=value,...}": value}."""
        status, body = self.get("/metrics")
        if status != 200:
            return {}
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = sample.value
        return samples

    def counter(self, name: str) -> float:
        """The sum of a metric over all its label sets."""
        return sum(v for k, v in self.metrics().items() if k.startswith(name + "{"))

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal and wait for the process to end."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the worker's log, for failure messages."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _wait(self, done: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited ({self.proc.returncode}) before {what}:\n{self.log_tail()}")
            if done():
                return
            time.sleep(0.25)
        raise AssertionError(f"worker not {what} after {timeout_s} s:\n{self.log_tail()}")


def wait_until(
    check: Callable[[], bool],
    timeout_s: float,
    what: str,
    workers: Iterable[WorkerProcess] = (),
    detail: Callable[[], object] | None = None,
) -> None:
    """Poll ``check()`` until true; on timeout fail with ``detail()`` and the workers' log tails."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    tails = "\n---\n".join(w.log_tail() for w in workers)
    state = f" ({detail()})" if detail is not None else ""
    raise AssertionError(f"timed out waiting for {what}{state}\n{tails}")


def run_command(env: Mapping[str, str], *args: str, stdin: str | None = None,
                timeout_s: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``momentstream ARGS`` as an operator runs it: this process's environment without its MOMENTSTREAM_*
    variables (a test's settings must not leak in), then ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOMENTSTREAM_")}
    return subprocess.run([sys.executable, "-m", "momentstream", *args], env={**clean, **env}, input=stdin,
                          capture_output=True, text=True, timeout=timeout_s, check=False)  # fmt: skip
