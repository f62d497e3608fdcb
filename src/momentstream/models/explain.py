"""Why a score is what it is: each feature's signed push, in log-odds.

For a linear model the push is exact: weight x standardized value. Any other model is
explained by occlusion: the log-odds of the score minus their average when the feature is
replaced, one feature at a time, by typical values (the scaler's running mean, and one
standard deviation either side; a tree's split can fall on the same side as the mean alone).
Both say "this feature moved the score up (or down) by so much compared with an average
customer", so a CRM reads them the same way. Log-odds add up but are hard to read, so each
reason also says it in probability points (:func:`points`): the score minus the score this
customer would have with the feature at its typical value, times 100; bounded by ±100 whatever
the model does.

>>> from momentstream.models.estimators import build
>>> model = build("naive_bayes")
>>> for i in range(300):
...     model.learn_one({"silence": 40.0 + i % 7, "noise": i % 3}, True)
...     model.learn_one({"silence": 1.0 + i % 5, "noise": i % 3}, False)
>>> occlusion_reasons(model, {"silence": 45.0, "noise": 1.0})[0].feature
'silence'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from river.compose import Pipeline

from momentstream.models.scaled_logistic import ScaledLogistic

__all__ = ["Reason", "linear_reasons", "log_odds", "occlusion_reasons", "points"]

_EDGE = 1e-6


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature's signed contribution to a score: in log-odds, and in probability points."""

    feature: str
    contribution: float
    points: float = 0.0


def points(p: float, contribution: float) -> float:
    """Probability points (-100 to 100) a push of ``contribution`` log-odds gave a score of ``p``.

    >>> points(0.5, 0.0), round(points(0.9, 2.1972), 1), round(points(0.99, 21_866.0), 1)
    (0.0, 40.0, 99.0)
    """
    without = log_odds(p) - contribution
    base = 1.0 / (1.0 + math.exp(-without)) if without > -700 else 0.0
    return 100.0 * (p - base)


def log_odds(p: float) -> float:
    """logit(p), clipped so certain scores stay finite."""
    p = min(max(p, _EDGE), 1 - _EDGE)
    return math.log(p / (1 - p))


def linear_reasons(pipeline: Pipeline | ScaledLogistic, x: dict[str, float]) -> list[Reason]:
    """weight x standardized value per feature (``StandardScaler | LogisticRegression``, or fused)."""
    if isinstance(pipeline, ScaledLogistic):
        fused = pipeline.weights
        return [Reason(k, float(fused.get(k, 0.0) * v)) for k, v in pipeline.standardized(x).items()]
    scaler = pipeline["StandardScaler"]
    weights = pipeline["LogisticRegression"].weights
    scaled = scaler.transform_one(x)
    return [Reason(k, float(weights.get(k, 0.0) * v)) for k, v in scaled.items()]


def occlusion_reasons(pipeline: Pipeline, x: dict[str, float]) -> list[Reason]:
    """Log-odds lost when each feature takes typical values instead of its own, largest first."""
    scaler = pipeline["StandardScaler"]

    def score(features: dict[str, float]) -> float:
        return log_odds(float(pipeline.predict_proba_one(features).get(True, 0.0)))

    base = score(x)
    reasons = []
    for name in x:
        mean = float(scaler.means.get(name, 0.0))
        spread = math.sqrt(max(float(scaler.vars.get(name, 0.0)), 0.0))
        typical = [score({**x, name: mean + k * spread}) for k in (-1.0, 0.0, 1.0)]
        reasons.append(Reason(name, base - sum(typical) / len(typical)))
    reasons.sort(key=lambda r: abs(r.contribution), reverse=True)
    return reasons
