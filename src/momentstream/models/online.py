"""One objective's online model: a River pipeline, its progressive metrics and a drift detector.

The pipeline is ``StandardScaler | <estimator>`` (:mod:`momentstream.models.estimators`; the
default is a logistic regression, fused with its scaler into one estimator). The scaler makes
weights comparable, so for the linear model a feature's contribution to a score is simply
``weight x standardized value``; other estimators are explained by occlusion
(:mod:`momentstream.models.explain`). The top contributions are the reasons a trigger carries.
Every learned label first scores the model (progressive validation: ROC AUC and log loss on
data it has not learned yet) and feeds the absolute error to ADWIN, which flags drift.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from river import drift, metrics

from momentstream.models.binned_auc import BinnedAUC
from momentstream.models.estimators import LINEAR, Learner, build
from momentstream.models.explain import Reason, linear_reasons, occlusion_reasons, points
from momentstream.models.scaled_logistic import ScaledLogistic
from momentstream.models.scaled_poisson import ScaledPoisson

__all__ = ["FEATURE_LIMIT", "ObjectiveModel", "Reason", "bounded"]

RECOVERY_SAMPLES = 200
"""Labels without a new drift alarm before a drifting model counts as recovered."""
CHECKPOINT_EVERY = 256
"""Labels between rollback checkpoints of the pipeline (kept in memory, never in snapshots)."""
FEATURE_LIMIT = 1e12
"""Features are clipped to +-this before a model sees them: squares stay far from overflow, so one
extreme customer can move the shared weights but never make them NaN."""


def bounded(x: dict[str, float]) -> dict[str, float] | None:
    """``x`` with each feature clipped to +-:data:`FEATURE_LIMIT`; None if any is NaN or infinite.

    Examples
    --------
    >>> bounded({"a": 1e300, "b": -2.0}), bounded({"a": float("nan")})
    ({'a': 1000000000000.0, 'b': -2.0}, None)
    """
    values = x.values()
    try:
        if (
            values
            and math.isfinite(math.fsum(values))
            and -FEATURE_LIMIT <= min(values) <= max(values) <= FEATURE_LIMIT
        ):
            return x  # the common case, checked in C
    except (OverflowError, ValueError):
        pass
    clipped = x
    for name, value in x.items():
        if not -FEATURE_LIMIT <= value <= FEATURE_LIMIT:
            if not math.isfinite(value):
                return None
            if clipped is x:
                clipped = dict(x)
            clipped[name] = math.copysign(FEATURE_LIMIT, value)
    return clipped


class ObjectiveModel:
    """Scores, learns, explains and watches itself for drift.

    Examples
    --------
    >>> from momentstream.models.objectives import parse_objectives
    >>> objective = parse_objectives({"objectives": [{"name": "churn", "owner": "cs", "horizon": "30d",
    ...                               "outcome": {"type": "purchase"}, "outcome_means": "negative"}]}).objectives[0]
    >>> model = ObjectiveModel(objective.name, objective.learning_rate)
    >>> for _ in range(200):
    ...     model.learn({"days_since_last_purchase": 50.0, "events_30d": 0.5}, 1)
    ...     model.learn({"days_since_last_purchase": 3.0, "events_30d": 9.0}, 0)
    >>> model.score({"days_since_last_purchase": 60.0, "events_30d": 0.2}) > 0.9
    True
    >>> model.reasons({"days_since_last_purchase": 60.0, "events_30d": 0.2}, top=1)[0].feature
    'days_since_last_purchase'
    """

    def __init__(
        self,
        name: str,
        learning_rate: float = 0.05,
        optimizer: str = "sgd",
        l2: float = 0.0,
        estimator: str = "logistic_regression",
        average_ms: int = 0,
    ) -> None:
        self.name = name
        self.estimator = estimator
        self.pipeline: Learner = build(estimator, learning_rate, optimizer, l2, average_ms)
        self.auc: BinnedAUC | metrics.ROCAUC = BinnedAUC()
        """Progressive ROC AUC (of a value model: how its amounts rank the labels that spent anything)."""
        self.log_loss: metrics.LogLoss | metrics.MAE = metrics.MAE() if self.predicts_value else metrics.LogLoss()
        """Progressive log loss (of a value model: mean absolute error, in currency)."""
        self.detector = drift.ADWIN()
        self.learned = 0
        self.drifts = 0
        self.recovering = 0
        self.skipped = 0
        """Feature vectors (to learn or score) that held NaN or infinity, and scores that were not finite."""
        self.reverted = 0
        """Labels after which the model scored NaN and went back to its last good checkpoint."""
        self._checkpoint: Learner | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Snapshots carry the model, not its rollback checkpoint."""
        return {k: v for k, v in self.__dict__.items() if k != "_checkpoint"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"skipped": 0, "reverted": 0, **state, "_checkpoint": None})
        steps = getattr(self.pipeline, "steps", None)
        if steps is not None and [type(s).__name__ for s in steps.values()] == ["StandardScaler", "LogisticRegression"]:
            scaler, logistic = steps.values()
            if type(logistic.optimizer).__name__ == "SGD":  # a snapshot from before the fused estimator
                self.pipeline = ScaledLogistic.from_river(scaler, logistic)

    @property
    def predicts_value(self) -> bool:
        """True for a value objective's model: scores are expected amounts, not probabilities."""
        return isinstance(self.pipeline, ScaledPoisson)

    @property
    def version(self) -> str:
        """Objective name and how many labels the model has learned (part of each score)."""
        return f"{self.name}@{self.learned}"

    @property
    def drifting(self) -> bool:
        """True from a drift alarm until :data:`RECOVERY_SAMPLES` labels pass without one."""
        return self.recovering > 0

    def quality(self) -> tuple[float, float]:
        """Progressive ROC AUC and log loss (of a value model: mean absolute error) so far (NaN before the first
        label)."""
        if not self.learned:
            return float("nan"), float("nan")
        return float(self.auc.get()), float(self.log_loss.get())

    def calibration_error(self) -> float:
        """Progressive expected calibration error (0: a score of 0.8 comes true 80% of the time); NaN before
        the first label, and for models restored from snapshots that counted AUC with River's metric."""
        auc = self.auc
        if self.predicts_value:  # an amount is not a probability: no calibration to speak of
            return math.nan
        return auc.calibration_error() if isinstance(auc, BinnedAUC) else math.nan

    def score(self, x: dict[str, float]) -> float:
        """Probability that the objective happens within its horizon, or a value model's expected amount (NaN,
        counted, if it cannot be had)."""
        clean = bounded(x)
        if clean is None:
            self.skipped += 1
            return math.nan
        return self._score(clean)

    def _score(self, clean: dict[str, float]) -> float:
        pipeline = self.pipeline
        if isinstance(pipeline, ScaledPoisson):
            amount = pipeline.predict_one(clean)
            if not 0.0 <= amount < math.inf:
                self.skipped += 1
                return math.nan
            return amount
        p = float(pipeline.predict_proba_one(clean).get(True, 0.0))
        if not 0.0 <= p <= 1.0:
            self.skipped += 1
            return math.nan
        return p

    def learn(self, x: dict[str, float], label: float, at_ms: int = 0) -> None:
        """Learn one delayed label, known at ``at_ms`` in event time (after scoring it for the progressive metrics):
        0 or 1, or a value model's amount.

        A vector with NaN or infinity is skipped and counted, never learned: the model is shared
        by every customer, and one such label would make every later score NaN.
        """
        clean = bounded(x)
        if clean is None:
            self.skipped += 1
            return
        x = clean
        if self.predicts_value:  # refunds can make a sum negative; no one order may outweigh the model
            label = min(max(float(label), 0.0), FEATURE_LIMIT) if math.isfinite(label) else 0.0
        if self._checkpoint is None or self.learned % CHECKPOINT_EVERY == 0:
            self._checkpoint = copy.deepcopy(self.pipeline)
        pipeline = self.pipeline
        if isinstance(pipeline, ScaledLogistic):
            p = pipeline.score_and_learn(x, label, at_ms)  # the score before learning, in the same pass
        else:
            p = self._score(x)
            if math.isnan(p):
                return
            pipeline.learn_one(x, bool(label))
        if not self._still_finite(x):
            # Unreachable with bounded features, and kept so: a shared model must never go NaN.
            self.pipeline = copy.deepcopy(self._checkpoint)
            self.reverted += 1
            return
        self.learned += 1
        error = abs(label - p)
        if isinstance(pipeline, ScaledPoisson):
            unit = pipeline.target_mean or 1.0
            self.auc.update(label > 0, p / (p + unit))  # a rank of amounts, in (0, 1) for the bins
            self.log_loss.update(label, p)
            error = min(error / unit, 10.0)  # drift of the error in mean labels, one big order bounded
        else:
            self.auc.update(bool(label), p)
            self.log_loss.update(bool(label), p)
        self.detector.update(error)
        if self.detector.drift_detected:
            self.drifts += 1
            self.recovering = RECOVERY_SAMPLES
        elif self.recovering:
            self.recovering -= 1

    def contributions(self, x: dict[str, float]) -> list[Reason]:
        """Every feature's push on this score in log-odds, largest first (zero and non-finite ones left out)."""
        clean = bounded(x)
        if clean is None:
            return []
        if self.estimator in LINEAR or isinstance(self.pipeline, ScaledLogistic):
            contributions = linear_reasons(self.pipeline, clean)
        else:
            contributions = occlusion_reasons(self.pipeline, clean)
        contributions = [r for r in contributions if math.isfinite(r.contribution) and r.contribution != 0.0]
        contributions.sort(key=lambda r: abs(r.contribution), reverse=True)
        return contributions

    def reasons(self, x: dict[str, float], top: int = 3, contributions: list[Reason] | None = None) -> list[Reason]:
        """The features that moved this score most, largest first (non-finite ones are left out), each in
        log-odds and in probability points (``contributions``: those :meth:`contributions` gave for ``x``, when
        the caller has them already; occlusion costs three scores per feature)."""
        clean = bounded(x)
        if clean is None:
            return []
        if contributions is None:
            contributions = self.contributions(clean)
        p = self._score(clean)
        if math.isnan(p):
            return contributions[:top]
        return [Reason(r.feature, r.contribution, points(p, r.contribution)) for r in contributions[:top]]

    def _still_finite(self, x: dict[str, float]) -> bool:
        """After learning ``x``: for a linear model only what ``x`` touched can have gone non-finite (the
        scaler's statistics and weights of its features, the intercept); other estimators are probed."""
        pipeline = self.pipeline
        if isinstance(pipeline, ScaledLogistic):
            stats = pipeline.stats
            return math.isfinite(pipeline.intercept + sum(map(sum, map(stats.__getitem__, x))))
        if self.estimator not in LINEAR:
            return 0.0 <= float(pipeline.predict_proba_one(x).get(True, 0.0)) <= 1.0
        scaler, model = pipeline.steps.values()
        # A sum is finite only if every term is (inf and NaN propagate): one C-level pass per statistic.
        total = model.intercept + sum(map(model._weights.__getitem__, x))
        return math.isfinite(total + sum(map(scaler.means.__getitem__, x)) + sum(map(scaler.vars.__getitem__, x)))

    def is_finite(self) -> bool:
        """True when the scaler's statistics, the linear weights and two probe scores are all finite.

        A snapshot is published or loaded only when this holds, so a poisoned model cannot spread
        to a restarted worker.
        """
        pipeline = self.pipeline
        if isinstance(pipeline, ScaledLogistic):
            if not all(map(math.isfinite, (pipeline.intercept, *(v for s in pipeline.stats.values() for v in s)))):
                return False
            probes = [{}, pipeline.means]
            if isinstance(pipeline, ScaledPoisson):
                return math.isfinite(pipeline.target_mean) and all(
                    0.0 <= pipeline.predict_one(x) < math.inf for x in probes
                )
        else:
            for step in pipeline.steps.values():
                for name in ("means", "vars", "_weights", "intercept"):
                    if not _all_finite(getattr(step, name, None)):
                        return False
            scaler = next(iter(pipeline.steps.values()))
            probes = [{}, dict(getattr(scaler, "means", {}))]
        return all(0.0 <= float(self.pipeline.predict_proba_one(x).get(True, 0.0)) <= 1.0 for x in probes)


def _all_finite(values: Any) -> bool:
    if values is None:
        return True
    if isinstance(values, int | float):
        return math.isfinite(values)
    items = values.to_dict() if hasattr(values, "to_dict") else dict(values)
    return all(math.isfinite(v) for v in items.values())
