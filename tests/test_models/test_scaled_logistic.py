"""The fused scaler and logistic regression: River's arithmetic, with standardized values clipped."""

from __future__ import annotations

import copy
import math
import pickle
import random

import pytest
from river import linear_model, optim, preprocessing

from momentstream.models.explain import linear_reasons
from momentstream.models.scaled_logistic import ScaledLogistic


def test_without_the_clip_the_same_scores_as_rivers_pipeline() -> None:
    rng = random.Random(3)
    river = preprocessing.StandardScaler() | linear_model.LogisticRegression(optimizer=optim.SGD(0.05), l2=0.001)
    fused = ScaledLogistic(lr=0.05, l2=0.001, clip=math.inf)
    for _ in range(3000):
        x = {f"f{j}": rng.gauss(j, 1 + j) for j in range(12) if rng.random() < 0.9}  # sparse, as type_* features are
        y = rng.random() < 0.3 + 0.05 * x.get("f3", 3.0)
        before = river.predict_proba_one(x)[True]
        river.learn_one(x, y)
        assert fused.score_and_learn(x, y) == pytest.approx(before, abs=1e-9)
    probe = {"f1": 1.5, "f3": 6.0, "f7": 2.0}
    assert fused.predict_proba_one(probe)[True] == pytest.approx(river.predict_proba_one(probe)[True], abs=1e-9)


def test_a_value_far_outside_a_features_spread_moves_the_log_odds_at_most_five_weights() -> None:
    model = ScaledLogistic(lr=0.05)
    for i in range(2000):  # recency is almost always 0 at events, and silence is what churns
        model.learn_one({"days_silent": 0.0 if i % 200 else 1.0, "visits": float(i % 5)}, i % 200 == 0)
    weight = model.weights["days_silent"]
    reasons = {r.feature: r.contribution for r in linear_reasons(model, {"days_silent": 90.0, "visits": 2.0})}
    assert abs(reasons["days_silent"]) == pytest.approx(5 * abs(weight))
    assert 0.0 < model.predict_proba_one({"days_silent": 1e9, "visits": 2.0})[True] < 1.0


def test_the_clip_survives_a_snapshot() -> None:
    model = ScaledLogistic(clip=3.0)
    model.learn_one({"a": 1.0}, True)
    assert pickle.loads(pickle.dumps(model)).clip == 3.0


def test_a_copy_is_the_same_model_and_learning_on_it_leaves_the_original_alone() -> None:
    """The rollback checkpoint is a deep copy, taken every few hundred labels."""
    model = ScaledLogistic(lr=0.1, l2=0.01, clip=4.0)
    for i in range(50):
        model.learn_one({"a": float(i % 7), "b": 1.0 + i % 3}, i % 4 == 0)
    twin = copy.deepcopy(model)
    probe = {"a": 3.0, "b": 2.0}
    assert twin.predict_proba_one(probe) == model.predict_proba_one(probe)
    assert (twin.lr, twin.l2, twin.intercept_lr, twin.clip) == (0.1, 0.01, 0.01, 4.0)
    twin.learn_one({"a": 100.0, "b": -5.0}, True)
    assert twin.predict_proba_one(probe) != model.predict_proba_one(probe)
    assert model.counts == {"a": 50, "b": 50}
