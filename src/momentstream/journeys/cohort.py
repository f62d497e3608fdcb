"""Who is in the value cohort: each customer's value over their first days, and the top share of it.

``--by 'value within 180d'`` sums the ``value`` of the outcome events (``--outcome``, a ``where:`` test
as discovery's) from the customer's first event to 180 days later; ``'count within 90d'`` counts them.
A customer whose first event is less than that long before the history ends has not had the time: they
are left out (censored), never ranked as low.

>>> rule = parse_by("value within 180d")
>>> rule.measure, rule.within_ms // 86_400_000
('value', 180)
>>> parse_top("5%"), parse_top("0.1")
(0.05, 0.1)
>>> top_threshold([0.0, 5.0, 50.0, 7.0, 300.0, 0.0, 12.0, 9.0, 1.0, 2.0], 0.2)
50.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from momentstream.core.clock import format_duration, parse_duration

__all__ = ["ValueRule", "parse_by", "parse_top", "top_threshold"]

_BY = re.compile(r"^\s*(value|count)\s+within\s+(\S+)\s*$")
_LONGEST_MS = 3 * 365 * 86_400_000


@dataclass(frozen=True, slots=True)
class ValueRule:
    """What a customer's value is: the outcome events' summed ``value``, or their count, within a time."""

    measure: Literal["value", "count"]
    within_ms: int

    def describe(self) -> str:
        """As a person reads it: ``value within 180d``."""
        return f"{self.measure} within {format_duration(self.within_ms)}"


def parse_by(text: str) -> ValueRule:
    """``value within 180d`` or ``count within 90d``; a ValueError says what is expected."""
    found = _BY.match(text)
    if found is None:
        raise ValueError(f"--by: expected 'value within 180d' or 'count within 90d', not {text!r}")
    try:
        within = parse_duration(found.group(2))
    except ValueError as err:
        raise ValueError(f"--by: {err}") from None
    if not 0 < within <= _LONGEST_MS:
        raise ValueError("--by: expected a duration from 1 day to 3 years")
    return ValueRule("value" if found.group(1) == "value" else "count", within)


def parse_top(text: str) -> float:
    """``5%`` or ``0.05``: the share of customers in the cohort, above 0 and at most a half."""
    raw = text.strip()
    try:
        share = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"--top: expected a share such as 5% or 0.05, not {text!r}") from None
    if not (math.isfinite(share) and 0 < share <= 0.5):
        raise ValueError("--top: expected a share above 0 and at most 50%")
    return share


def top_threshold(values: Sequence[float], share: float) -> float:
    """The smallest value in the top ``share`` (ties at it are all in); never 0, so no-value customers stay out."""
    ranked = sorted(values, reverse=True)
    if not ranked:
        return math.inf
    cut = ranked[max(0, math.ceil(share * len(ranked)) - 1)]
    if cut > 0:
        return cut
    positive = [v for v in ranked if v > 0]
    return positive[-1] if positive else math.inf
