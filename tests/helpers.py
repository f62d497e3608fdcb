"""Small builders shared by the tests: events at minute offsets, and a run through the engine."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
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


def write_export(events: Sequence[TouchpointEvent], path: Path, kind_of: Any = None) -> list[str]:
    """``events`` as a warehouse export would hold them: a CSV with its own column names (id, user, event, at,
    amount, channel) and one column per property; returns the ``--map`` that reads it back."""
    keys = sorted({k for e in events for k in e.properties})

    def cell(value: object) -> str:
        return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "user", "event", "at", "amount", "channel", *keys])
        for e in events:
            writer.writerow([e.event_id, e.customer_id, kind_of(e.type) if kind_of else e.type, e.ts.isoformat(),
                             "" if e.value is None else repr(e.value), e.channel,
                             *(cell(e.properties.get(k)) for k in keys)])  # fmt: skip
    return ["--map", "event_id=id,customer_id=user,type=event,ts=at,value=amount"]
