"""One objective's model under hostile numbers: it clips, skips and counts, and is never poisoned."""

from __future__ import annotations

import copy
import math
import pickle

import msgpack
import pytest

from momentstream.data import bundled_objectives_path
from momentstream.models.estimators import OPTIMIZERS, build
from momentstream.models.objectives import load_objectives
from momentstream.models.online import FEATURE_LIMIT, ObjectiveModel, bounded
from momentstream.models.scaled_logistic import ScaledLogistic
from momentstream.models.scorer import SNAPSHOT_FORMAT, PoisonedModelError, Refusal, Scorer
from momentstream.models.snapshot_codec import encode_model


def trained(estimator: str = "logistic_regression") -> ObjectiveModel:
    model = ObjectiveModel("churn", estimator=estimator)
    for i in range(400):
        model.learn({"days_since_last_purchase": 40.0 + i % 5, "events_30d": 0.5}, 1)
        model.learn({"days_since_last_purchase": 2.0 + i % 3, "events_30d": 9.0}, 0)
    return model


@pytest.mark.parametrize("estimator", ["logistic_regression", "hoeffding_tree", "random_forest", "naive_bayes"])
@pytest.mark.parametrize("extreme", [1e308, -1e308, 1e291, 1e200, FEATURE_LIMIT * 10])
def test_extreme_features_move_the_model_but_never_make_it_nan(estimator: str, extreme: float) -> None:
    model = trained(estimator)
    for label in (0, 1, 1, 0):
        model.learn({"days_since_last_purchase": extreme, "events_30d": extreme}, label)
    assert model.is_finite()
    assert 0.0 <= model.score({"days_since_last_purchase": 50.0, "events_30d": 0.2}) <= 1.0
    assert all(math.isfinite(r.contribution) for r in model.reasons({"days_since_last_purchase": extreme}))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_vector_is_skipped_and_counted(bad: float) -> None:
    model = trained()
    learned = model.learned
    model.learn({"days_since_last_purchase": bad, "events_30d": 1.0}, 1)
    assert model.learned == learned
    assert model.skipped == 1
    assert math.isnan(model.score({"days_since_last_purchase": bad}))
    assert model.skipped == 2
    assert model.reasons({"days_since_last_purchase": bad}) == []
    assert model.is_finite()


def test_bounded_clips_without_copying_clean_vectors() -> None:
    clean = {"a": 1.0}
    assert bounded(clean) is clean
    assert bounded({"a": -1e300}) == {"a": -FEATURE_LIMIT}


def poisoned(model: ObjectiveModel) -> ObjectiveModel:
    """What a NaN label did before features were bounded: NaN weights."""
    if isinstance(model.pipeline, ScaledLogistic):
        model.pipeline.stats.setdefault("events_30d", [1, 0.0, 1.0, 0.0])[3] = math.nan
    else:
        model.pipeline.steps["LogisticRegression"]._weights["events_30d"] = math.nan
    return model


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])  # the fused estimator, and a River pipeline
def test_a_model_that_went_nan_after_a_label_rolls_back_to_its_checkpoint(optimizer: str) -> None:
    model = ObjectiveModel("churn", optimizer=optimizer)
    for i in range(400):
        model.learn({"days_since_last_purchase": 40.0 + i % 5, "events_30d": 0.5}, 1)
        model.learn({"days_since_last_purchase": 2.0 + i % 3, "events_30d": 9.0}, 0)
    before = model.score({"days_since_last_purchase": 50.0, "events_30d": 0.2})
    model._checkpoint = copy.deepcopy(model.pipeline)
    method = "score_and_learn" if optimizer == "sgd" else "learn_one"
    real = getattr(model.pipeline, method)

    def poisoning(x: dict[str, float], y: bool, *at_ms: int) -> float:
        result = real(x, y, *at_ms)
        poisoned(model)
        return result  # type: ignore[no-any-return]

    setattr(model.pipeline, method, poisoning)
    model.learned = 1  # not a checkpoint step: the checkpoint taken above stays
    model.learn({"days_since_last_purchase": 3.0, "events_30d": 1.0}, 0)
    assert model.reverted == 1
    assert model.is_finite()
    assert model.score({"days_since_last_purchase": 50.0, "events_30d": 0.2}) == before


def scorer() -> Scorer:
    return Scorer(load_objectives(bundled_objectives_path()))


@pytest.mark.parametrize(("optimizer", "reason"), [("sgd", "malformed"), ("adam", "non_finite")])
def test_a_poisoned_model_is_neither_published_nor_loaded(optimizer: str, reason: str) -> None:
    """The fused model travels as plain numbers (a NaN fails the field checks); a River pipeline is signed
    and checked for finite weights once unpickled."""
    key = b"poison-test-key-16"
    good = scorer()
    good.snapshot_key = key
    snapshot = good.snapshot()
    bad = scorer()
    bad.models["churn"] = ObjectiveModel("churn", optimizer=optimizer)
    poisoned(trained_into(bad.models["churn"]))
    assert not bad.models["churn"].is_finite()
    with pytest.raises(PoisonedModelError, match="churn"):
        bad.snapshot()
    body = {name: encode_model(name, model, key) for name, model in bad.models.items()}
    poisoned_snapshot = msgpack.packb([SNAPSHOT_FORMAT, sorted(body), body], use_bin_type=True)
    fresh = scorer()
    fresh.models["churn"] = ObjectiveModel("churn", optimizer=optimizer)
    fresh.snapshot_key = key
    assert fresh.restore(poisoned_snapshot) == [Refusal("churn", reason)]
    assert fresh.models["churn"].is_finite()
    assert fresh.models["churn"].learned == 0
    assert fresh.refusals == {reason: 1}
    assert scorer().restore(snapshot) == []


def trained_into(model: ObjectiveModel) -> ObjectiveModel:
    for i in range(100):
        model.learn({"days_since_last_purchase": 40.0 + i % 5, "events_30d": 0.5}, 1)
        model.learn({"days_since_last_purchase": 2.0 + i % 3, "events_30d": 9.0}, 0)
    return model


@pytest.mark.parametrize("data", [b"", b"\x00\x01garbage", b"\x93\x01\x90\xa1x"])
def test_a_corrupt_snapshot_is_refused_with_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="snapshot"):
        scorer().restore(data)


def test_a_snapshot_of_the_river_pipeline_loads_as_the_fused_model_with_the_same_scores() -> None:
    river = build("logistic_regression", optimizer="adam")  # a River pipeline, then switched to SGD as before
    river["LogisticRegression"].optimizer = OPTIMIZERS["sgd"](0.05)
    fused = ScaledLogistic(lr=0.05)
    for i in range(300):
        x, y = {"silence": float(i % 40), "visits": float(i % 7)}, i % 40 > 20
        river.learn_one(x, y)
        fused.learn_one(x, y)
    old = ObjectiveModel("churn")
    old.pipeline = river
    loaded = pickle.loads(pickle.dumps(old))
    assert isinstance(loaded.pipeline, ScaledLogistic)
    probe = {"silence": 33.0, "visits": 2.0}
    expected = river.predict_proba_one(probe)[True]
    assert loaded.score(probe) == pytest.approx(expected, abs=1e-12)
    assert fused.predict_proba_one(probe)[True] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("estimator", ["logistic_regression", "hoeffding_tree"])
@pytest.mark.parametrize("extreme", [1e12, -1e12, 1e6])
def test_reasons_in_probability_points_stay_within_a_hundred_and_follow_the_log_odds(
    estimator: str, extreme: float
) -> None:
    """The issue's -21,866 log-odds reason: whatever a feature's value, its points are within ±100."""
    model = trained(estimator)
    reasons = model.reasons({"days_since_last_purchase": extreme, "events_30d": -extreme})
    for reason in reasons:
        assert reason.points is not None
        assert -100.0 <= reason.points <= 100.0
        assert reason.points == 0.0 or math.copysign(1, reason.points) == math.copysign(1, reason.contribution)
