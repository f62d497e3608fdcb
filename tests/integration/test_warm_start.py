"""A deployment started warm from a Spark backfill's states continues the history as one replay of all of it.

The first part of a history is backfilled on Spark (``replay --engine spark``), its states are seeded into a
new deployment's changelog (``seed-states``), and a worker is then sent only the rest. The triggers of the
backfill and of the worker together are the local replay's triggers over the whole history: the windows,
timers and partial matches the backfill left open carried across.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from momentstream.cli.commands import main
from momentstream.core.clock import parse_instant, to_ms
from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess
from momentstream.runtime.sources import write_events
from momentstream.sim.journeys import simulate
from tests.integration.test_kafka_runtime import crm_stream, finish_input, lines_of, replay_triggers, without_score

pytestmark = pytest.mark.kafka


def _backfilled(directory: Path) -> dict[str, dict[str, Any]]:
    docs = [json.loads(line) for name in ("triggers", "holdout") for part in sorted((directory / name).glob("part-*"))
            for line in part.read_text().splitlines()]  # fmt: skip
    return {doc["trigger_id"]: without_score(doc) for doc in docs if "trigger_id" in doc and "kind" in doc}


@pytest.mark.usefixtures("spark")
def test_a_worker_seeded_from_a_backfill_continues_the_history(
    kafka_broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = sorted(simulate(customers=200, days=50, seed=33).events, key=lambda e: (e.ts, e.event_id))
    cut = to_ms(events[len(events) * 3 // 5].ts)
    before = [e for e in events if to_ms(e.ts) < cut]
    after = [e for e in events if to_ms(e.ts) >= cut]
    history = tmp_path / "before.jsonl"
    with history.open("w") as f:
        write_events(before, f)
    backfill = tmp_path / "backfill"
    assert main(["replay", str(history), "--engine", "spark", "--no-scoring", "-o", str(backfill), "-q"]) == 0

    deployment = Deployment(kafka_broker.bootstrap, partitions=2, extra_env={"MOMENTSTREAM_SCORING": "false"})
    deployment.create_topics()
    broker = ["--broker", kafka_broker.bootstrap, "--partitions", "2", "--app-id", deployment.name]
    assert main(["seed-states", str(backfill), *broker]) == 0
    seeded = capsys.readouterr().err
    assert "seeded" in seeded
    assert main(["seed-states", str(backfill), *broker]) == 2, "a changelog holding state is not new"
    assert "already holds" in capsys.readouterr().err

    worker = WorkerProcess(deployment, tmp_path, "warm")
    try:
        worker.wait_ready()
        deployment.produce(lines_of(after))
        finish_input(deployment, after, [worker])
        continued = crm_stream(deployment)
    finally:
        worker.kill(signal.SIGTERM)
    expected = replay_triggers(events, scoring=False)
    backfilled = _backfilled(backfill)
    assert len(backfilled) > 20
    assert len(continued) > 40
    carried = [t for t in continued.values() if parse_instant(t["evidence"][0]["ts"]) < cut] if continued else []
    assert carried, "some trigger of the worker must rest on evidence from before the cut (carried state)"
    assert {**backfilled, **continued} == expected
