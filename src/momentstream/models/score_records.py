"""What the scorer gives the engine and its readers: a trigger's score, an expected value, a learned label."""

from __future__ import annotations

from dataclasses import dataclass

from momentstream.models.online import Reason
from momentstream.models.reason_groups import GroupedReason

__all__ = ["ExpectedValue", "LabelRecord", "TriggerScore"]


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """One learned label: when its prediction was made and when (in event time) it was learned."""

    customer_id: str
    objective: str
    predicted_at: int
    labelled_at: int
    label: float
    """0 or 1, or a value objective's amount."""


@dataclass(frozen=True, slots=True)
class TriggerScore:
    """What a trigger carries about its objective."""

    objective: str
    score: float
    model_version: str
    tier: str | None
    owner: str
    reasons: list[Reason]
    condition_met: bool = True
    condition: str = ""
    why: tuple[GroupedReason, ...] = ()
    """The reasons grouped into what a person reads (:mod:`momentstream.models.reason_groups`)."""
    value: ExpectedValue | None = None
    """What the customer is expected to spend (the value objective's prediction), when one is configured."""


@dataclass(frozen=True, slots=True)
class ExpectedValue:
    """A value objective's prediction: expected spend over its horizon, in the events' currency."""

    objective: str
    amount: float
    horizon_ms: int
    model_version: str
    warm: bool
    """False while the value model is warming up (``min_value`` is not applied until then)."""
