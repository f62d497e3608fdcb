"""Journey maps end to end: a planted best-customer path is recovered and its moment lifts later customers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.patterns.dsl import load_moments
from momentstream.sim.best_customers import best_customer_history

IGNORE = "login,email_open"


def write(path: Path, effect: float, customers: int = 1_600, seed: int = 11) -> Path:
    events = best_customer_history(customers=customers, days=330, seed=seed, effect=effect)
    path.write_text("".join(e.model_dump_json(exclude_defaults=True) + "\n" for e in events))
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("journeys") / "planted.jsonl", effect=4.0)


def test_the_planted_path_is_the_best_indicator_and_its_moment_lifts_later_customers(
    planted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, moments, report_path = tmp_path / "map.html", tmp_path / "early.yaml", tmp_path / "report.json"
    code = main(["journeys", str(planted), "--top", "5%", "--by", "value within 120d", "--ignore", IGNORE,
                 "-o", str(out), "--moments", str(moments), "--report", str(report_path), "-q"])  # fmt: skip
    assert code == 0
    report = json.loads(report_path.read_text())
    best = report["indicators"][0]
    assert best["steps"] == "education_view, then feature_success"
    assert best["verified"]
    assert best["later"]["rate_with_low"] > 3 * best["later"]["rate_without"]
    assert not any(t["verified"] for t in report["indicators"] if "webinar" in t["steps"])  # the decoy
    [moment] = load_moments(moments)
    assert [g.name for g in moment.groups] == ["first", "then"]
    measured = report["moment"]
    assert measured["name"] == moment.name
    assert measured["lift"] > 5  # the engine ran the written moment over customers the choice never saw
    assert measured["rate_fired_low"] > measured["rate_not_fired"]
    page = out.read_text()
    assert page.count("<svg") == 2
    assert "education_view" in page
    assert "<script" not in page  # self-contained, no scripts
    assert "education_view, then feature_success" in capsys.readouterr().out


def test_a_null_history_verifies_nothing_and_writes_no_moment(tmp_path: Path) -> None:
    null = write(tmp_path / "null.jsonl", effect=1.0, customers=1_200)
    moments, report_path = tmp_path / "early.yaml", tmp_path / "report.json"
    code = main(["journeys", str(null), "--by", "value within 120d", "--ignore", IGNORE, "--moments", str(moments),
                 "--report", str(report_path), "-q"])  # fmt: skip
    assert code == 0
    report = json.loads(report_path.read_text())
    assert not [t["steps"] for t in report["indicators"] if t["verified"]]
    assert "moment" not in report
    assert not moments.exists()


def test_customers_without_the_time_are_left_out_and_a_too_long_window_is_explained(
    planted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "report.json"
    assert main(["journeys", str(planted), "--by", "count within 250d", "--report", str(report_path), "-q"]) == 0
    cohort = json.loads(report_path.read_text())["cohort"]
    assert cohort["censored"] > 0
    assert cohort["ranked"] + cohort["censored"] == 1_600
    assert main(["journeys", str(planted), "--by", "value within 1000d", "-q"]) == 2
    assert "started too late" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--by", "value in 180d"], "--by: expected"),
        (["--top", "75%"], "--top"),
        (["--outcome", "{type: [unclosed"], "--outcome"),
        (["--outcome", "refund"], "no ranked customer has any value"),
    ],
)
def test_a_mistake_exits_2_with_what_to_do(
    planted: Path, args: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journeys", str(planted), "-q", "--by", "value within 120d", *args]) == 2
    assert words in capsys.readouterr().err


def test_a_csv_where_json_lines_were_expected_goes_to_rejects_not_a_crash(tmp_path: Path) -> None:
    odd = tmp_path / "odd.jsonl"
    odd.write_text("customer_id,type,ts\nc1,purchase,2026-01-01\n")
    assert main(["journeys", str(odd), "-q"]) == 2
