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
