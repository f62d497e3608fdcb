"""Closing the loop, as declared on a moment: which outcome counts, how to decide, which actions to choose from.

A moments file says it in three optional keys:

.. code-block:: yaml

    outcome: {where: {type: purchase}, within: 14d, value: 120}   # success, for how long, what it is worth
    decide: {by: uplift, cost: 4}                     # send only when predicted lift x value > cost
    actions:                                          # a bandit picks one per trigger
      - {name: education_email, channel: email, cost: 1}
      - {name: discount, channel: email, cost: 8}
    prefer: prefers                                   # ... unless the customer said which (a property)

``decide`` and ``actions`` learn from linked outcomes, so they need ``outcome``. Values are plain
data; :mod:`momentstream.triggers.loop` runs them.

>>> spec = parse_loop({"outcome": {"where": {"type": "purchase"}, "within": "14d"},
...                    "decide": {"by": "uplift", "value": 120, "cost": 4}})
>>> spec.outcome_within_ms // 86_400_000, spec.decide.value, spec.decide.cost, spec.decide.explore
(14, 120.0, 4.0, 0.05)
>>> parse_loop({"decide": {"by": "uplift", "value": 1}})
Traceback (most recent call last):
...
momentstream.patterns.errors.PatternError: field 'decide': decide and actions learn from linked outcomes: ...
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from momentstream.core.clock import parse_duration
from momentstream.patterns.errors import PatternError

__all__ = ["LOOP_KEYS", "ActionSpec", "DecideSpec", "LoopSpec", "parse_loop"]

LOOP_KEYS = frozenset({"outcome", "decide", "actions", "prefer"})
"""The moment keys this module reads."""
_LONGEST_WITHIN_MS = 365 * 86_400_000
_LARGEST_AMOUNT = 1e9
_ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
MAX_ACTIONS = 16


@dataclass(frozen=True, slots=True)
class DecideSpec:
    """``decide: {by: uplift, value, cost}``: contact only where the predicted lift pays for the contact."""

    value: float
    """What one outcome is worth (any unit; cost is in the same unit): the outcome's ``value`` unless given here."""
    cost: float = 0.0
    """What one contact costs; a chosen action's own cost replaces it."""
    min_labels: int = 200
    """Labels each arm (treated, control) learns before the model decides; until then every trigger is sent."""
    explore: float = 0.05
    """Share of triggers the model would not send that are sent anyway, so it keeps learning where it says no."""


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One entry of a moment's playbook: what to do, through which channel, at what cost."""

    name: str
    channel: str | None = None
    cost: float = 0.0


@dataclass(frozen=True, slots=True)
class LoopSpec:
    """A moment's outcome, decision rule and actions (all optional)."""

    outcome: Mapping[str, Any] | None = None
    """A ``where`` predicate: the event that counts as success after a trigger."""
    outcome_within_ms: int = 0
    outcome_value: float = 1.0
    """What one outcome is worth, in the unit of the costs (``outcome.value``; 1 when not given)."""
    decide: DecideSpec | None = None
    actions: tuple[ActionSpec, ...] = ()
    prefer: str | None = None
    """An event property in which customers state which action they want (``prefers: case_study``): when the
    customer's latest stated value names one of ``actions``, that one is chosen and the policy picks among
    the rest of the triggers only."""

    @property
    def learns(self) -> bool:
        """Whether the moment has models to learn from its outcomes (decide or actions)."""
        return self.decide is not None or bool(self.actions)

    @property
    def value(self) -> float:
        """What one outcome is worth: ``decide.value``, else ``outcome.value``, else 1."""
        return self.decide.value if self.decide is not None else self.outcome_value


def parse_loop(raw: Mapping[str, Any]) -> LoopSpec:
    """Read ``outcome``, ``decide`` and ``actions`` from one moment's mapping; errors name the field."""
    outcome, within, value = _outcome(raw.get("outcome"))
    decide = _decide(raw.get("decide"), value)
    actions = _actions(raw.get("actions"))
    if (decide is not None or actions) and outcome is None:
        raise PatternError("decide and actions learn from linked outcomes: add outcome: {where: {type: purchase}, "
                           "within: 14d}", field="decide" if decide is not None else "actions")  # fmt: skip
    prefer = _prefer(raw.get("prefer"), actions)
    return LoopSpec(outcome, within, value if value is not None else 1.0, decide, actions, prefer)


def _prefer(raw: Any, actions: tuple[ActionSpec, ...]) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not _PROPERTY_NAME.match(raw):
        raise PatternError(f"expected the name of an event property, e.g. prefer: prefers, not {raw!r}",
                           field="prefer")  # fmt: skip
    if not actions:
        raise PatternError("prefer chooses among the moment's actions: add actions: [{name: case_study}, ...]",
                           field="prefer")  # fmt: skip
    return raw


def _outcome(raw: Any) -> tuple[Mapping[str, Any] | None, int, float | None]:
    if raw is None:
        return None, 0, None
    if not isinstance(raw, Mapping) or not {"where", "within"} <= set(raw) or set(raw) - {"where", "within", "value"}:
        raise PatternError("expected {where: {type: purchase}, within: 14d, value: 120} (value optional)",
                           field="outcome")  # fmt: skip
    if not isinstance(raw["where"], Mapping) or not raw["where"]:
        raise PatternError("expected the outcome event as a where mapping, e.g. {type: purchase}",
                           field="outcome.where")  # fmt: skip
    try:
        within = parse_duration(raw["within"])
    except (TypeError, ValueError) as err:
        raise PatternError(str(err), field="outcome.within") from None
    if not 0 < within <= _LONGEST_WITHIN_MS:
        raise PatternError("expected a duration from 1ms to 365d", field="outcome.within")
    value = _amount(raw["value"], "outcome.value", low=1e-9) if "value" in raw else None
    return raw["where"], within, value


def _amount(raw: Any, field: str, low: float = 0.0) -> float:
    """A finite number from ``low`` to 1e9 (YAML's .inf, .nan, booleans and text refused)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise PatternError(f"expected a number, not {raw!r}", field=field)
    if not low <= raw <= _LARGEST_AMOUNT:
        raise PatternError(f"expected a number from {low:g} to {_LARGEST_AMOUNT:g}, not {raw!r}", field=field)
    return float(raw)


def _decide(raw: Any, outcome_value: float | None) -> DecideSpec | None:
    if raw is None:
        return None
    keys = {"by", "value", "cost", "min_labels", "explore"}
    if not isinstance(raw, Mapping) or set(raw) - keys:
        unknown = sorted(map(str, set(raw) - keys)) if isinstance(raw, Mapping) else raw
        raise PatternError(f"unknown key(s) {unknown} (expected {{by: uplift, value: 120, cost: 4, "
                           "min_labels: 200, explore: 0.05}})", field="decide")  # fmt: skip
    if raw.get("by") != "uplift":
        raise PatternError(f"by: uplift is the only decision rule, not {raw.get('by')!r}", field="decide.by")
    if "value" not in raw and outcome_value is None:
        raise PatternError("required (here or as outcome.value): what one outcome is worth, e.g. value: 120",
                           field="decide.value")  # fmt: skip
    value = _amount(raw["value"], "decide.value", low=1e-9) if "value" in raw else outcome_value
    assert value is not None
    labels = raw.get("min_labels", 200)
    if isinstance(labels, bool) or not isinstance(labels, int) or not 1 <= labels <= 1_000_000:
        raise PatternError(f"expected a whole number from 1 to 1000000, not {labels!r}", field="decide.min_labels")
    explore = raw.get("explore", 0.05)
    if isinstance(explore, bool) or not isinstance(explore, int | float) or not 0 <= explore < 1:
        raise PatternError(f"expected a share, 0 <= explore < 1, not {explore!r}", field="decide.explore")
    return DecideSpec(value, _amount(raw.get("cost", 0.0), "decide.cost"), labels, float(explore))


def _actions(raw: Any) -> tuple[ActionSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_ACTIONS:
        raise PatternError(f"expected a list of 2 to {MAX_ACTIONS} actions, e.g. [{{name: education_email, "
                           "channel: email, cost: 1}, {name: discount, cost: 8}]", field="actions")  # fmt: skip
    actions = []
    for i, entry in enumerate(raw):
        field = f"actions[{i}]"
        if not isinstance(entry, Mapping) or set(entry) - {"name", "channel", "cost"}:
            raise PatternError("expected {name, channel, cost}", field=field)
        name = entry.get("name")
        if not isinstance(name, str) or not _ACTION_NAME.match(name):
            raise PatternError("an action needs a lower_snake_case name", field=f"{field}.name")
        channel = entry.get("channel")
        if channel is not None and not (isinstance(channel, str) and channel):
            raise PatternError("expected a channel name", field=f"{field}.channel")
        actions.append(ActionSpec(name, channel, _amount(entry.get("cost", 0.0), f"{field}.cost")))
    names = [a.name for a in actions]
    if len(set(names)) != len(names):
        raise PatternError(f"action names must be unique, got {names}", field="actions")
    return tuple(actions)
