"""The later period: how the discovered moments and today's usual rules do on data they never saw.

Baselines are what users run today: win-back after 30 or 60 days of inactivity, and the
best "did X at least k times within 30 days" rule chosen on the earlier period (the view a
frequency-threshold tool such as Amplitude Compass gives). All run through the same engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from momentstream.discovery.scan import MomentCounts, ScanResult
from momentstream.discovery.verify import quiet_where
from momentstream.patterns.spec import AbsentStep, EventStep, MomentSpec

__all__ = ["BacktestRow", "backtest_rows", "winback_spec"]

_D = 86_400_000


def winback_spec(days: int, intervention: dict[str, Any] | None) -> MomentSpec:
    """Any activity, then none for ``days`` days: the classic inactivity win-back rule."""
    active = quiet_where(intervention)
    return MomentSpec(f"baseline_winback_{days}d", (EventStep("active", active), AbsentStep("inactive", active,
                      for_ms=days * _D)), description=f"Win-back after {days} days without activity.")  # fmt: skip


@dataclass(frozen=True, slots=True)
class BacktestRow:
    """One moment over the later period."""

    name: str
    kind: str
    """``discovered`` or ``baseline``."""
    description: str
    counts: MomentCounts
    base_rate: float

    @property
    def rate(self) -> float:
        """Outcome rate after the moment fired."""
        return self.counts.rate

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95% interval of the rate."""
        return self.counts.interval

    @property
    def lift(self) -> float:
        """Rate over the base rate of the period."""
        return self.rate / self.base_rate if self.base_rate else 0.0


def backtest_rows(result: ScanResult, specs: Sequence[tuple[MomentSpec, str, str]]) -> list[BacktestRow]:
    """Rows for ``(spec, kind, description)`` from a scan of the later period."""
    return [BacktestRow(spec.name, kind, text, result.counts[spec.name], result.base_rate)
            for spec, kind, text in specs]  # fmt: skip
