"""What a careless or hostile history does to ``momentstream discover``: never a crash, never a lie."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.discovery.history import load_history
from momentstream.sim.planted import plant


def _run(*args: str) -> int:
    return main(["discover", *args, "-q"])


def test_an_empty_or_wholly_invalid_history_is_a_clear_error(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert _run(str(empty), "--outcome", "purchase", "--within", "30d") == 2
    assert "no valid events" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\xff\xfe\x00garbage\n{}\n[1, 2]\n" + b"{" * 100_000 + b"\n")
    rejects = tmp_path / "rejects.jsonl"
    assert _run(str(bad), "--outcome", "purchase", "--within", "30d", "--rejects", str(rejects)) == 2
    assert "no valid events in" in capsys.readouterr().err
    assert [json.loads(line)["reason"] for line in rejects.read_text().splitlines()] == [
        "invalid_json", "invalid_event", "invalid_event", "too_large"]  # fmt: skip


def test_options_that_cannot_work_are_refused_before_any_work(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    events = tmp_path / "events.jsonl"
    events.write_text('{"event_id": "1", "customer_id": "c", "type": "purchase", "ts": "2026-01-01T00:00:00Z"}\n')
    cases = [
        (["--outcome", "purchse", "--within", "30d"], "did you mean purchase"),
        (["--outcome", "purchase", "--within", "30d", "--intervention", "outreach"], "no event of type outreach"),
        (["--outcome", "Purchase!", "--within", "30d"], "expected event types"),
        (["--outcome", "{type: purchase, colour: red}", "--within", "30d"], "unknown key"),
        (["--outcome", "purchase", "--within", "30d", "--plot", "x.png"], "HTML"),
        (["--outcome", "purchase", "--within", "30d", "--split", "2030-01-01"], "must fall inside the history"),
        (["--outcome", "purchase", "--within", "30d", "--anchor", "post_purchase_window"], "needs --intervention"),
        (["--outcome", "purchase", "--within", "30d", "--intervention", "purchase", "--anchor", "nope"],
         "no moment named 'nope'"),
    ]  # fmt: skip
    for args, message in cases:
        assert _run(str(events), *args) == 2, args
        assert message in capsys.readouterr().err, args
    for args in (["--within", "30d"], ["--outcome", "purchase", "--within", "soon"], ["--outcome", "p", "--within",
                 "30d", "--split", "yesterday"], ["--outcome", "p", "--within", "30d", "--fdr", "2"]):  # fmt: skip
        with pytest.raises(SystemExit) as exited:
            _run(str(events), *args)
        assert exited.value.code == 2


def test_a_few_far_dated_events_do_not_stretch_the_history(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [json.dumps({"event_id": f"e{i}", "customer_id": f"c{i % 50}", "type": "visit",
                         "ts": f"2026-01-{1 + i % 28:02d}T10:00:00Z"}) for i in range(2000)]  # fmt: skip
    for event_id, ts in (("far", "2199-12-31T00:00:00Z"), ("old", "1900-01-01T00:00:00Z")):
        lines.append(json.dumps({"event_id": event_id, "customer_id": "c1", "type": "visit", "ts": ts}))
    path.write_text("\n".join(lines) + "\n")
    history = load_history(path, tmp_path / "work")
    assert history.stray == 2
    assert (history.start_ms, history.end_ms) == (
        1767225600000,
        1767225600000 + 28 * 86_400_000 - 1,
    )  # 2026-01-01 .. 2026-01-28


def test_odd_property_values_and_names_survive_into_a_valid_moments_file(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    planted = plant(events, 4242, customers=1200, steps=2)
    odd = ["a: b", "- x", "#not a comment", "ümlaut 🎉", "{gte: 3}", "yes", "null", "'quoted'"]
    lines = []
    for i, line in enumerate(events.read_text().splitlines()):
        doc = json.loads(line)
        if doc["type"] == planted.sequence[0]:
            doc["properties"] = {"weird key: \\n": odd[i % len(odd)], "flag": i % 2 == 0, "n": i % 3}
        lines.append(json.dumps(doc))
    events.write_text("\n".join(lines) + "\n")
    out = tmp_path / "d.yaml"
    assert _run(str(events), "--outcome", planted.outcome, "--within", "14d", "-o", str(out)) == 0
    assert main(["check", str(out)]) == 0


def test_standard_input_is_a_history_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = tmp_path / "events.jsonl"
    planted = plant(events, 99, customers=1200, steps=2)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(events.read_bytes())))
    out = tmp_path / "d.yaml"
    assert _run("-", "--outcome", planted.outcome, "--within", "14d", "-o", str(out)) == 0
    assert out.exists()
