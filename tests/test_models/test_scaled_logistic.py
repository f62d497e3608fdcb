"""The fused scaler and logistic regression: River's arithmetic, with standardized values clipped."""

from __future__ import annotations

import copy
import itertools
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


DAY = 86_400_000


def served_scores(model: ScaledLogistic, seed: int) -> list[float]:
    """A fixed customer's score at the end of each day of a noisy stream whose truth never changes (200 a day)."""
    rng = random.Random(seed)
    probe, seen = {"silence": 20.0, "visits": 3.0}, []
    for i in range(20_000):
        silence, visits = rng.uniform(0, 60), float(rng.randint(0, 8))
        y = rng.random() < 1 / (1 + math.exp(2 - silence / 10))
        model.score_and_learn({"silence": silence, "visits": visits}, y, at_ms=i * DAY // 200)
        if i % 200 == 199 and i >= 5_000:
            seen.append(model.predict_proba_one(probe)[True])
    return seen


def test_averaged_weights_hold_a_score_steady_while_the_latest_weights_wander() -> None:
    truth = 1 / (1 + math.exp(2 - 20 / 10))  # 0.5
    latest = served_scores(ScaledLogistic(lr=0.05), 5)
    averaged = served_scores(ScaledLogistic(lr=0.05, average_ms=30 * DAY), 5)

    def log_odds_moves(scores: list[float]) -> float:
        return max(abs(math.log(b / (1 - b)) - math.log(a / (1 - a))) for a, b in itertools.pairwise(scores))

    assert log_odds_moves(averaged) < log_odds_moves(latest) / 5
    assert abs(sum(averaged) / len(averaged) - truth) < 0.05
    assert max(abs(s - truth) for s in averaged) < max(abs(s - truth) for s in latest)


def days_to_follow_a_change(labels_a_day: int) -> int:
    """Days after the world flips until the served score of a customer crosses 0.5 (a 10-day window)."""
    model, step = ScaledLogistic(lr=0.05, average_ms=10 * DAY), DAY // labels_a_day
    for i in range(60 * labels_a_day):
        model.score_and_learn({"a": float(i % 5)}, i % 5 >= 3, at_ms=i * step)
    assert model.predict_proba_one({"a": 4.0})[True] > 0.9
    start = 60 * labels_a_day
    for i in range(start, start + 60 * labels_a_day):  # the world flips
        model.score_and_learn({"a": float(i % 5)}, i % 5 < 3, at_ms=i * step)
        if model.predict_proba_one({"a": 4.0})[True] < 0.5:
            return (i - start) // labels_a_day
    return 60


def test_the_average_spans_a_time_so_a_busier_model_follows_a_change_as_fast() -> None:
    quiet, busy = days_to_follow_a_change(50), days_to_follow_a_change(500)
    assert 1 <= quiet <= 20
    assert abs(busy - quiet) <= 3  # a window of 10,000 labels would take 100 days quiet and 10 busy


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
    averaged = ScaledLogistic(average_ms=100)
    for i in range(50):
        averaged.score_and_learn({"a": float(i % 7)}, i % 4 == 0, at_ms=i)
    averaged_twin = copy.deepcopy(averaged)
    kept = ("average_ms", "recent", "last_at", "average_intercept")
    assert [getattr(averaged_twin, k) for k in kept] == [getattr(averaged, k) for k in kept]
    assert averaged.last_at == 49
    assert 0 < averaged.recent < 50
    assert averaged_twin.predict_proba_one(probe) == averaged.predict_proba_one(probe)
    assert twin.predict_proba_one(probe) == model.predict_proba_one(probe)
    assert (twin.lr, twin.l2, twin.intercept_lr, twin.clip) == (0.1, 0.01, 0.01, 4.0)
    twin.learn_one({"a": 100.0, "b": -5.0}, True)
    assert twin.predict_proba_one(probe) != model.predict_proba_one(probe)
    assert model.counts == {"a": 50, "b": 50}
