"""The command line, run as a user would run it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.core.engine import Engine, EngineConfig
from momentstream.data import bundled_moments_path, bundled_objectives_path
from momentstream.models.objectives import load_objectives
from momentstream.models.scorer import Scorer
from momentstream.patterns.dsl import load_moments


def test_demo_prints_the_story(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--customers", "400", "--days", "90", "--out", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "1. Discover, from the history before" in out
    assert "What the simulator planted (discovery never saw this)" in out
    assert (tmp_path / "discovery.json").exists()
    assert (tmp_path / "discovery.html").exists()
    assert "What fired" in out
    assert "post_purchase_window" in out
    assert "seed customers; the moment found" in out
    assert (tmp_path / "triggers.jsonl").read_text().count("\n") > 10
    assert "4. Closing the loop" in out
    assert "Live uplift, from the outcomes the engine linked" in out
    assert (tmp_path / "loop_outcomes.jsonl").read_text().count("trigger_outcome") > 100
    assert (tmp_path / "uplift.svg").read_text().startswith("<svg")
    assert "5. A scheduled sequence" in out
    assert "cart_rescue / step 3" in out  # a row of uplift per step of the sequence
    steps = [json.loads(line) for line in (tmp_path / "sequence_outcomes.jsonl").read_text().splitlines()]
    assert {o["step"] for o in steps} == {None, 1, 2, 3}
    assert "6. How the best customers got there" in out
    assert "the map's best that held: education_view, then feature_success" in out
    assert (tmp_path / "journeys.html").read_text().count("<svg") == 2


def test_replay_writes_triggers_and_reports_rejects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    assert main(["simulate", "-o", str(events), "--customers", "200", "--days", "60"]) == 0
    with events.open("a") as f:
        f.write("{broken\n")
    out, rejects = tmp_path / "t.jsonl", tmp_path / "r.jsonl"
    assert main(["replay", str(events), "-o", str(out), "--rejects", str(rejects), "-q", "--until", "drain"]) == 0
    err = capsys.readouterr().err
    assert "rejected 1 malformed lines" in err
    assert json.loads(rejects.read_text())["line"] == events.read_text().count("\n")
    assert out.read_text().count("\n") > 0


def test_bad_moments_file_exits_2_with_a_located_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("moments:\n  - name: x\n    pattern: [{where: {type: a}, within: soon}]\n")
    assert main(["check", str(path)]) == 2
    assert f"{path}: moment 'x': field 'pattern[0].within'" in capsys.readouterr().err


def test_check_lists_the_bundled_moments_and_their_contact_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "post_purchase_window" in out
    assert "frequency cap: 3 per 7d" in out
    policy_rows = {line.split()[0]: line for line in out.split("contact policy")[1].splitlines()[3:]}
    assert "21:00-08:00 (customer)" in policy_rows["silent_churn"]
    assert policy_rows["post_purchase_window"].rstrip().endswith("10%")


def test_schema_export(tmp_path: Path) -> None:
    assert main(["schema", "-o", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "trigger.v1.schema.json").read_text())["title"] == "Trigger"


def test_help_teaches_with_examples() -> None:
    result = subprocess.run([sys.executable, "-m", "momentstream", "--help"], capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert "examples:" in result.stdout
    assert "momentstream replay" in result.stdout


def test_until_needs_a_timezone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    assert main(["simulate", "-o", str(events), "--customers", "50", "--days", "30"]) == 0
    with pytest.raises(SystemExit) as info:
        main(["replay", str(events), "-q", "--until", "2026-03-01T00:00"])
    assert info.value.code == 2
    assert "an ISO time with a timezone" in capsys.readouterr().err
    out = tmp_path / "t.jsonl"
    assert main(["replay", str(events), "-q", "-o", str(out), "--until", "2026-03-01T00:00+00:00"]) == 0


def test_replay_snapshots_models_and_a_second_run_starts_from_them(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    assert main(["simulate", "-o", str(events), "--customers", "60", "--days", "60"]) == 0
    first, second = tmp_path / "models1.bin", tmp_path / "models2.bin"
    assert main(["replay", str(events), "-o", str(tmp_path / "t1.jsonl"), "-q", "--models-out", str(first)]) == 0
    assert main(["replay", str(events), "-o", str(tmp_path / "t2.jsonl"), "-q", "--models-in", str(first),
                 "--models-out", str(second)]) == 0  # fmt: skip
    a, b = Scorer(load_objectives(bundled_objectives_path())), Scorer(load_objectives(bundled_objectives_path()))
    a.restore(first.read_bytes())
    b.restore(second.read_bytes())
    # the second run continued learning (expansion: churn's labels take 60 days, as long as this history)
    assert b.models["expansion"].learned > a.models["expansion"].learned > 0


def test_replay_without_scoring_has_no_scores(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    assert main(["simulate", "-o", str(events), "--customers", "60", "--days", "60"]) == 0
    out = tmp_path / "t.jsonl"
    assert main(["replay", str(events), "-o", str(out), "-q", "--no-scoring"]) == 0
    assert all(json.loads(line)["score"] is None for line in out.read_text().splitlines())


def test_holdout_replay_then_uplift_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, moments = tmp_path / "events.jsonl", tmp_path / "moments.yaml"
    assert main(["simulate", "-o", str(events), "--customers", "400", "--days", "60"]) == 0
    text = (Path(__file__).resolve().parents[2] / "src/momentstream/data/moments.yaml").read_text()
    moments.write_text(text.replace("defaults:\n", "defaults:\n  holdout: 0.25\n", 1))
    treated, held = tmp_path / "t.jsonl", tmp_path / "h.jsonl"
    assert main(["replay", str(events), "-c", str(moments), "-o", str(treated), "--holdout", str(held), "-q"]) == 0
    assert "for holdout customers" in capsys.readouterr().err
    assert all(json.loads(line)["holdout"] for line in held.read_text().splitlines())
    assert main(["report", "uplift", str(treated), str(held), "--events", str(events), "--within", "14d"]) == 0
    out = capsys.readouterr().out
    assert "post_purchase_window" in out
    assert "uplift" in out
    assert "%" in out.splitlines()[-1]


def test_uplift_without_triggers_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty, events = tmp_path / "t.jsonl", tmp_path / "e.jsonl"
    empty.write_text("")
    events.write_text("")
    assert main(["report", "uplift", str(empty), "--events", str(events)]) == 2
    assert "no actionable triggers" in capsys.readouterr().err


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small replay with its events, triggers and audit files."""
    d = tmp_path_factory.mktemp("replayed")
    files = {name: d / f"{name}.jsonl" for name in ("events", "triggers", "audit")}
    assert main(["simulate", "-o", str(files["events"]), "--customers", "300", "--days", "60"]) == 0
    assert main(["replay", str(files["events"]), "-o", str(files["triggers"]), "--audit", str(files["audit"]),
                 "--no-scoring", "-q"]) == 0  # fmt: skip
    return files


def test_uplift_for_an_outcome_that_never_occurs_says_so_and_fails(
    replayed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "uplift", str(replayed["triggers"]), "--events", str(replayed["events"]),
                 "--outcome", "purchse"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "no 'purchse' event" in err
    assert "purchase" in err


def test_uplift_handed_the_audit_file_names_the_line(
    replayed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "uplift", str(replayed["audit"]), "--events", str(replayed["events"])])
    err = capsys.readouterr().err
    assert code == 2
    assert "line 1: an audit record" in err
    assert "Traceback" not in err


def test_uplift_reads_triggers_from_standard_input(
    replayed: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    monkeypatch.setattr("sys.stdin", io.StringIO(replayed["triggers"].read_text()))
    assert main(["report", "uplift", "-", "--events", str(replayed["events"])]) == 0
    assert "post_purchase_window" in capsys.readouterr().out


def test_version_and_verbose_after_the_command(replayed: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("momentstream 0.")
    out = replayed["triggers"].parent / "v.jsonl"
    assert main(["replay", str(replayed["events"]), "-o", str(out), "--no-scoring", "-q", "-v"]) == 0
    assert main(["-v", "check"]) == 0


def test_every_option_of_simulate_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = capsys.readouterr().out
    for option in ("--customers", "--days", "--seed", "--output"):
        line = next(x for x in text.splitlines() if option in x)
        assert line.split(option, 1)[1].strip() or "default" in text


@pytest.mark.parametrize("args", [["--idle-ttl", "0s"], ["--max-skew", "-1d"], ["--lateness", "soon"]])
def test_replay_refuses_useless_durations(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["replay", "-", *args])
    assert done.value.code == 2
    assert args[0] in capsys.readouterr().err


def test_check_warns_of_an_idle_ttl_shorter_than_a_moment(capsys: pytest.CaptureFixture[str]) -> None:

    engine = Engine(load_moments(bundled_moments_path()), EngineConfig(idle_ttl_ms=86_400_000))
    assert any("idle_ttl 1d is shorter than moment 'silent_churn'" in w for w in engine.warnings)
    with pytest.raises(ValueError, match="idle_ttl"):
        Engine(load_moments(bundled_moments_path()), EngineConfig(idle_ttl_ms=0))


def test_check_shows_what_each_moment_counts_as_success(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("""moments:
  - name: cart
    pattern: [{name: left, where: {type: cart_abandon}}]
    holdout: 0.2
    outcome: {where: {type: purchase}, within: 7d, value: 100}
    decide: {by: uplift, cost: 8}
""")
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.split("closing the loop")[1].splitlines() if line.startswith("cart"))
    assert "type: purchase" in row
    assert "uplift x 100 > 8" in row


def test_simulate_split_ids_writes_logins_that_replay_merges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    assert main(["simulate", "-o", str(events), "--customers", "40", "--days", "30", "--split-ids", "50%"]) == 0
    written = capsys.readouterr().err
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    logins = [e for e in lines if e["type"] == "identify"]
    assert logins
    assert f"and {len(logins)} alias ids joined to them by identify events" in written
    assert main(["replay", str(events), "-o", str(tmp_path / "t.jsonl")]) == 0
    assert f"{len(logins)} alias ids merged into their customers" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "nan", "half", "150%"])
def test_simulate_split_ids_refuses_what_is_not_a_share(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["simulate", "--split-ids", bad])
    assert info.value.code == 2
    assert "--split-ids" in capsys.readouterr().err


def test_check_names_the_step_a_skip_strategy_skips_to(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("moments:\n  - name: m\n    skip: {skip_to_last: orders}\n    pattern:\n"
                    "      - {name: orders, where: {type: purchase}, one_or_more: true}\n"
                    "      - {name: ticket, where: {type: support_ticket}}\n")  # fmt: skip
    assert main(["check", str(path)]) == 0
    assert "skip_to_last[orders]" in capsys.readouterr().out
