"""One customer's scoring data: running features, kept predictions waiting for labels, score history.

It lives inside :class:`~momentstream.core.state.CustomerState`, so it is durable with it (the
list form below is part of the customer's msgpack state; newer fields are appended, so states
written before them still load).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from momentstream.models.features import FeatureState
from momentstream.models.kept_vector import KeptVector

__all__ = ["HISTORY", "Pending", "ScoringState"]

HISTORY = 8
"""Scores remembered per objective for ``rise`` conditions."""


@dataclass(slots=True)
class Pending:
    """A kept prediction waiting for its label delay to end."""

    ref: int
    at_ms: int
    deadline_ms: int
    x: KeptVector
    label: float | None = None
    """Set when the outcome came (a value objective's: the amounts summed so far); learned, like a silence
    label, only at the deadline."""


@dataclass(slots=True)
class ScoringState:
    """One customer's scoring data, stored in the customer state."""

    features: FeatureState = field(default_factory=FeatureState)
    pending: dict[str, list[Pending]] = field(default_factory=dict)
    history: dict[str, deque[tuple[int, float]]] = field(default_factory=dict)
    next_ref: int = 0
    rescore_at: int | None = None
    """When this customer's sampling clock next runs (None: it has stopped). It runs lazily: see
    :meth:`momentstream.models.scorer.Scorer.on_rescore_timer`."""
    kept_at: dict[str, int] = field(default_factory=dict)
    """When each objective last kept a prediction: at most one per slice of its horizon, even when an
    outcome labelled the last one early (else a frequent outcome would keep one at nearly every event)."""
    wake_at: int | None = None
    """When the customer's one rescore timer fires: the first time a label can be due (None: at
    :attr:`rescore_at`, as in states written before the clock ran lazily, or no timer)."""

    def to_list(self) -> list[Any]:
        """Compact form for the state encoding."""
        return [
            self.features.to_list(),
            {k: [_pending_list(p) for p in v] for k, v in self.pending.items()},
            {k: [list(h) for h in v] for k, v in self.history.items()},
            self.next_ref,
            self.rescore_at,
            self.kept_at,
            self.wake_at,
        ]

    @classmethod
    def from_list(cls, raw: list[Any]) -> ScoringState:
        """Inverse of :meth:`to_list`."""
        features, pending, history, next_ref, *rest = raw
        return cls(
            FeatureState.from_list(features),
            {k: [_pending(p) for p in v] for k, v in pending.items()},
            {k: deque(((h[0], h[1]) for h in v), maxlen=HISTORY) for k, v in history.items()},
            next_ref,
            rest[0] if rest else None,
            rest[1] if len(rest) > 1 else {k: v[-1][1] for k, v in pending.items() if v},
            rest[2] if len(rest) > 2 else None,
        )


def _pending_list(p: Pending) -> list[Any]:
    """A pending prediction in the state encoding (its label only once known: older states have none)."""
    x = p.x.as_dict()
    return [p.ref, p.at_ms, p.deadline_ms, x] if p.label is None else [p.ref, p.at_ms, p.deadline_ms, x, p.label]


def _pending(raw: list[Any]) -> Pending:
    """Inverse of :func:`_pending_list`."""
    ref, at_ms, deadline_ms, x, *label = raw
    return Pending(ref, at_ms, deadline_ms, KeptVector(x), *label)
