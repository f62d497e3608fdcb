"""A real Apache Kafka broker for tests and benchmarks, found or started in a fixed order.

1. ``KAFKA_BOOTSTRAP_SERVERS`` names an external broker: use it (it must answer).
2. A Docker engine answers a ping: start Kafka with testcontainers (KRaft).
3. Otherwise: the single-node KRaft broker of ``deploy/kafka/start.sh`` (jars resolved by Maven),
   on a free port and a fresh data directory, stopped again afterwards.

There is no mock: if none of these works, :func:`dev_broker` raises :class:`BrokerUnavailableError`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Broker", "BrokerUnavailableError", "dev_broker", "free_port", "kafka_home"]

logger = logging.getLogger(__name__)

CONTAINER_IMAGE = "confluentinc/cp-kafka:7.9.0"
"""Confluent Platform 7.9 ships Apache Kafka 3.9, the version deploy/kafka resolves."""


class BrokerUnavailableError(RuntimeError):
    """No external broker, no Docker engine, and the local broker would not start."""


@dataclass(frozen=True, slots=True)
class Broker:
    """A broker that answers, and how it was obtained (external, testcontainers, local-jars)."""

    bootstrap: str
    source: str


def kafka_home() -> Path:
    """The ``deploy/kafka`` folder (``MOMENTSTREAM_KAFKA_HOME`` overrides the repository's)."""
    env = os.environ.get("MOMENTSTREAM_KAFKA_HOME")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "deploy" / "kafka"
        if (candidate / "start.sh").is_file():
            return candidate
    raise BrokerUnavailableError("deploy/kafka/start.sh not found; set MOMENTSTREAM_KAFKA_HOME")


def answers(bootstrap: str, timeout_s: float = 30.0) -> bool:
    """True once the broker answers a metadata request (the port alone is not enough)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=5000)
            admin.list_topics()
            admin.close()
            return True
        except (KafkaError, OSError, ValueError):
            time.sleep(0.5)
    return False


def _docker_answers() -> bool:
    try:
        import docker
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=3)
        return bool(client.ping())
    except Exception:  # any failure to reach an engine means "no Docker"
        return False


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _local_jars() -> Iterator[Broker]:
    home = kafka_home()
    port = free_port()
    run_dir = Path(tempfile.mkdtemp(prefix="momentstream-kafka-"))
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(free_port()),
           "KAFKA_RUN_DIR": str(run_dir), "KAFKA_FRESH": "1"}  # fmt: skip
    started = subprocess.run([str(home / "start.sh")], env=env, capture_output=True, text=True, check=False)
    if started.returncode != 0:
        raise BrokerUnavailableError(f"deploy/kafka/start.sh failed:\n{started.stderr[-3000:]}")
    bootstrap = f"127.0.0.1:{port}"
    try:
        if not answers(bootstrap):
            raise BrokerUnavailableError(f"local broker on {bootstrap} does not answer; see {run_dir}/logs")
        yield Broker(bootstrap, "local-jars")
    finally:
        pid_file = run_dir / "pid"
        if pid_file.is_file():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
        shutil.rmtree(run_dir, ignore_errors=True)


@contextlib.contextmanager
def _container() -> Iterator[Broker]:
    from testcontainers.community.kafka import KafkaContainer

    with KafkaContainer(CONTAINER_IMAGE).with_kraft() as kafka:
        yield Broker(kafka.get_bootstrap_server(), "testcontainers")


@contextlib.contextmanager
def dev_broker() -> Iterator[Broker]:
    """The first broker available in the documented order; cleaned up on exit."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        if not answers(external):
            raise BrokerUnavailableError(f"KAFKA_BOOTSTRAP_SERVERS={external} does not answer")
        yield Broker(external, "external")
        return
    if _docker_answers():
        with _container() as broker:
            yield broker
        return
    with _local_jars() as broker:
        yield broker
