"""A history's time resolution bounds what discovery says: a daily export (CDNOW, every purchase at midnight)
gets no "nothing for 3h" silence and no gap finer than a day."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from momentstream.core.clock import parse_duration
from momentstream.core.engine import Engine
from momentstream.core.schema import TouchpointEvent, Trigger
from momentstream.discovery.history import load_history
from momentstream.discovery.outcome import Outcome, parse_where
from momentstream.discovery.run import DiscoverOptions, discover
from momentstream.patterns.nfa import compile_moment
from momentstream.patterns.spec import EventStep

DAY = 86_400_000
CUSTOMERS = 4_000


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first customers of the public CDNOW master log (ships with ``lifetimes``) as purchase events."""
    spec = importlib.util.find_spec("lifetimes")  # found, not imported: its import warns about pandas
    assert spec is not None
    assert spec.origin is not None
    source = Path(spec.origin).parent / "datasets" / "CDNOW_master.txt"
    path = tmp_path_factory.mktemp("cdnow") / "events.jsonl"
    with path.open("w") as out:
        for n, line in enumerate(source.read_text().splitlines()[1:]):
            customer, day, cds, dollars = line.split()
            if int(customer) > CUSTOMERS:
                break
            ts = f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00Z"
            out.write(json.dumps({"event_id": f"p{n}", "customer_id": customer, "type": "purchase", "ts": ts,
                                  "value": float(dollars), "properties": {"cds": int(cds)}}) + "\n")  # fmt: skip
    return path


def test_a_daily_export_is_read_as_days(cdnow: Path, tmp_path: Path) -> None:
    assert load_history(cdnow, tmp_path).resolution_ms == DAY


def test_cdnow_gets_no_silence_or_gap_finer_than_a_day(cdnow: Path) -> None:
    where, predicate = parse_where("purchase", "--outcome")
    d = discover(cdnow, DiscoverOptions(Outcome(where, predicate, parse_duration("90d"), absent=True)))
    assert d.mined.candidates, "the search found nothing to try"
    finer = [c for c in d.mined.candidates
             if (c.silence_ms is not None and c.silence_ms < DAY) or any(g < DAY for g in c.gaps_ms)]  # fmt: skip
    assert finer == []
    assert all(g >= DAY for f in d.findings for g in f.candidate.gaps_ms)


def test_two_rows_of_one_day_are_no_sequence(cdnow: Path, tmp_path: Path) -> None:
    """The engine counts a daily export's moments as the search did: each step on a later day than the one
    before, never two rows of the same day (they were 21% of one moment's triggers before)."""
    where, predicate = parse_where("purchase", "--outcome")
    d = discover(cdnow, DiscoverOptions(Outcome(where, predicate, parse_duration("90d"), absent=True)))
    sequences = [f for f in d.findings if len([s for s in f.spec.steps if isinstance(s, EventStep)]) > 1]
    assert sequences
    for f in sequences:
        later = [s for s in f.spec.steps if isinstance(s, EventStep)][1:]
        assert all(s.after_ms == DAY for s in later), f.description
    spec = sequences[0].spec
    engine = Engine([compile_moment(spec)])
    rows = [{"event_id": f"e{i}", "customer_id": "c", "type": "purchase", "ts": "1997-01-01T00:00:00Z",
             "value": 10.0} for i in range(len(spec.steps) + 2)]  # fmt: skip
    state = engine.new_state("c")
    fired = [o for r in rows for o in engine.on_event(state, TouchpointEvent.model_validate(r)).outputs]
    fired += engine.on_tick(state, DAY * 10_000, final=True).outputs
    assert not [o for o in fired if isinstance(o, Trigger)]
