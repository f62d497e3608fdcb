"""A history read by Spark is the local reader's history: the same events per customer, the same rejects in
the same order, the same figures, from JSON lines and from Parquet."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from momentstream.discovery.history import History, load_history
from momentstream.runtime.inputs import ColumnMap, InputError, InputFormat
from momentstream.spark.history import load_spark_history


def _line(event_id: str, customer: str, kind: str, ts: str, **extra: object) -> str:
    return json.dumps({"event_id": event_id, "customer_id": customer, "type": kind, "ts": ts, **extra})


HOSTILE = [
    _line("e2", "a", "purchase", "2026-01-02T00:00:00Z", value=5),
    _line("e1", "a", "visit", "2026-01-01T00:00:00+02:00", properties={"page": "x"}),
    _line("e1", "a", "visit", "2026-01-01T00:00:00+02:00"),  # the same id again
    _line("t1", "a", "visit", "2026-01-02T00:00:00Z"),  # the same time as e2: file order breaks the tie
    _line("e3", "b", "visit", "2026-01-03T00:00:00.250Z"),
    '{"event_id": "e4", "customer_id": "b", "type": "visit", "ts": "2026-01-03T00:00:00Z", "value": 1e999}',
    "not json at all",
    "",
    "ODD BYTES",  # replaced by bytes that are not UTF-8
    _line("e5", "c" * 200, "visit", "2199-01-01T00:00:00Z"),  # a far date: stray
    _line("é6", "ü", "visit", "2026-01-04T10:00:00-05:00", text="naïve ☃"),
    *[_line(f"b{i}", "bot", "visit", f"2026-01-05T00:{i // 60:02d}:{i % 60:02d}Z") for i in range(30)],
]


def _figures(h: History) -> tuple[Any, ...]:
    return (h.events, h.rejected, h.customers, h.start_ms, h.end_ms, h.stray, h.resolution_ms, dict(h.types),
            dict(h.days), dict(h.reject_reasons), h.over_cap_customers, h.over_cap_events)  # fmt: skip


def _customers(h: History) -> list[tuple[str, list[str]]]:
    return [(c.customer_id, [e.model_dump_json() for e in c.events]) for c in h.customers_in()]


def test_json_lines_give_the_local_history_rejects_and_all(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes("\n".join(HOSTILE).encode().replace(b"ODD BYTES", b'{"event_id": "\xff\xfe"}') + b"\r\n")
    local_rejects, spark_rejects = io.StringIO(), io.StringIO()
    local = load_history(path, tmp_path / "work", rejects=local_rejects, max_per_customer=20)
    distributed = load_spark_history(path, rejects=spark_rejects, max_per_customer=20, spark=spark)
    assert _figures(distributed) == _figures(local)
    assert distributed.over_cap_events == 10
    assert spark_rejects.getvalue() == local_rejects.getvalue()
    assert [json.loads(r)["line"] for r in spark_rejects.getvalue().splitlines()] == [6, 7, 9]
    assert _customers(distributed) == _customers(local)
    assert [e.event_id for e in next(c for c in distributed.customers_in() if c.customer_id == "a").events] == [
        "e1", "e2", "t1"]  # fmt: skip


def test_a_period_keeps_only_its_events(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(HOSTILE[:6]) + "\n")
    local = load_history(path, tmp_path / "work")
    distributed = load_spark_history(path, spark=spark)
    start, end = local.start_ms + 86_400_000, local.end_ms
    assert [c.customer_id for c in distributed.customers_in(start, end)] == ["a", "b"]
    assert [(c.customer_id, [e.event_id for e in c.events]) for c in distributed.customers_in(start, end)] == [
        (c.customer_id, [e.event_id for e in c.events]) for c in local.customers_in(start, end)]  # fmt: skip


def test_parquet_is_read_with_the_column_map_as_exact_instants(spark: Any, tmp_path: Path) -> None:
    times = [1_767_225_600_000_123, 1_767_225_600_000_123, 1_767_312_000_500_000, 1_767_398_400_000_000]
    table = pa.table({
        "user": ["u1", "u2", "u1", ""],
        "event": ["visit", "purchase", "purchase", "visit"],
        "at": pa.array(times, type=pa.timestamp("us", tz="UTC")),
        "amount": [None, 12.5, 3.0, 1.0],
        "plan": ["free", "pro", "pro", "free"],
    })  # fmt: skip
    path = tmp_path / "export.parquet"
    pq.write_table(table, path)
    fmt = InputFormat("parquet", ColumnMap.parse("customer_id=user,type=event,ts=at,value=amount"))
    local_rejects, spark_rejects = io.StringIO(), io.StringIO()
    local = load_history(path, tmp_path / "work", rejects=local_rejects, input_format=fmt)
    distributed = load_spark_history(path, rejects=spark_rejects, input_format=fmt, spark=spark)
    assert _figures(distributed) == _figures(local)
    assert (distributed.events, distributed.rejected) == (3, 1)
    assert spark_rejects.getvalue() == local_rejects.getvalue()
    assert _customers(distributed) == _customers(local)


def test_what_spark_cannot_read_is_said_before_any_work(spark: Any, tmp_path: Path) -> None:
    table = tmp_path / "orders.csv"
    table.write_text("user,event,at\nu1,visit,2026-01-01\n")
    with pytest.raises(InputError, match="convert the CSV to Parquet"):
        load_spark_history(table, spark=spark)
    disguised = tmp_path / "orders.jsonl"  # a CSV where JSON lines were expected
    disguised.write_text("user,event,at\nu1,visit,2026-01-01\n")
    with pytest.raises(InputError, match="not a JSON object"):
        load_spark_history(disguised, spark=spark)
    with pytest.raises(InputError, match="Spark cannot read it"):
        load_spark_history(tmp_path / "missing.jsonl", spark=spark)
    with pytest.raises(InputError, match="standard input"):
        load_spark_history("-", spark=spark)


def test_an_empty_or_all_invalid_history_is_empty_with_its_rejects(spark: Any, tmp_path: Path) -> None:
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n")
    empty = load_spark_history(blank, spark=spark)
    assert (empty.events, empty.customers, empty.start_ms, empty.end_ms) == (0, 0, 0, 0)
    assert list(empty.customers_in()) == []
    invalid = tmp_path / "invalid.jsonl"
    invalid.write_text('{"event_id": 1}\n{"customer_id": "c"}\n')
    rejects = io.StringIO()
    refused = load_spark_history(invalid, rejects=rejects, spark=spark)
    assert (refused.events, refused.rejected) == (0, 2)
    assert len(rejects.getvalue().splitlines()) == 2
