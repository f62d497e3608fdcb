"""The engine's settings, and their checks against the moments: the impossible refused, the doubtful returned as
sentences."""

from __future__ import annotations

from dataclasses import dataclass

from momentstream.core.clock import format_duration
from momentstream.patterns.nfa import CompiledMoment

__all__ = ["EngineConfig", "config_warnings"]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine-wide settings.

    Parameters
    ----------
    allowed_lateness_ms
        How far behind a customer's newest event another event may arrive and still be
        put in order. Larger values tolerate more disorder but delay triggers by as much.
    dedup_size
        Event ids remembered per customer for deduplication.
    story_size
        Recent events kept per customer and attached to triggers.
    max_buffered_events
        Events held per customer before the oldest is forced through.
    max_buffered_bytes
        Estimated bytes of held events per customer before the oldest are forced through: held
        events live in the stored state, which must stay well below the broker's message limit.
    idle_ttl_ms
        See the attribute.
    max_state_bytes
        The encoded size a customer's state is kept within (see :mod:`momentstream.core.state_budget`): half a
        worker's stored-value limit by default, so replay and the workers trim at the same event, and no
        worker ever has to refuse a customer. None: no bound (replay only).
    """

    allowed_lateness_ms: int = 60_000
    dedup_size: int = 256
    story_size: int = 16
    max_buffered_events: int = 1_000
    max_buffered_bytes: int = 262_144
    max_state_bytes: int | None = 393_216
    idle_ttl_ms: int | None = None
    """Forget a customer silent this long with nothing pending (no timers, held or deferred triggers,
    consent records; partial matches go with it). None keeps every customer for ever."""


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
