"""The CRM contract: CloudEvents envelopes of real triggers, the committed schemas, and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from momentstream.demo import default_engine
from momentstream.runtime.replay import ReplayRunner
from momentstream.schema import Trigger
from momentstream.schema_files import export_json_schemas
from momentstream.sim.journeys import simulate
from momentstream.triggers.contract import (
    CONTENT_TYPE,
    EVENT_TYPE,
    ContractError,
    contract_schema,
    encode,
    from_cloudevent,
    kafka_headers,
    to_cloudevent,
    write_contract_schema,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def triggers() -> list[Trigger]:
    """Scored triggers of all kinds from a replay of simulated journeys."""
    runner = ReplayRunner(default_engine(None, objectives=None, scoring=True))
    found = [o for o in runner.run(simulate(120, 45, 3).events) if isinstance(o, Trigger)]
    assert {t.kind for t in found} == {"match", "window_open", "window_expired"}
    assert any(t.score is not None for t in found)
    return found


def test_every_trigger_envelope_validates_against_the_contract_schema(triggers: list[Trigger]) -> None:
    schema = contract_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for trigger in triggers:
        envelope = json.loads(encode(trigger, "momentstream/test"))
        jsonschema.validate(envelope, schema, format_checker=jsonschema.FormatChecker())
        assert envelope["id"] == trigger.trigger_id
        assert envelope["subject"] == envelope["partitionkey"] == trigger.customer_id
        if trigger.score is not None:
            assert (envelope["owner"], envelope["tier"]) == (trigger.score.owner, trigger.score.tier or "none")
        assert from_cloudevent(envelope) == trigger


def test_headers_carry_the_content_type_and_the_id(triggers: list[Trigger]) -> None:
    headers = dict(kafka_headers(triggers[0]))
    assert headers["content-type"].decode() == CONTENT_TYPE
    assert headers["trigger_id"].decode() == triggers[0].trigger_id


def test_the_same_trigger_encodes_to_the_same_bytes(triggers: list[Trigger]) -> None:
    again = Trigger.model_validate_json(triggers[0].model_dump_json())
    assert encode(again, "s") == encode(triggers[0], "s")


def test_committed_schemas_are_the_exported_ones(tmp_path: Path) -> None:
    """Changing a wire model must change the versioned files in schemas/ in the same commit."""
    exported = [*export_json_schemas(tmp_path), *write_contract_schema(tmp_path)]
    for path in exported:
        committed = REPO / "schemas" / path.name
        assert committed.is_file(), f"schemas/{path.name} is missing: run `momentstream schema`"
        assert committed.read_text() == path.read_text(), f"schemas/{path.name} is stale: run `momentstream schema`"


def _envelope(triggers: list[Trigger], **change: Any) -> dict[str, Any]:
    envelope = to_cloudevent(triggers[0], "s")
    envelope.update(change)
    return envelope


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "io.momentstream.trigger.v2"}, "this version reads"),
        ({"specversion": "0.3"}, "specversion"),
        ({"id": "someone-else"}, "id differs"),
        ({"data": None}, "no data"),
    ],
)
def test_envelopes_this_version_cannot_read_are_refused(
    triggers: list[Trigger], change: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ContractError, match=reason):
        from_cloudevent(_envelope(triggers, **change))


def test_non_json_is_refused() -> None:
    with pytest.raises(ContractError, match="not JSON"):
        from_cloudevent(b"{oops")
    assert EVENT_TYPE.endswith(".v1")
