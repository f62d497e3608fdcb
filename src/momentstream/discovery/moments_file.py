"""Write discovered moments as a moments file the engine (and ``momentstream check``) reads.

The file is built from the very specs the engine counted, so what runs in production is
what the report describes; :func:`write_moments` parses its own output back before
returning, and refuses to write a file the engine would not load.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from momentstream.core.clock import format_duration
from momentstream.patterns.dsl import parse_moments
from momentstream.patterns.spec import AbsentStep, EventStep, KOfNStep, MomentSpec, Step

__all__ = ["moments_yaml", "spec_mapping", "write_moments"]


class _PlainDumper(yaml.SafeDumper):
    """No ``&id001`` anchors and aliases: a person reads and edits this file."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _step_mapping(step: Step) -> dict[str, Any]:
    if isinstance(step, AbsentStep):
        out: dict[str, Any] = {"name": step.name, "absent": step.where}
        if step.for_ms is not None:
            out["for"] = format_duration(step.for_ms)
        return out
    if isinstance(step, KOfNStep):
        return {"name": step.name, "at_least": step.k, "of": dict(step.indicators),
                "within": format_duration(step.within_ms)}  # fmt: skip
    assert isinstance(step, EventStep)
    out = {"name": step.name, "where": step.where}
    if step.min_times != 1 or step.max_times != 1:
        out["times"] = step.min_times if step.min_times == step.max_times else [step.min_times, step.max_times]
    if step.within_ms is not None:
        out["within"] = format_duration(step.within_ms)
    if step.after_ms is not None:
        out["after"] = format_duration(step.after_ms)
    return out


def spec_mapping(spec: MomentSpec) -> dict[str, Any]:
    """One ``moments:`` entry for a spec (the parts discovery sets)."""
    out: dict[str, Any] = {"name": spec.name, "version": spec.version}
    if spec.description:
        out["description"] = spec.description
    if spec.within_ms is not None:
        out["within"] = format_duration(spec.within_ms)
    if spec.cooldown_ms is not None:
        out["cooldown"] = format_duration(spec.cooldown_ms)
    if spec.mode != "live":
        out["mode"] = spec.mode
    out["pattern"] = [_step_mapping(s) for s in spec.steps]
    if spec.window is not None:
        w = spec.window
        window: dict[str, Any] = {"opens_after": format_duration(w.opens_after_ms),
                                  "closes_after": format_duration(w.closes_after_ms)}  # fmt: skip
        if w.anchor is not None:
            window["anchor"] = w.anchor
        if w.cancel_if is not None:
            window["cancel_if"] = w.cancel_if
        if w.used_if is not None:
            window["used_if"] = w.used_if
        out["window"] = window
    return out


def moments_yaml(specs: Sequence[MomentSpec], header: str) -> str:
    """The text of a moments file holding ``specs``, with ``header`` as a comment on top."""
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    body = yaml.dump({"version": 1, "timezone": "UTC", "moments": [spec_mapping(s) for s in specs]},
                     Dumper=_PlainDumper, sort_keys=False, width=110, allow_unicode=True)  # fmt: skip
    text = comment + body
    parse_moments(text, source="discovered moments")  # never write what the engine would refuse
    return text


def write_moments(path: Path, specs: Sequence[MomentSpec], header: str) -> None:
    """Write the moments file (see :func:`moments_yaml`)."""
    path.write_text(moments_yaml(specs, header), encoding="utf-8")
