"""What discovery writes is something to act on: no sequence made only of the outcome itself, protective ones said
(and written to watch only when asked), and every written moment with a cooldown."""

from __future__ import annotations

from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.core.clock import parse_duration
from momentstream.discovery.outcome import Outcome, parse_where
from momentstream.discovery.run import DiscoverOptions, Discovery, discover
from momentstream.patterns.dsl import load_moments
from momentstream.runtime.sources import write_events
from momentstream.sim.journeys import simulate


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("actionable") / "events.jsonl"
    with path.open("w") as f:
        write_events(simulate(2000, 120, seed=5, joining_days=90).events, f)
    return path


@pytest.fixture(scope="module")
def third_order(history: Path) -> Discovery:
    where, predicate = parse_where("{type: purchase, properties: {order_number: {gte: 3}}}", "--outcome")
    return discover(history, DiscoverOptions(Outcome(where, predicate, parse_duration("30d"))))


def test_sequences_made_of_the_outcome_are_predictors_never_written(third_order: Discovery) -> None:
    outcome = Outcome(*parse_where("{type: purchase, properties: {order_number: {gte: 3}}}", "o"), 1)
    assert third_order.predictors, "a purchase before a third purchase predicts it: it should be flagged"
    assert all(all(outcome.could_be(t) for t in f.candidate.tokens) for f in third_order.predictors)
    assert any(
        any(outcome.could_be(t) for t in f.candidate.tokens)
        for f in third_order.findings
        if f not in third_order.predictors
    ), "support, then a purchase: a moment, though it holds one"
    written = {third_order.written_as.get(f.spec.name) for f in third_order.predictors}
    assert written == {None}
    assert third_order.written, "the actionable moments are still written"


def test_every_written_moment_waits_the_outcome_horizon_before_firing_again(third_order: Discovery) -> None:
    assert {s.cooldown_ms for s in third_order.written} == {parse_duration("30d")}


def test_protective_sequences_are_said_and_written_to_watch_only_when_asked(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    churn = ["discover", str(history), "--outcome", "page_view", "--within", "14d", "--outcome-absent", "-q"]
    assert main([*churn, "-o", str(tmp_path / "plain.yaml")]) == 0
    said = capsys.readouterr().out
    assert "protective sequence(s)" in said
    assert "--write-protective writes them" in said
    plain = load_moments(tmp_path / "plain.yaml") if (tmp_path / "plain.yaml").exists() else []
    assert all(m.spec.mode == "live" for m in plain)

    assert main([*churn, "-o", str(tmp_path / "watch.yaml"), "--write-protective"]) == 0
    watched = [m for m in load_moments(tmp_path / "watch.yaml") if m.spec.mode == "shadow"]
    assert watched
    assert all(m.name.startswith("w") and "Watch, do not act" in m.spec.description for m in watched)
