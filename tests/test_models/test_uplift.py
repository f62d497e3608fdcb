"""The two-model uplift estimate: it learns who responds, and odd inputs cannot poison it."""

from __future__ import annotations

import math
import random

from momentstream.models.uplift import UpliftModel


def test_it_learns_a_positive_lift_for_responders_and_a_negative_one_for_the_hurt() -> None:
    rng = random.Random(1)
    model = UpliftModel("m")
    kinds = {
        "responder": ({"visits": 3.0, "tickets": 0.0}, 0.4, 0.1),
        "hurt": ({"visits": 1.0, "tickets": 2.0}, 0.1, 0.3),
    }
    for _ in range(3000):
        x, treated_rate, control_rate = kinds[rng.choice(list(kinds))]
        treated = rng.random() < 0.5
        model.learn(x, treated, rng.random() < (treated_rate if treated else control_rate))
    responder = model.lift(kinds["responder"][0])
    hurt = model.lift(kinds["hurt"][0])
    assert 0.15 < responder < 0.45
    assert -0.35 < hurt < -0.05
    assert model.warm(1000)


def test_extreme_and_broken_features_never_make_it_non_finite() -> None:
    model = UpliftModel("m")
    for i in range(300):
        model.learn({"a": 1e300 if i % 2 else -1e300, "b": float(i)}, i % 3 == 0, i % 2 == 0)
        model.learn({"a": math.nan, "b": math.inf}, True, True)
    assert model.is_finite()
    assert math.isnan(model.lift({"a": math.nan})) or -1.0 <= model.lift({"a": math.nan}) <= 1.0
    assert -1.0 <= model.lift({"a": 1e300, "b": 5.0}) <= 1.0


def test_a_cold_model_is_not_warm() -> None:
    model = UpliftModel("m")
    model.learn({"a": 1.0}, True, True)
    assert not model.warm(1)
