"""A moment's playbook: what a person does with its trigger, filled in from the trigger's own evidence.

```yaml
playbook:
  owner: customer_success
  channel: phone
  steps:
    - Call within the window                               # in the trigger itself
    - {say: "Send the onboarding guide", at: 1d}           # a playbook_step trigger one day later
    - {say: "Invite to the {{office hours}} webinar", at: 3d}
  stop_if: {type: purchase}                                # the customer converted: no further steps
  talking_points: >-
    Second order on {step.second_purchase.at} after a support ticket on {step.support.at}.
    Churn score {score} ({tier}); biggest reason: {reason.1}.
```

The ``playbook:`` key of the moments language. Steps with ``at`` are a sequence the engine schedules
when the trigger is sent (:mod:`momentstream.triggers.sequences`); the others travel in the trigger.
Placeholders are checked when the file is loaded (a typo would otherwise reach a salesperson as
``{step.secnd_purchase.at}``); rendering
(:mod:`momentstream.triggers.playbook`) is pure and deterministic, so replay and Kafka agree.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from momentstream.core.clock import parse_duration
from momentstream.patterns.errors import PatternError
from momentstream.patterns.predicates import compile_predicate

__all__ = ["PLACEHOLDER", "PLAYBOOK_KEY", "PlaybookSpec", "TimedStep", "parse_playbook"]

PLAYBOOK_KEY = "playbook"
_KEYS = {"owner", "channel", "steps", "talking_points", "stop_if"}
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
"""A literal brace (doubled), or a placeholder."""
_FIXED = ("customer_id", "moment", "kind", "emitted_at", "window.opens_at", "window.closes_at", "score", "tier",
          "objective", "reason.1", "reason.2", "reason.3", "indicators", "action", "channel", "value",
          "anomaly")  # fmt: skip
_STEP_FIELDS = ("at", "event_id", "count")
_MAX_STEPS, _MAX_STEP_CHARS, _MAX_TEXT_CHARS = 20, 500, 4000
_LONGEST_SEQUENCE_MS = 180 * 86_400_000


@dataclass(frozen=True, slots=True)
class TimedStep:
    """A step of a sequence: what to do, and how long after the trigger was sent."""

    say: str
    at_ms: int
    at: str
    """``at`` as written (``3d``), for the step trigger."""


@dataclass(frozen=True, slots=True)
class PlaybookSpec:
    """A checked playbook: who acts, through which channel, the steps, and the talking-points template."""

    owner: str | None
    channel: str | None
    steps: tuple[str, ...]
    talking_points: str
    timed: tuple[TimedStep, ...] = ()
    """The steps with ``at``, in the order they come due."""
    stop_if: Mapping[str, Any] | None = None
    """A ``where`` test: an event of the customer's that matches ends the sequence (no further steps)."""


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
    if not isinstance(steps, list) or len(steps) > _MAX_STEPS:
        raise PatternError(f"expected a list of up to {_MAX_STEPS} instructions", field=f"{PLAYBOOK_KEY}.steps")
    text = raw.get("talking_points", "")
    if not isinstance(text, str) or len(text) > _MAX_TEXT_CHARS:
        raise PatternError(f"expected text of up to {_MAX_TEXT_CHARS} characters",
                           field=f"{PLAYBOOK_KEY}.talking_points")  # fmt: skip
    allowed = [*_FIXED, *(f"step.{s}.{f}" for s in step_names for f in _STEP_FIELDS)]
    plain: list[str] = []
    timed: list[TimedStep] = []
    for i, step in enumerate(steps):
        field = f"{PLAYBOOK_KEY}.steps[{i}]"
        say = _step_text(step, field)
        if len(say) > _MAX_STEP_CHARS:
            raise PatternError(f"an instruction has at most {_MAX_STEP_CHARS} characters", field=field)
        _check_placeholders(say, allowed, field)
        if isinstance(step, Mapping):
            timed.append(_timed(step, say.strip(), field))
        else:
            plain.append(say.strip())
    if [t.at_ms for t in timed] != sorted(t.at_ms for t in timed):
        raise PatternError("timed steps must be listed in the order they come due (at: 1d before at: 3d)",
                           field=f"{PLAYBOOK_KEY}.steps")  # fmt: skip
    _check_placeholders(text, allowed, f"{PLAYBOOK_KEY}.talking_points")
    stop_if = raw.get("stop_if")
    if stop_if is not None:
        if not timed:
            raise PatternError("stop_if ends a sequence: give some steps an at (e.g. {say: Follow up, at: 3d})",
                               field=f"{PLAYBOOK_KEY}.stop_if")  # fmt: skip
        if not isinstance(stop_if, Mapping) or not stop_if:
            raise PatternError("expected a where mapping, e.g. {type: purchase}", field=f"{PLAYBOOK_KEY}.stop_if")
        try:
            compile_predicate(stop_if)
        except PatternError as err:
            raise PatternError(err.message, field=f"{PLAYBOOK_KEY}.stop_if.{err.field or ''}".rstrip(".")) from None
    return PlaybookSpec(owner, channel, tuple(plain), text.strip(), tuple(timed), stop_if)


def _step_text(step: Any, field: str) -> str:
    """An instruction: text, or the ``say`` of ``{say, at}``."""
    if isinstance(step, str) and step.strip():
        return step
    if isinstance(step, Mapping):
        unknown = set(step) - {"say", "at"}
        if unknown or "say" not in step or "at" not in step:
            raise PatternError("expected an instruction, or {say: <instruction>, at: <duration after the trigger>}",
                               field=field)  # fmt: skip
        say = step["say"]
        if isinstance(say, str) and say.strip():
            return say
        raise PatternError("expected an instruction", field=f"{field}.say")
    raise PatternError("expected an instruction, or {say: <instruction>, at: 3d}", field=field)


def _timed(step: Mapping[str, Any], say: str, field: str) -> TimedStep:
    raw = step["at"]
    try:
        at_ms = parse_duration(raw)
    except (TypeError, ValueError) as err:
        raise PatternError(str(err), field=f"{field}.at") from None
    if not 0 < at_ms <= _LONGEST_SEQUENCE_MS:
        raise PatternError("expected a duration from 1s to 180d after the trigger", field=f"{field}.at")
    return TimedStep(say, at_ms, str(raw))


def _check_placeholders(text: str, allowed: list[str], field: str) -> None:
    names = [m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(1) is not None]
    for name in names:
        if name not in allowed:
            near = difflib.get_close_matches(name, allowed, n=1)
            hint = (
                f" (did you mean {{{near[0]}}}?)" if near else f" (placeholders: {', '.join(_FIXED)}, step.<name>.at)"
            )
            raise PatternError(f"unknown placeholder {{{name}}}{hint}", field=field)
    stray = PLACEHOLDER.sub("", text)
    if "{" in stray or "}" in stray:
        raise PatternError("an unmatched brace (write {{ or }} for a literal one)", field=field)
