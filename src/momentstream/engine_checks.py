"""Engine settings checked against the moments: the impossible refused, the doubtful returned as sentences."""

from __future__ import annotations

from typing import TYPE_CHECKING

from momentstream.clock import format_duration
from momentstream.patterns.nfa import CompiledMoment

if TYPE_CHECKING:
    from momentstream.engine import EngineConfig

__all__ = ["config_warnings"]


def config_warnings(moments: tuple[CompiledMoment, ...], config: EngineConfig) -> list[str]:
    """Refuse impossible engine settings; return the doubtful ones as sentences."""
    ttl = config.idle_ttl_ms
    if ttl is not None and ttl <= 0:
        raise ValueError("idle_ttl must be longer than 0s (leave it unset to keep every customer)")
    if config.allowed_lateness_ms < 0:
        raise ValueError("allowed lateness cannot be negative")
    warnings = []
    for m in moments:
        if m.spec.loop.decide is not None and not m.spec.holdout_share:
            warnings.append(f"moment {m.name!r} decides by uplift without a holdout: its control model cannot learn, "
                            "so it sends every trigger (decision: learning); give it holdout: 0.1")  # fmt: skip
        span = _longest_span(m)
        if ttl is not None and span is not None and ttl < span:
            warnings.append(
                f"idle_ttl {format_duration(ttl)} is shorter than moment {m.name!r} may take to match "
                f"({format_duration(span)}): a customer silent that long loses its partial matches"
            )
    return warnings


def _longest_span(m: CompiledMoment) -> int | None:
    """The longest time a moment's partial match may wait for its next event (its declared limits)."""
    spec = m.spec
    spans = [spec.within_ms or 0]
    for step in spec.steps:
        spans.append(getattr(step, "within_ms", None) or 0)
    if m.kofn is not None:
        spans.append(m.kofn.within_ms)
    longest = max(spans)
    return longest or None
