"""The CRM contract: CloudEvents envelopes of real triggers, the committed schemas, and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from momentstream.cli.demo import default_engine
from momentstream.cli.schemas import write_schemas
from momentstream.core.schema import Trigger
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.journeys import simulate
from momentstream.triggers.contract import (
    CONTENT_TYPE,
    EVENT_TYPE,
    ContractError,
    contract_schema,
    encode,
    from_cloudevent,
    kafka_headers,
    read_triggers,
    to_cloudevent,
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
    schema = contract_schema(strict=True)  # the producer: no field the schema does not name
    jsonschema.Draft202012Validator.check_schema(schema)
    for trigger in triggers:
        envelope = json.loads(encode(trigger, "momentstream/test"))
        jsonschema.validate(envelope, schema, format_checker=jsonschema.FormatChecker())
        assert envelope["id"] == trigger.trigger_id
        assert envelope["subject"] == envelope["partitionkey"] == trigger.customer_id
        if trigger.score is not None:
            assert (envelope["owner"], envelope["tier"]) == (trigger.score.owner, trigger.score.tier or "none")
        assert trigger.signals is not None  # a scoring worker: every trigger says how unusual its customer is
        assert float(envelope["anomaly"]) == round(trigger.signals.anomaly, 1)
        assert from_cloudevent(envelope) == trigger
    assert any(float(json.loads(encode(t, "s"))["anomaly"]) > 0 for t in triggers)
    unscored = triggers[0].model_copy(update={"signals": None, "score": None})
    envelope = json.loads(encode(unscored, "momentstream/test"))
    assert "anomaly" not in envelope
    jsonschema.validate(envelope, schema, format_checker=jsonschema.FormatChecker())


def test_headers_carry_the_content_type_and_the_id(triggers: list[Trigger]) -> None:
    headers = dict(kafka_headers(triggers[0]))
    assert headers["content-type"].decode() == CONTENT_TYPE
    assert headers["trigger_id"].decode() == triggers[0].trigger_id


def test_the_same_trigger_encodes_to_the_same_bytes(triggers: list[Trigger]) -> None:
    again = Trigger.model_validate_json(triggers[0].model_dump_json())
    assert encode(again, "s") == encode(triggers[0], "s")


def test_committed_schemas_are_the_exported_ones(tmp_path: Path) -> None:
    """Changing a wire model must change the versioned files in schemas/ in the same commit."""
    exported = write_schemas(tmp_path)
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


def added_field(envelope: dict[str, Any]) -> dict[str, Any]:
    """The same envelope as a later 1.x release might write it: new fields at the top, in data and deeper."""
    data = {**envelope["data"], "journey_stage": "onboarding"}
    data["evidence"] = [{**data["evidence"][0], "weight": 0.7}, *data["evidence"][1:]]
    return {**envelope, "traceparent": "00-abc-def-01", "data": data}


def test_the_published_schema_and_our_reader_accept_added_fields(triggers: list[Trigger]) -> None:
    """Additive versioning: a consumer of v1 keeps working when a field is added within the major version."""
    newer = added_field(json.loads(encode(triggers[0], "momentstream/test")))
    committed = json.loads((REPO / "schemas" / "trigger_cloudevent.v1.schema.json").read_text())
    jsonschema.validate(newer, committed, format_checker=jsonschema.FormatChecker())
    assert from_cloudevent(newer) == triggers[0]
    assert list(read_triggers([json.dumps(newer), json.dumps(newer["data"])])) == [triggers[0], triggers[0]]
    with pytest.raises(jsonschema.ValidationError, match="journey_stage"):
        jsonschema.validate(newer, contract_schema(strict=True))  # the producer's own check stays strict


def test_every_published_output_schema_accepts_added_fields_and_the_input_stays_strict(tmp_path: Path) -> None:
    for path in write_schemas(tmp_path):
        text = path.read_text()
        if path.name.startswith("touchpoint_event"):
            assert '"additionalProperties": false' in text  # an unknown event field is a typo: refused by name
        else:
            assert '"additionalProperties": false' not in text, path.name


def test_an_added_field_does_not_hide_a_real_error(triggers: list[Trigger]) -> None:
    newer = added_field(json.loads(encode(triggers[0], "momentstream/test")))
    newer["data"]["moment_version"] = "two"
    with pytest.raises(ValidationError, match="moment_version"):
        from_cloudevent(newer)
