"""Discovery's counts are the replay runner's triggers: the same engine, the same first triggers."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

from momentstream.core.clock import parse_duration, to_ms
from momentstream.core.engine import Engine
from momentstream.data import bundled_moments_path
from momentstream.discovery.history import load_history
from momentstream.discovery.outcome import Outcome, parse_where, reference_time
from momentstream.discovery.scan import MomentCounts, Period, scan
from momentstream.patterns.dsl import load_moments
from momentstream.runtime.replay.runner import replay_file
from momentstream.runtime.sources import write_events
from momentstream.sim.journeys import simulate
from momentstream.triggers.contract import read_triggers


def test_scan_counts_equal_what_the_replay_runner_emits(tmp_path: Path) -> None:
    sim = simulate(400, 90, seed=12, joining_days=60)
    path = tmp_path / "events.jsonl"
    with path.open("w") as f:
        write_events(sim.events, f)
    moments = load_moments(bundled_moments_path())
    out, holdout = io.StringIO(), io.StringIO()
    replay_file(path, Engine(moments), out, holdout_out=holdout, progress=False)
    first: dict[tuple[str, str], int] = {}
    for t in read_triggers((out.getvalue() + holdout.getvalue()).splitlines()):
        if t.kind != "window_expired":
            key = (t.moment, t.customer_id)
            first[key] = min(first.get(key, 2**62), to_ms(t.emitted_at))

    where, predicate = parse_where("purchase", "--outcome")
    outcome = Outcome(where, predicate, parse_duration("14d"))
    history = load_history(path, tmp_path / "work", buckets=3)
    end = history.end_ms + 1
    result = scan(history, [m.spec for m in moments], outcome, Period(history.start_ms, end), workers=2)

    expected: dict[str, MomentCounts] = defaultdict(MomentCounts)
    by_customer = defaultdict(list)
    for e in sim.events:
        by_customer[e.customer_id].append(e)
    for customer, events in by_customer.items():
        outcomes = outcome.times(events)
        reference = reference_time(customer, [to_ms(e.ts) for e in events], outcome.within_ms, end)
        rest = None if reference is None else outcome.label(outcomes, reference, end)
        for m in moments:
            counts = expected[m.name]
            at = first.get((m.name, customer))
            if at is None:
                if rest is not None:
                    counts.rest += 1
                    counts.rest_positive += rest
                continue
            counts.triggers += 1
            label = outcome.label(outcomes, at, end)
            if label is not None:
                counts.fired += 1
                counts.positive += label
    assert result.customers == 400
    assert result.failures == 0
    assert {m.name: result.counts[m.name] for m in moments} == dict(expected)
    assert all(expected[m.name].triggers > 0 for m in moments)
