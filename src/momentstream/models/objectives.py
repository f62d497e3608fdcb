"""Objectives, tiers and moment bindings, loaded from YAML into immutable values.

A bad file fails when it is loaded, naming the file and the field, like a bad moments file.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from momentstream.clock import parse_duration
from momentstream.models.estimators import ESTIMATORS as _ESTIMATORS
from momentstream.models.estimators import OPTIMIZERS as _OPTIMIZERS
from momentstream.models.features import FEATURE_NAMES
from momentstream.patterns.errors import PatternError
from momentstream.patterns.predicates import Predicate, compile_predicate

__all__ = ["Binding", "Objective", "ObjectiveSet", "Tier", "load_objectives", "parse_objectives"]

ESTIMATORS = tuple(_ESTIMATORS)
"""River estimators a model may be (:mod:`momentstream.models.estimators`)."""
OPTIMIZERS = tuple(_OPTIMIZERS)
"""River optimizers the logistic regression may use."""


@dataclass(frozen=True, slots=True)
class Tier:
    """A response-authority band: scores at or above ``min`` (and below the band above)."""

    name: str
    min: float


@dataclass(frozen=True, slots=True)
class Objective:
    """What one model predicts and how its labels are decided."""

    name: str
    owner: str
    outcome: Predicate
    outcome_means: Literal["positive", "negative"]
    horizon_ms: int
    estimator: str = "logistic_regression"
    optimizer: str = "sgd"
    learning_rate: float = 0.05
    l2: float = 0.0
    max_pending: int = 4
    features: tuple[str, ...] | None = None
    """Names or shell-style patterns of the features the model uses (None: every feature)."""

    def label_for_outcome(self) -> int:
        """The label when the outcome event is seen within the horizon."""
        return 1 if self.outcome_means == "positive" else 0

    def label_for_silence(self) -> int:
        """The label when the horizon passes with no outcome."""
        return 1 - self.label_for_outcome()


@dataclass(frozen=True, slots=True)
class Binding:
    """A moment's link to an objective, with an optional condition on the score."""

    moment: str
    objective: str
    min_score: float | None = None
    rise: float | None = None
    rise_within_ms: int = 7 * 86_400_000


@dataclass(frozen=True, slots=True)
class ObjectiveSet:
    """Everything the scorer is configured with."""

    objectives: tuple[Objective, ...]
    tiers: tuple[Tier, ...]
    bindings: Mapping[str, Binding] = field(default_factory=dict)

    def tier_for(self, score: float, lowered: int = 0) -> str | None:
        """The band of ``score``; ``lowered`` bands lower (while a model drifts)."""
        for index, tier in enumerate(self.tiers):
            if score >= tier.min:
                lowered_index = index + lowered
                return self.tiers[lowered_index].name if lowered_index < len(self.tiers) else None
        return None


def _features(raw: Any, where: str, fail: Callable[[str, str], PatternError]) -> tuple[str, ...] | None:
    """``features: [log_days_since_last_purchase, "purchases_*"]``: each name or pattern must match a feature."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(f, str) and f for f in raw):
        raise fail(where, "expected a non-empty list of feature names or patterns")
    for pattern in raw:
        if not pattern.startswith("type_") and not fnmatch.filter(FEATURE_NAMES, pattern):
            raise fail(
                where, f"{pattern!r} matches no feature (features: {', '.join(FEATURE_NAMES)}, type_<event>_30d)"
            )
    return tuple(raw)


def load_objectives(path: str | Path) -> ObjectiveSet:
    """Load an objectives YAML file."""
    text = Path(path).read_text(encoding="utf-8")
    return parse_objectives(yaml.safe_load(text), source=str(path))


def parse_objectives(doc: Any, source: str = "<objectives>") -> ObjectiveSet:
    """Build an :class:`ObjectiveSet`; raise :class:`PatternError` naming the bad field.

    Examples
    --------
    >>> s = parse_objectives({"objectives": [{"name": "churn", "owner": "cs", "outcome": {"type": "purchase"},
    ...                                       "outcome_means": "negative", "horizon": "60d"}]})
    >>> s.objectives[0].horizon_ms // 86_400_000, s.tier_for(0.93), s.tier_for(0.93, lowered=1), s.tier_for(0.2)
    (60, 'human_intervention', 'automated_workflow', None)
    """

    def fail(where: str, message: str) -> PatternError:
        return PatternError(message, source=source, field=where)

    if not isinstance(doc, dict):
        raise fail("(file)", "expected a mapping with 'objectives'")
    tiers_raw = doc.get("tiers") or [
        {"name": "human_intervention", "min": 0.90},
        {"name": "automated_workflow", "min": 0.70},
        {"name": "monitor_only", "min": 0.50},
    ]
    tiers = tuple(Tier(str(t["name"]), float(t["min"])) for t in tiers_raw)
    if [t.min for t in tiers] != sorted((t.min for t in tiers), reverse=True):
        raise fail("tiers", "bands must be listed highest first")
    objectives = []
    for i, raw in enumerate(doc.get("objectives") or []):
        where = f"objectives[{i}]"
        try:
            means = raw.get("outcome_means", "positive")
            if means not in ("positive", "negative"):
                raise fail(f"{where}.outcome_means", "positive or negative")
            model = raw.get("model") or {}
            estimator = model.get("estimator", "logistic_regression")
            if estimator not in ESTIMATORS:
                raise fail(f"{where}.model.estimator", f"one of {', '.join(ESTIMATORS)}")
            optimizer = model.get("optimizer", "sgd")
            if optimizer not in OPTIMIZERS:
                raise fail(f"{where}.model.optimizer", f"one of {', '.join(OPTIMIZERS)}")
            objectives.append(
                Objective(
                    name=str(raw["name"]),
                    owner=str(raw["owner"]),
                    outcome=compile_predicate(raw["outcome"]),
                    outcome_means=means,
                    horizon_ms=parse_duration(raw["horizon"]),
                    estimator=estimator,
                    optimizer=optimizer,
                    learning_rate=float(model.get("learning_rate", 0.05)),
                    l2=float(model.get("l2", 0.0)),
                    max_pending=int(raw.get("max_pending", 4)),
                    features=_features(model.get("features"), f"{where}.model.features", fail),
                )
            )
        except KeyError as err:
            raise fail(f"{where}.{err.args[0]}", "required") from None
        except PatternError:
            raise  # already names its field
        except ValueError as err:
            raise fail(where, str(err)) from None
    names = {o.name for o in objectives}
    bindings = {}
    for moment, raw in (doc.get("moments") or {}).items():
        if raw.get("objective") not in names:
            raise fail(f"moments.{moment}.objective", f"one of {sorted(names)}")
        bindings[moment] = Binding(
            moment,
            raw["objective"],
            min_score=raw.get("min_score"),
            rise=raw.get("rise"),
            rise_within_ms=parse_duration(raw.get("within", "7d")),
        )
    return ObjectiveSet(tuple(objectives), tiers, bindings)
