"""A live worker's web port under abuse: it neither runs out of memory nor stops answering its probes.

Before: 40 connections with oversized request headers took a worker from 0.2 to 1.4 GB, and about a
thousand idle connections made /healthz and /readyz stop answering (each held a thread).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from momentstream.devtools.broker import Broker, free_port
from momentstream.devtools.cluster import Deployment, WorkerProcess

pytestmark = pytest.mark.kafka

PAD = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 60_000) for i in range(100))  # 6 MB of headers


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def oversized(port: int, answers: list[bytes]) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            with contextlib.suppress(OSError):
                s.sendall(b"GET /metrics HTTP/1.1\r\n" + PAD + b"\r\n")
            answers.append(s.recv(64) or b"CLOSED")
    except OSError:
        answers.append(b"RESET")


def test_the_web_port_resists_oversized_requests_and_idle_connections(kafka_broker: Broker, tmp_path: Path) -> None:
    inspect_port = free_port()
    env = {"MOMENTSTREAM_INSPECT_TOKEN": "a-token-long-enough", "MOMENTSTREAM_INSPECT_PORT": str(inspect_port)}
    deployment = Deployment(kafka_broker.bootstrap, partitions=1, extra_env=env)
    deployment.create_topics()
    worker = WorkerProcess(deployment, tmp_path, "web")
    idle: list[socket.socket] = []
    try:
        worker.wait_ready()
        # The customer look-up on a port of its own (loopback by default), not beside /metrics.
        assert worker.get("/customers/c-1")[0] == 404
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{inspect_port}/customers/c-1", timeout=5)
        assert refused.value.code == 401
        with pytest.raises(urllib.error.HTTPError) as elsewhere:
            urllib.request.urlopen(f"http://127.0.0.1:{inspect_port}/metrics", timeout=5)
        assert elsewhere.value.code == 404  # the look-up port serves nothing else
        before = rss_mb(worker.proc.pid)
        answers: list[bytes] = []
        threads = [threading.Thread(target=oversized, args=(worker.port, answers)) for _ in range(80)]
        for t in threads:
            t.start()
        peak = before
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_mb(worker.proc.pid))
            time.sleep(0.05)
        assert len(answers) == 80
        assert all(a.startswith(b"HTTP/1.0 431") or a in (b"RESET", b"CLOSED") for a in answers), set(answers)
        assert peak - before < 100, f"{before:.0f} MB before, {peak:.0f} MB at the peak"
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", worker.port), timeout=5)
            s.sendall(b"GET /readyz HTTP/1.1\r\n")  # and never the end of it
            idle.append(s)
        started = time.monotonic()
        assert worker.get("/healthz")[0] == 200
        assert worker.get("/readyz")[0] == 200
        probes_s = time.monotonic() - started
        metrics = worker.metrics()
    finally:
        for s in idle:
            s.close()
        worker.kill(signal.SIGTERM)
    assert probes_s < 3.0
    assert metrics["momentstream_loop_heartbeat_timestamp_seconds{}"] > time.time() - 60
    assert "Traceback" not in worker.log_path.read_text(errors="replace")
