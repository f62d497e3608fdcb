"""Progressive ROC AUC in O(1) per label: predictions counted in fixed probability bins.

River's ``ROCAUC`` keeps a confusion matrix per threshold and updates every one of them per
label (ten by default), which cost more than learning the label. Counting each prediction in
one of ``bins`` equal-width bins per class gives the Mann-Whitney AUC of the binned scores
(pairs in the same bin count half) at any time, in one pass over the bins; with 200 bins that
is finer than River's 10 thresholds, and it is only computed when someone asks.

Parameters
----------
bins
    Number of equal-width probability bins.

Examples
--------
>>> auc = BinnedAUC()
>>> for p, y in [(0.9, True), (0.8, True), (0.7, False), (0.3, True), (0.2, False)]:
...     auc.update(y, p)
>>> round(auc.get(), 3)
0.833
>>> import math; math.isnan(BinnedAUC().get())
True

The same counts say how well calibrated the predictions are: among predictions near 0.8,
about 80% should be positive.

>>> calibrated = BinnedAUC()
>>> for i in range(1000):
...     calibrated.update(i % 10 < 8, 0.8)
>>> round(calibrated.calibration_error(), 3)
0.003
"""

from __future__ import annotations

import math

__all__ = ["BinnedAUC"]


class BinnedAUC:
    """Counts of positive and negative labels per predicted-probability bin."""

    def __init__(self, bins: int = 200) -> None:
        self.bins = bins
        self._reset()

    def _reset(self) -> None:
        self.positives = [0] * (self.bins + 1)
        self.negatives = [0] * (self.bins + 1)

    def update(self, y_true: bool, y_pred: float) -> None:
        """Count one prediction (a probability; values outside [0, 1] go to the end bins, NaN is not counted)."""
        if math.isnan(y_pred):  # no bin, and int(NaN) would raise
            return
        index = int(min(max(y_pred, 0.0), 1.0) * self.bins)
        if y_true:
            self.positives[index] += 1
        else:
            self.negatives[index] += 1

    def get(self) -> float:
        """P(a positive scores above a negative), ties counting half; NaN until both classes are seen."""
        total_pos, total_neg = sum(self.positives), sum(self.negatives)
        if not total_pos or not total_neg:
            return math.nan
        below = 0
        wins = 0.0
        for pos, neg in zip(self.positives, self.negatives, strict=True):
            wins += pos * (below + neg / 2)
            below += neg
        return wins / (total_pos * total_neg)

    def calibration_error(self, groups: int = 10) -> float:
        """Expected calibration error: over ``groups`` equal-width score ranges, the gap between the
        mean prediction (bin centres, so within half a bin) and the share of positives, weighted by
        how many predictions fell there. 0 is perfect; NaN before the first label."""
        total = sum(self.positives) + sum(self.negatives)
        if not total:
            return math.nan
        error = 0.0
        per_group = math.ceil((self.bins + 1) / groups)
        for first in range(0, self.bins + 1, per_group):
            count = predicted = positives = 0.0
            for index in range(first, min(first + per_group, self.bins + 1)):
                n = self.positives[index] + self.negatives[index]
                count += n
                predicted += n * min((index + 0.5) / self.bins, 1.0)
                positives += self.positives[index]
            if count:
                error += abs(predicted - positives) / total
        return error
