"""The outcome by delay to the first intervention, kept as per-bin sums so any size stays small.

A :class:`DelayCurve` holds, for each delay bin after an anchor (plus one row for customers
first reached later than the curve's range and one for customers never reached), the number
of customers, how many reached the outcome, and the sum and sum of squares of each behaviour
feature measured before the anchor. That is all the window search, its permutation test
(a multivariate hypergeometric draw over the bins) and the balance table need, so a scan over
millions of customers returns kilobytes, and bucket results add up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["FEATURES", "DelayCurve"]

FEATURES = 3
"""Behaviour features per customer (see :data:`momentstream.discovery.timing.BALANCE_FEATURES`)."""
_COLUMNS = 2 + 2 * FEATURES


@dataclass(slots=True)
class DelayCurve:
    """Per-bin sums: ``rows[k] = [customers, outcomes, f1, f1^2, f2, f2^2, f3, f3^2]``.

    Rows ``0..bins-1`` are the delay bins of ``width_ms``; row ``bins`` holds customers first
    reached later; row ``bins + 1`` customers not reached at all.

    >>> curve = DelayCurve.empty(3_600_000, 3)
    >>> curve.add(5_400_000, True, (2.0, 0.0, 0.0))
    >>> curve.add(None, False, (1.0, 0.0, 0.0))
    >>> curve.rows[1][:3], curve.rows[4][:3]
    ([1.0, 1.0, 2.0], [1.0, 0.0, 1.0])
    """

    width_ms: int
    bins: int
    rows: list[list[float]] = field(default_factory=list)

    @classmethod
    def empty(cls, width_ms: int, bins: int) -> DelayCurve:
        """A curve with no customers yet."""
        return cls(width_ms, bins, [[0.0] * _COLUMNS for _ in range(bins + 2)])

    def add(self, delay_ms: int | None, label: bool, before: Sequence[float]) -> None:
        """One customer: first reached ``delay_ms`` after the anchor (None: never), outcome, features."""
        k = self.bins + 1 if delay_ms is None else min(delay_ms // self.width_ms, self.bins)
        row = self.rows[k]
        row[0] += 1
        row[1] += label
        for i, value in enumerate(before[:FEATURES]):
            row[2 + 2 * i] += value
            row[3 + 2 * i] += value * value

    def merge(self, other: DelayCurve) -> None:
        """Add another bucket's curve (same bins)."""
        if (other.width_ms, other.bins) != (self.width_ms, self.bins):
            raise ValueError("curves with different bins cannot be merged")
        for mine, theirs in zip(self.rows, other.rows, strict=True):
            for i, value in enumerate(theirs):
                mine[i] += value

    def customers(self, first: int, last: int) -> tuple[int, int]:
        """(customers, outcomes) in rows ``first..last-1``."""
        return (int(sum(r[0] for r in self.rows[first:last])), int(sum(r[1] for r in self.rows[first:last])))

    def features(self, rows: Sequence[int]) -> list[tuple[float, float, float]]:
        """Per feature over the given rows: (customers, sum, sum of squares)."""
        n = sum(self.rows[k][0] for k in rows)
        return [(n, sum(self.rows[k][2 + 2 * i] for k in rows), sum(self.rows[k][3 + 2 * i] for k in rows))
                for i in range(FEATURES)]  # fmt: skip
