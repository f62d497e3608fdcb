"""The search and the tests never count the same customer; a moment you run counts on everyone, alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from momentstream.core.clock import parse_duration
from momentstream.data import bundled_moments_path
from momentstream.discovery.history import History, load_history
from momentstream.discovery.outcome import Outcome, parse_where
from momentstream.discovery.run import DiscoverOptions, discover
from momentstream.discovery.scan import Period, scan, without_windows
from momentstream.discovery.split import CustomerSplit
from momentstream.patterns.dsl import load_moments, parse_moments
from momentstream.runtime.sources import write_events
from momentstream.sim.journeys import simulate
from momentstream.sim.planted import plant


def _history(tmp_path: Path, customers: int = 600) -> History:
    path = tmp_path / "events.jsonl"
    with path.open("w") as f:
        write_events(simulate(customers, 90, seed=21, joining_days=60).events, f)
    return load_history(path, tmp_path / "work", buckets=2)


def _purchase() -> Outcome:
    where, predicate = parse_where("purchase", "--outcome")
    return Outcome(where, predicate, parse_duration("14d"))


def test_discovery_tests_only_customers_its_search_never_saw(tmp_path: Path) -> None:
    planted = plant(tmp_path / "planted.jsonl", 7, customers=800)
    where, predicate = parse_where(planted.outcome, "--outcome")
    d = discover(tmp_path / "planted.jsonl", DiscoverOptions(Outcome(where, predicate, parse_duration("14d"))))
    ids = {f"u7-{c:05d}" for c in range(800)}
    split = CustomerSplit.for_history(d.history.customers, 20_000)
    assert d.mined.sampled == sum(split.searched(c) for c in ids)
    assert d.tested_customers == sum(not split.searched(c) for c in ids)
    assert d.mined.sampled + d.tested_customers == d.history.customers == 800
    assert d.tested >= len(d.findings) > 0


def test_a_scan_held_out_counts_the_other_customers_and_everyone_for_a_moment_you_run(tmp_path: Path) -> None:
    history = _history(tmp_path)
    moments = load_moments(bundled_moments_path())
    specs = [m.spec for m in moments]
    period = Period(history.start_ms, history.end_ms + 1)
    split = CustomerSplit(0.5)
    whole = scan(history, specs, _purchase(), period, workers=1)
    held = scan(history, specs, _purchase(), period, held_out=split, everyone=frozenset({specs[0].name}), workers=1)
    ids = [c.customer_id for c in history.customers_in()]
    assert held.customers == sum(not split.searched(c) for c in ids) < whole.customers == len(ids)
    assert held.counts[specs[0].name] == whole.counts[specs[0].name]
    assert held.counts[specs[1].name].triggers < whole.counts[specs[1].name].triggers


def test_a_capped_moment_is_counted_as_if_alone_beside_uncapped_candidates(tmp_path: Path) -> None:
    """A moment file's frequency cap applies among its own moments, not to the candidates counted beside it."""
    history = _history(tmp_path)
    capped = next(m for m in load_moments(bundled_moments_path()) if m.name == "post_purchase_window").spec
    assert capped.contact_cap is not None
    capped = replace(without_windows([capped])[0], name="given")
    chatty = parse_moments("moments: [{name: any_view, cooldown: 1h, pattern: [{name: v, where: {type: page_view}}]}]")
    chatty_spec = chatty[0].spec
    period = Period(history.start_ms, history.end_ms + 1)
    alone = scan(history, [capped], _purchase(), period, workers=1)
    beside = scan(history, [capped, chatty_spec], _purchase(), period, workers=1)
    assert beside.counts["any_view"].triggers > 0
    assert beside.counts["given"] == alone.counts["given"]
    assert alone.counts["given"].triggers > 0
    held = scan(history, [capped, chatty_spec], _purchase(), period, held_out=CustomerSplit(0.5),
                everyone=frozenset({"any_view"}), workers=1)  # fmt: skip
    assert held.counts["any_view"] == beside.counts["any_view"]  # searched customers run it alone: same counts
