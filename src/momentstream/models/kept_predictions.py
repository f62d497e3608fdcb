"""A customer's kept predictions, every objective's, packed into a few arrays.

A kept prediction waits one label delay for its label: a scoring replay holds about twenty per customer.
As objects (a prediction, its feature vector, the vector's array of values, a list per objective) they
cost 4.7 KB of a simulated customer's 13 KB, most of it object headers around twenty doubles. Here a row
is four integers in one array and its label in another, its feature names a reference to a shared tuple,
and its values a stretch of one array of doubles; objectives that keep the same features at the same
instant share the stretch. Rows come out as :class:`KeptRow` values only when they are read (learned,
encoded, trimmed). The state's encoding is unchanged (see :mod:`.scoring_state`).

>>> kept = KeptPredictions()
>>> vector = kept.add("churn", 1, 0, 100, {"recency": 2.0, "visits": 5.0})
>>> _ = kept.add("value", 2, 0, 300, {"recency": 2.0, "visits": 5.0}, vector)  # the same stretch
>>> _ = kept.add("churn", 3, 50, 150, {"recency": 0.5})
>>> len(kept), kept.count("churn"), kept.next_deadline(), len(kept.values)
(3, 2, 100, 3)
>>> [(name, [(r.ref, r.x) for r in rows]) for name, rows in kept.take_all_due(120)]
[('churn', [(1, {'recency': 2.0, 'visits': 5.0})])]
>>> [r.ref for r in kept.rows("churn")], [r.x for r in kept.rows("value")], len(kept.values)
([3], [{'recency': 2.0, 'visits': 5.0}], 3)
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from momentstream.models.shared_names import shared_names

__all__ = ["KeptPredictions", "KeptRow", "Vector"]

_WIDTH = 4
"""Integers per row in ``meta``: the objective's index, ref, kept at (ms), label deadline (ms)."""

Vector = tuple[tuple[str, ...], int]
"""A stored feature vector: its shared names and where its values start."""


class KeptRow(NamedTuple):
    """One kept prediction as read back."""

    ref: int
    at_ms: int
    deadline_ms: int
    label: float | None
    """Set when the outcome came (a value objective's: the amounts so far); learned only at the deadline."""
    x: dict[str, float]


class KeptPredictions:
    """Rows in keeping order: each objective's rows are in time order, so its first is its next deadline."""

    __slots__ = ("labels", "meta", "names", "objectives", "starts", "values", "whole")

    def __init__(self) -> None:
        self.objectives: list[str] = []
        self.meta: array[int] = array("q")
        self.labels: array[float] = array("d")
        """NaN: no label yet."""
        self.names: list[tuple[str, ...]] = []
        self.starts: array[int] = array("q")
        self.values: array[float] = array("d")
        self.whole = 0
        """Bit i: objective i's labels are classes (0 or 1), read back as integers as they were written."""

    def __len__(self) -> int:
        return len(self.labels)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeptPredictions):
            return NotImplemented
        return self.by_objective() == other.by_objective()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"KeptPredictions({self.by_objective()!r})"

    # -- writing ---------------------------------------------------------------------------------
    def add(self, objective: str, ref: int, at_ms: int, deadline_ms: int, x: Mapping[str, float],
            vector: Vector | None = None, label: float | None = None) -> Vector:  # fmt: skip
        """Keep a prediction with features ``x``, stored once per ``vector`` (the one :meth:`add` returned for
        the same features at the same instant); returns the vector it used."""
        if objective not in self.objectives:
            self.objectives.append(objective)
        if vector is None:
            vector = (shared_names(tuple(x)), len(self.values))
            self.values.extend(x.values())
        at = self.objectives.index(objective)
        self.meta.extend((at, ref, at_ms, deadline_ms))
        self.labels.append(math.nan if label is None else label)
        if isinstance(label, int):
            self.whole |= 1 << at
        self.names.append(vector[0])
        self.starts.append(vector[1])
        return vector

    def drop_oldest(self, objective: str, count: int = 1) -> int:
        """Let the objective's ``count`` oldest rows go (their labels are never learned); returns how many."""
        doomed = self._indices(objective)[:count]
        self._remove(doomed)
        return len(doomed)

    def take_all_due(self, now: int) -> list[tuple[str, list[KeptRow]]]:
        """Remove every row whose label deadline is at or before ``now``, in one pass: per objective (in the order
        they first kept a row), its due rows, oldest first."""
        first = self.next_deadline()
        if first is None or first > now:
            return []  # the usual case, at every event: one slice's minimum, not a pass in Python
        meta = self.meta
        due = [i for i, deadline in enumerate(meta[3::_WIDTH]) if deadline <= now]
        owners = [meta[i * _WIDTH] for i in due]
        rows = self._remove(due)
        return [(name, [row for row, owner in zip(rows, owners, strict=True) if owner == at])
                for at, name in enumerate(self.objectives) if at in owners]  # fmt: skip

    def take_ref(self, objective: str, ref: int, fire_at: int) -> KeptRow | None:
        """Remove and return the objective's row ``ref`` if its deadline is at or before ``fire_at``."""
        meta = self.meta
        for i in self._indices(objective):
            if meta[i * _WIDTH + 1] == ref and meta[i * _WIDTH + 3] <= fire_at:
                return self._remove([i])[0]
        return None

    def label_window(self, objective: str, ts: int, after_ms: int, label: int, amount: float | None) -> None:
        """An outcome at ``ts`` labels the objective's rows whose window holds it: ``label`` where none is yet,
        or, for a value objective (``amount`` not None), the amount added to theirs."""
        meta, labels = self.meta, self.labels
        rows = self._indices(objective)
        if amount is None and rows:
            self.whole |= 1 << self.objectives.index(objective)
        for i in rows:
            if meta[i * _WIDTH + 2] + after_ms < ts <= meta[i * _WIDTH + 3]:
                if amount is not None:
                    labels[i] = (0.0 if math.isnan(labels[i]) else labels[i]) + amount
                elif math.isnan(labels[i]):
                    labels[i] = label

    # -- reading ---------------------------------------------------------------------------------
    def count(self, objective: str) -> int:
        """Rows the objective keeps."""
        if objective not in self.objectives:
            return 0
        return self.meta[0::_WIDTH].count(self.objectives.index(objective))

    def next_deadline(self) -> int | None:
        """The earliest label deadline of any row (None: no rows)."""
        return min(self.meta[3::_WIDTH]) if self.labels else None

    def rows(self, objective: str) -> Iterator[KeptRow]:
        """The objective's rows, oldest first."""
        return (self._row(i) for i in self._indices(objective))

    def by_objective(self) -> dict[str, list[KeptRow]]:
        """Every objective's rows, in the order the objectives first kept one (an objective stays, rows or not)."""
        return {name: list(self.rows(name)) for name in self.objectives}

    # -- inside ----------------------------------------------------------------------------------
    def _indices(self, objective: str) -> list[int]:
        if objective not in self.objectives:
            return []
        at = self.objectives.index(objective)
        return [i for i, owner in enumerate(self.meta[0::_WIDTH]) if owner == at]

    def _row(self, i: int) -> KeptRow:
        meta, names, start, label = self.meta, self.names[i], self.starts[i], self.labels[i]
        x = dict(zip(names, self.values[start : start + len(names)], strict=True))
        known = None if math.isnan(label) else int(label) if self.whole >> meta[i * _WIDTH] & 1 else label
        return KeptRow(meta[i * _WIDTH + 1], meta[i * _WIDTH + 2], meta[i * _WIDTH + 3], known, x)

    def _remove(self, doomed: list[int]) -> list[KeptRow]:
        """Take rows out, returned as values, in place; a stretch of values no row uses any more goes too (one
        two rows share stays while either does)."""
        if not doomed:
            return []
        taken = [self._row(i) for i in doomed]
        meta, labels, names, starts = self.meta, self.labels, self.names, self.starts
        freed = {}
        for i in sorted(doomed, reverse=True):
            freed[starts[i]] = len(names[i])
            del meta[i * _WIDTH : (i + 1) * _WIDTH], labels[i], names[i], starts[i]
        for start, length in sorted(freed.items(), reverse=True):
            if start in starts:
                continue  # shared with a row that stays
            del self.values[start : start + length]
            self.starts = starts = array("q", [at - length if at > start else at for at in starts])
        return taken
