"""The wire schemas: validation of events and the exported JSON Schemas."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from momentstream.schema import TouchpointEvent, export_json_schemas, make_trigger_id

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


def test_exported_schemas_validate_real_documents(tmp_path: Path) -> None:
    paths = {p.name: p for p in export_json_schemas(tmp_path)}
    schema = json.loads(paths["touchpoint_event.v1.schema.json"].read_text())
    jsonschema.validate(GOOD, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**GOOD, "extra": 1}, schema)
    assert "trigger.v1.schema.json" in paths
