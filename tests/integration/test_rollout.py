"""A live rollout on the broker while events flow: SIGHUP reloads the moments file between batches.

Unchanged moments keep every customer's partial matches across the reload, a new version resets only
its own, a shadow moment starts auditing, and a pattern changed without a new version is refused, both
by a running worker (which keeps the previous moments) and by a worker starting with it.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import TouchpointEvent, Trigger
from momentstream.devtools.broker import Broker, free_port
from momentstream.devtools.cluster import Deployment, WorkerProcess, run_command, wait_until
from momentstream.patterns.dsl import parse_moments
from momentstream.runtime.kafka.admin import consumer_lag
from momentstream.runtime.kafka.io import send_ticks
from momentstream.runtime.replay.runner import ReplayRunner
from tests.integration.test_kafka_runtime import crm_stream, lines_of

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AFTER_TICKET = """  - name: after_ticket
    pattern:
      - {name: ticket, where: {type: support_ticket}}
      - {name: order, where: {type: purchase}, within: 3d}
"""
REPEAT = """  - name: repeat_buyer
    version: VERSION
    pattern:
      - {name: first, where: {type: purchase}}
      - {name: second, where: {type: purchase}}
"""
SHADOW = """  - name: ticket_only
    mode: shadow
    compare_to: after_ticket
    pattern: [{name: ticket, where: {type: support_ticket}}]
"""
FLINKISH = """  - name: orders_then_ticket
    skip: {skip_to_last: orders}
    pattern:
      - {name: orders, where: {type: purchase}, one_or_more: true, until: {type: refund}}
      - {name: no_refund, not_next: {type: refund}}
      - {name: views, where: {type: page_view}, optional: true, one_or_more: true, greedy: true}
      - {name: ticket, where: {type: support_ticket}, within: 2d}
"""
"""Flink's constructs (until, not_next, greedy, skip_to_last) on the broker, added by the reload."""
V1 = "moments:\n" + AFTER_TICKET + REPEAT.replace("VERSION", "1")
V2 = "moments:\n" + AFTER_TICKET + REPEAT.replace("VERSION", "2") + SHADOW + FLINKISH
V3 = V2.replace("within: 3d", "within: 5d")  # a changed pattern, same version: refused


def ev(kind: str, customer: int, hours: float) -> TouchpointEvent:
    return TouchpointEvent(event_id=f"{kind}-{customer}-{hours}", customer_id=f"c{customer}", type=kind,
                           ts=T0 + timedelta(hours=hours))  # fmt: skip


def phases() -> tuple[list[TouchpointEvent], list[TouchpointEvent]]:
    """Before the reload: a ticket each, a first purchase for even customers. After: a purchase each, and a
    second ticket for five customers."""
    before = [ev("support_ticket", i, i) for i in range(20)] + [ev("purchase", i, i + 1) for i in range(0, 20, 2)]
    after = [ev("purchase", i, 30 + i) for i in range(20)] + [ev("support_ticket", i, 60 + i) for i in range(5)]
    return sorted(before, key=lambda e: e.ts), sorted(after, key=lambda e: e.ts)


def deployment_on(broker: Broker, tmp_path: Path, **extra: str) -> tuple[Path, Deployment]:
    """A 2-partition deployment whose workers read the moments file returned (V1 to start with)."""
    moments = tmp_path / "moments.yaml"
    moments.write_text(V1)
    env = {"MOMENTSTREAM_MOMENTS": str(moments), "MOMENTSTREAM_SCORING": "false", **extra}
    deployment = Deployment(broker.bootstrap, partitions=2, extra_env=env)
    deployment.create_topics()
    return moments, deployment


def test_sighup_rolls_out_new_moments_without_losing_state(kafka_broker: Broker, tmp_path: Path) -> None:
    moments, deployment = deployment_on(kafka_broker, tmp_path, MOMENTSTREAM_MAX_SKEW="365d")
    settings = deployment.settings()
    before, after = phases()
    worker = WorkerProcess(deployment, tmp_path)
    try:
        worker.wait_ready()
        deployment.produce(lines_of(before))
        wait_until(lambda: not any(consumer_lag(settings).values()), 90, "phase 1 processed", [worker])
        # Past the lateness, so no event of phase 1 is still held: held events would meet the new moments.
        send_ticks(settings.kafka, settings.ticks_topic, to_ms(T0 + timedelta(hours=25)))
        wait_until(lambda: worker.counter("momentstream_ticks_total") >= deployment.partitions, 30, "ticks")
        moments.write_text(V2)
        worker.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: worker.metrics().get("momentstream_moment_reloads_total{result=applied}") == 1, 30,
                   "the reload applied", [worker])  # fmt: skip
        deployment.produce(lines_of(after))
        wait_until(lambda: not any(consumer_lag(settings).values()), 90, "phase 2 processed", [worker])
        send_ticks(settings.kafka, settings.ticks_topic, to_ms(T0 + timedelta(days=10)), final=True)
        wait_until(lambda: worker.counter("momentstream_ticks_total") >= 2 * deployment.partitions, 30, "ticks")
        moments.write_text(V3)
        worker.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: worker.metrics().get("momentstream_moment_reloads_total{result=refused}") == 1, 30,
                   "the changed pattern refused", [worker])  # fmt: skip
        assert worker.readiness().get("ready") is True  # still running the previous moments
        live = crm_stream(deployment)
        audit = [r.json() for r in deployment.read("audit")]
        log = worker.log_path.read_text()
    finally:
        worker.kill(signal.SIGTERM)
    # Every ticket of phase 1 is completed by an order of phase 2: the partial matches survived the reload.
    only_after_ticket = Engine(parse_moments("moments:\n" + AFTER_TICKET), EngineConfig())
    expected = {t.trigger_id for t in ReplayRunner(only_after_ticket).run([*before, *after]) if isinstance(t, Trigger)}
    assert len(expected) == 20
    assert {i for i, t in live.items() if t["moment"] == "after_ticket"} == expected
    # repeat_buyer went to version 2: the first purchases made under version 1 count no more.
    assert [t for t in live.values() if t["moment"] == "repeat_buyer"] == []
    shadow: list[dict[str, Any]] = [a for a in audit if a.get("output") == "shadow_trigger"]
    assert sorted(a["customer_id"] for a in shadow) == [f"c{i}" for i in range(5)]  # phase 2 tickets only
    assert all(t["moment"] != "ticket_only" for t in live.values())
    assert "changed its pattern but kept version 1: give it version: 2" in log
    # The moment added by the reload saw the events after it, as a replay of those events alone does.
    flinkish = Engine(parse_moments("moments:\n" + FLINKISH), EngineConfig())
    added = {t.trigger_id for t in ReplayRunner(flinkish).run(after) if isinstance(t, Trigger)}
    assert len(added) == 5
    assert {i for i, t in live.items() if t["moment"] == "orders_then_ticket"} == added
    # A worker started with the refused file does not start; the deployment's record names the version to use.
    v3 = tmp_path / "v3.yaml"
    v3.write_text(V3)
    env2 = {**os.environ, **deployment.env(), "MOMENTSTREAM_MOMENTS": str(v3), "MOMENTSTREAM_WEB_HOST": "127.0.0.1",
            "MOMENTSTREAM_WEB_PORT": str(free_port()), "MOMENTSTREAM_DATA_DIR": str(tmp_path / "w2")}  # fmt: skip
    started = run_command(env2, "worker")
    assert started.returncode == 2, started.stderr
    assert "refusing these moments" in started.stderr
    assert "give it version: 2" in started.stderr


def test_the_faust_runtime_reloads_on_sighup_too(kafka_broker: Broker, tmp_path: Path) -> None:
    token = "faust-page-t0ken"
    moments, deployment = deployment_on(kafka_broker, tmp_path, MOMENTSTREAM_RUNTIME="faust",
                                        MOMENTSTREAM_INSPECT_TOKEN=token)  # fmt: skip
    worker = WorkerProcess(deployment, tmp_path)
    try:
        worker.wait_ready(120)
        # The Faust runtime serves the look-up page too (test_inspect covers its content on the batch runtime).
        assert worker.get("/customers/nobody")[0] == 401
        request = urllib.request.Request(
            worker.url("/customers/no%2Fbody"), headers={"Authorization": f"Bearer {token}"}
        )
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(request, timeout=5)
        assert missing.value.code == 404
        assert json.loads(missing.value.read())["error"] == "customer not on this worker"
        # Faust's own pages (topics, routing, table contents) are not served to whoever reaches the port.
        for page in ("/router/", "/table/momentstream-customers/", "/graph/", "/stats/"):
            assert worker.get(page)[0] == 404, page
        assert worker.get("/healthz")[0] == 200
        assert worker.metrics()["momentstream_loop_heartbeat_timestamp_seconds{}"] > time.time() - 60
        moments.write_text(V2)
        worker.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: worker.metrics().get("momentstream_moment_reloads_total{result=applied}") == 1, 30,
                   "the reload applied", [worker])  # fmt: skip
        assert "momentstream_shadow_triggers_total{kind=match,moment=ticket_only}" in worker.metrics()
        moments.write_text(V3)
        worker.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: worker.metrics().get("momentstream_moment_reloads_total{result=refused}") == 1, 30,
                   "the changed pattern refused", [worker])  # fmt: skip
        assert worker.proc.poll() is None
    finally:
        worker.kill(signal.SIGTERM)


def test_momentstream_rollout_reaches_a_running_worker_and_outlives_it(kafka_broker: Broker, tmp_path: Path) -> None:
    _, deployment = deployment_on(kafka_broker, tmp_path)
    operator_env = {**os.environ, **deployment.env()}
    v2, v3 = tmp_path / "v2.yaml", tmp_path / "v3.yaml"
    v2.write_text(V2)
    v3.write_text(V3)
    worker = WorkerProcess(deployment, tmp_path)
    try:
        worker.wait_ready()
        dry = run_command(operator_env, "rollout", str(v2), "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "new version: repeat_buyer 1 -> 2" in dry.stdout
        done = run_command(operator_env, "rollout", str(v2))
        assert done.returncode == 0, done.stderr
        wait_until(lambda: worker.metrics().get("momentstream_moment_reloads_total{result=applied}") == 1, 30,
                   "the rollout applied", [worker])  # fmt: skip
        refused = run_command(operator_env, "rollout", str(v3))  # checked against what the deployment runs: V2
        assert refused.returncode == 2
        assert "give it version: 2" in refused.stdout
    finally:
        worker.kill(signal.SIGTERM)
    late = WorkerProcess(deployment, tmp_path, "w2")  # starts with the local V1 file, runs the rolled-out V2
    try:
        late.wait_ready()
        assert "momentstream_shadow_triggers_total{kind=match,moment=ticket_only}" in late.metrics()
        assert "running the file last rolled out" in late.log_path.read_text()
    finally:
        late.kill(signal.SIGTERM)
