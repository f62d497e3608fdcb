"""What the scorer gives the engine and its readers: a trigger's score and a learned label."""

from __future__ import annotations

from dataclasses import dataclass

from momentstream.core.schema import ExpectedSpend
from momentstream.models.online import Reason
from momentstream.models.reason_groups import GroupedReason

__all__ = ["LabelRecord", "TriggerScore"]


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
    value: ExpectedSpend | None = None
    """What the customer is expected to spend (the value objective's prediction, as the trigger carries it),
    when one is configured."""
