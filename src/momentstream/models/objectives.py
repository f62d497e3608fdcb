"""Objectives, tiers and moment bindings, loaded from YAML into immutable values.

A bad file fails when it is loaded, naming the file and the field, like a bad moments file.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from momentstream.core.clock import parse_duration
from momentstream.data import bundled_objectives_path
from momentstream.models.estimators import ESTIMATORS as _ESTIMATORS
from momentstream.models.estimators import OPTIMIZERS as _OPTIMIZERS
from momentstream.models.estimators import VALUE_ESTIMATOR
from momentstream.models.features import FEATURE_NAMES
from momentstream.patterns.errors import PatternError
from momentstream.patterns.predicates import Predicate, compile_predicate

if TYPE_CHECKING:
    from momentstream.patterns.nfa import CompiledMoment

__all__ = [
    "DEFAULT_AVERAGE_MS",
    "WARMING_UP",
    "Binding",
    "Objective",
    "ObjectiveSet",
    "ObjectivesError",
    "Tier",
    "WarmUp",
    "bound_only",
    "load_objectives",
    "objectives_for",
    "parse_objectives",
]

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
    average_ms: int = 0
    """Scores use the weights averaged over the labels of about this long (0: the latest weights); see
    :class:`~momentstream.models.scaled_logistic.ScaledLogistic`. Files get :data:`DEFAULT_AVERAGE_MS`."""
    max_pending: int = 4
    """Predictions kept per horizon: one at each slice (horizon / this) while the customer is tracked."""
    features: tuple[str, ...] | None = None
    """Names or shell-style patterns of the features the model uses (None: the default features)."""
    outcome_after_ms: int = 0
    """Outcome events count only from this long after the prediction: with 30 days, churn asks "no
    activity between 30 and 60 days from now", i.e. "will have left within 30 days", where "no activity
    in the next 30 days" would only say yes to customers who had already gone."""
    kind: Literal["probability", "value"] = "probability"
    """``value``: the model predicts the sum of the outcome events' ``value`` within the horizon (expected
    spend, in the events' currency), not the probability of an outcome."""

    @property
    def sample_every_ms(self) -> int:
        """How often a tracked customer's features are sampled as a training example."""
        return max(self.horizon_ms // self.max_pending, 1)

    @property
    def label_delay_ms(self) -> int:
        """How long after a prediction its label is known at the latest."""
        return self.outcome_after_ms + self.horizon_ms

    @property
    def pending_cap(self) -> int:
        """Predictions waiting for a label at once: one per slice, until their label is known."""
        return -(-self.label_delay_ms // self.sample_every_ms)

    def learning_key(self) -> tuple[object, ...]:
        """What the model learns from and how: an objective keeps its learned model across a reload while this
        stays the same (owners, tiers and moment bindings may change freely)."""
        outcome = (self.outcome.description, sorted(self.outcome.types or ()))
        return (outcome, self.outcome_means, self.horizon_ms, self.outcome_after_ms, self.estimator, self.optimizer,
                self.learning_rate, self.l2, self.features, self.max_pending, self.average_ms, self.kind)  # fmt: skip

    def label_for_outcome(self) -> int:
        """The label when the outcome event is seen within the horizon."""
        return 1 if self.outcome_means == "positive" else 0

    def label_for_silence(self) -> int:
        """The label when the horizon passes with no outcome (a value objective's: nothing spent)."""
        return 0 if self.kind == "value" else 1 - self.label_for_outcome()


@dataclass(frozen=True, slots=True)
class Binding:
    """A moment's link to an objective, with an optional condition on the score."""

    moment: str
    objective: str
    min_score: float | None = None
    rise: float | None = None
    rise_within_ms: int = 7 * 86_400_000
    min_anomaly: float | None = None
    """Fire only when the customer's behaviour is this unusual for them (see :func:`anomaly_of`)."""
    min_value: float | None = None
    """Fire only when the value objective expects at least this much spend from the customer."""


WARMING_UP = "warming_up"
"""The tier of a trigger whose model has not yet earned a band (see :class:`WarmUp`); no band may use it."""


@dataclass(frozen=True, slots=True)
class WarmUp:
    """What a model must show before its scores get a response-authority tier.

    A model with few labels, or one that ranks no better than chance, still scores (the number is
    in the trigger) but its triggers carry the tier :data:`WARMING_UP`, so no workflow acts on them
    automatically. Its score conditions (``min_score``, ``rise``) are not applied until then: a score
    that has not earned a tier cannot suppress a moment either (``min_anomaly`` needs no model and
    always applies).
    """

    min_labels: int = 500
    min_auc: float = 0.6
    """Progressive ROC AUC (scored before learning each label); 0 turns the check off."""

    def warm(self, learned: int, auc: float) -> bool:
        """True once the model has learned enough labels and ranks well enough (NaN AUC: not yet)."""
        return learned >= self.min_labels and (self.min_auc <= 0 or auc >= self.min_auc)


@dataclass(frozen=True, slots=True)
class ObjectiveSet:
    """Everything the scorer is configured with."""

    objectives: tuple[Objective, ...]
    tiers: tuple[Tier, ...]
    bindings: Mapping[str, Binding] = field(default_factory=dict)
    warm_up: WarmUp = field(default_factory=WarmUp)

    @property
    def value_objective(self) -> Objective | None:
        """The objective whose expected spend every trigger carries (at most one per file)."""
        return next((o for o in self.objectives if o.kind == "value"), None)

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


def _average(model: dict[str, Any], estimator: str, optimizer: str, where: str,
             fail: Callable[[str, str], PatternError]) -> int:  # fmt: skip
    """``model.average: 30d`` (0 serves the latest weights): the default logistic regression only."""
    fused = estimator in ("logistic_regression", VALUE_ESTIMATOR) and optimizer == "sgd"
    if "average" not in model:
        return DEFAULT_AVERAGE_MS if fused else 0
    raw = model["average"]
    if raw in (0, "0") and not isinstance(raw, bool):
        return 0
    try:
        if not isinstance(raw, str):  # a bare number would be read as seconds, where a count of labels was meant
            raise ValueError(f"not a duration: {raw!r}")
        ms = parse_duration(raw)
    except (ValueError, TypeError) as err:
        raise fail(where, f"{err} (a duration such as 30d, or 0 for the latest weights)") from None
    if not 0 <= ms <= _LONGEST_AVERAGE_MS:
        raise fail(where, "from 0 to 3650d")
    if ms and not fused:
        raise fail(where, "weights are averaged for the logistic and Poisson regressions with optimizer sgd only")
    return ms


class ObjectivesError(PatternError):
    """An objectives file is invalid; names the file, the objective (or moment binding) and the field."""

    subject = "objective"


_TOP_KEYS = {"version", "objectives", "tiers", "moments", "warm_up"}
_WARM_UP_KEYS = {"min_labels", "min_auc"}
_OBJECTIVE_KEYS = {
    "name",
    "owner",
    "kind",
    "outcome",
    "outcome_means",
    "outcome_after",
    "horizon",
    "model",
    "max_pending",
}
_LONGEST_OUTCOME_AFTER_MS = 365 * 86_400_000
_MODEL_KEYS = {"estimator", "optimizer", "learning_rate", "l2", "features", "average"}
DEFAULT_AVERAGE_MS = 7 * 86_400_000
"""How long a span of labels the default model's served weights are averaged over (``model.average``)."""
_LONGEST_AVERAGE_MS = 3650 * 86_400_000
_BINDING_KEYS = {"objective", "min_score", "rise", "within", "min_anomaly", "min_value"}
VALUE_LEARNING_RATE = 0.003
"""A value objective's default learning rate: at 0.01, with a looser clip, a few CDNOW customers were predicted
millions (``benchmarks/value_quality.py``); at 0.003 the amounts stayed steady."""
_TIER_KEYS = {"name", "min"}


def load_objectives(path: str | Path) -> ObjectiveSet:
    """Load an objectives YAML file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ObjectivesError(f"cannot read objectives file: {err}", source=str(path)) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ObjectivesError(f"not valid YAML: {err}", source=str(path)) from None
    return parse_objectives(doc, source=str(path))


def parse_objectives(doc: Any, source: str = "<objectives>") -> ObjectiveSet:
    """Build an :class:`ObjectiveSet`; raise :class:`ObjectivesError` naming the file, objective and field.

    Every key is checked (a typo such as ``min_scor`` is refused, not ignored) and every value
    is checked for its type and range, so a bad file fails when loaded, never at the first trigger.

    Examples
    --------
    >>> s = parse_objectives({"objectives": [{"name": "churn", "owner": "cs", "outcome": {"type": "purchase"},
    ...                                       "outcome_means": "negative", "horizon": "60d"}]})
    >>> s.objectives[0].horizon_ms // 86_400_000, s.tier_for(0.93), s.tier_for(0.93, lowered=1), s.tier_for(0.2)
    (60, 'human_intervention', 'automated_workflow', None)
    >>> parse_objectives({"objectives": [], "moments": {"churn_risk": {"objective": "churn", "min_scor": 0.5}}})
    Traceback (most recent call last):
    ...
    momentstream.models.objectives.ObjectivesError: <objectives>: objective 'churn_risk': ... ['min_scor'] ...
    """

    def fail(where: str, message: str, name: str = "") -> ObjectivesError:
        return ObjectivesError(message, source=source, moment=name, field=where)

    if not isinstance(doc, dict):
        raise fail("(file)", "expected a mapping with 'objectives'")
    if isinstance(doc.get("moments"), list):
        raise fail("moments", "this looks like a moments file (a list of moments): pass it with -c/--moments, and "
                   "an objectives file with --objectives")  # fmt: skip
    _keys(doc, _TOP_KEYS, "(file)", fail)
    if doc.get("version", 1) != 1:
        raise fail("version", f"this momentstream reads objectives files of version 1, not {doc['version']!r}")
    tiers = _tiers(doc.get("tiers"), fail)
    raw_objectives = doc.get("objectives")
    if not isinstance(raw_objectives, list):
        raise fail("objectives", "expected a list of objectives")
    objectives = [_objective(raw, f"objectives[{i}]", fail) for i, raw in enumerate(raw_objectives)]
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise fail("objectives", f"objective names must be unique, got {names}")
    raw_bindings = doc.get("moments") or {}
    if not isinstance(raw_bindings, dict):
        raise fail("moments", "expected a mapping of moment name to {objective, min_score, rise, within}")
    values = [o.name for o in objectives if o.kind == "value"]
    if len(values) > 1:
        raise fail("objectives", f"one value objective per file (every trigger carries its spend), got {values}")
    bindings = {str(m): _binding(str(m), raw, set(names), fail) for m, raw in raw_bindings.items()}
    for moment, binding in bindings.items():
        if binding.objective in values:
            raise fail(f"moments.{moment}.objective", f"{binding.objective!r} predicts spend, not a probability: bind "
                       "the moment to a probability objective (every trigger carries the expected spend) and use "
                       "min_value", moment)  # fmt: skip
        if binding.min_value is not None and not values:
            raise fail(f"moments.{moment}.min_value", "needs an objective with kind: value", moment)
    return ObjectiveSet(tuple(objectives), tiers, bindings, _warm_up(doc.get("warm_up"), fail))


def _warm_up(raw: Any, fail: Callable[..., ObjectivesError]) -> WarmUp:
    """``warm_up: {min_labels: 500, min_auc: 0.6}`` (both optional)."""
    if raw is None:
        return WarmUp()
    _keys(raw, _WARM_UP_KEYS, "warm_up", fail)
    default = WarmUp()
    labels = raw.get("min_labels", default.min_labels)
    if isinstance(labels, bool) or not isinstance(labels, int) or not 0 <= labels <= 1_000_000_000:
        raise fail("warm_up.min_labels", f"expected a whole number from 0 to 1000000000, not {labels!r}")
    auc = _number(raw.get("min_auc", default.min_auc), "warm_up.min_auc", fail, "", 0.0, 1.0)
    return WarmUp(labels, auc)


def _keys(raw: Any, allowed: set[str], where: str, fail: Callable[..., ObjectivesError], name: str = "") -> None:
    if not isinstance(raw, dict):
        raise fail(where, "expected a mapping", name)
    unknown = set(raw) - allowed
    if unknown:
        raise fail(where, f"unknown key(s) {sorted(map(str, unknown))} (expected some of {sorted(allowed)})", name)


def _number(raw: Any, where: str, fail: Callable[..., ObjectivesError], name: str, low: float, high: float) -> float:
    """A finite number in [low, high]; YAML's ``high`` or ``.nan`` are refused with the field."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
        raise fail(where, f"expected a number from {low:g} to {high:g}, not {raw!r}", name)
    return float(raw)


def _duration_of(raw: Any, where: str, fail: Callable[..., ObjectivesError], name: str) -> int:
    try:
        ms = parse_duration(raw)
    except (ValueError, TypeError) as err:
        raise fail(where, str(err), name) from None
    if ms <= 0:
        raise fail(where, "must be longer than 0s", name)
    return ms


def _tiers(raw: Any, fail: Callable[..., ObjectivesError]) -> tuple[Tier, ...]:
    if raw is None:
        return (Tier("human_intervention", 0.90), Tier("automated_workflow", 0.70), Tier("monitor_only", 0.50))
    if not isinstance(raw, list) or not raw:
        raise fail("tiers", "expected a list of {name, min}")
    tiers = []
    for i, t in enumerate(raw):
        _keys(t, _TIER_KEYS, f"tiers[{i}]", fail)
        if not isinstance(t.get("name"), str) or not t["name"]:
            raise fail(f"tiers[{i}].name", "required: a name")
        if t["name"] == WARMING_UP:
            raise fail(f"tiers[{i}].name", f"{WARMING_UP!r} is reserved for models that are still warming up")
        tiers.append(Tier(t["name"], _number(t.get("min"), f"tiers[{i}].min", fail, "", 0.0, 1.0)))
    if [t.min for t in tiers] != sorted((t.min for t in tiers), reverse=True):
        raise fail("tiers", "bands must be listed highest first")
    return tuple(tiers)


def _objective(raw: Any, where: str, fail: Callable[..., ObjectivesError]) -> Objective:
    name = str(raw.get("name", "")) if isinstance(raw, dict) else ""
    _keys(raw, _OBJECTIVE_KEYS, where, fail, name)
    for key in ("name", "owner", "outcome", "horizon"):
        if raw.get(key) in (None, ""):
            raise fail(f"{where}.{key}", "required", name)
    if not isinstance(raw["name"], str) or not isinstance(raw["owner"], str):
        raise fail(where, "name and owner must be text", name)
    kind = raw.get("kind", "probability")
    if kind not in ("probability", "value"):
        raise fail(f"{where}.kind", "probability (the default) or value (expected spend)", name)
    if kind == "value" and "outcome_means" in raw:
        raise fail(f"{where}.outcome_means", "a value objective sums its outcome events' value: leave it out", name)
    means = raw.get("outcome_means", "positive")
    if means not in ("positive", "negative"):
        raise fail(f"{where}.outcome_means", "positive or negative", name)
    model = raw.get("model") or {}
    _keys(model, _MODEL_KEYS, f"{where}.model", fail, name)
    estimator, optimizer, learning_rate = _estimator(model, kind, f"{where}.model", lambda w, m: fail(w, m, name))
    pending = raw.get("max_pending", 4)
    if isinstance(pending, bool) or not isinstance(pending, int) or not 1 <= pending <= 64:
        raise fail(f"{where}.max_pending", "expected a whole number from 1 to 64", name)
    try:
        outcome = compile_predicate(raw["outcome"])
    except PatternError as err:
        raise fail(f"{where}.outcome" + (f".{err.field}" if err.field else ""), err.message, name) from None
    features = _features(model.get("features"), f"{where}.model.features", lambda w, m: fail(w, m, name))
    average_ms = _average(model, estimator, optimizer, f"{where}.model.average", lambda w, m: fail(w, m, name))
    after = raw.get("outcome_after")
    after = 0 if after is None else _duration_of(after, f"{where}.outcome_after", fail, name)
    if after > _LONGEST_OUTCOME_AFTER_MS:
        raise fail(f"{where}.outcome_after", "at most 365d (a label would take longer than that to learn)", name)
    return Objective(
        name=raw["name"],
        owner=raw["owner"],
        outcome=outcome,
        outcome_means=means,
        horizon_ms=_duration_of(raw["horizon"], f"{where}.horizon", fail, name),
        estimator=estimator,
        optimizer=optimizer,
        learning_rate=_number(learning_rate, f"{where}.model.learning_rate", fail, name, 1e-9, 10.0),
        l2=_number(model.get("l2", 0.0), f"{where}.model.l2", fail, name, 0.0, 10.0),
        average_ms=average_ms,
        max_pending=pending,
        features=features,
        outcome_after_ms=after,
        kind=kind,
    )


def _estimator(model: dict[str, Any], kind: str, where: str,
               fail: Callable[[str, str], PatternError]) -> tuple[str, str, Any]:  # fmt: skip
    """The estimator, optimizer and learning rate: a classifier for a probability, Poisson regression for a value."""
    default = VALUE_ESTIMATOR if kind == "value" else "logistic_regression"
    estimator = model.get("estimator", default)
    allowed = (VALUE_ESTIMATOR,) if kind == "value" else ESTIMATORS
    if estimator not in allowed:
        raise fail(f"{where}.estimator", f"one of {', '.join(allowed)} (for kind: {kind})")
    optimizer = model.get("optimizer", "sgd")
    if optimizer not in OPTIMIZERS or (kind == "value" and optimizer != "sgd"):
        raise fail(f"{where}.optimizer", "sgd" if kind == "value" else f"one of {', '.join(OPTIMIZERS)}")
    return estimator, optimizer, model.get("learning_rate", VALUE_LEARNING_RATE if kind == "value" else 0.05)


def _binding(moment: str, raw: Any, names: set[str], fail: Callable[..., ObjectivesError]) -> Binding:
    where = f"moments.{moment}"
    _keys(raw, _BINDING_KEYS, where, fail, moment)
    if raw.get("objective") not in names:
        raise fail(f"{where}.objective", f"one of {sorted(names)}", moment)
    min_score = raw.get("min_score")
    rise = raw.get("rise")
    anomaly = raw.get("min_anomaly")
    value = raw.get("min_value")
    if "within" in raw and rise is None:
        raise fail(f"{where}.within", "within goes with rise (the score rose by more than rise within it)", moment)
    return Binding(
        moment,
        raw["objective"],
        min_score=None if min_score is None else _number(min_score, f"{where}.min_score", fail, moment, 0.0, 1.0),
        rise=None if rise is None else _number(rise, f"{where}.rise", fail, moment, 0.0, 1.0),
        rise_within_ms=_duration_of(raw.get("within", "7d"), f"{where}.within", fail, moment),
        min_anomaly=None if anomaly is None else _number(anomaly, f"{where}.min_anomaly", fail, moment, 0.0, 10.0),
        min_value=None if value is None else _number(value, f"{where}.min_value", fail, moment, 0.0, 1e15),
    )


def objectives_for(moments: Iterable[CompiledMoment], objectives: Path | None) -> ObjectiveSet:
    """The objectives file, or the bundled one. The bundled file binds the bundled moments to its objectives:
    with your own moments and no objectives file, only its bindings to moments you have are kept (your own
    objectives file is held to every binding it makes)."""
    loaded = load_objectives(objectives or bundled_objectives_path())
    if objectives is not None:
        return loaded
    names = {m.name for m in moments}
    return replace(loaded, bindings={k: v for k, v in loaded.bindings.items() if k in names})


def bound_only(objectives: ObjectiveSet) -> ObjectiveSet | None:
    """Only the objectives some moment's triggers carry, and the value objective whose expected spend they all
    carry (a replay needs no other model); None when no moment is bound.

    >>> s = parse_objectives({"objectives": [{"name": n, "owner": "o", "outcome": {"type": "buy"},
    ...     "outcome_means": "positive", "horizon": "7d"} for n in ("a", "b")], "moments": {"m": {"objective": "b"}}})
    >>> [o.name for o in bound_only(s).objectives], bound_only(replace(s, bindings={}))
    (['b'], None)
    """
    used = {binding.objective for binding in objectives.bindings.values()}
    kept = tuple(o for o in objectives.objectives if o.name in used or (used and o.kind == "value"))
    return replace(objectives, objectives=kept) if kept else None
