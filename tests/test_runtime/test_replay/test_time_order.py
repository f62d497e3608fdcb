"""Time order with bounded memory: spilled runs give exactly the in-memory stable sort, and leave nothing behind."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from momentstream.cli.demo import default_engine
from momentstream.core.schema import TouchpointEvent
from momentstream.runtime.replay import time_order
from momentstream.runtime.replay.runner import replay_file
from momentstream.runtime.replay.time_order import TimeOrder
from momentstream.sim.journeys import simulate

T0 = datetime(2026, 3, 28, 23, tzinfo=UTC)  # the night Europe's clocks change
ZONES = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30)), ZoneInfo("Europe/Berlin")]


def hostile_events(count: int, seed: int) -> list[tuple[TouchpointEvent, int]]:
    """Many ties (the same instant written in four zones), odd bytes in text and properties, far dates."""
    rng = random.Random(seed)
    events = []
    for number in range(1, count + 1):
        instant = T0 + timedelta(minutes=rng.randrange(0, 240), microseconds=rng.choice([0, 0, 1, 999_999]))
        if rng.random() < 0.01:
            instant = rng.choice([datetime(1900, 1, 1, tzinfo=UTC), datetime(2199, 12, 31, 23, 59, tzinfo=UTC)])
        text = rng.choice([None, "line\nbreak", "carriage\rreturn", "sep\u2028arator", "nul\x00byte", "é🙂 \t"])
        properties: dict[str, str | int | float | bool | None] = {
            "n": rng.randrange(-(2**63), 2**63),
            "x": rng.random() * 10 ** rng.randrange(-300, 300),
            "flag": rng.random() < 0.5,
            "none": None,
            "s": rng.choice(["", "a b", '{"not": "json"}', "\\", "1.0"]),
        }
        event = TouchpointEvent(event_id=f"e{number}", customer_id=f"c{rng.randrange(20)}", type="visit",
                                ts=instant.astimezone(rng.choice(ZONES)), value=rng.choice([None, -0.0, 1e15]),
                                properties=properties, text=text)  # fmt: skip
        events.append((event, number))
    return events


@pytest.mark.parametrize(("run_events", "fan_in"), [(1_000_000, 64), (37, 64), (7, 3), (1, 2)])
def test_spilled_runs_give_the_stable_sort_by_time_exactly(run_events: int, fan_in: int) -> None:
    events = hostile_events(400, seed=run_events)
    expected = sorted(events, key=lambda pair: pair[0].ts)
    with TimeOrder(run_events=run_events, fan_in=fan_in) as ordered:
        ordered.take(events)
        got = list(ordered)
        assert ordered.total == len(events)
        assert ordered.types == {"visit": len(events)}
        assert (ordered.runs_written > 0) == (run_events < len(events))
    assert [number for _, number in got] == [number for _, number in expected]
    for (event, _), (original, _) in zip(got, expected, strict=True):
        assert event == original  # every field, odd bytes and extreme numbers included
        assert event.ts.utcoffset() == original.ts.utcoffset()  # the zone a quiet-hours check reads


def test_the_spilled_payloads_are_gone_after_the_replay_even_when_it_stops_early(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    spill.mkdir()
    with TimeOrder(run_events=10, directory=spill) as ordered:
        ordered.take(hostile_events(100, seed=1))
        assert list(spill.iterdir())
        next(iter(ordered))  # a consumer that stops after one event
    assert not list(spill.iterdir())

    def failing_replay() -> None:
        with TimeOrder(run_events=10, directory=spill) as failing:
            failing.take(hostile_events(100, seed=2))
            raise RuntimeError("the replay failed")

    with pytest.raises(RuntimeError, match="replay failed"):
        failing_replay()
    assert not list(spill.iterdir())


def test_nonsense_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        TimeOrder(run_events=0)
    with pytest.raises(ValueError, match="at least two"):
        TimeOrder(fan_in=1)


def test_a_replay_sorted_on_disk_writes_what_the_in_memory_sort_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole path with scoring: a shuffled file, sorted in runs of 500 events against all in memory."""
    events = simulate(250, 60, 11).events
    shuffled = [event.model_dump_json() for event in events]
    random.Random(4).shuffle(shuffled)
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(shuffled) + "\n")

    def replay() -> tuple[str, str]:
        out, audit = io.StringIO(), io.StringIO()
        replay_file(path, default_engine(None), out, audit_out=audit, progress=False, spill_dir=tmp_path)
        return out.getvalue(), audit.getvalue()

    in_memory = replay()
    monkeypatch.setattr(time_order, "RUN_EVENTS", 500)
    assert len(events) > 4 * 500
    on_disk = replay()
    assert on_disk[0].count("\n") > 10
    assert on_disk == in_memory
    assert [p.name for p in tmp_path.iterdir()] == ["events.jsonl"]
