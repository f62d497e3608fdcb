"""The CRM contract: each trigger is one CloudEvent (JSON, structured mode) on the actions topic.

Structured mode puts the whole envelope in the record value, so a CRM needs nothing but a JSON
parser, and the event survives being copied to a file, a queue or an HTTP call unchanged. The
envelope's ``id`` is the trigger id: CloudEvents already asks consumers to treat ``source`` plus
``id`` as unique, which is exactly the deduplication rule. ``type`` carries the major schema
version, so an incompatible change arrives under a new type and an old consumer can refuse it
by name. The JSON Schema of the envelope and its ``data`` is generated from the pydantic
models and committed under ``schemas/``; a test keeps the two identical.

>>> from datetime import datetime, timezone
>>> from momentstream.core.schema import Evidence, Trigger
>>> t = Trigger(trigger_id="t-1", customer_id="c-9", moment="second_purchase", moment_version=1,
...             kind="window_open", emitted_at=datetime(2026, 1, 5, tzinfo=timezone.utc),
...             evidence=[Evidence(event_id="e-1", ts=datetime(2026, 1, 4, tzinfo=timezone.utc), step="buy")])
>>> event = to_cloudevent(t, source="momentstream/prod")
>>> event["id"], event["type"], event["subject"], event["moment"]
('t-1', 'io.momentstream.trigger.v1', 'c-9', 'second_purchase')
>>> from_cloudevent(encode(t, source="momentstream/prod")) == t
True
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, get_args

from pydantic import ValidationError

from momentstream.core.schema import (
    SCHEMA_VERSION,
    Trigger,
    TriggerKind,
    TriggerRevoked,
    describe_error,
)
from momentstream.core.schema_files import accepting_added_fields, validate_ignoring_unknown

__all__ = [
    "CONTENT_TYPE",
    "DATA_SCHEMA",
    "EVENT_TYPE",
    "SPEC_VERSION",
    "ContractError",
    "contract_schema",
    "contract_schemas",
    "encode",
    "from_cloudevent",
    "is_revocation",
    "json_records",
    "kafka_headers",
    "read_triggers",
    "revocation_schema",
    "revocation_to_cloudevent",
    "to_cloudevent",
]

SPEC_VERSION = "1.0"
EVENT_TYPE = f"io.momentstream.trigger.v{SCHEMA_VERSION}"
"""One type per major version of the trigger schema; additive changes keep the type."""
DATA_SCHEMA = f"https://momentstream.dev/schemas/trigger_cloudevent.v{SCHEMA_VERSION}.json"
"""The ``$id`` of the committed ``schemas/trigger_cloudevent.v<major>.schema.json``."""
REVOKED_TYPE = f"io.momentstream.trigger.revoked.v{SCHEMA_VERSION}"
"""A late event disproved an emitted trigger: cancel the action if it has not happened yet."""
REVOKED_SCHEMA = f"https://momentstream.dev/schemas/trigger_revoked_cloudevent.v{SCHEMA_VERSION}.json"
CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
"""The Kafka ``content-type`` header of a structured-mode CloudEvent."""


class ContractError(ValueError):
    """A record that is not a momentstream trigger CloudEvent this version understands."""


def _envelope(
    record: Trigger | TriggerRevoked,
    source: str,
    *,
    id: str,
    type: str,
    schema: str,
    time: datetime,
    **routing: str,
) -> dict[str, Any]:
    """The CloudEvents attributes both record types share, then routing extensions, then ``data``."""
    return {
        "specversion": SPEC_VERSION,
        "id": id,
        "source": source,
        "type": type,
        "subject": record.customer_id,
        "time": time.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "dataschema": schema,
        # Extensions (lower-case alphanumeric names, per the spec) so routers need not open data.
        "partitionkey": record.customer_id,
        "moment": record.moment,
        "triggerkind": record.kind,
        **routing,
        "data": record.model_dump(mode="json"),
    }


def to_cloudevent(trigger: Trigger, source: str) -> dict[str, Any]:
    """The envelope: CloudEvents attributes, routing extensions, and the trigger as ``data``."""
    score = trigger.score
    owner = trigger.owner or (score.owner if score is not None else "unassigned")
    routing = {"owner": owner, "tier": (score.tier if score is not None else None) or "none"}
    if trigger.signals is not None:  # a decimal string: CloudEvents attributes have no floating-point type
        routing["anomaly"] = f"{trigger.signals.anomaly:.1f}"
    return _envelope(trigger, source, id=trigger.trigger_id, type=EVENT_TYPE, schema=DATA_SCHEMA,
                     time=trigger.emitted_at, **routing)  # fmt: skip


def revocation_to_cloudevent(revoked: TriggerRevoked, source: str) -> dict[str, Any]:
    """A revocation on the same topic, under its own type; ``data.trigger_id`` names the trigger to cancel."""
    return _envelope(revoked, source, id=f"revoked:{revoked.trigger_id}", type=REVOKED_TYPE, schema=REVOKED_SCHEMA,
                     time=revoked.late_event_ts)  # fmt: skip


def encode(record: Trigger | TriggerRevoked, source: str) -> bytes:
    """The record value published on the actions topic (a trigger or a revocation)."""
    if isinstance(record, TriggerRevoked):
        event = revocation_to_cloudevent(record, source)
    else:
        event = to_cloudevent(record, source)
    return json.dumps(event, separators=(",", ":")).encode()


def is_revocation(event: dict[str, Any]) -> bool:
    """Whether a parsed actions-topic value is a revocation rather than a trigger."""
    return event.get("type") == REVOKED_TYPE


def kafka_headers(record: Trigger | TriggerRevoked) -> list[tuple[str, bytes]]:
    """Headers beside the value: the content type, and the id and routing fields for consumers
    that filter without parsing JSON (a revocation's ``kind`` header is ``revoked``)."""
    kind = "revoked" if isinstance(record, TriggerRevoked) else record.kind
    return [
        ("content-type", CONTENT_TYPE.encode()),
        ("trigger_id", record.trigger_id.encode()),
        ("moment", record.moment.encode()),
        ("kind", kind.encode()),
        ("schema_version", SCHEMA_VERSION.encode()),
    ]


def from_cloudevent(value: bytes | str | dict[str, Any]) -> Trigger:
    """Parse and check an actions-topic value; raises :class:`ContractError` with the reason."""
    try:
        event = value if isinstance(value, dict) else json.loads(value)
    except json.JSONDecodeError as exc:
        raise ContractError(f"not JSON: {exc.msg}") from exc
    if not isinstance(event, dict):
        raise ContractError("not a JSON object")
    if event.get("specversion") != SPEC_VERSION:
        raise ContractError(f"specversion {event.get('specversion')!r}, expected {SPEC_VERSION!r}")
    if event.get("type") != EVENT_TYPE:
        raise ContractError(f"type {event.get('type')!r}, this version reads {EVENT_TYPE!r}")
    data = event.get("data")
    if not isinstance(data, dict):
        raise ContractError("no data object")
    trigger = validate_ignoring_unknown(Trigger, data)
    if trigger.trigger_id != event.get("id"):
        raise ContractError("id differs from data.trigger_id")
    return trigger


def contract_schemas(strict: bool = False) -> dict[str, dict[str, Any]]:
    """:func:`contract_schema` and :func:`revocation_schema` by name, to sit next to the other schemas (the
    consumer's form, which accepts added fields, unless ``strict``)."""
    return {
        "trigger_cloudevent": contract_schema(strict),
        "trigger_revoked_cloudevent": revocation_schema(strict),
    }


def revocation_schema(strict: bool = False) -> dict[str, Any]:
    """JSON Schema of the revocation envelope (the second type on the actions topic); ``strict`` refuses any
    field it does not name (the producer's check), else added fields are accepted (the consumer's)."""
    data = TriggerRevoked.model_json_schema(mode="serialization")
    if not strict:
        data = accepting_added_fields(data)
    text = {"type": "string", "minLength": 1}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": REVOKED_SCHEMA,
        "title": f"momentstream trigger revocation, CloudEvents {SPEC_VERSION} structured mode, v{SCHEMA_VERSION}",
        "description": "Cancel the action for data.trigger_id if it has not happened; ignore an unknown trigger_id.",
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time", "data"],
        "properties": {
            "specversion": {"const": SPEC_VERSION},
            "id": text,
            "source": text,
            "type": {"const": REVOKED_TYPE},
            "subject": text,
            "time": {"type": "string", "format": "date-time"},
            "data": data,
        },
    }


def json_records(lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) of each non-blank line; ValueError naming the line for broken JSON."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError:
            raise ValueError(f"line {number}: not JSON") from None


def read_triggers(lines: Iterable[str]) -> Iterator[Trigger]:
    """Triggers from JSON lines that are either bare triggers (replay output) or CloudEvents
    (a capture of the actions or holdout topic); blank lines and revocations are skipped.

    Raises ValueError naming the line for anything else (an audit file, events, broken JSON).
    """
    for number, doc in json_records(lines):
        if not isinstance(doc, dict):
            raise ValueError(f"line {number}: not a trigger (a JSON object per line)")
        if is_revocation(doc) or doc.get("output") == "trigger_revoked":
            continue
        if "output" in doc:
            raise ValueError(f"line {number}: an audit record ({str(doc['output'])[:40]!r}), not a trigger: "
                             "pass the triggers file (and --holdout file), not the audit file")  # fmt: skip
        try:
            yield from_cloudevent(doc) if "specversion" in doc else validate_ignoring_unknown(Trigger, doc)
        except (ValidationError, KeyError, TypeError) as err:
            detail = describe_error(err) if isinstance(err, ValidationError) else type(err).__name__
            raise ValueError(f"line {number}: not a trigger ({detail[:300]})") from None


def contract_schema(strict: bool = False) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the envelope, with the trigger schema as ``data``; ``strict`` refuses
    any field it does not name (the producer's check), else added fields are accepted (the consumer's)."""
    data = Trigger.model_json_schema(mode="serialization")
    if not strict:
        data = accepting_added_fields(data)
    definitions = data.pop("$defs", {})
    definitions["Trigger"] = data
    text = {"type": "string", "minLength": 1}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": DATA_SCHEMA,
        "title": f"momentstream trigger, CloudEvents {SPEC_VERSION} structured mode, schema v{SCHEMA_VERSION}",
        "description": (
            "One record value on the actions topic. Deduplicate by id (equal to data.trigger_id): "
            "delivery is at-least-once and a repeat is byte-identical apart from data.score and "
            "data.signals.value (models learn between deliveries). "
            "Fields may be added within a major version; ignore the ones you do not know."
        ),
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"],
        "properties": {
            "specversion": {"const": SPEC_VERSION},
            "id": text,
            "source": text,
            "type": {"const": EVENT_TYPE},
            "subject": {**text, "description": "the customer id (also the record key)"},
            "time": {"type": "string", "format": "date-time", "description": "event time the trigger fired"},
            "datacontenttype": {"const": "application/json"},
            "dataschema": {"type": "string", "format": "uri"},
            "partitionkey": {**text, "description": "the customer id: per-customer order is kept"},
            "moment": text,
            "triggerkind": {"enum": list(get_args(TriggerKind))},
            "owner": {
                **text,
                "description": "team that acts: the moment's owner, else the objective's owner, else 'unassigned'",
            },
            "tier": {**text, "description": "response authority band from the score, or 'none'"},
            "anomaly": {
                "type": "string",
                "pattern": "^[0-9]+\\.[0-9]$",
                "description": "data.signals.anomaly to one decimal (how unusual the customer is for themselves, "
                "in standard deviations of their own rhythm); absent when the worker does not score",
            },
            "data": {"$ref": "#/$defs/Trigger"},
        },
        "$defs": definitions,
    }
