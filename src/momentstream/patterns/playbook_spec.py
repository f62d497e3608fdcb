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

The ``playbook:`` key of the moments language. Placeholders are checked when the file is loaded (a
typo would otherwise reach a salesperson as ``{step.secnd_purchase.at}``); rendering
(:mod:`momentstream.triggers.playbook`) is pure and deterministic, so replay and Kafka agree.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from momentstream.patterns.errors import PatternError

__all__ = ["PLACEHOLDER", "PLAYBOOK_KEY", "PlaybookSpec", "parse_playbook"]

PLAYBOOK_KEY = "playbook"
_KEYS = {"owner", "channel", "steps", "talking_points"}
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
"""A literal brace (doubled), or a placeholder."""
_FIXED = ("customer_id", "moment", "kind", "emitted_at", "window.opens_at", "window.closes_at", "score", "tier",
          "objective", "reason.1", "reason.2", "reason.3", "indicators", "action", "channel", "value",
          "anomaly")  # fmt: skip
_STEP_FIELDS = ("at", "event_id", "count")
_MAX_STEPS, _MAX_STEP_CHARS, _MAX_TEXT_CHARS = 20, 500, 4000


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
