"""Reading a history into customer buckets: nothing lost, nothing invented."""

import io
import json
from pathlib import Path

import pytest

from momentstream.discovery import history as history_module
from momentstream.discovery.history import load_history
from momentstream.runtime.inputs import ColumnMap, InputFormat
from momentstream.runtime.sources import write_events
from momentstream.sim.journeys import simulate
from tests.helpers import write_export


def _line(event_id: str, customer: str, kind: str, ts: str, **extra: object) -> str:
    return json.dumps({"event_id": event_id, "customer_id": customer, "type": kind, "ts": ts, **extra})


def test_every_valid_event_lands_once_in_time_order_and_every_bad_line_is_rejected_with_a_reason(
    tmp_path: Path,
) -> None:
    lines = [
        _line("e2", "a", "purchase", "2026-01-02T00:00:00Z", value=5),
        _line("e1", "a", "visit", "2026-01-01T00:00:00+02:00", properties={"page": "x"}),
        _line("e1", "a", "visit", "2026-01-01T00:00:00+02:00"),  # a duplicate id
        _line("e3", "b", "visit", "2026-01-03T00:00:00Z"),
        '{"event_id": "e4", "customer_id": "b", "type": "visit", "ts": "2026-01-03T00:00:00Z", "value": 1e999}',
        "not json at all",
        "",
        _line("e5", "c" * 200, "visit", "2199-01-01T00:00:00Z"),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rejects = io.StringIO()
    history = load_history(path, tmp_path / "work", rejects=rejects, buckets=3)
    assert (history.events, history.rejected, history.customers) == (5, 2, 3)
    reasons = [json.loads(r) for r in rejects.getvalue().splitlines()]
    assert [(r["line"], r["reason"]) for r in reasons] == [(5, "invalid_event"), (6, "invalid_json")]
    customers = {c.customer_id: c for c in history.customers_in()}
    assert [e.event_id for e in customers["a"].events] == ["e1", "e2"]
    assert customers["a"].events[0].ts.utcoffset().total_seconds() == 7200  # type: ignore[union-attr]
    assert customers["a"].events[0].properties == {"page": "x"}
    assert customers["a"].events[1].value == 5
    assert len(history.buckets) == 3
    assert sum(len(c.events) for c in customers.values()) == 4  # 5 valid, one a duplicate id


def test_an_empty_history_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n\n")
    history = load_history(path, tmp_path / "work")
    assert (history.events, history.customers, history.start_ms, history.end_ms) == (0, 0, 0, 0)
    assert list(history.customers_in()) == []


def test_a_customer_with_too_many_events_is_capped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    bot = [_line(f"b{i}", "bot", "visit", f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z") for i in range(120)]
    path.write_text("\n".join([*bot, _line("h1", "human", "visit", "2026-01-02T00:00:00Z")]) + "\n")
    history = load_history(path, tmp_path / "work", max_per_customer=100)
    assert (history.events, history.customers, history.over_cap_customers, history.over_cap_events) == (121, 2, 1, 20)
    customers = {c.customer_id: c for c in history.customers_in()}
    assert len(customers["bot"].events) == 100
    assert [e.event_id for e in customers["bot"].events][:2] == ["b0", "b1"]
    assert len(customers["human"].events) == 1


def test_a_table_is_bucketed_by_the_events_it_holds_not_by_its_smaller_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CSV is several times smaller than the same events as JSON lines (Parquet twenty times): bucketed by its
    size, each bucket would hold several times the events (and memory) a bucket is sized for."""
    events = simulate(400, 60, 5).events
    jsonl, export = tmp_path / "events.jsonl", tmp_path / "events.csv"
    with jsonl.open("w") as out:
        write_events(events, out)
    mapping = write_export(events, export)
    monkeypatch.setattr(history_module, "BUCKET_BYTES", jsonl.stat().st_size // 20)  # 20 buckets of JSON lines
    monkeypatch.setattr(history_module, "EVENTS_PER_BUCKET", len(events) // 20)
    fmt = InputFormat(columns=ColumnMap.parse(mapping[1]))
    from_json = load_history(jsonl, tmp_path / "a")
    from_csv = load_history(export, tmp_path / "b", input_format=fmt)
    assert from_csv.events == from_json.events
    assert 0.5 <= len(from_csv.buckets) / len(from_json.buckets) <= 2
