"""Progressive AUC in bins: agrees with the pairwise definition, and odd predictions never raise."""

from __future__ import annotations

import math
import random

from momentstream.models.binned_auc import BinnedAUC


def test_matches_the_pairwise_auc_when_scores_fall_in_distinct_bins() -> None:
    rng = random.Random(2)
    scored = [(rng.random() < 0.4, (rng.randrange(200) + 0.5) / 200) for _ in range(400)]  # bin centres
    auc = BinnedAUC()
    for y, p in scored:
        auc.update(y, p)
    pos = [p for y, p in scored if y]
    neg = [p for y, p in scored if not y]
    pairwise = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg) / (len(pos) * len(neg))
    assert math.isclose(auc.get(), pairwise, abs_tol=1e-12)


def test_out_of_range_and_non_finite_predictions_never_raise() -> None:
    auc = BinnedAUC()
    for p in (-5.0, 7.0, math.inf, -math.inf, math.nan):
        auc.update(True, p)
        auc.update(False, p)
    assert sum(auc.positives) == sum(auc.negatives) == 4  # NaN is not counted
    assert auc.get() == 0.5


def test_calibration_error_is_near_zero_when_scores_come_true_as_often_as_they_say() -> None:
    rng = random.Random(5)
    calibrated, overconfident = BinnedAUC(), BinnedAUC()
    for _ in range(20_000):
        p = rng.random()
        outcome = rng.random() < p
        calibrated.update(outcome, p)
        overconfident.update(outcome, 1.0 if p > 0.5 else 0.0)
    assert calibrated.calibration_error() < 0.02
    assert 0.2 < overconfident.calibration_error() < 0.3  # says 1.0 where 75% come true, 0 where 25% do


def test_calibration_error_is_nan_before_the_first_label() -> None:
    assert math.isnan(BinnedAUC().calibration_error())
