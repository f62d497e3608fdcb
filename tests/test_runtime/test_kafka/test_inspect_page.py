"""GET /customers/<id>: off without a token, refused without the right one, never logs the customer id."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from momentstream.cli.demo import default_engine
from momentstream.ops.metrics import WorkerMetrics
from momentstream.runtime.kafka.inspect_page import PREFIX, InspectPage
from momentstream.runtime.kafka.processor import DictTable, StreamProcessor, encode_tick

TOKEN = "t0ken-for-tests"
CUSTOMER = "c/42 ü"  # a slash and non-ASCII: the id travels percent-encoded


@pytest.fixture
def table() -> DictTable:
    """A table with one customer's stored state, as the worker keeps it."""
    engine = default_engine(None)
    processor = StreamProcessor(engine, DictTable())
    event = {"event_id": "e1", "customer_id": CUSTOMER, "type": "support_ticket",
             "ts": datetime(2026, 3, 2, 9, tzinfo=UTC).isoformat()}  # fmt: skip
    processor.save(processor.on_event(0, CUSTOMER.encode(), json.dumps(event).encode()))
    later = int(datetime(2026, 3, 2, 10, tzinfo=UTC).timestamp() * 1000)  # past the lateness: the event is processed
    processor.save(processor.on_tick_bytes(0, encode_tick(later)))
    return processor.table  # type: ignore[return-value]


def page(table: DictTable, token: str | None = TOKEN) -> tuple[InspectPage, WorkerMetrics]:
    metrics = WorkerMetrics()
    secret = None if token is None else SecretStr(token)
    return InspectPage(secret, default_engine(None), lambda c: table.get(c.encode()), lambda: [0], metrics), metrics


def path(customer: str) -> str:
    return PREFIX + urllib.parse.quote(customer, safe="")


def test_the_right_token_shows_the_customer(table: DictTable, caplog: pytest.LogCaptureFixture) -> None:
    inspect, metrics = page(table)
    with caplog.at_level("INFO"):
        status, body, content_type = inspect.handle(path(CUSTOMER), f"Bearer {TOKEN}")
    assert status == 200
    assert content_type == "application/json"
    doc = json.loads(body)
    assert doc["customer_id"] == CUSTOMER
    assert doc["partition"] == 0
    assert doc["story"][0]["event_id"] == "e1"
    assert "post_purchase_window" in doc["moments"]
    assert CUSTOMER not in caplog.text  # the access trail names the result, never the customer
    assert "operator look-up: found" in caplog.text
    assert metrics.inspections.labels(result="found")._value.get() == 1


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("", 401),
        ("Bearer ", 401),
        ("Bearer wrong", 401),
        (TOKEN, 401),
        (f"Bearer {TOKEN}x", 401),
        (f"Basic {TOKEN}", 401),
        (f"bearer {TOKEN}", 200),
    ],
)
def test_anything_but_the_token_is_refused(table: DictTable, authorization: str | None, status: int) -> None:
    inspect, _ = page(table)
    got, body, _ = inspect.handle(path(CUSTOMER), authorization)
    assert got == status
    if status == 401:
        assert CUSTOMER.encode() not in body


def test_without_a_token_the_page_is_off_even_for_an_empty_bearer(table: DictTable) -> None:
    inspect, metrics = page(table, token=None)
    for authorization in (None, "Bearer ", "Bearer None"):
        status, body, _ = inspect.handle(path(CUSTOMER), authorization)
        assert status == 404
        assert b"disabled" in body
    assert metrics.inspections.labels(result="disabled")._value.get() == 3


@pytest.mark.parametrize(
    ("customer_path", "status"),
    [(path("nobody"), 404), (PREFIX, 400), (path("x" * 201), 400), (path("x" * 200), 404), (path("\x00"), 404)],
)
def test_unknown_empty_and_oversized_ids(table: DictTable, customer_path: str, status: int) -> None:
    inspect, _ = page(table)
    got, body, _ = inspect.handle(customer_path, f"Bearer {TOKEN}")
    assert got == status
    if status == 404:
        assert json.loads(body)["partitions"] == [0]


def test_a_stored_value_this_version_cannot_read_is_a_500_not_a_crash() -> None:
    broken = DictTable()
    broken[b"c1"] = b"\xff\x00 not msgpack"
    inspect, metrics = page(broken)
    status, _, _ = inspect.handle(path("c1"), f"Bearer {TOKEN}")
    assert status == 500
    assert metrics.inspections.labels(result="unreadable")._value.get() == 1
