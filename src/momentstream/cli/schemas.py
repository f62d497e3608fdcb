"""``momentstream schema``: write the JSON Schemas of every wire model and of the trigger envelope.

Downstream teams validate against these files; ``schemas/`` holds the committed ones and a test fails
when a model changed and they were not written again.
"""

from __future__ import annotations

import json
from pathlib import Path

from momentstream.core.schema_files import schema_file_name, wire_schemas
from momentstream.triggers.contract import contract_schemas

__all__ = ["write_schemas"]


def write_schemas(directory: Path, strict: bool = False) -> list[Path]:
    """Write every schema into ``directory`` (stable key order, so a diff is a real change); return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in {**wire_schemas(strict), **contract_schemas(strict)}.items():
        path = directory / schema_file_name(name)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
