"""A moment's playbook: what a person does with its trigger, filled in from the trigger's own evidence.

```yaml
playbook:
  owner: customer_success
  channel: phone
  steps: [Call within the window, Offer the onboarding session]
  talking_points: >-
    Second order on {step.second_purchase.at} after a support ticket on {step.support.at}.
    Churn score {score} ({tier}); biggest reason: {reason.1}.
```

Placeholders are checked when the file is loaded (a typo would otherwise reach a salesperson as
``{step.secnd_purchase.at}``); rendering is pure and deterministic, so replay and Kafka agree.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from momentstream.patterns.errors import PatternError
from momentstream.schema import Playbook, Trigger

__all__ = ["PLAYBOOK_KEY", "PlaybookSpec", "parse_playbook", "render_playbook"]

PLAYBOOK_KEY = "playbook"
_KEYS = {"owner", "channel", "steps", "talking_points"}
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
"""A literal brace (doubled), or a placeholder."""
_FIXED = ("customer_id", "moment", "kind", "emitted_at", "window.opens_at", "window.closes_at", "score", "tier",
          "objective", "reason.1", "reason.2", "reason.3", "indicators", "action", "channel")  # fmt: skip
_STEP_FIELDS = ("at", "event_id", "count")
_MAX_STEPS, _MAX_STEP_CHARS, _MAX_TEXT_CHARS = 20, 500, 4000
MISSING = "n/a"
"""What a placeholder shows when the trigger has no such value (no score, no window, a step not matched)."""


@dataclass(frozen=True, slots=True)
class PlaybookSpec:
    """A checked playbook: who acts, through which channel, the steps, and the talking-points template."""

    owner: str | None
    channel: str | None
    steps: tuple[str, ...]
    talking_points: str


def parse_playbook(raw: Any, step_names: list[str]) -> PlaybookSpec | None:
    """The ``playbook:`` of a moment, its placeholders checked against the moment's step names.

    >>> parse_playbook({"talking_points": "ticket on {step.support.at}"}, ["support"]).talking_points
    'ticket on {step.support.at}'
    >>> try:
    ...     parse_playbook({"talking_points": "{step.suport.at}"}, ["support"])
    ... except PatternError as err:
    ...     print(err.message)
    unknown placeholder {step.suport.at} (did you mean {step.support.at}?)
    """
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not raw or set(raw) - _KEYS:
        raise PatternError(f"expected a mapping with some of {sorted(_KEYS)}", field=PLAYBOOK_KEY)
    owner, channel = raw.get("owner"), raw.get("channel")
    for name, value in (("owner", owner), ("channel", channel)):
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise PatternError("expected a name", field=f"{PLAYBOOK_KEY}.{name}")
    steps = raw.get("steps", [])
    if not isinstance(steps, list) or len(steps) > _MAX_STEPS or not all(isinstance(s, str) and s.strip()
                                                                          for s in steps):  # fmt: skip
        raise PatternError(f"expected a list of up to {_MAX_STEPS} instructions", field=f"{PLAYBOOK_KEY}.steps")
    text = raw.get("talking_points", "")
    if not isinstance(text, str) or len(text) > _MAX_TEXT_CHARS:
        raise PatternError(f"expected text of up to {_MAX_TEXT_CHARS} characters",
                           field=f"{PLAYBOOK_KEY}.talking_points")  # fmt: skip
    allowed = [*_FIXED, *(f"step.{s}.{f}" for s in step_names for f in _STEP_FIELDS)]
    for i, step in enumerate(steps):
        if len(step) > _MAX_STEP_CHARS:
            raise PatternError(f"an instruction has at most {_MAX_STEP_CHARS} characters",
                               field=f"{PLAYBOOK_KEY}.steps[{i}]")  # fmt: skip
        _check_placeholders(step, allowed, f"{PLAYBOOK_KEY}.steps[{i}]")
    _check_placeholders(text, allowed, f"{PLAYBOOK_KEY}.talking_points")
    return PlaybookSpec(owner, channel, tuple(s.strip() for s in steps), text.strip())


def _check_placeholders(text: str, allowed: list[str], field: str) -> None:
    names = [m.group(1) for m in _TOKEN.finditer(text) if m.group(1) is not None]
    for name in names:
        if name not in allowed:
            near = difflib.get_close_matches(name, allowed, n=1)
            hint = (
                f" (did you mean {{{near[0]}}}?)" if near else f" (placeholders: {', '.join(_FIXED)}, step.<name>.at)"
            )
            raise PatternError(f"unknown placeholder {{{name}}}{hint}", field=field)
    stray = _TOKEN.sub("", text)
    if "{" in stray or "}" in stray:
        raise PatternError("an unmatched brace (write {{ or }} for a literal one)", field=field)


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
        for i, reason in enumerate(trigger.score.reasons[:3], start=1):
            values[f"reason.{i}"] = f"{reason.feature} ({reason.points:+.0f} points)"
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

    return _TOKEN.sub(one, text)


def render_playbook(spec: PlaybookSpec, trigger: Trigger) -> Playbook:
    """The playbook as the trigger carries it: placeholders filled from the trigger's evidence and score."""
    values = _values(trigger)
    channel = spec.channel or values.get("channel")
    owner = spec.owner or trigger.owner or (trigger.score.owner if trigger.score is not None else None)
    return Playbook(owner=owner, channel=channel, steps=[_fill(s, values) for s in spec.steps],
                    talking_points=_fill(spec.talking_points, values))  # fmt: skip
