"""Segment-spec messages (what Segment and RudderStack send) as our events, in files and told apart from ours."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from momentstream.core.schema import TouchpointEvent
from momentstream.runtime.inputs import InputError, InputFormat, detected, parse_segment, read_input
from momentstream.runtime.sources import Refusal, Reject

TS = "2026-03-02T10:00:00.000Z"


def _message(**fields: Any) -> dict[str, Any]:
    return {"messageId": f"m-{len(json.dumps(fields))}", "timestamp": TS, **fields}


def test_each_call_becomes_the_event_a_moment_can_wait_for() -> None:
    calls = [
        _message(type="track", event="Order Completed", userId="u1", anonymousId="a1",
                 properties={"revenue": 42.5, "products": [{"sku": "x"}], "shipping": {"method": "dhl"}}),
        _message(type="page", name="Pricing", anonymousId="a1", properties={"path": "/pricing"}),
        _message(type="screen", name="Home", userId="u1"),
        _message(type="identify", anonymousId="a1", userId="u1", traits={"email": "x@example.com", "name": "X"}),
        _message(type="alias", previousId="a2", userId="u1"),
        _message(type="group", userId="u1", groupId="acme", traits={"plan": "pro"}),
    ]  # fmt: skip
    events = [parse_segment(json.dumps(c).encode()) for c in calls]
    assert all(isinstance(e, TouchpointEvent) for e in events)
    summary = [(e.customer_id, e.type, e.value, e.properties) for e in events]  # type: ignore[union-attr]
    assert summary == [
        ("u1", "order_completed", 42.5, {"revenue": 42.5, "shipping.method": "dhl"}),
        ("a1", "page_view", None, {"path": "/pricing", "name": "Pricing"}),
        ("u1", "screen_view", None, {"name": "Home"}),
        ("a1", "identify", None, {"canonical_id": "u1"}),  # traits (an email, a name) are not kept
        ("a2", "identify", None, {"canonical_id": "u1"}),
        ("u1", "group", None, {"group_id": "acme"}),
    ]


@pytest.mark.parametrize(("message", "field"), [
    ({"type": "track", "userId": "u1", "timestamp": TS}, "event"),
    ({"type": "track", "event": "X", "timestamp": TS}, "userId/anonymousId"),
    ({"type": "track", "event": "X", "userId": "u1"}, "timestamp"),
    ({"type": "track", "event": "X", "userId": "u1", "timestamp": 1767225600}, "timestamp"),  # not guessed
    ({"type": "track", "event": "X", "userId": "u1", "timestamp": "yesterday"}, "ts"),
    ({"type": "batch", "userId": "u1", "timestamp": TS}, "type"),
    ({"type": "track", "event": "!!!", "userId": "u1", "timestamp": TS}, "event"),
    ({"type": "track", "event": "X", "userId": "u" * 500, "timestamp": TS}, "customer_id"),
])  # fmt: skip
def test_a_message_that_cannot_be_an_event_is_refused_naming_the_field(message: dict[str, Any], field: str) -> None:
    refused = parse_segment(json.dumps(message).encode())
    assert isinstance(refused, Refusal)
    assert refused.error.startswith(f"{field}:"), refused.error


def test_hostile_bytes_are_refusals_not_crashes() -> None:
    for data in (b"\xff\xfe", b"[1, 2]", b'{"type": "track"' + b"x" * 100_000, b"[" * 50_000 + b"]" * 50_000):
        assert isinstance(parse_segment(data), Refusal)


def test_a_file_of_messages_is_recognised_and_read_with_rejects_in_place(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    lines = [json.dumps(_message(type="track", event="Signed Up", userId="u1")), "",
             json.dumps({"type": "track", "userId": "u1"}),
             json.dumps(_message(type="track", event="Trial Started", anonymousId="a9"))]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    assert detected(path) == "segment"
    read = list(read_input(path))
    assert [(n, type(x).__name__) for n, x in read] == [(1, "TouchpointEvent"), (3, "Reject"), (4, "TouchpointEvent")]
    assert isinstance(read[1][1], Reject)
    assert read[1][1].error.startswith("timestamp:")


def test_our_own_events_are_not_taken_for_messages(tmp_path: Path) -> None:
    path = tmp_path / "ours.jsonl"
    ours = {"event_id": "e1", "customer_id": "c1", "type": "page", "ts": "2026-01-01T00:00:00Z"}
    path.write_text(json.dumps(ours) + "\n")
    assert detected(path) == "jsonl"
    [(_, event)] = list(read_input(path))
    assert isinstance(event, TouchpointEvent)
    assert event.type == "page"


def test_a_csv_passed_as_json_lines_stops_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("customer_id,type,ts\nc1,buy,2026-01-01T00:00:00Z\n")
    with pytest.raises(InputError, match=r"not a JSON object.*--format csv"):
        list(read_input(path))
    with pytest.raises(InputError, match="not a JSON object"):
        list(read_input(path, InputFormat("jsonl")))


def test_a_stray_bad_first_line_in_json_lines_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = json.dumps({"event_id": "e1", "customer_id": "c1", "type": "buy", "ts": "2026-01-01T00:00:00Z"})
    path.write_bytes(b"\xff\xfe garbage\n" + good.encode() + b"\n")
    read = list(read_input(path))
    assert [type(x).__name__ for _, x in read] == ["Reject", "TouchpointEvent"]


def test_an_epoch_number_in_our_json_is_refused_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"event_id": "e1", "customer_id": "c1", "type": "buy", "ts": 1767225600}) + "\n")
    [(_, reject)] = list(read_input(path))
    assert isinstance(reject, Reject)
    assert "not a number" in reject.error
    assert "--epoch" in reject.error
