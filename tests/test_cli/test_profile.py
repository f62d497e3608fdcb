"""``momentstream profile`` and ``check --events``, run as a user would, on our names and on someone else's."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.data import bundled_moments_path

RENAMES = {"purchase": "order_completed", "support_ticket": "zendesk_ticket_created", "product_usage": "feature_used",
           "login": "signed_in"}  # fmt: skip


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("profile")
    ours = folder / "ours.jsonl"
    assert main(["simulate", "-o", str(ours), "--customers", "150", "--days", "40"]) == 0
    text = ours.read_text()
    for old, new in RENAMES.items():
        text = text.replace(f'"type":"{old}"', f'"type":"{new}"')
    theirs = folder / "theirs.jsonl"
    theirs.write_bytes(text.encode() + b'{"broken\n\xff\xfe\x00\n\n')
    return ours, theirs


def test_our_own_vocabulary_serves_every_moment_and_objective(
    histories: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", str(histories[0])]) == 0
    out = capsys.readouterr().out
    assert "warning" not in out
    assert re.search(r"^purchase\s+[\d,]+\s+[\d.]+%\s+150\s", out, re.M)  # every simulated customer buys


def test_another_companys_names_are_flagged_with_their_likely_counterparts(
    histories: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", str(histories[1])]) == 1
    out = capsys.readouterr().out
    assert "2 invalid lines" in out
    assert re.search(r"step second_purchase waits for purchase, and none occurs: the moment can never fire; "
                     r"this history has order_completed", out)  # fmt: skip
    assert "step support waits for support_ticket, and none occurs" in out
    assert "zendesk_ticket_created" in out
    assert "objective churn (outcome) waits for login, product_usage, purchase, and none occurs" in out
    assert "step good_review" not in out.split("warning", 1)[1]  # reviews occur under our own name


def test_profile_reads_standard_input(
    histories: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(histories[0].read_bytes())))
    assert main(["profile", "-", "--top", "2"]) == 0
    assert "more types (--top)" in capsys.readouterr().out


def test_a_bad_objectives_file_fails_before_the_history_is_read(
    histories: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "objectives.yaml"
    bad.write_text(
        "objectives: [{name: churn, owner: cs, outcome: {type: purchase}, horizon: 30d,\n"
        "              outcome_means: negativ}]\n"
    )
    assert main(["profile", str(histories[0]), "--objectives", str(bad)]) == 2
    assert "outcome_means" in capsys.readouterr().err
    assert main(["profile", str(tmp_path / "missing.jsonl")]) == 2


def test_check_warns_about_types_a_sample_never_shows(
    histories: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--events", str(histories[1])]) == 0
    out = capsys.readouterr().out
    assert "warning: moment post_purchase_window, step second_purchase waits for purchase" in out
    assert "(see `momentstream profile`)" in out
    assert main(["check", "--events", str(histories[0])]) == 0
    assert "none occurs" not in capsys.readouterr().out


def test_check_names_a_misspelt_step_type_and_leaves_a_type_of_ones_own_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundled = bundled_moments_path().read_text()
    typo = tmp_path / "typo.yaml"
    typo.write_text(bundled.replace("type: purchase", "type: purchse", 1))
    assert main(["check", str(typo)]) == 0
    assert "waits for 'purchse': did you mean 'purchase'?" in capsys.readouterr().out
    own = tmp_path / "own.yaml"
    own.write_text(bundled.replace("type: purchase", "type: order_completed"))
    assert main(["check", str(own)]) == 0
    assert "did you mean" not in capsys.readouterr().out


def test_a_history_without_a_valid_event_exits_2_quoting_the_first_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.csv"
    path.write_text("customer_id,type,ts\nc1,purchase,yesterday\n")
    assert main(["profile", str(path)]) == 2
    assert "no valid event" in capsys.readouterr().err
