"""Hostile input on a real broker, with scoring on: every refused record is dead-lettered with its reason
(a 1 MB one truncated, with size and hash), the good records give exactly the replay runner's triggers,
the models stay finite, and /readyz never answers 500. Also: an erasure is physically compacted out of
the changelog within ``erasure_within``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from momentstream.cli.demo import default_engine
from momentstream.core.schema import ERASURE_EVENT_TYPE, TouchpointEvent
from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, wait_until
from momentstream.runtime.kafka.admin import changelog_topic, consumer_lag
from momentstream.runtime.kafka.io import read_topic
from momentstream.runtime.replay.runner import replay_file
from momentstream.runtime.sources import RAW_KEPT
from momentstream.sim.journeys import simulate
from tests.integration.test_kafka_runtime import crm_stream, finish_input, lines_of, replay_triggers

pytestmark = pytest.mark.kafka

HELD = b'{"event_id":"h5","customer_id":"fuzz-5","type":"page_view","ts":"2100-01-01T00:00:00Z"}'
"""Valid, but 74 years ahead: processed for its own customer, held from moving the partition clock."""
HUGE = b"not json " + b"x" * 999_991  # 1,000,000 bytes: its dead letter once failed (MessageSizeTooLarge)


def hostile_records(count: int, seed: int = 5) -> list[bytes]:
    """A few hundred refused records: the issue's cases, then random bytes, JSON and mutated events."""
    fixed = [
        b'{"event_id":"h1","customer_id":"fuzz-1","type":"purchase","ts":"2026-01-10T00:00:00Z","value":NaN}',
        b'{"event_id":"h2","customer_id":"fuzz-2","type":"purchase","ts":"2026-01-10T00:00:00Z","value":1e291}',
        b'{"event_id":"h3","customer_id":"fuzz-3","type":"purchase","ts":"2026-01-10T00:00:00Z",'
        b'"properties":{"n":1180591620717411303424}}',
        b'{"event_id":"h4","customer_id":"fuzz-4","type":"purchase","ts":"9999-12-31T23:59:59-01:00"}',
        HELD,
        b'{"event_id":"h6","customer_id":"fuzz-6","type":"page_view","ts":"2026-01-10T00:00:00Z",'
        b'"properties":{"timezone":"Europe/Berln"}}',
        b'{"event_id":"h7","customer_id":"fuzz-7","type":"page_view","ts":"2026-01-10T00:00:00Z","text":"'
        + b"y" * 600_000
        + b'"}',
        HUGE,
    ]
    rng = random.Random(seed)
    records = list(fixed)
    while len(records) < count:
        n = len(records)
        choice = rng.randrange(4)
        if choice == 0:
            records.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))).replace(b"\n", b" "))
        elif choice == 1:
            records.append(json.dumps(rng.choice([[1, {"a": None}], "text", 3.5, {"event_id": n}])).encode())
        else:
            field, value = rng.choice([("value", "Infinity"), ("value", "-1e308"), ("ts", '"3000-01-01T00:00:00Z"'),
                                       ("ts", '"1850-01-01T00:00:00Z"'), ("type", '"Bad Type"'),
                                       ("properties", '{"x": {"nested": 1}}'), ("customer_id", '""'),
                                       ("text", json.dumps("z" * 20_001))])  # fmt: skip
            base = {"event_id": f"fz-{n}", "customer_id": f"fuzz-{n}", "type": "purchase",
                    "ts": "2026-01-10T00:00:00Z"}  # fmt: skip
            base.pop(field, None)
            records.append((json.dumps(base)[:-1] + f', "{field}": {value}}}').encode())
    return records


def expected_rejects(lines: list[bytes]) -> list[str]:
    """What the replay runner refuses of the same records in the same order, reason by reason."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "events.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        rejects = io.StringIO()
        replay_file(path, default_engine(None), io.StringIO(), rejects_out=rejects, order="file", progress=False)
    return sorted(json.loads(x)["reason"] for x in rejects.getvalue().splitlines())


def test_hostile_records_are_dead_lettered_and_change_no_trigger(kafka_broker: Broker, tmp_path: Path) -> None:
    events = sorted(simulate(120, 40, 21).events, key=lambda e: e.ts)
    good = lines_of(events)
    bad = hostile_records(240)
    rng = random.Random(3)
    lines = list(good)
    for record in bad:
        lines.insert(rng.randrange(len(lines) // 10, len(lines)), record)  # after the clock has started
    expected = expected_rejects(lines)
    assert len(expected) == len(bad) - 1  # every hostile record is refused by replay too, but the held one

    deployment = Deployment(kafka_broker.bootstrap)
    deployment.create_topics()
    worker = WorkerProcess(deployment, tmp_path, "hostile")
    try:
        worker.wait_ready()
        deployment.produce(lines)
        finish_input(deployment, events, [worker])
        dead = deployment.read("dead-letter")
        metrics = worker.metrics()
        ready = worker.readiness()
        got = crm_stream(deployment)
    finally:
        worker.kill(signal.SIGTERM)
    assert worker.proc.returncode == 0, worker.log_tail()  # a clean stop: it never crashed or exited early
    snapshots = [r.value for r in read_topic(deployment.settings().kafka, deployment.settings().models_topic,
                                             idle_timeout_s=1.0) if r.key == b"snapshot"]  # fmt: skip
    assert got == replay_triggers(events)
    assert len(got) > 30
    assert sorted(r.headers["momentstream.reason"].decode() for r in dead) == expected
    [huge] = [r for r in dead if r.headers.get("momentstream.truncated") == b"true" and r.value.startswith(b"not json")]
    assert len(huge.value) == RAW_KEPT
    assert huge.headers["momentstream.original_size"] == str(len(HUGE)).encode()
    assert huge.headers["momentstream.original_sha256"] == hashlib.sha256(HUGE).hexdigest().encode()
    assert metrics["momentstream_events_held_total{}"] == 1
    assert metrics["momentstream_events_total{result=processed}"] == len(good) + 1
    assert ready["ready"] is True
    assert worker.readyz_statuses <= {0, 200, 503}  # during start too: 503, never a 500 with a traceback
    assert "agent failed" not in worker.log_path.read_text(errors="replace")
    assert snapshots  # published on the clean stop, and loadable: no model went non-finite
    assert default_engine(None).scorer.restore(snapshots[-1]) == []  # type: ignore[union-attr]


def test_an_erasure_is_compacted_out_of_the_changelog(kafka_broker: Broker, tmp_path: Path) -> None:
    """With erasure_within=6s the erased customer's old values disappear from the changelog on disk."""
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    mine = [TouchpointEvent(event_id=f"m{i}", customer_id="c-erased", type="page_view", ts=t0 + timedelta(minutes=i))
            for i in range(5)]  # fmt: skip
    erase = TouchpointEvent(event_id="x", customer_id="c-erased", type=ERASURE_EVENT_TYPE, ts=t0 + timedelta(hours=1))
    deployment = Deployment(kafka_broker.bootstrap, partitions=1, extra_env={"MOMENTSTREAM_ERASURE_WITHIN": "6s"})
    deployment.create_topics()
    settings = deployment.settings()
    topic = changelog_topic(settings)

    def values_of_erased() -> int:
        records = read_topic(settings.kafka, topic, idle_timeout_s=1.5)
        return sum(1 for r in records if r.key == b"c-erased" and r.value)

    worker = WorkerProcess(deployment, tmp_path, "compact")
    try:
        worker.wait_ready()
        deployment.produce(lines_of(mine))
        wait_until(lambda: not any(consumer_lag(settings).values()), 60, "the customer's events", [worker])
        # One state value per batch that changed the customer (a batch writes each customer once).
        assert values_of_erased() >= 1
        deployment.produce(lines_of([erase]))
        deadline = time.monotonic() + 120
        n = 0
        # Other customers keep writing (as in production): segments roll, and the cleaner compacts them.
        while values_of_erased() and time.monotonic() < deadline:
            n += 1
            other = TouchpointEvent(event_id=f"o{n}", customer_id=f"c-other-{n % 3}", type="page_view",
                                    ts=t0 + timedelta(hours=2, minutes=n))  # fmt: skip
            deployment.produce(lines_of([other]))
            time.sleep(2)
        left = values_of_erased()
    finally:
        worker.kill(signal.SIGTERM)
    assert left == 0, f"{left} old state values of the erased customer still in {topic} after 120 s"


def test_a_taken_web_port_is_one_clear_line_not_a_traceback(kafka_broker: Broker, tmp_path: Path) -> None:
    deployment = Deployment(kafka_broker.bootstrap, partitions=1)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, **deployment.env(), "MOMENTSTREAM_WEB_HOST": "127.0.0.1",
               "MOMENTSTREAM_WEB_PORT": str(port), "MOMENTSTREAM_DATA_DIR": str(tmp_path)}  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "momentstream", "worker", "--no-scoring"], env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
