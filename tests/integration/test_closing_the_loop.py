"""Closing the loop on a real broker: CRM feedback and outcomes linked to triggers, as the replay runner links them."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from momentstream.cli.commands import main
from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import FEEDBACK_EVENT_TYPE, FeedbackUnmatched, TouchpointEvent, Trigger, TriggerOutcome
from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, wait_until
from momentstream.patterns.dsl import parse_moments
from momentstream.runtime.kafka.admin import consumer_lag
from momentstream.runtime.kafka.io import send_ticks
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.campaign import CART_MOMENT

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACTIONS = """    actions:
      - {name: education_email, channel: email, cost: 1}
      - {name: discount, channel: email, cost: 8}
"""
MOMENTS = CART_MOMENT.format(extra=ACTIONS).replace("holdout: 0.2", "holdout: 0.5")
END = T0 + timedelta(days=9)


def engine() -> Engine:
    return Engine(parse_moments(MOMENTS), EngineConfig())


def history() -> list[TouchpointEvent]:
    """Carts, purchases a day later for every other customer, and the CRM's feedback on each treated trigger."""
    events = [TouchpointEvent(event_id=f"cart-{i}", customer_id=f"k{i}", type="cart_abandon",
                              ts=T0 + timedelta(minutes=i)) for i in range(30)]  # fmt: skip
    events += [TouchpointEvent(event_id=f"buy-{i}", customer_id=f"k{i}", type="purchase",
                               ts=T0 + timedelta(days=1, minutes=i)) for i in range(0, 30, 2)]  # fmt: skip
    probe = [o for o in ReplayRunner(engine()).run(sorted(events, key=lambda e: e.ts)) if isinstance(o, Trigger)]
    events += [TouchpointEvent(event_id=f"fb-{t.customer_id}", customer_id=t.customer_id, type=FEEDBACK_EVENT_TYPE,
                               ts=t.emitted_at + timedelta(hours=2), channel="crm",
                               properties={"trigger_id": t.trigger_id, "decision": "taken" if n % 3 else "declined"})
               for n, t in enumerate(probe) if not t.holdout]  # fmt: skip
    stray = {"trigger_id": "f" * 32, "decision": "taken"}  # no trigger has this id
    events.append(TouchpointEvent(event_id="fb-stray", customer_id="k1", type=FEEDBACK_EVENT_TYPE,
                                  ts=T0 + timedelta(hours=5), properties=stray))  # fmt: skip
    return sorted(events, key=lambda e: e.ts)


def linked(outcomes: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """What must agree between runtimes (the bandit's picks depend on learning order, like scores)."""
    return {o["trigger_id"]: (o["customer_id"], o["group"], o["converted"], o["outcome_event_id"], o["feedback"])
            for o in outcomes}  # fmt: skip


def test_feedback_and_outcomes_are_linked_on_kafka_as_in_replay(kafka_broker: Broker, tmp_path: Path) -> None:
    events = history()
    expected = [o for o in ReplayRunner(engine()).run(events, until=to_ms(END)) if isinstance(o, TriggerOutcome)]
    moments = tmp_path / "moments.yaml"
    moments.write_text(MOMENTS)
    env = {"MOMENTSTREAM_MOMENTS": str(moments), "MOMENTSTREAM_SCORING": "false", "MOMENTSTREAM_MAX_SKEW": "365d"}
    deployment = Deployment(kafka_broker.bootstrap, extra_env=env)
    deployment.create_topics()
    deployment.produce([e.model_dump_json(exclude_defaults=True).encode() for e in events])
    settings = deployment.settings()
    worker = WorkerProcess(deployment, tmp_path, "loop")
    try:
        worker.wait_ready()
        wait_until(lambda: not any(consumer_lag(settings).values()), 120, "all events processed", [worker])
        send_ticks(settings.kafka, settings.ticks_topic, to_ms(END), final=True)

        def outcomes() -> list[dict[str, Any]]:
            return [r.json() for r in deployment.read("audit", idle_s=0.5) if r.json().get("output") ==
                    "trigger_outcome"]  # fmt: skip

        wait_until(lambda: len(linked(outcomes())) >= len(expected), 60, "every outcome window closed", [worker])
        audit = [r.json() for r in deployment.read("audit")]
        metrics = worker.metrics()
    finally:
        worker.kill(signal.SIGTERM)
    got = [o for o in audit if o.get("output") == "trigger_outcome"]
    assert len(expected) == 30
    assert linked(got) == linked([o.model_dump(mode="json") for o in expected])
    assert {o["feedback"] for o in got} == {"taken", "declined", None}
    assert all(o["action"] in ("education_email", "discount") for o in got if o["group"] == "treated")
    unmatched = [FeedbackUnmatched.model_validate(o) for o in audit if o.get("output") == "feedback_unmatched"]
    assert [u.event_id for u in unmatched] == ["fb-stray"]
    converted = sum(v for k, v in metrics.items() if k.startswith("momentstream_trigger_outcomes_total{") and
                    "converted=true" in k)  # fmt: skip
    assert converted == sum(o.converted for o in expected) == 15
    assert "momentstream_moment_uplift{bound=estimate,moment=cart_rescue}" in metrics
    capture = tmp_path / "audit.jsonl"
    capture.write_text("".join(f"{json.dumps(o)}\n" for o in audit))
    assert main(["report", "uplift", str(capture), "--plot", str(tmp_path / "uplift.svg")]) == 0
    assert (tmp_path / "uplift.svg").read_text().startswith("<svg")
    # As an operator reads a running deployment: the audit topic piped into the report.
    cli = f"{shlex.quote(sys.executable)} -m momentstream"
    report = subprocess.run(f"{cli} tail audit --idle 2 | {cli} report uplift -", shell=True, capture_output=True,
                            text=True, env={**os.environ, **deployment.env()}, timeout=120, check=False)  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert f"linked outcomes of {len(expected)} triggers" in report.stdout
    assert "cart_rescue" in report.stdout
