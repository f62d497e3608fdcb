"""The wire schemas: validation of events and the exported JSON Schemas."""

from __future__ import annotations

import json

import jsonschema
import pytest
from pydantic import ValidationError

from momentstream.core.schema import TouchpointEvent, make_trigger_id
from momentstream.core.schema_files import wire_schemas

GOOD = {"event_id": "e1", "customer_id": "c1", "type": "purchase", "ts": "2026-03-02T10:00:00+01:00"}


@pytest.mark.parametrize(
    "change",
    [
        {"ts": "2026-03-02T10:00:00"},  # no timezone
        {"type": "Purchase!"},
        {"customer_id": ""},
        {"unexpected": 1},
        {"properties": {"nested": {"a": 1}}},
    ],
)
def test_invalid_events_are_rejected(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TouchpointEvent.model_validate({**GOOD, **change})


def test_trigger_ids_depend_on_every_part() -> None:
    base = make_trigger_id("c", "m", 1, "match", ["e1", "e2"], None)
    assert base == make_trigger_id("c", "m", 1, "match", ["e1", "e2"], None)
    others = [
        make_trigger_id("c2", "m", 1, "match", ["e1", "e2"], None),
        make_trigger_id("c", "m", 2, "match", ["e1", "e2"], None),
        make_trigger_id("c", "m", 1, "window_open", ["e1", "e2"], None),
        make_trigger_id("c", "m", 1, "match", ["e2", "e1"], None),
        make_trigger_id("c", "m", 1, "match", ["e1", "e2"], 5),
    ]
    assert base not in others
    assert len(set(others)) == len(others)


def test_exported_schemas_validate_real_documents() -> None:
    schemas = wire_schemas()
    schema = schemas["touchpoint_event"]
    jsonschema.validate(GOOD, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**GOOD, "extra": 1}, schema)
    assert "trigger" in schemas


def raw_event(**fields: object) -> bytes:
    """An event record as bytes, with JSON literals (NaN, Infinity, huge integers) written as given."""
    body = {**GOOD, **{k: v for k, v in fields.items() if not isinstance(v, RawJson)}}
    text = json.dumps(body)[:-1]
    for name, value in fields.items():
        if isinstance(value, RawJson):
            text += f', "{name}": {value.text}'
    return (text + "}").encode()


class RawJson:
    """A JSON fragment that json.dumps cannot write (NaN, 1e400, 2**70 as a literal)."""

    def __init__(self, text: str) -> None:
        self.text = text


@pytest.mark.parametrize(
    ("field", "literal"),
    [
        ("value", "NaN"),
        ("value", "Infinity"),
        ("value", "-Infinity"),
        ("value", "1e400"),  # parses to infinity
        ("value", "1e308"),
        ("value", "1e291"),
        ("properties", '{"big": 1180591620717411303424}'),  # 2**70: overflowed msgpack at save
        ("properties", '{"x": NaN}'),
        ("properties", '{"timezone": "Europe/Berln"}'),  # a typo'd zone was silently ignored
        ("properties", '{"timezone": 5}'),
        ("properties", '{"long": "' + "x" * 2_049 + '"}'),
        ("ts", '"9999-12-31T23:59:59-01:00"'),  # year 10000 in UTC: crashed the worker
        ("ts", '"3000-01-01T00:00:00Z"'),
        ("ts", '"0001-01-01T00:00:00+01:00"'),
        ("ts", '"1899-12-31T23:59:59Z"'),
    ],
)
def test_extreme_values_and_far_dates_are_refused_at_the_schema(field: str, literal: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TouchpointEvent.model_validate_json(raw_event(**{field: RawJson(literal)}))
    assert field in str(caught.value)


@pytest.mark.parametrize(
    "change",
    [
        {"value": 1e15},
        {"value": -1e15},
        {"properties": {"big": 2**63 - 1, "small": -(2**63), "timezone": "America/New_York"}},
        {"ts": "2199-12-31T23:59:59Z"},
        {"ts": "1900-01-01T00:00:00Z"},
    ],
)
def test_values_at_the_bounds_are_accepted(change: dict[str, object]) -> None:
    TouchpointEvent.model_validate({**GOOD, **change})
