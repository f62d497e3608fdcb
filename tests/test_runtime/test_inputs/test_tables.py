"""CSV and Parquet exports read by a column mapping: the events they hold, and each bad row a reject with its line
and a reason in words, never the run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from momentstream.core.schema import TouchpointEvent
from momentstream.runtime.inputs import ColumnMap, InputError, InputFormat, TimeFormat, read_input
from momentstream.runtime.sources import Reject


def _read(path: Path, fmt: InputFormat) -> tuple[list[TouchpointEvent], list[Reject]]:
    events: list[TouchpointEvent] = []
    rejects: list[Reject] = []
    for _, item in read_input(path, fmt):
        (rejects if isinstance(item, Reject) else events).append(item)  # type: ignore[arg-type]
    return events, rejects


def _csv(tmp_path: Path, text: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


ORDERS = """user_id,event,created_at,amount,store,coupon
u1,Order Completed,2026-03-02T10:00:00+01:00,12.50,00042,
u1,pageView,2026-03-02 11:00:00,,7,SPRING
u2,order completed,2026-03-03,1e3,12,
"""


def test_a_mapped_csv_gives_events_with_the_rest_as_properties(tmp_path: Path) -> None:
    fmt = InputFormat(columns=ColumnMap.parse("customer_id=user_id,type=event,ts=created_at,value=amount",
                                              times=TimeFormat(tz="Europe/Berlin")))  # fmt: skip
    events, rejects = _read(_csv(tmp_path, ORDERS), fmt)
    assert rejects == []
    assert [(e.customer_id, e.type, e.value) for e in events] == [
        ("u1", "order_completed", 12.5), ("u1", "page_view", None), ("u2", "order_completed", 1000.0)]  # fmt: skip
    assert events[0].ts == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # its own offset wins over --tz
    assert events[1].ts.utcoffset() == timedelta(hours=1)  # naive: Berlin in March
    assert events[0].properties == {"store": "00042"}  # leading zeros: an id, kept as text
    assert events[1].properties == {"store": 7, "coupon": "SPRING"}


def test_derived_event_ids_are_stable_across_reads_and_unique_per_row(tmp_path: Path) -> None:
    text = "customer_id,type,ts\nc,buy,2026-01-01T00:00:00Z\nc,buy,2026-01-01T00:00:00Z\n"  # two identical rows
    path = _csv(tmp_path, text)
    first, _ = _read(path, InputFormat())
    again, _ = _read(path, InputFormat())
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert len({e.event_id for e in first}) == 2  # identical rows are two purchases, not a duplicate


def test_bad_rows_are_rejects_with_their_line_and_a_plain_reason(tmp_path: Path) -> None:
    text = ("customer_id,type,ts,value\n"
            "c1,buy,2026-01-01T00:00:00Z,1\n"
            "c2,buy,1767225600,1\n"             # epoch number: not guessed
            "c3,buy,2026-01-01T00:00:00,1\n"    # naive, no --tz
            "c4,buy,2026-01-01T00:00:00Z,ten\n"
            ",buy,2026-01-01T00:00:00Z,1\n"
            "c6,9lives,2026-01-01T00:00:00Z,1\n"
            "c7,buy,2026-01-01T00:00:00Z,1,extra\n"
            '"c8","buy","2026-01-01T00:00:00Z","2"\n')  # fmt: skip
    events, rejects = _read(_csv(tmp_path, text), InputFormat())
    assert [e.customer_id for e in events] == ["c1", "c8"]
    reasons = {r.line: r.error for r in rejects}
    assert "bare number" in reasons[3]
    assert "--epoch" in reasons[3]
    assert "no timezone" in reasons[4]
    assert "--tz" in reasons[4]
    assert reasons[5] == "value: is not a number"
    assert reasons[6] == "customer_id: is required"
    assert "lower snake case" in reasons[7]
    assert reasons[8] == "5 cells for 4 columns"


def test_quoted_fields_may_hold_commas_and_newlines(tmp_path: Path) -> None:
    text = (
        'customer_id,type,ts,note\nc1,ticket,2026-01-01T00:00:00Z,"slow, then\nbroken"\n'
        "c2,ticket,2026-01-02T00:00:00Z,ok\n"
    )
    events, rejects = _read(_csv(tmp_path, text), InputFormat())
    assert rejects == []
    assert events[0].properties["note"] == "slow, then\nbroken"
    assert [e.customer_id for e in events] == ["c1", "c2"]


def test_odd_bytes_a_byte_order_mark_and_a_huge_row_cost_one_row_each(tmp_path: Path) -> None:
    good = b"c1,buy,2026-01-01T00:00:00Z\n"
    data = (b"\xef\xbb\xbfcustomer_id,type,ts\n" + good + b"c\xff,buy,2026-01-01T00:00:00Z\n"
            + b"c3,buy,2026-01-01T00:00:00Z," + b"x" * 100_000 + b"\n" + good)  # fmt: skip
    events, rejects = _read(_csv(tmp_path, data), InputFormat())  # type: ignore[arg-type]
    assert len(events) == 2
    assert sorted(r.reason for r in rejects) == ["invalid_row", "too_large"]


def test_a_mapping_that_cannot_work_stops_before_the_first_row_naming_the_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path, ORDERS)
    with pytest.raises(InputError, match=r"no column for customer_id .*'user_id', 'event'"):
        _read(path, InputFormat())
    with pytest.raises(ValueError, match="not an event field"):
        ColumnMap.parse("customer=user_id")
    with pytest.raises(ValueError, match="expected field=column"):
        ColumnMap.parse("customer_id")
    with pytest.raises(ValueError, match="not an IANA timezone"):
        TimeFormat(tz="Europe/Berln")


def test_an_empty_file_or_a_header_of_repeated_names_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty"):
        _read(_csv(tmp_path, "\n\n", "a.csv"), InputFormat())
    with pytest.raises(InputError, match="repeated"):
        _read(_csv(tmp_path, "ts,ts\n1,2\n", "b.csv"), InputFormat())


def test_cdnow_as_published_reads_with_a_whitespace_delimiter_and_a_date_layout(cdnow_master: Path) -> None:
    fmt = InputFormat("csv", ColumnMap.parse("ts=date,value=dollar_value", event_type="purchase",
                                             times=TimeFormat(tz="UTC", pattern="%Y%m%d")), "whitespace")  # fmt: skip
    events, rejects = _read(cdnow_master, fmt)
    assert rejects == []
    assert len(events) == 69_659
    assert len({e.customer_id for e in events}) == 23_570
    first = events[0]
    assert (first.customer_id, first.type, first.ts.isoformat(), first.value) == (
        "00001", "purchase", "1997-01-01T00:00:00+00:00", 11.77)  # fmt: skip
    assert first.properties == {"number_of_cds": 1}


def test_epoch_milliseconds_and_seconds_read_when_stated(tmp_path: Path) -> None:
    path = _csv(tmp_path, "customer_id,type,ts\nc,buy,1767225600000\n")
    [event], _ = _read(path, InputFormat(columns=ColumnMap(times=TimeFormat(epoch="ms"))))
    assert event.ts == datetime(2026, 1, 1, tzinfo=UTC)
    path = _csv(tmp_path, "customer_id,type,ts\nc,buy,1767225600\n", "s.csv")
    [event], _ = _read(path, InputFormat(columns=ColumnMap(times=TimeFormat(epoch="s"))))
    assert event.ts == datetime(2026, 1, 1, tzinfo=UTC)
    far = _csv(tmp_path, "customer_id,type,ts\nc,buy,1e300\n", "far.csv")
    _, [reject] = _read(far, InputFormat(columns=ColumnMap(times=TimeFormat(epoch="s"))))
    assert "out of range" in reject.error


def test_parquet_reads_typed_columns_with_the_same_mapping(tmp_path: Path) -> None:
    table = pa.table({
        "user": ["u1", "u2", None],
        "event": ["Order Completed", "signup", "signup"],
        "at": [datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 2, 11, tzinfo=timezone(timedelta(hours=2))),
               datetime(2026, 3, 2, 12, tzinfo=UTC)],
        "amount": [12.5, None, 1.0],
        "seats": [3, 1, 2],
    })  # fmt: skip
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    fmt = InputFormat(columns=ColumnMap.parse("customer_id=user,type=event,ts=at,value=amount"))
    events, rejects = _read(path, fmt)
    assert [(e.customer_id, e.type, e.value, e.properties) for e in events] == [
        ("u1", "order_completed", 12.5, {"seats": 3}), ("u2", "signup", None, {"seats": 1})]  # fmt: skip
    assert events[1].ts == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert [(r.line, r.error) for r in rejects] == [(3, "customer_id: is required")]
    assert json.loads(rejects[0].raw)["event"] == "signup"  # the row is kept, as JSON, in the rejects file


def test_a_file_that_is_not_parquet_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    path.write_text("customer_id,type,ts\n")
    with pytest.raises(InputError, match="not a Parquet file"):
        _read(path, InputFormat())


def test_extreme_cells_are_rejects_in_words_not_crashes(tmp_path: Path) -> None:
    text = ("customer_id,type,ts,value,note\n"
            "c1,buy,9999-12-31T23:59:59Z,1,\n"          # a far date
            "c2,buy,2026-01-01T00:00:00Z,1e308,\n"      # an amount no order has
            "c3,buy,2026-01-01T00:00:00Z,nan,\n"
            "c4,buy,2026-01-01T00:00:00Z,1,1e999\n"     # a property that would be infinite stays text
            "c5,buy,2026-01-01T00:00:00Z,1,123456789012345678901234567890\n")  # fmt: skip
    events, rejects = _read(_csv(tmp_path, text), InputFormat())
    reasons = {r.line: r.error for r in rejects}
    assert reasons[2].startswith("ts: must be from 1900 to 2199")
    assert reasons[3].startswith("value:")
    assert reasons[4] == "value: is not a number"
    assert [e.customer_id for e in events] == ["c4", "c5"]
    assert events[0].properties["note"] == "1e999"
    assert events[1].properties["note"] == "123456789012345678901234567890"  # too long for an int64: text


def test_another_companys_names_become_our_event_types(tmp_path: Path) -> None:
    text = ("customer_id,type,ts\n"
            "c1,Order Completed,2026-01-01T00:00:00Z\n"
            "c1,ZendeskTicketCreated,2026-01-02T00:00:00Z\n"
            "c1,page-view,2026-01-03T00:00:00Z\n"
            "c1,!!!,2026-01-04T00:00:00Z\n")  # fmt: skip
    events, rejects = _read(_csv(tmp_path, text), InputFormat())
    assert [e.type for e in events] == ["order_completed", "zendesk_ticket_created", "page_view"]
    assert [r.line for r in rejects] == [5]
