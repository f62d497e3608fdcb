"""A moment binding's conditions on the score, the customer's rhythm and their expected spend.

Kept apart from the scorer so each condition reads as one line of the rule it applies: a trigger is
suppressed (and audited) with the first condition it failed.
"""

from __future__ import annotations

from collections.abc import Iterable

from momentstream.models.features import anomaly_of
from momentstream.models.objectives import Binding

__all__ = ["failed_condition"]


def failed_condition(binding: Binding, score: float, warm: bool, history: Iterable[tuple[int, float]],
                     every: dict[str, float], now_ms: int, value: float | None) -> str:  # fmt: skip
    """Why this trigger should not go out (empty: every condition holds).

    A cold model's score cannot say no (``min_score`` and ``rise`` wait until it has earned a tier); the
    customer's rhythm needs no model; ``min_value`` needs the value model's amount, and holds while there is
    none yet (a value model that cannot score yet cannot suppress a moment either).

    >>> b = Binding("m", "churn", min_score=0.5, min_value=100.0)
    >>> failed_condition(b, 0.7, True, [], {}, 0, 40.0), failed_condition(b, 0.7, True, [], {}, 0, None)
    ('expected value 40.00 < 100', '')
    """
    failed = ""
    if warm:
        if binding.min_score is not None and score < binding.min_score:
            failed = f"score {score:.2f} < {binding.min_score}"
        if binding.rise is not None:
            earlier = [s for t, s in history if now_ms - t <= binding.rise_within_ms]
            base = min(earlier) if earlier else score
            if score - base <= binding.rise:
                failed = f"score rose {score - base:+.2f}, needs > {binding.rise}"
    if binding.min_anomaly is not None:  # behaviour against the customer's own rhythm: no model involved
        anomaly = anomaly_of(every)
        if anomaly < binding.min_anomaly:
            failed = f"anomaly {anomaly:.1f} < {binding.min_anomaly}"
    if binding.min_value is not None and value is not None and value < binding.min_value:
        failed = f"expected value {value:.2f} < {binding.min_value:g}"
    return failed
