"""The JSON Schemas of the wire models, as ``momentstream schema -o schemas/`` writes them: committed and checked.

Downstream teams validate against these files; a test fails when a model changes and they were not
written again, so the contract never drifts from the code silently.

Within a major version fields may be added, so the files published for consumers (every output: triggers,
revocations, audit records) accept fields they do not name: a consumer that validates with them keeps
working when a field is added. The producer is held to the strict form (no undeclared field) in tests,
and our own readers ignore unknown fields (:func:`validate_ignoring_unknown`). The touchpoint event is an
input, and stays strict: an unknown field there is a typo, refused with its name.

Pure like the rest of the core: the documents and their file names are made here, the command writes them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from momentstream.core.schema import (
    SCHEMA_VERSION,
    CustomerErased,
    FeedbackUnmatched,
    IdentityMerged,
    IdentityRelinked,
    LateEvent,
    SequenceStopped,
    ShadowTrigger,
    StateTrimmed,
    TouchpointEvent,
    Trigger,
    TriggerDeferred,
    TriggerOutcome,
    TriggerRevoked,
    TriggerSuppressed,
    WindowCancelled,
)

__all__ = ["accepting_added_fields", "schema_file_name", "validate_ignoring_unknown", "wire_schemas"]

M = TypeVar("M", bound=BaseModel)
_STRICT_INPUTS = frozenset({"touchpoint_event"})


def wire_schemas(strict: bool = False) -> dict[str, dict[str, Any]]:
    """The JSON Schema of every wire model, by name.

    Outputs are in the consumer's form (:func:`accepting_added_fields`) unless ``strict``.
    """
    models: dict[str, type[BaseModel]] = {
        "touchpoint_event": TouchpointEvent,
        "trigger": Trigger,
        "late_event": LateEvent,
        "window_cancelled": WindowCancelled,
        "trigger_suppressed": TriggerSuppressed,
        "trigger_deferred": TriggerDeferred,
        "customer_erased": CustomerErased,
        "trigger_revoked": TriggerRevoked,
        "trigger_outcome": TriggerOutcome,
        "feedback_unmatched": FeedbackUnmatched,
        "shadow_trigger": ShadowTrigger,
        "identity_merged": IdentityMerged,
        "identity_relinked": IdentityRelinked,
        "state_trimmed": StateTrimmed,
        "sequence_stopped": SequenceStopped,
    }
    schemas = {}
    for name, model in models.items():
        schema: dict[str, Any] = model.model_json_schema()
        if not strict and name not in _STRICT_INPUTS:
            schema = accepting_added_fields(schema)
        schema["$id"] = f"https://momentstream.dev/schemas/{name}.v{SCHEMA_VERSION}.json"
        schemas[name] = schema
    return schemas


def schema_file_name(name: str) -> str:
    """The versioned file name of a schema: ``<name>.v<version>.schema.json``."""
    return f"{name}.v{SCHEMA_VERSION}.schema.json"


def accepting_added_fields(schema: Any) -> Any:
    """``schema`` without its ``additionalProperties: false``, at every depth: the consumer's form.

    >>> accepting_added_fields({"type": "object", "additionalProperties": False,
    ...                         "properties": {"a": {"type": "object", "additionalProperties": False}}})
    {'type': 'object', 'properties': {'a': {'type': 'object'}}}
    """
    if isinstance(schema, dict):
        return {k: accepting_added_fields(v) for k, v in schema.items()
                if not (k == "additionalProperties" and v is False)}  # fmt: skip
    if isinstance(schema, list):
        return [accepting_added_fields(v) for v in schema]
    return schema


def validate_ignoring_unknown(model: type[M], data: Any) -> M:
    """Validate ``data`` as ``model``, leaving out fields the model does not know (at any depth).

    A record written by a newer release with an added field reads as this release's model; any other
    error is raised as usual.

    >>> from datetime import datetime, timezone
    >>> from momentstream.core.schema import Evidence
    >>> validate_ignoring_unknown(Evidence, {"event_id": "e1", "ts": "2026-01-05T00:00:00Z", "step": "buy",
    ...                                      "added_in_1_1": {"x": 1}}).event_id
    'e1'
    """
    try:
        return model.model_validate(data)
    except ValidationError as err:
        unknown = [e["loc"] for e in err.errors() if e["type"] == "extra_forbidden"]
        if not unknown or len(unknown) != len(err.errors()):
            raise
    cleaned = _without(data, unknown)
    return model.model_validate(cleaned)


def _without(data: Any, paths: list[tuple[int | str, ...]]) -> Any:
    """A copy of ``data`` with the values at ``paths`` removed (only the containers on the way are copied)."""
    if not paths:
        return data
    if isinstance(data, dict):
        here = {p[0] for p in paths if len(p) == 1}
        deeper: dict[Any, list[tuple[int | str, ...]]] = {}
        for p in paths:
            if len(p) > 1:
                deeper.setdefault(p[0], []).append(p[1:])
        return {k: _without(v, deeper.get(k, [])) for k, v in data.items() if k not in here}
    if isinstance(data, list):
        nested: dict[Any, list[tuple[int | str, ...]]] = {}
        for p in paths:
            nested.setdefault(p[0], []).append(p[1:])
        return [_without(v, nested.get(i, [])) for i, v in enumerate(data)]
    return data
