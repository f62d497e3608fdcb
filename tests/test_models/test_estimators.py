"""Every estimator an objective may choose learns, scores probabilities, explains itself and snapshots."""

from __future__ import annotations

import random

import pytest

from momentstream.models.estimators import ESTIMATORS
from momentstream.models.objectives import parse_objectives
from momentstream.models.scorer import Scorer


def scorer_with(estimator: str) -> Scorer:
    doc = {"objectives": [{"name": "churn", "owner": "cs", "outcome": {"type": "purchase"}, "horizon": "30d",
                           "model": {"estimator": estimator}}]}  # fmt: skip
    return Scorer(parse_objectives(doc))


def examples(n: int, seed: int = 3) -> list[tuple[dict[str, float], int]]:
    """Churn depends on silence only; 'noise' is the same distribution for both labels."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        churned = rng.random() < 0.5
        silence = rng.uniform(20, 60) if churned else rng.uniform(0, 15)
        rows.append(({"silence": silence, "noise": rng.gauss(0, 1)}, int(churned)))
    return rows


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_each_estimator_learns_a_rule_and_names_the_feature_behind_it(estimator: str) -> None:
    scorer = scorer_with(estimator)
    model = scorer.models["churn"]
    for x, label in examples(1500):
        model.learn(x, label)
    test = examples(300, seed=9)
    right = sum((model.score(x) > 0.5) == bool(label) for x, label in test)
    assert right / len(test) > 0.9
    assert all(0.0 <= model.score(x) <= 1.0 for x, _ in test)
    reasons = model.reasons({"silence": 55.0, "noise": 0.1}, top=2)
    assert reasons[0].feature == "silence"
    assert reasons[0].contribution > 0  # long silence pushes churn up
    restored = scorer_with(estimator)
    scorer.snapshot_key = restored.snapshot_key = b"a key of 16+ bytes"  # signs the non-plain estimators
    assert restored.restore(scorer.snapshot()) == []
    probe = {"silence": 55.0, "noise": 0.1}
    assert restored.models["churn"].score(probe) == model.score(probe)


def test_an_unknown_estimator_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="hoeffding_tree"):
        scorer_with("deep_net")
