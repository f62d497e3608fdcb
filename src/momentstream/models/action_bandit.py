"""Next best action: a contextual bandit that picks one of a moment's actions per trigger.

River's :class:`~river.bandit.LinUCBDisjoint` keeps a Bayesian linear regression of the reward
per action on the customer's features and picks the action with the highest upper confidence
bound, so it tries an action it knows little about and settles on the one that pays. The reward
of a linked outcome is ``converted - cost / value``: an outcome is worth 1, a contact costs its
share of that. Its random tie-breaking is seeded, so a replay picks the same actions.

>>> bandit = ActionBandit("cart", ["email", "call"], {"email": 1.0, "call": 30.0}, value=100.0)
>>> for _ in range(60):
...     bandit.learn("email", {"keen": 1.0}, converted=False)
...     bandit.learn("call", {"keen": 1.0}, converted=True)
>>> bandit.choose({"keen": 1.0})
'call'
"""

from __future__ import annotations

import numpy as np
from river import bandit

from momentstream.models.online import bounded

__all__ = ["ActionBandit"]


class ActionBandit:
    """One moment's actions, their costs, and the policy that chooses among them."""

    def __init__(self, moment: str, actions: list[str], costs: dict[str, float], value: float, seed: int = 42) -> None:
        self.moment = moment
        self.actions: list[int | str] = list(actions)
        self.costs = dict(costs)
        self.value = value
        self.policy = bandit.LinUCBDisjoint(alpha=1.0, beta=1.0, seed=seed)
        self.learned = 0

    def choose(self, x: dict[str, float]) -> str:
        """The action with the best upper confidence bound for these features."""
        clean = bounded(x)
        picked = str(self.policy.pull(self.actions, context=clean if clean is not None else {}))
        return picked if picked in self.costs else str(self.actions[0])

    def learn(self, action: str, x: dict[str, float], converted: bool) -> None:
        """The outcome of a trigger sent with ``action``; unknown actions (a changed file) are ignored."""
        clean = bounded(x)
        if action not in self.costs or clean is None:
            return
        reward = float(converted) - self.costs[action] / self.value
        self.policy.update(action, clean, reward)  # type: ignore[no-untyped-call]
        self.learned += 1

    def is_finite(self) -> bool:
        """Every regression's weights are finite."""
        for regression in self.policy._bayes_lin_regs.values():
            for value in vars(regression).values():  # River keeps the posterior in numpy arrays
                if isinstance(value, np.ndarray) and not np.isfinite(value).all():
                    return False
        return True
