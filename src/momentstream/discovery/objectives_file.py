"""The objectives file that scores discovered moments: one model predicting the outcome discovery studied.

Discovered moments bound to no objective would run unscored beside models nobody reads; this file binds
each of them to a model of the very outcome that made them (same ``where:``, same horizon), so the next
``replay`` or worker gives every trigger its score. It is parsed back before it is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from momentstream.core.clock import format_duration
from momentstream.discovery.outcome import Outcome
from momentstream.models.objectives import load_objectives, parse_objectives
from momentstream.runtime.inputs import snake_case

__all__ = ["objectives_for_moments", "objectives_path_for", "objectives_yaml", "write_objectives"]

_TIERS = [{"name": "human_intervention", "min": 0.90}, {"name": "automated_workflow", "min": 0.70},
          {"name": "monitor_only", "min": 0.50}]  # fmt: skip


def objectives_path_for(moments_path: Path) -> Path:
    """``discovered.yaml`` -> ``discovered.objectives.yaml``: the file ``replay -c`` picks up beside it."""
    return moments_path.with_name(f"{moments_path.stem}.objectives.yaml")


def objectives_for_moments(moments: Path | None, objectives: Path | None) -> tuple[Path | None, bool]:
    """The objectives to score ``moments`` with: ``objectives`` when given, else the file ``discover`` wrote beside
    the moments file if there is one; and whether it was that one (the caller says so).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "found.yaml").write_text("version: 1"), (folder / "found.objectives.yaml").write_text("")
    >>> objectives_for_moments(folder / "found.yaml", None)[1], objectives_for_moments(folder / "x.yaml", None)
    (True, (None, False))
    """
    if objectives is not None or moments is None:
        return objectives, False
    beside = objectives_path_for(moments)
    return (beside, True) if beside.is_file() else (None, False)


def _name(outcome: Outcome) -> str:
    types = outcome.where.get("type")
    kinds = types if isinstance(types, list) else [types] if isinstance(types, str) else ["outcome"]
    words = "_or_".join(snake_case(str(k)) for k in kinds[:3]) or "outcome"
    return f"{'no_' if outcome.absent else ''}{words}_within_{format_duration(outcome.within_ms)}"[:64]


def objectives_yaml(outcome: Outcome, moments: Sequence[str], header: str) -> str:
    """An objectives file whose one objective predicts ``outcome`` and scores every moment of ``moments``.

    >>> from momentstream.discovery.outcome import parse_where
    >>> text = objectives_yaml(Outcome(*parse_where("purchase", "--outcome"), 14 * 86_400_000), ["a_then_b"], "")
    >>> s = parse_objectives(yaml.safe_load(text))
    >>> s.objectives[0].name, s.objectives[0].outcome_means, s.bindings["a_then_b"].objective
    ('purchase_within_14d', 'positive', 'purchase_within_14d')
    """
    name = _name(outcome)
    doc: dict[str, Any] = {
        "version": 1,
        "tiers": _TIERS,
        "objectives": [{
            "name": name,
            "owner": "unassigned",
            "outcome": outcome.where,
            "outcome_means": "negative" if outcome.absent else "positive",
            "horizon": format_duration(outcome.within_ms),
        }],
        "moments": {moment: {"objective": name} for moment in moments},
    }  # fmt: skip
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    text = comment + yaml.safe_dump(doc, sort_keys=False, width=110, allow_unicode=True)
    parse_objectives(yaml.safe_load(text), source="discovered objectives")  # never write what scoring would refuse
    return text


def write_objectives(path: Path, outcome: Outcome, moments: Sequence[str], header: str) -> None:
    """Write the objectives file (see :func:`objectives_yaml`) and read it back as the engine will."""
    path.write_text(objectives_yaml(outcome, moments, header), encoding="utf-8")
    load_objectives(path)
