"""Stated preferences: what a customer said they want, read from their events and honoured before any policy.

A moment with ``actions`` and ``prefer: prefers`` reads the event property ``prefers``. Whatever event
carries it (a profile update, a survey answer, a preference-centre click), the latest stated value is
kept in the customer's state, in event-time order. Saying nothing (null or an empty string) withdraws it.

When a trigger of such a moment fires, the first stated value that names one of its actions is the
action, and the trigger says so (``action.chosen_by: preference``). Otherwise the moment's policy (the
bandit) chooses, and it learns only from the triggers it chose itself: an outcome of a request the
customer asked for says nothing about the policy's choices.

>>> from momentstream.patterns.loop_spec import ActionSpec
>>> actions = (ActionSpec("case_study"), ActionSpec("review_request"))
>>> matched(actions, "Case Study, webinar"), matched(actions, "webinar"), matched(actions, None)
('case_study', None, None)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from momentstream.core.state import CustomerState
from momentstream.patterns.loop_spec import ActionSpec

__all__ = ["MAX_STATED_CHARS", "matched", "note_preferences"]

MAX_STATED_CHARS = 200
"""A stated value is kept up to this many characters (a preference is a few words, not a document)."""
_SEPARATOR = re.compile(r"[\s\-]+")


def note_preferences(state: CustomerState, properties: Mapping[str, Any], names: Iterable[str], at_ms: int) -> None:
    """Keep the preferences ``properties`` states among ``names`` (text; several, comma-separated, first wins)."""
    for name in names:
        if name not in properties:
            continue
        raw = properties[name]
        if isinstance(raw, str) and raw.strip():
            state.preferences[name] = (raw.strip()[:MAX_STATED_CHARS], at_ms)
        elif raw is None or isinstance(raw, str):
            state.preferences.pop(name, None)  # null or empty: the customer withdrew it
        # a number or a flag states nothing: the last statement stands


def matched(actions: tuple[ActionSpec, ...], stated: str | None) -> str | None:
    """The first stated value (comma-separated, any case, spaces or hyphens for underscores) naming an action."""
    if not stated:
        return None
    names = {a.name for a in actions}
    for part in stated.split(","):
        name = _SEPARATOR.sub("_", part.strip().lower())
        if name in names:
            return name
    return None
