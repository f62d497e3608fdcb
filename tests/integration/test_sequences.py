"""Scheduled sequences on a real broker: the same steps, stops and per-step outcomes as the replay runner's."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import Output, SequenceStopped, TouchpointEvent, Trigger, TriggerOutcome
from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, wait_until
from momentstream.patterns.dsl import parse_moments
from momentstream.runtime.kafka.admin import consumer_lag
from momentstream.runtime.kafka.io import send_ticks
from momentstream.runtime.replay.runner import ReplayRunner

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
END = T0 + timedelta(days=40)
MOMENTS = """
policy: {quiet_hours: {from: "21:00", to: "08:00", timezone: UTC}}
moments:
  - name: onboard
    pattern: [{name: signup, where: {type: signup}}]
    channels: [email]
    holdout: 0.3
    outcome: {where: {type: purchase}, within: 30d}
    playbook:
      owner: success
      steps:
        - {say: "Send {customer_id} the guide", at: 1d}
        - {say: Invite to the webinar, at: 3d}
        - {say: Check in, at: 7d}
      stop_if: {type: purchase}
"""


def history() -> list[TouchpointEvent]:
    """Signups through a day (some into quiet hours); some buy early or late, some withdraw email consent."""
    events: list[TouchpointEvent] = []
    for i in range(24):
        c, start = f"k{i}", T0 + timedelta(hours=i)
        events.append(TouchpointEvent(event_id=f"s{i}", customer_id=c, type="signup", ts=start))
        if i % 4 == 1:  # buys between the first and second step
            events.append(
                TouchpointEvent(event_id=f"b{i}", customer_id=c, type="purchase", ts=start + timedelta(days=2))
            )
        if i % 4 == 2:  # withdraws email consent after the second step
            events.append(TouchpointEvent(event_id=f"w{i}", customer_id=c, type="consent_withdrawn", channel="email",
                                          ts=start + timedelta(days=4)))  # fmt: skip
    # Page views every 6 hours from a few other customers, keyed so that both partitions' clocks move between
    # these customers' events, as the replay runner's one clock does (a withdrawal binds on arrival).
    events += [TouchpointEvent(event_id=f"p{d}-{n}", customer_id=f"clock-{n}", type="page_view",
                               ts=T0 + timedelta(hours=6 * d)) for d in range(1, 4 * 12) for n in range(8)]  # fmt: skip
    return sorted(events, key=lambda e: e.ts)


def essentials(records: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """What must agree between runtimes: each trigger, step and stop, with when and to whom."""
    found = set()
    for r in records:
        if r.get("output") == "sequence_stopped":
            found.add(("stopped", r["trigger_id"], r["reason"], r["steps_sent"], r["steps_left"]))
        elif r.get("output") == "trigger_outcome":
            found.add(("outcome", r["trigger_id"], r["step"], r["converted"], r["outcome_event_id"]))
        elif "trigger_id" in r and "kind" in r and "output" not in r:
            step = r["sequence"]["step"] if r.get("sequence") else None
            found.add(("trigger", r["trigger_id"], r["kind"], r["emitted_at"], r["holdout"], step))
    return found


def replayed(events: list[TouchpointEvent]) -> list[Output]:
    engine = Engine(parse_moments(MOMENTS), EngineConfig())
    return list(ReplayRunner(engine).run(events, until=to_ms(END)))


def test_sequences_on_kafka_send_stop_and_link_outcomes_as_replay_does(kafka_broker: Broker, tmp_path: Path) -> None:
    events = history()
    expected = essentials([o.model_dump(mode="json") for o in replayed(events)])
    kinds = {e[0] for e in expected}
    assert kinds == {"trigger", "stopped", "outcome"}
    assert {e[2] for e in expected if e[0] == "stopped"} == {"stop_if", "no_consent"}
    moments = tmp_path / "moments.yaml"
    moments.write_text(MOMENTS)
    env = {"MOMENTSTREAM_MOMENTS": str(moments), "MOMENTSTREAM_SCORING": "false", "MOMENTSTREAM_MAX_SKEW": "365d"}
    deployment = Deployment(kafka_broker.bootstrap, partitions=2, extra_env=env)
    deployment.create_topics()
    deployment.produce([e.model_dump_json(exclude_defaults=True).encode() for e in events])
    settings = deployment.settings()
    worker = WorkerProcess(deployment, tmp_path, "sequences")
    try:
        worker.wait_ready()
        wait_until(lambda: not any(consumer_lag(settings).values()), 120, "all events processed", [worker])
        send_ticks(settings.kafka, settings.ticks_topic, to_ms(END), final=True)

        def seen() -> set[tuple[Any, ...]]:
            records = [r.json()["data"] for r in deployment.read("actions", idle_s=0.5)]
            records += [r.json()["data"] if "data" in r.json() else r.json() for r in deployment.read("holdout", 0.5)]
            records += [r.json() for r in deployment.read("audit", idle_s=0.5)]
            return essentials(records)

        deadline = time.monotonic() + 90
        got = seen()
        while not expected <= got and time.monotonic() < deadline:
            time.sleep(1)
            got = seen()
    finally:
        worker.kill(signal.SIGTERM)
    assert sorted(got - expected, key=str) == []
    assert sorted(expected - got, key=str) == []
    actions = [r.json()["data"] for r in deployment.read("actions")]
    assert any(a["kind"] == "playbook_step" for a in actions)
    assert not any(a["holdout"] for a in actions)  # the control group's steps never reach the CRM


def test_the_replay_history_exercises_every_path() -> None:
    """The history above is worth running on Kafka only if replay shows it covers steps, stops and holdout."""
    outputs = replayed(history())
    steps = [o for o in outputs if isinstance(o, Trigger) and o.kind == "playbook_step"]
    assert {s.holdout for s in steps} == {True, False}
    assert {s.sequence.step for s in steps if s.sequence} == {1, 2, 3}
    assert {o.reason for o in outputs if isinstance(o, SequenceStopped)} == {"stop_if", "no_consent"}
    assert any(o.step is not None and o.converted for o in outputs if isinstance(o, TriggerOutcome))
