"""Expected spend: a standardized linear model with a log link, learned online from money labels.

The arithmetic of :class:`~momentstream.models.scaled_logistic.ScaledLogistic` (running scaler,
clipped standardized values, SGD, weights averaged over a time window) with the Poisson loss in
place of the log loss: the score is ``exp(w . z)``, the loss's gradient ``exp(w . z) - y``, as
River's ``LinearRegression(loss=optim.losses.Poisson())`` has them. Minimizing it estimates the
*mean* spend, zeros included, and a log link keeps every prediction positive and lets features
multiply (a customer who buys twice as often, at twice the basket, is worth four times as much).

Two changes make it learn money, where River's regression on the same CDNOW labels overflowed
within the first thousand labels:

* labels are learned in units of their running mean (a label of 500 currency units, when the mean
  is 14, is 36 of them), so the learning rate means the same in any currency;
* the loss's gradient is clipped to +-:data:`RESIDUAL_CLIP` such units, and a label counts towards the
  unit as at most :data:`UNIT_CLIP` of them: one order far above the rest moves the model by a bounded
  step instead of throwing its scores to ``exp(700)``.

Examples
--------
>>> model = ScaledPoisson(lr=0.02)
>>> for i in range(3000):
...     model.learn_one({"orders": 1.0 + i % 2}, 10.0 * (1 + i % 2))
>>> round(model.predict_one({"orders": 1.0})), round(model.predict_one({"orders": 2.0}))
(10, 20)
"""

from __future__ import annotations

import math
from typing import Any

from momentstream.models.scaled_logistic import ScaledLogistic

__all__ = ["RESIDUAL_CLIP", "UNIT_CLIP", "ScaledPoisson"]

RESIDUAL_CLIP = 5.0
"""The loss's gradient is clipped to +-this many mean labels (on CDNOW 3 under-predicted the total spend by
half, 10 made predictions of millions at learning rates from 0.01)."""
UNIT_CLIP = 50.0
"""A label counts towards the unit (the running mean) as at most this many means: one order of 10^15
would otherwise make every later prediction ten billion times larger."""
_LARGEST_LOG = 50.0
"""Log scores are capped here (about 5e21 mean labels) so exp never overflows."""


class ScaledPoisson(ScaledLogistic):
    """Online standardized Poisson regression of a non-negative amount (spend over a horizon)."""

    def _reset(self) -> None:
        super()._reset()
        self.target_count = 0
        """Labels seen, and their running mean: the unit labels are learned in."""
        self.target_mean = 0.0

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__({"target_count": 0, "target_mean": 0.0, **state})

    def __deepcopy__(self, memo: dict[int, Any]) -> ScaledPoisson:
        twin = super().__deepcopy__(memo)
        assert isinstance(twin, ScaledPoisson)
        twin.target_count, twin.target_mean = self.target_count, self.target_mean
        return twin

    def predict_one(self, x: dict[str, float]) -> float:
        """The expected amount for ``x``."""
        return self._served(self.raw(x))

    def predict_proba_one(self, x: dict[str, float]) -> dict[bool, float]:
        """Not a classifier: refused, so a value model is never read as a probability."""
        raise TypeError("ScaledPoisson predicts an amount: use predict_one")

    def _loss_gradient(self, dot: float, y: object) -> float:
        amount = float(y)  # type: ignore[arg-type]  # the scorer gives the summed spend, a float
        self.target_count += 1
        counted = min(amount, UNIT_CLIP * self.target_mean) if self.target_mean > 0.0 else amount
        self.target_mean += (counted - self.target_mean) / self.target_count
        if self.target_mean <= 0.0:
            return 0.0  # nothing spent by anyone yet: no unit to learn in
        residual = math.exp(min(dot, _LARGEST_LOG)) - amount / self.target_mean
        return min(max(residual, -RESIDUAL_CLIP), RESIDUAL_CLIP)

    def _served(self, raw: float) -> float:
        return math.exp(min(raw, _LARGEST_LOG)) * self.target_mean
