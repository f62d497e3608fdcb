"""The value model: mean spend (zeros included) per kind of customer, and one huge order cannot throw it."""

from __future__ import annotations

import copy
import math
import random

import pytest

from momentstream.models.online import ObjectiveModel
from momentstream.models.scaled_poisson import ScaledPoisson


def spend(rng: random.Random, buys: float, basket: float) -> float:
    """What one customer spends in a window: nothing, or a basket around ``basket``."""
    return rng.expovariate(1.0 / basket) if rng.random() < buys else 0.0


def trained(rng: random.Random, labels: int = 20_000) -> ScaledPoisson:
    model = ScaledPoisson(lr=0.003, average_ms=7 * 86_400_000)
    for i in range(labels):
        loyal = i % 2 == 0
        x = {"log_purchases_90d": 1.5 if loyal else 0.2, "noise": rng.random()}
        model.score_and_learn(x, spend(rng, 0.6 if loyal else 0.1, 80.0 if loyal else 30.0), i * 60_000)
    return model


def test_it_learns_the_mean_spend_zeros_included() -> None:
    model = trained(random.Random(3))
    loyal = model.predict_one({"log_purchases_90d": 1.5, "noise": 0.5})
    casual = model.predict_one({"log_purchases_90d": 0.2, "noise": 0.5})
    assert loyal == pytest.approx(0.6 * 80.0, rel=0.2)  # 48
    assert casual == pytest.approx(0.1 * 30.0, rel=0.35)  # 3


def test_one_huge_order_moves_it_a_bounded_step_and_a_copy_is_the_same_model() -> None:
    model = trained(random.Random(4))
    x = {"log_purchases_90d": 1.5, "noise": 0.5}
    before = model.predict_one(x)
    twin = copy.deepcopy(model)
    model.score_and_learn(x, 1e15, 0)  # the largest value an event may carry, and more
    after = model.predict_one(x)
    assert math.isfinite(after)
    assert 0.2 < after / before < 5.0
    assert twin.predict_one(x) == before
    assert (twin.target_count, twin.target_mean) != (model.target_count, model.target_mean)


def test_it_is_never_read_as_a_probability() -> None:
    with pytest.raises(TypeError, match="amount"):
        ScaledPoisson().predict_proba_one({"a": 1.0})
    assert ScaledPoisson().predict_one({"a": 1.0}) == 0.0  # nothing learned: nothing expected


def test_its_amounts_add_up_to_what_was_spent_though_its_loss_is_clipped() -> None:
    """Spenders are many mean labels each (most windows spend nothing), beyond the clip: uncalibrated, the
    predictions ran low; calibrated, their total is the labels' total."""
    rng = random.Random(5)
    model = ScaledPoisson(lr=0.003)
    predicted = spent = 0.0
    for i in range(30_000):
        x = {"log_purchases_90d": rng.random() * 2.0}
        y = spend(rng, 0.1 + 0.1 * x["log_purchases_90d"], 60.0)
        p = model.score_and_learn(x, y, i * 60_000)
        if i >= 20_000:  # once learned
            predicted += p
            spent += y
    assert model.calibration > 1.1  # the clipped loss alone settles low
    assert predicted == pytest.approx(spent, rel=0.1)


def test_a_value_model_given_hostile_labels_stays_finite_and_never_negative() -> None:
    """Refunds summed below zero, NaN, infinity and the largest float reach the shared model as bounded amounts."""
    model = ObjectiveModel("spend", 0.003, estimator="poisson_regression")
    x = {"log_purchases_90d": 1.0}
    for label in (20.0, 0.0, 35.0) * 50:
        model.learn(x, label)
    for label in (-500.0, math.nan, math.inf, -math.inf, 1.7e308):
        model.learn(x, label)
        assert model.is_finite()
        assert 0.0 <= model.score(x) < math.inf
    assert model.learned == 155
