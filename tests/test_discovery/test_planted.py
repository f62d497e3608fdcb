"""Discovery finds what was planted, at random, and finds nothing where nothing was planted.

The seed is drawn anew on every run (set ``PLANTED_SEED`` to replay one); it is in every
failure message. The planted vocabulary, sequence and window come from that seed, so the
code under test cannot know them.
"""

from __future__ import annotations

import html
import json
import os
import random
from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.core.clock import parse_duration
from momentstream.discovery.mining import MiningOptions
from momentstream.discovery.outcome import Outcome, parse_where
from momentstream.discovery.run import DiscoverOptions, Discovery, discover
from momentstream.patterns.dsl import load_moments
from momentstream.runtime.sources import write_events
from momentstream.sim.journeys import simulate
from momentstream.sim.planted import Planted, Shape, plant


def _seed() -> int:
    return int(os.environ.get("PLANTED_SEED") or random.SystemRandom().randrange(1, 10**9))


def _window_recovered(d: Discovery, planted: Planted) -> bool:
    assert d.window is not None
    low, high = planted.window_h
    tolerance = 0.2 * (high - low)
    return (abs(d.window.opens_after_ms / 3_600_000 - low) <= tolerance
            and abs(d.window.closes_after_ms / 3_600_000 - high) <= tolerance)  # fmt: skip


def _top3(d: Discovery) -> list[tuple[str, ...]]:
    return [tuple(t[0] for t in f.candidate.tokens) for f in d.findings if f.significant][:3]


def test_the_planted_sequence_and_window_are_recovered(tmp_path: Path) -> None:
    seed = _seed()
    planted = plant(tmp_path / "events.jsonl", seed, steps=2)
    where, predicate = parse_where(planted.outcome, "--outcome")
    options = DiscoverOptions(Outcome(where, predicate, parse_duration("14d")),
                              intervention=parse_where(planted.intervention, "--intervention"))  # fmt: skip
    d = discover(tmp_path / "events.jsonl", options)
    assert planted.sequence in _top3(d), f"seed {seed}: planted {planted.sequence}, top 3 {_top3(d)}"
    assert d.window is not None, f"seed {seed}: no window found"
    assert d.anchor is not None
    assert d.anchor.spec.name == d.written[0].name
    assert _window_recovered(d, planted), f"seed {seed}: planted {planted.window_h} h, found {d.window.label}"
    assert d.window.significant
    assert d.window.inside[1] / d.window.inside[0] > d.window.outside[1] / d.window.outside[0]


def _states_the_planted_shape(d: Discovery, name: str, planted: Planted) -> bool:
    """Whether the written moment ``name`` is the planted k-of-n set, absence or threshold."""
    finding = d.finding_of(name)
    assert finding is not None
    c = finding.candidate
    kinds = tuple(t[0] for t in c.tokens)
    if planted.shape == "at_least":  # the set, or a variant of it: one word more or less (8 in 10 are exact, see
        shared = set(kinds) & set(planted.sequence)  # benchmarks/discover_quality.py; the variants tie on p-values)
        return c.at_least >= 2 and len(shared) >= 0.6 * len(set(kinds) | set(planted.sequence))
    if planted.shape == "absence":
        return c.absent is not None and kinds == planted.sequence[:1] and c.absent[0] == planted.sequence[1]
    threshold = planted.threshold or 0.0  # or the next round number above it (planted amounts are 1-3 times the
    return (  # threshold, so 1.25 times misses an eighth of them; seed 984798473 writes 250 for 200)
        kinds == planted.sequence
        and c.tokens[-1][1] == "value>="
        and threshold / 2.5 <= c.tokens[-1][2] <= 1.25 * threshold
    )


@pytest.mark.parametrize("shape", ["at_least", "absence", "value"])
def test_a_planted_set_absence_or_threshold_is_the_moment_written_first(tmp_path: Path, shape: Shape) -> None:
    """Any 3 of 5 words within 7 days; a word not followed by another for 12h; a sequence whose last event is
    worth at least a round amount: each written first, as that shape, with its window."""
    seed = _seed()
    planted = plant(tmp_path / "events.jsonl", seed, shape=shape)
    where, predicate = parse_where(planted.outcome, "--outcome")
    options = DiscoverOptions(Outcome(where, predicate, parse_duration("14d")),
                              intervention=parse_where(planted.intervention, "--intervention"))  # fmt: skip
    d = discover(tmp_path / "events.jsonl", options)
    assert d.written, f"seed {seed}: nothing written; found {[f.description for f in d.findings[:3]]}"
    first = d.written[0]
    assert _states_the_planted_shape(d, first.name, planted), f"seed {seed}: planted {planted}, wrote {first.name}"
    assert d.window is not None, f"seed {seed}: no window"
    assert d.window.significant
    assert first.window is not None
    low, high = planted.window_h  # the window mostly where it was planted (the benchmark measures its edges)
    found = (d.window.opens_after_ms / 3_600_000, d.window.closes_after_ms / 3_600_000)
    overlap = max(0.0, min(high, found[1]) - max(low, found[0])) / (max(high, found[1]) - min(low, found[0]))
    assert overlap >= 0.6, f"seed {seed}: planted {planted.window_h} h, found {d.window.label}"


def test_a_history_without_an_effect_yields_no_significant_candidate(tmp_path: Path) -> None:
    """Two independent histories without an effect: at most one may show a (false) discovery.

    The false discovery rate is held at 5%, so one null history yields something in up to 5% of
    runs by design (seed 672432478 does, before and after this test changed); both doing so has a
    chance of at most 0.25% if the procedure is sound, and is near certain if it is not.
    """
    seed = _seed()
    found: dict[int, list[str]] = {}
    for each in (seed, seed + 1):
        events = tmp_path / f"events-{each}.jsonl"
        planted = plant(events, each, customers=2000, effect=False)
        where, predicate = parse_where(planted.outcome, "--outcome")
        d = discover(events, DiscoverOptions(Outcome(where, predicate, parse_duration("14d"))))
        assert d.mined.tried > 100, f"seed {each}: the search tried only {d.mined.tried} sequences"
        found[each] = [f.description for f in d.findings if f.significant]
        if not found[each]:
            assert d.written == [], f"seed {each}: wrote {d.written} with nothing significant"
    assert not all(found.values()), f"seeds {seed} and {seed + 1}: found {found}"


def test_the_command_discovers_writes_a_valid_moments_file_and_backtests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = _seed()
    events = tmp_path / "events.jsonl"
    planted = plant(events, seed, steps=3)
    with events.open("a") as f:  # hostile lines: reported, never fatal
        f.write('{"event_id": "x", "customer_id": "c", "type": "Bad Type", "ts": "2025-03-04T00:00:00Z"}\n')
        f.write("\xff\xfe not json\n")
    out = tmp_path / "discovered.yaml"
    code = main(["discover", str(events), "--outcome", planted.outcome, "--within", "14d", "--intervention",
                 planted.intervention, "--split", "2025-05-25", "-o", str(out), "--report", str(tmp_path / "r.json"),
                 "--plot", str(tmp_path / "r.html"), "--rejects", str(tmp_path / "rejects.jsonl"), "-q"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    moments = load_moments(out)
    assert moments, f"seed {seed}: nothing written\n{printed}"
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["history"]["rejected"] == 2
    assert len((tmp_path / "rejects.jsonl").read_text().splitlines()) == 2
    top = [tuple(m["sequence"].split(" -> ")) for m in report["moments"][:3]]
    assert any(all(word in " ".join(seq) for word in planted.sequence) for seq in top), f"seed {seed}: {top}"
    assert report["search"]["tried"] >= len(report["moments"])
    first = report["moments"][0]
    assert first["rate_ci95"][0] <= first["rate"] <= first["rate_ci95"][1]
    kinds = {row["moment"]: row["kind"] for row in report["backtest"]}
    assert {"baseline_winback_30d", "baseline_winback_60d"} <= set(kinds)
    assert [m.name for m in moments] == [k for k, v in kinds.items() if v == "discovered"]
    assert {m["moment"] for m in report["moments"] if m["moment"]} == {m.name for m in moments}
    assert report["window"] is not None, f"seed {seed}: no window"
    assert moments[0].window is not None
    assert report["window"]["backtest"]["inside"]["customers"] > 0
    page = (tmp_path / "r.html").read_text()
    assert page.count("<svg") == 3  # the delay curve, inside vs outside as bars, the moments
    assert "…" not in page  # full labels, wrapped
    for m in [m for m in report["moments"] if m["significant"]][:10]:
        assert html.escape(m["sequence"]) in page  # each row's tooltip names it in full
    assert f"What comes before {planted.outcome} within 14d" in page
    assert "<script" not in page
    assert "Backtest on 2025-05-25" in printed


def test_randomised_sends_recover_the_window_that_scheduled_sends_hide(tmp_path: Path) -> None:
    seed = _seed()
    events = tmp_path / "events.jsonl"
    planted = plant(events, seed, customers=3500, share=0.6, steps=2, confounded=True)
    where, predicate = parse_where(planted.outcome, "--outcome")
    outcome = Outcome(where, predicate, parse_duration("14d"))
    intervention = parse_where(planted.intervention, "--intervention")
    random_sends = parse_where(f"{{type: {planted.intervention}, properties: {{timing: random}}}}", "--randomised")
    two_steps = MiningOptions(max_steps=2)  # the planted sequence has two; keeps the two runs short
    naive = discover(events, DiscoverOptions(outcome, intervention=intervention, mining=two_steps))
    assert naive.window is not None
    assert naive.window.opens_after_ms < 6 * 3_600_000, f"seed {seed}: {naive.window.label}"  # the spurious window
    d = discover(events, DiscoverOptions(outcome, intervention=intervention, randomised=random_sends,
                                         mining=two_steps))  # fmt: skip
    assert d.window is not None, f"seed {seed}: no window"
    assert _window_recovered(d, planted), f"seed {seed}: planted {planted.window_h} h, found {d.window.label}"


def test_the_window_after_a_moment_you_already_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--anchor``: the bundled post-purchase moment (its own policy and quiet hours included) on the
    simulator's history, whose legacy CRM reached seed customers at random delays (19-37 h worked)."""
    events = tmp_path / "events.jsonl"
    with events.open("w") as f:
        write_events(simulate(4000, 150, seed=3, joining_days=120).events, f)
    report = tmp_path / "r.json"
    code = main(["discover", str(events), "--outcome", "{type: purchase, properties: {order_number: {gte: 3}}}",
                 "--within", "30d", "--intervention", "outreach", "--anchor", "post_purchase_window",
                 "-o", str(tmp_path / "d.yaml"), "--report", str(report), "-q"])  # fmt: skip
    assert code == 0
    window = json.loads(report.read_text())["window"]
    assert window["moment"] == "post_purchase_window"
    assert window["anchor_step"] == "second_purchase"
    assert window["significant"]
    assert abs(window["opens_after_ms"] / 3_600_000 - 19) <= 3.6
    assert abs(window["closes_after_ms"] / 3_600_000 - 37) <= 3.6
    assert "Intervention window after post_purchase_window" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [64084884, 64084885, 672432478])
def test_null_histories_where_the_search_once_fooled_itself_yield_nothing(tmp_path: Path, seed: int) -> None:
    """Each of these null histories gave one confident false moment (q < 0.05) when the search's own customers
    were also the tested ones; tested on customers the search never saw, none survives."""
    events = tmp_path / "events.jsonl"
    planted = plant(events, seed, customers=2000, effect=False)
    where, predicate = parse_where(planted.outcome, "--outcome")
    d = discover(events, DiscoverOptions(Outcome(where, predicate, parse_duration("14d"))))
    assert [f.description for f in d.findings if f.significant] == []
    assert d.written == []
