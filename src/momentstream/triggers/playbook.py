"""Filling a moment's playbook from its trigger's own evidence: what a person does with the trigger.

The ``playbook:`` key is parsed and its placeholders checked with the moment
(:mod:`momentstream.patterns.playbook_spec`); rendering here is pure and deterministic, so replay and
Kafka agree on every word.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from momentstream.core.clock import to_ms
from momentstream.core.schema import Playbook, ScheduledStep, Trigger, ms_to_datetime
from momentstream.patterns.playbook_spec import PLACEHOLDER, PlaybookSpec

__all__ = ["MISSING", "render_playbook"]

MISSING = "n/a"
"""What a placeholder shows when the trigger has no such value (no score, no window, a step not matched)."""


def _when(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC")


def _values(trigger: Trigger) -> dict[str, str]:
    """Every placeholder's text for this trigger (those without a value are left out: they show n/a)."""
    values = {"customer_id": trigger.customer_id, "moment": trigger.moment, "kind": trigger.kind,
              "emitted_at": _when(trigger.emitted_at)}  # fmt: skip
    if trigger.window is not None:
        values["window.opens_at"] = _when(trigger.window.opens_at)
        values["window.closes_at"] = _when(trigger.window.closes_at)
    if trigger.score is not None:
        values.update(score=f"{trigger.score.score:.2f}", tier=trigger.score.tier or MISSING,
                      objective=trigger.score.objective)  # fmt: skip
        for i, why in enumerate(trigger.score.why[:3], start=1):
            values[f"reason.{i}"] = f"{why.says} ({why.points:+.0f} points)"
        spend = trigger.score.value
        if spend is not None:  # "expected spend": the value objective's amount over its horizon
            values["value"] = f"{spend.amount:,.2f} over {spend.horizon_days:g} days"
    if trigger.signals is not None:  # how unusual the customer is for themselves, and (unbound) the spend
        values["anomaly"] = f"{trigger.signals.anomaly:.1f}"
        spend = trigger.signals.value
        if spend is not None and "value" not in values:
            values["value"] = f"{spend.amount:,.2f} over {spend.horizon_days:g} days"
    indicators = [name for e in trigger.evidence for name in (e.indicators or [])]
    if indicators:
        values["indicators"] = ", ".join(dict.fromkeys(indicators))
    if trigger.action is not None:
        values["action"] = trigger.action.name
    channel = (trigger.action.channel if trigger.action is not None else None) or (
        trigger.channels[0] if trigger.channels else None
    )
    if channel:
        values["channel"] = channel
    for e in trigger.evidence:  # the step's last event wins, as a window's anchor does
        values[f"step.{e.step}.at"] = _when(e.ts)
        values[f"step.{e.step}.event_id"] = e.event_id
    for step, count in Counter(e.step for e in trigger.evidence).items():
        values[f"step.{step}.count"] = str(count)
    return values


def _fill(text: str, values: Mapping[str, str]) -> str:
    """One pass: ``{{`` and ``}}`` are literal braces, ``{name}`` its value (n/a when the trigger has none)."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return values.get(match.group(1), MISSING)

    return PLACEHOLDER.sub(one, text)


def render_playbook(spec: PlaybookSpec, trigger: Trigger) -> Playbook:
    """The playbook as the trigger carries it: placeholders filled from the trigger's evidence and score.

    A trigger that starts a sequence lists its steps under ``scheduled``, with when each comes due; a step's
    own trigger (``playbook_step``) carries that one step as its instruction."""
    values = _values(trigger)
    channel = spec.channel or values.get("channel")
    owner = spec.owner or trigger.owner or (trigger.score.owner if trigger.score is not None else None)
    steps = [_fill(s, values) for s in spec.steps]
    scheduled = []
    if trigger.sequence is not None:
        steps = [_fill(spec.timed[trigger.sequence.step - 1].say, values)]
    elif trigger.kind in ("match", "window_open"):
        sent = to_ms(trigger.emitted_at)
        scheduled = [ScheduledStep(step=k, due_at=ms_to_datetime(sent + t.at_ms), say=_fill(t.say, values))
                     for k, t in enumerate(spec.timed, start=1)]  # fmt: skip
    return Playbook(owner=owner, channel=channel, steps=steps, talking_points=_fill(spec.talking_points, values),
                    scheduled=scheduled)  # fmt: skip
