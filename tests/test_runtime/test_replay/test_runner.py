"""The replay runner: rejects with line numbers, arrival order vs time order, draining timers."""

from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path

from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import Trigger
from momentstream.data import bundled_moments_path, bundled_objectives_path
from momentstream.models.objectives import load_objectives
from momentstream.models.scorer import Scorer
from momentstream.patterns.dsl import load_moments
from momentstream.runtime.replay.runner import DRAIN, ReplayRunner, replay_file
from momentstream.sim.journeys import simulate


def engine(lateness_ms: int = 60_000) -> Engine:
    return Engine(load_moments(bundled_moments_path()), EngineConfig(allowed_lateness_ms=lateness_ms))


def write_events(path: Path, customers: int = 300, seed: int = 3) -> list[str]:
    lines = [e.model_dump_json() for e in simulate(customers, 90, seed).events]
    path.write_text("\n".join(lines) + "\n")
    return lines


def trigger_ids(text: str) -> list[str]:
    return sorted(Trigger.model_validate_json(line).trigger_id for line in text.splitlines())


def test_malformed_lines_are_rejected_with_line_numbers_and_nothing_valid_is_lost(tmp_path: Path) -> None:
    clean = tmp_path / "clean.jsonl"
    lines = write_events(clean)
    dirty = tmp_path / "dirty.jsonl"
    bad = ["not json", '{"event_id": "x"}', '{"event_id":"y","customer_id":"c","type":"a","ts":"yesterday"}']
    mixed = [*lines[:10], bad[0], *lines[10:20], bad[1], "", *lines[20:], bad[2]]
    dirty.write_text("\n".join(mixed) + "\n")
    expected_out = io.StringIO()
    replay_file(clean, engine(), expected_out, progress=False)
    out, rejects = io.StringIO(), io.StringIO()
    summary = replay_file(dirty, engine(), out, rejects_out=rejects, progress=False)
    assert summary.rejected == 3
    assert summary.events == len(lines)
    rows = [json.loads(r) for r in rejects.getvalue().splitlines()]
    assert [r["line"] for r in rows] == [11, 22, len(mixed)]
    assert "ts" in rows[2]["error"]
    assert rows[0]["raw"] == "not json"
    assert trigger_ids(out.getvalue()) == trigger_ids(expected_out.getvalue())
    assert summary.trigger_total > 0


def test_file_order_with_lateness_gives_the_same_triggers_as_time_order(tmp_path: Path) -> None:
    """Shuffle each customer's events by up to the lateness: the buffer restores the order."""
    path = tmp_path / "events.jsonl"
    lines = write_events(path)
    rng = random.Random(5)
    jittered = [(i + rng.uniform(0, 3), line) for i, line in enumerate(lines)]  # swap near neighbours
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("\n".join(line for _, line in sorted(jittered)) + "\n")
    in_order = io.StringIO()
    replay_file(path, engine(lateness_ms=86_400_000), in_order, progress=False)
    arrived, audit = io.StringIO(), io.StringIO()
    summary = replay_file(shuffled, engine(lateness_ms=86_400_000), arrived, audit_out=audit, order="file",
                          progress=False)  # fmt: skip
    assert summary.late == 0
    assert trigger_ids(arrived.getvalue()) == trigger_ids(in_order.getvalue())


def test_drain_fires_every_pending_timer(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    write_events(path, customers=100)
    at_end, drained = io.StringIO(), io.StringIO()
    replay_file(path, engine(), at_end, progress=False)
    replay_file(path, engine(), drained, until=DRAIN, progress=False)
    assert set(trigger_ids(at_end.getvalue())) < set(trigger_ids(drained.getvalue()))


def test_a_scoring_replay_says_where_its_clock_is_and_how_many_labels_it_learned() -> None:
    """What its rate follows: labels come due on the history's calendar, not with its events."""
    scorer = Scorer(load_objectives(bundled_objectives_path()))
    runner = ReplayRunner(Engine(load_moments(bundled_moments_path()), scorer=scorer))
    assert runner.whereabouts() == ""
    list(runner.run(simulate(40, 90, 3).events))
    learned = sum(m.learned for m in scorer.models.values())
    assert learned > 0
    assert re.fullmatch(r"at \d{4}-\d\d-\d\d, [\d,]+ labels learned", runner.whereabouts())
    assert runner.whereabouts().endswith(f", {learned:,} labels learned")
    unscored = ReplayRunner(engine())
    list(unscored.run(simulate(5, 10, 3).events))
    assert re.fullmatch(r"at \d{4}-\d\d-\d\d", unscored.whereabouts())
