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
from momentstream.models.kept_predictions import KeptPredictions, KeptRow, Vector

__all__ = ["HISTORY", "ScoringState"]

HISTORY = 8
"""Scores remembered per objective for ``rise`` conditions."""


@dataclass(slots=True)
class ScoringState:
    """One customer's scoring data, stored in the customer state."""

    features: FeatureState = field(default_factory=FeatureState)
    pending: KeptPredictions = field(default_factory=KeptPredictions)
    """Kept predictions waiting for their labels, every objective's."""
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
            {k: [_pending_list(p) for p in v] for k, v in self.pending.by_objective().items()},
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
            _kept(pending),
            {k: deque(((h[0], h[1]) for h in v), maxlen=HISTORY) for k, v in history.items()},
            next_ref,
            rest[0] if rest else None,
            rest[1] if len(rest) > 1 else {k: v[-1][1] for k, v in pending.items() if v},
            rest[2] if len(rest) > 2 else None,
        )


def _pending_list(p: KeptRow) -> list[Any]:
    """A pending prediction in the state encoding (its label only once known: older states have none)."""
    return [p.ref, p.at_ms, p.deadline_ms, p.x] if p.label is None else [p.ref, p.at_ms, p.deadline_ms, p.x, p.label]


def _kept(raw: dict[str, list[list[Any]]]) -> KeptPredictions:
    """Inverse of the encoding above. Rows of one instant with the same features share them again."""
    kept = KeptPredictions()
    kept.objectives = list(raw)  # their order is the order labels of one instant are learned in
    rows = sorted(((p[1], n, name, p) for n, (name, rows) in enumerate(raw.items()) for p in rows),
                  key=lambda r: (r[0], r[1]))  # fmt: skip
    earlier: dict[tuple[int, tuple[tuple[str, Any], ...]], Vector] = {}
    for at_ms, _, name, (ref, _at, deadline_ms, x, *label) in rows:
        key = (at_ms, tuple(x.items()))
        earlier[key] = kept.add(name, ref, at_ms, deadline_ms, x, earlier.get(key), label[0] if label else None)
    return kept
