"""`momentstream report uplift` over linked outcomes: the table, tiers, the picture, and unusable input."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import TriggerOutcome
from momentstream.patterns.dsl import parse_moments
from momentstream.sim.campaign import CART_MOMENT, run_campaign

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def outcome(i: int, group: str, converted: bool, tier: str | None = None) -> TriggerOutcome:
    return TriggerOutcome(trigger_id=f"t{i}", customer_id=f"c{i}", moment="cart", group=group,  # type: ignore[arg-type]
                          triggered_at=T0 + timedelta(hours=i), closed_at=T0 + timedelta(days=7, hours=i),
                          converted=converted, tier=tier)  # fmt: skip


def audit_file(tmp_path: Path, outcomes: list[TriggerOutcome], extra: list[str] = ()) -> Path:  # type: ignore[assignment]
    path = tmp_path / "audit.jsonl"
    lines = [o.model_dump_json() for o in outcomes] + list(extra)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_live_report_counts_each_trigger_once_and_draws_the_picture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [outcome(i, "treated", i % 3 == 0, "high" if i % 2 else None) for i in range(300)]
    rows += [outcome(i, "control", i % 10 == 0) for i in range(300, 400)]
    other = '{"output": "late_event", "event": {}}'
    path = audit_file(tmp_path, rows + rows[:7], [other, ""])
    picture = tmp_path / "uplift.svg"
    assert main(["report", "uplift", str(path), "--plot", str(picture)]) == 0
    printed = capsys.readouterr().out
    assert "400 triggers (7 repeats ignored)" in printed
    assert "+23.3%" in printed  # 100/300 treated against 10/100 control
    assert picture.read_text().count("<polygon") == 1
    assert main(["report", "uplift", str(path), "--by-tier"]) == 0
    printed = capsys.readouterr().out
    assert "cart / high" in printed
    assert "cart / no tier" in printed


def test_a_report_of_the_campaign_world_shows_its_true_purchase_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = Engine(parse_moments(CART_MOMENT.format(extra="")), EngineConfig(allowed_lateness_ms=0))
    run = run_campaign(engine, customers=300, days=45, seed=5)
    path = audit_file(tmp_path, run.outcomes)
    assert main(["report", "uplift", str(path)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("cart_rescue"))
    rates = [float(r) for r in re.findall(r"(\d+\.\d)% \[", line)]
    assert len(rates) == 3, line  # treated, control, and the difference
    treated, control = rates[:2]  # the world: 26% of treated and 21% of untreated customers buy within a week
    assert 18 < treated < 34
    assert 13 < control < 30


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"output": "late_event"}'], "no trigger_outcome records"),
        (["not json"], "line 1: not JSON"),
        (['{"output": "trigger_outcome", "trigger_id": "x"}'], "line 1: not a trigger outcome"),
    ],
)
def test_unusable_audit_files_are_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], message: str
) -> None:
    path = audit_file(tmp_path, [], lines)
    assert main(["report", "uplift", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_the_picture_needs_linked_outcomes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "ev.jsonl"
    events.write_text("")
    assert main(["report", "uplift", str(events), "--events", str(events), "--plot", str(tmp_path / "u.svg")]) == 2
    assert "linked outcomes" in capsys.readouterr().err


def test_replay_links_outcomes_and_the_report_reads_its_audit_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moments = tmp_path / "m.yaml"
    moments.write_text("""moments:
  - name: opened_email
    pattern: [{name: opened, where: {type: email_open}}]
    holdout: 0.3
    outcome: {where: {type: purchase}, within: 7d}
""")
    events, audit = tmp_path / "ev.jsonl", tmp_path / "audit.jsonl"
    assert main(["simulate", "-o", str(events), "--customers", "300", "--days", "45"]) == 0
    args = ["replay", str(events), "-c", str(moments), "--no-scoring", "-o", str(tmp_path / "t.jsonl"),
            "--audit", str(audit), "-q", "--until", "drain"]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "control outcome windows closed" in err
    assert audit.read_text().count('"trigger_outcome"') > 50
    assert main(["report", "uplift", str(audit)]) == 0
    assert "opened_email" in capsys.readouterr().out
