"""Expected spend: a standardized linear model with a log link, learned online from money labels.

The arithmetic of :class:`~momentstream.models.scaled_logistic.ScaledLogistic` (running scaler,
clipped standardized values, SGD, weights averaged over a time window) with the Poisson loss in
place of the log loss: the score is ``exp(w . z)``, the loss's gradient ``exp(w . z) - y``, as
River's ``LinearRegression(loss=optim.losses.Poisson())`` has them. Minimizing it estimates the
*mean* spend, zeros included, and a log link keeps every prediction positive and lets features
multiply (a customer who buys twice as often, at twice the basket, is worth four times as much).

Two changes make it learn money, where River's regression on the same CDNOW labels overflowed
(``math range error``) partway through the replay:

* labels are learned in units of their running mean (a label of 500 currency units, when the mean
  is 14, is 36 of them), so the learning rate means the same in any currency;
* the loss's gradient is clipped to +-:data:`RESIDUAL_CLIP` such units, and a label counts towards the
  unit as at most :data:`UNIT_CLIP` of them: one order far above the rest moves the model by a bounded
  step instead of throwing its scores to ``exp(700)``.

The clip has a price: a customer who spends is often more than five mean labels (on CDNOW 79% of
windows spend nothing, so a spender's window is about seven), so the clipped loss settles low, and
progressive predictions ran 30% under the labels. Scores are therefore **calibrated**: multiplied by
the labels' total over the predictions' total (each prediction made before its label was learned,
both decayed over :data:`CALIBRATION_MS` of event time). Unclipped, the totals agreed but the errors
grew (CDNOW RMSE 53.3 against 45.7); clipped and calibrated, the total matches and the ranking stays.

Examples
--------
>>> model = ScaledPoisson(lr=0.02)
>>> for i in range(3000):
...     model.learn_one({"orders": 1.0 + i % 2}, 10.0 * (1 + i % 2))
>>> round(model.predict_one({"orders": 1.0})), round(model.predict_one({"orders": 2.0}))
(10, 20)
>>> round(model.calibration, 2)
1.0
"""

from __future__ import annotations

import math
from typing import Any

from momentstream.models.scaled_logistic import ScaledLogistic

__all__ = ["CALIBRATION_MS", "RESIDUAL_CLIP", "UNIT_CLIP", "ScaledPoisson"]

RESIDUAL_CLIP = 5.0
"""The loss's gradient is clipped to +-this many mean labels (on CDNOW 3 under-predicted the total spend by
half, 10 made predictions of millions at learning rates from 0.01)."""
UNIT_CLIP = 50.0
"""A label counts towards the unit (the running mean) as at most this many means: one order of 10^15
would otherwise make every later prediction ten billion times larger."""
CALIBRATION_MS = 30 * 86_400_000
"""The labels and predictions of about this long (event time) set the calibration factor."""
_FACTOR_LIMITS = (0.1, 10.0)
"""The calibration factor stays within these: a few labels cannot rescale every score a hundredfold."""
_LARGEST_LOG = 50.0
"""Log scores are capped here (about 5e21 mean labels) so exp never overflows."""


class ScaledPoisson(ScaledLogistic):
    """Online standardized Poisson regression of a non-negative amount (spend over a horizon)."""

    def _reset(self) -> None:
        super()._reset()
        self.target_count = 0
        """Labels seen, and their running mean: the unit labels are learned in."""
        self.target_mean = 0.0
        self.label_sum = 0.0
        """Labels, and the uncalibrated predictions made for them, summed with a decay (see :attr:`calibration`)."""
        self.predicted_sum = 0.0
        self.calibrated_at = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        fresh = {"target_count": 0, "target_mean": 0.0, "label_sum": 0.0, "predicted_sum": 0.0, "calibrated_at": 0}
        super().__setstate__({**fresh, **state})

    def __deepcopy__(self, memo: dict[int, Any]) -> ScaledPoisson:
        twin = super().__deepcopy__(memo)
        assert isinstance(twin, ScaledPoisson)
        twin.target_count, twin.target_mean = self.target_count, self.target_mean
        twin.label_sum, twin.predicted_sum, twin.calibrated_at = self.label_sum, self.predicted_sum, self.calibrated_at
        return twin

    @property
    def calibration(self) -> float:
        """What scores are multiplied by: recent labels' total over the total predicted for them (1 until then)."""
        if self.predicted_sum <= 0.0 or self.label_sum <= 0.0:
            return 1.0
        low, high = _FACTOR_LIMITS
        return min(max(self.label_sum / self.predicted_sum, low), high)

    def predict_one(self, x: dict[str, float]) -> float:
        """The expected amount for ``x``."""
        return self._served(self.raw(x)) * self.calibration

    def score_and_learn(self, x: dict[str, float], y: object, at_ms: int = 0) -> float:
        """Learn ``x`` and return the amount it had *before* (calibrated as it was served)."""
        factor = self.calibration
        uncalibrated = super().score_and_learn(x, y, at_ms)
        elapsed = at_ms - self.calibrated_at if at_ms > self.calibrated_at else 0
        keep = math.exp(-elapsed / CALIBRATION_MS) if elapsed else 1.0
        self.calibrated_at = max(self.calibrated_at, at_ms)
        self.label_sum = self.label_sum * keep + min(max(float(y), 0.0), UNIT_CLIP * self.target_mean)  # type: ignore[arg-type]
        self.predicted_sum = self.predicted_sum * keep + uncalibrated
        return uncalibrated * factor

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
