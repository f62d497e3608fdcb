"""``replay`` on a user's own files: the same triggers from a CSV as from JSON lines, scores for discovered moments,
and no silent zero (a CSV passed as JSON, no valid event, a moment that can never fire)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.discovery.objectives_file import objectives_path_for
from momentstream.runtime.sources import write_events
from momentstream.sim.journeys import simulate
from tests.helpers import write_export


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One simulated history twice: as our JSON lines, and as a warehouse export with its own column names."""
    folder = tmp_path_factory.mktemp("history")
    events = simulate(customers=250, days=60, seed=11).events
    jsonl = folder / "events.jsonl"
    with jsonl.open("w") as out:
        write_events(events, out)
    export = folder / "export.csv"
    write_export(events, export, kind_of=lambda kind: kind.replace("_", " ").title())
    return jsonl, export


def _triggers(path: Path) -> list[tuple[str, str, str, str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return sorted((t["trigger_id"], t["customer_id"], t["moment"], t["kind"]) for t in rows)


def test_a_mapped_export_gives_the_triggers_its_json_lines_give(history: tuple[Path, Path], tmp_path: Path) -> None:
    jsonl, export = history
    assert main(["replay", str(jsonl), "-o", str(tmp_path / "a.jsonl"), "-q", "--no-scoring"]) == 0
    assert main(["replay", str(export), "-o", str(tmp_path / "b.jsonl"), "-q", "--no-scoring",
                 "--map", "event_id=id,customer_id=user,type=event,ts=at,value=amount"]) == 0  # fmt: skip
    from_json, from_csv = _triggers(tmp_path / "a.jsonl"), _triggers(tmp_path / "b.jsonl")
    assert from_json, "the history fires nothing: the comparison would be empty"
    assert from_csv == from_json


def test_a_csv_given_as_json_lines_exits_2_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("customer_id,type,ts\nc1,purchase,2026-01-01T00:00:00Z\n")
    assert main(["replay", str(path), "-q"]) == 2
    assert "--format csv" in capsys.readouterr().err


def test_no_valid_event_exits_2_quoting_the_first_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "events.csv"
    path.write_text("customer_id,type,ts\nc1,purchase,1767225600\nc2,purchase,1767225601\n")
    assert main(["replay", str(path), "-q", "-o", str(tmp_path / "t.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "no valid event" in err
    assert "2 lines rejected" in err
    assert "line 2: ts: is a bare number" in err


def test_a_mapping_mistake_exits_2_naming_the_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "events.csv"
    path.write_text("user,kind,at\nc1,purchase,2026-01-01T00:00:00Z\n")
    assert main(["replay", str(path), "-q", "--map", "customer=user"]) == 2
    assert "not an event field" in capsys.readouterr().err
    assert main(["replay", str(path), "-q", "--map", "customer_id=user,ts=at", "--type", "buy", "--epoch", "s",
                 "--ts-format", "%Y"]) == 2  # fmt: skip
    assert "exclude each other" in capsys.readouterr().err
    assert main(["replay", str(path), "-q", "--format", "jsonl", "--tz", "UTC"]) == 2
    assert "--tz read tables" in capsys.readouterr().err


def test_moments_that_can_never_fire_are_said_before_the_run_and_no_model_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,ts\n" + "".join(f"c{i},2026-01-0{1 + i % 9}T00:00:00Z\n" for i in range(40)))
    assert main(["replay", str(path), "--type", "order", "-o", str(tmp_path / "t.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "no moment can fire on this history" in err
    assert "running without models" in err
    assert err.index("no moment can fire") < err.index("replayed 40 events")  # said before the run's summary


def test_discovered_moments_carry_scores_from_the_objectives_written_beside_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    assert main(["simulate", "-o", str(events), "--customers", "1500", "--days", "120", "--seed", "3"]) == 0
    moments = tmp_path / "discovered.yaml"
    assert main(["discover", str(events), "--outcome", "purchase", "--within", "30d", "-o", str(moments), "-q",
                 "--write-predictors"]) == 0  # fmt: skip
    beside = objectives_path_for(moments)
    assert beside.is_file(), capsys.readouterr().out
    capsys.readouterr()
    triggers = tmp_path / "t.jsonl"
    assert main(["replay", str(events), "-c", str(moments), "-o", str(triggers), "-q"]) == 0
    assert f"scoring with {beside}" in capsys.readouterr().err
    fired = [json.loads(line) for line in triggers.read_text().splitlines()]
    assert fired
    assert all(t["score"] is not None for t in fired[-50:])  # warmed up by the end
    (tmp_path / "bare.yaml").write_text(moments.read_text())  # the same moments without their objectives
    assert main(["replay", str(events), "-c", str(tmp_path / "bare.yaml"), "-o", str(triggers), "-q"]) == 0
    assert "no moment is bound to an objective" in capsys.readouterr().err
    assert all(json.loads(line).get("score") is None for line in triggers.read_text().splitlines())
