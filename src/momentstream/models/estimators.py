"""The River estimators an objective may use, each behind ``StandardScaler`` in one pipeline.

The scaler comes first for every estimator, not only the linear one: its running means are
the baseline that the reasons of a non-linear score are measured against (see
:mod:`momentstream.models.explain`). Random parts are seeded, so a replay scores the same twice.
The default, a logistic regression learned by plain SGD, is the same arithmetic fused into one
estimator (:class:`~momentstream.models.scaled_logistic.ScaledLogistic`), at about half the cost.

>>> model = build("hoeffding_tree")
>>> [type(step).__name__ for step in model.steps.values()]
['StandardScaler', 'HoeffdingAdaptiveTreeClassifier']
>>> type(build("logistic_regression")).__name__, type(build("logistic_regression", optimizer="adam")).__name__
('ScaledLogistic', 'Pipeline')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from river import forest, linear_model, naive_bayes, optim, preprocessing, tree
from river.compose import Pipeline

from momentstream.models.scaled_logistic import ScaledLogistic
from momentstream.models.scaled_poisson import ScaledPoisson

__all__ = ["ESTIMATORS", "LINEAR", "OPTIMIZERS", "VALUE_ESTIMATOR", "Learner", "build"]

OPTIMIZERS: dict[str, Callable[[float], optim.base.Optimizer]] = {
    "sgd": optim.SGD,
    "adam": optim.Adam,
    "adagrad": optim.AdaGrad,
    "rmsprop": optim.RMSProp,
}
"""River optimizers the logistic regression may use."""
SEED = 42


def _logistic(learning_rate: float, optimizer: str, l2: float) -> Any:
    return linear_model.LogisticRegression(optimizer=OPTIMIZERS[optimizer](learning_rate), l2=l2)


def _hoeffding_tree(learning_rate: float, optimizer: str, l2: float) -> Any:
    return tree.HoeffdingAdaptiveTreeClassifier(grace_period=100, seed=SEED)


def _random_forest(learning_rate: float, optimizer: str, l2: float) -> Any:
    return forest.ARFClassifier(n_models=5, seed=SEED)


def _naive_bayes(learning_rate: float, optimizer: str, l2: float) -> Any:
    return naive_bayes.GaussianNB()  # type: ignore[no-untyped-call]


ESTIMATORS: dict[str, Callable[[float, str, float], Any]] = {
    "logistic_regression": _logistic,
    "hoeffding_tree": _hoeffding_tree,
    "random_forest": _random_forest,
    "naive_bayes": _naive_bayes,
}
"""``model.estimator`` values; ``learning_rate``, ``optimizer`` and ``l2`` apply to the logistic regression."""
VALUE_ESTIMATOR = "poisson_regression"
"""The estimator of a value objective (:class:`~momentstream.models.scaled_poisson.ScaledPoisson`)."""
LINEAR = frozenset({"logistic_regression"})
"""Estimators whose reasons are weight x standardized value; the others are explained by occlusion."""


Learner = Pipeline | ScaledLogistic
"""What :func:`build` gives: a River pipeline, or the fused scaler and logistic (or Poisson) regression."""


def build(
    estimator: str, learning_rate: float = 0.05, optimizer: str = "sgd", l2: float = 0.0, average_ms: int = 0
) -> Learner:
    """A fresh ``StandardScaler | <estimator>`` model (``average_ms``: see :class:`ScaledLogistic`, the fused one)."""
    if estimator == VALUE_ESTIMATOR:  # a value objective's: expected spend
        return ScaledPoisson(lr=learning_rate, l2=l2, average_ms=average_ms)
    if estimator == "logistic_regression" and optimizer == "sgd":
        return ScaledLogistic(lr=learning_rate, l2=l2, average_ms=average_ms)
    pipeline: Pipeline = preprocessing.StandardScaler() | ESTIMATORS[estimator](learning_rate, optimizer, l2)
    return pipeline
