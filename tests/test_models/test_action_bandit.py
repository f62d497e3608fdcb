"""The action bandit: it settles on the action that pays for each kind of customer, and stays sane on odd input."""

from __future__ import annotations

import math
import pickle
import random

from momentstream.models.action_bandit import ActionBandit


def test_it_learns_a_different_best_action_for_different_customers() -> None:
    rng = random.Random(2)
    bandit = ActionBandit("m", ["email", "call"], {"email": 1.0, "call": 10.0}, value=100.0)
    effect = {("chatty", "email"): 0.4, ("chatty", "call"): 0.05, ("grumpy", "email"): 0.0, ("grumpy", "call"): 0.5}
    features = {"chatty": {"visits": 1.0, "tickets": 0.0}, "grumpy": {"visits": 0.0, "tickets": 1.0}}
    late: dict[str, list[str]] = {"chatty": [], "grumpy": []}
    for step in range(1500):
        kind = rng.choice(["chatty", "grumpy"])
        action = bandit.choose(features[kind])
        bandit.learn(action, features[kind], rng.random() < effect[(kind, action)])
        if step >= 1000:
            late[kind].append(action)
    assert late["chatty"].count("email") / len(late["chatty"]) > 0.8
    assert late["grumpy"].count("call") / len(late["grumpy"]) > 0.8


def test_odd_inputs_are_ignored_or_bounded_and_the_choice_is_reproducible() -> None:
    bandit = ActionBandit("m", ["a", "b"], {"a": 0.0, "b": 0.0}, value=1.0)
    bandit.learn("nope", {"x": 1.0}, converted=True)  # an action the file no longer names
    bandit.learn("a", {"x": math.nan}, converted=True)  # an unusable vector
    assert bandit.learned == 0
    for i in range(50):
        bandit.learn("a", {"x": 1e300 if i % 2 else -1e300}, converted=i % 3 == 0)
    assert bandit.is_finite()
    again = pickle.loads(pickle.dumps(bandit))
    picks = [bandit.choose({"x": float(i)}) for i in range(20)]
    assert picks == [again.choose({"x": float(i)}) for i in range(20)]
    assert set(picks) <= {"a", "b"}


def test_a_posterior_with_nan_is_not_finite() -> None:
    bandit = ActionBandit("m", ["a", "b"], {"a": 0.0, "b": 0.0}, value=1.0)
    bandit.learn("a", {"x": 1.0}, converted=True)
    assert bandit.is_finite()
    regression = bandit.policy._bayes_lin_regs["a"]
    regression._eta_arr[0] = math.nan
    assert not bandit.is_finite()
