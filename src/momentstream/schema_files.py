"""The JSON Schema files of the wire models (``momentstream schema -o schemas/``), committed and checked.

Downstream teams validate against these files; a test fails when a model changes and they were not
written again, so the contract never drifts from the code silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from momentstream.schema import (
    SCHEMA_VERSION,
    CustomerErased,
    FeedbackUnmatched,
    IdentityMerged,
    IdentityRelinked,
    LateEvent,
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

__all__ = ["export_json_schemas", "write_json_schema"]


def export_json_schemas(directory: Path) -> list[Path]:
    """Write the JSON Schema of every wire model into ``directory``; return the paths."""
    written = []
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
    }
    for name, model in models.items():
        schema: dict[str, Any] = model.model_json_schema()
        schema["$id"] = f"https://momentstream.dev/schemas/{name}.v{SCHEMA_VERSION}.json"
        written.append(write_json_schema(directory, name, schema))
    return written


def write_json_schema(directory: Path, name: str, schema: dict[str, Any]) -> Path:
    """Write one schema as ``<name>.v<version>.schema.json`` (stable key order, so diffs are real)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.v{SCHEMA_VERSION}.schema.json"
    path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    return path
