"""Small builders shared by the tests: events at minute offsets, and a run through the engine."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import Output, TouchpointEvent, Trigger
from momentstream.patterns.nfa import CompiledMoment
from momentstream.runtime.replay.runner import ReplayRunner

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC


def at(minutes: float) -> datetime:
    """T0 plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def hours(h: float) -> float:
    """Minutes in ``h`` hours, for readable offsets."""
    return h * 60


def event(event_id: str, kind: str, minutes: float, customer: str = "c1", **fields: Any) -> TouchpointEvent:
    """An event ``minutes`` after T0."""
    return TouchpointEvent(event_id=event_id, customer_id=customer, type=kind, ts=at(minutes), **fields)


def events(spec: Sequence[tuple[str, float]], customer: str = "c1") -> list[TouchpointEvent]:
    """Events ``e0, e1, …`` from (type, minutes) pairs."""
    return [event(f"e{i}", kind, minutes, customer) for i, (kind, minutes) in enumerate(spec)]


def run(
    moments: CompiledMoment | Iterable[CompiledMoment],
    stream: Iterable[TouchpointEvent],
    *,
    lateness_ms: int = 0,
    until: int | None = None,
) -> list[Output]:
    """Replay ``stream`` through the moments and return every output."""
    ms = [moments] if isinstance(moments, CompiledMoment) else list(moments)
    runner = ReplayRunner(Engine(ms, EngineConfig(allowed_lateness_ms=lateness_ms)))
    return list(runner.run(stream, until=until))


def triggers(outputs: Iterable[Output], kind: str | None = None) -> list[Trigger]:
    """Only the triggers (of one kind)."""
    return [o for o in outputs if isinstance(o, Trigger) and (kind is None or o.kind == kind)]


def evidence_ids(outputs: Iterable[Output], kind: str | None = None) -> list[list[str]]:
    """The evidence event ids of each trigger, in emission order."""
    return [[e.event_id for e in t.evidence] for t in triggers(outputs, kind)]
