"""One objective's online model: a River pipeline, its progressive metrics and a drift detector.

The pipeline is ``StandardScaler | <estimator>`` (:mod:`momentstream.models.estimators`; the
default is a logistic regression). The scaler makes weights comparable, so for the linear
model a feature's contribution to a score is simply ``weight x standardized value``; other
estimators are explained by occlusion (:mod:`momentstream.models.explain`). The top
contributions are the reasons a trigger carries. Every learned label first scores the
model (progressive validation: ROC AUC and log loss on data it has not learned yet) and
feeds the absolute error to ADWIN, which flags drift.
"""

from __future__ import annotations

from river import drift, metrics
from river.compose import Pipeline

from momentstream.models.estimators import LINEAR, build
from momentstream.models.explain import Reason, linear_reasons, occlusion_reasons

__all__ = ["ObjectiveModel", "Reason"]

RECOVERY_SAMPLES = 200
"""Labels without a new drift alarm before a drifting model counts as recovered."""


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
    ) -> None:
        self.name = name
        self.estimator = estimator
        self.pipeline: Pipeline = build(estimator, learning_rate, optimizer, l2)
        self.auc = metrics.ROCAUC()
        self.log_loss = metrics.LogLoss()
        self.detector = drift.ADWIN()
        self.learned = 0
        self.drifts = 0
        self.recovering = 0

    @property
    def version(self) -> str:
        """Objective name and how many labels the model has learned (part of each score)."""
        return f"{self.name}@{self.learned}"

    @property
    def drifting(self) -> bool:
        """True from a drift alarm until :data:`RECOVERY_SAMPLES` labels pass without one."""
        return self.recovering > 0

    def quality(self) -> tuple[float, float]:
        """Progressive ROC AUC and log loss so far (NaN before the first label)."""
        if not self.learned:
            return float("nan"), float("nan")
        return float(self.auc.get()), float(self.log_loss.get())

    def score(self, x: dict[str, float]) -> float:
        """Probability that the objective happens within its horizon."""
        return float(self.pipeline.predict_proba_one(x).get(True, 0.0))

    def learn(self, x: dict[str, float], label: int) -> None:
        """Learn one delayed label (after scoring it for the progressive metrics)."""
        p = self.score(x)
        self.auc.update(bool(label), p)
        self.log_loss.update(bool(label), p)
        self.detector.update(abs(label - p))
        if self.detector.drift_detected:
            self.drifts += 1
            self.recovering = RECOVERY_SAMPLES
        elif self.recovering:
            self.recovering -= 1
        self.pipeline.learn_one(x, bool(label))
        self.learned += 1

    def reasons(self, x: dict[str, float], top: int = 3) -> list[Reason]:
        """The features that moved this score most, largest first."""
        if self.estimator in LINEAR:
            contributions = linear_reasons(self.pipeline, x)
        else:
            contributions = occlusion_reasons(self.pipeline, x)
        contributions.sort(key=lambda r: abs(r.contribution), reverse=True)
        return [r for r in contributions[:top] if r.contribution != 0.0]
