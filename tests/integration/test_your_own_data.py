"""Your own data on a real broker: a CDP's Segment messages on the touchpoints topic (``touchpoints_format:
segment``), and a CSV export sent by ``momentstream produce --map``; both give the replay runner's triggers."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from momentstream.core.schema import TouchpointEvent
from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, run_command
from momentstream.sim.journeys import simulate
from tests.helpers import write_export
from tests.integration.test_kafka_runtime import crm_stream, finish_input, replay_triggers

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def journeys() -> list[TouchpointEvent]:
    return simulate(200, 45, 5).events


def segment_lines(events: list[TouchpointEvent]) -> list[bytes]:
    """Each event as the CDP sends it: a track call named in title case, its value as a property."""
    lines = []
    for e in events:
        properties: dict[str, object] = dict(e.properties)
        if e.value is not None:
            properties["value"] = e.value
        lines.append(json.dumps({"type": "track", "event": e.type.replace("_", " ").title(), "userId": e.customer_id,
                                 "messageId": e.event_id, "timestamp": e.ts.isoformat(), "channel": e.channel,
                                 "properties": properties}).encode())  # fmt: skip
    return lines


def fired(triggers: dict[str, dict[str, object]]) -> set[tuple[object, ...]]:
    return {(t["trigger_id"], t["customer_id"], t["moment"], t["kind"]) for t in triggers.values()}


def test_segment_messages_on_the_topic_give_the_replay_runners_triggers(
    kafka_broker: Broker, journeys: list[TouchpointEvent], tmp_path: Path
) -> None:
    deployment = Deployment(kafka_broker.bootstrap, extra_env={"MOMENTSTREAM_TOUCHPOINTS_FORMAT": "segment"})
    deployment.create_topics()
    worker = WorkerProcess(deployment, tmp_path)
    try:
        worker.wait_ready()
        assert deployment.produce(segment_lines(journeys)) == len(journeys)
        finish_input(deployment, journeys, [worker])
        published = crm_stream(deployment)
        dead = deployment.read("dead-letter", idle_s=1.0)
    finally:
        worker.kill(signal.SIGTERM)
    assert dead == []
    expected = replay_triggers(journeys)
    assert len(expected) > 20
    assert fired(published) == fired(expected)


def test_a_csv_export_sent_by_produce_gives_the_replay_runners_triggers(
    kafka_broker: Broker, journeys: list[TouchpointEvent], tmp_path: Path
) -> None:
    export = tmp_path / "export.csv"
    mapping = write_export(journeys, export)
    with export.open("a") as out:
        out.write("bad-row,c-x,purchase,1767225600\n")  # an epoch time: not guessed, one reject (short rows pad)
    deployment = Deployment(kafka_broker.bootstrap)
    deployment.create_topics()
    worker = WorkerProcess(deployment, tmp_path)
    try:
        worker.wait_ready()
        sent = run_command(
            deployment.env(), "produce", str(export), "--rejects", str(tmp_path / "rejects.jsonl"), *mapping
        )
        assert sent.returncode == 0, sent.stderr
        assert f"sent {len(journeys):,} records" in sent.stderr
        assert "1 rows were not events" in sent.stderr
        finish_input(deployment, journeys, [worker])
        published = crm_stream(deployment)
    finally:
        worker.kill(signal.SIGTERM)
    assert json.loads((tmp_path / "rejects.jsonl").read_text())["error"].startswith("ts: is a bare number")
    expected = replay_triggers(journeys)
    assert fired(published) == fired(expected)
