"""Declarative moment specifications: what the YAML file and the builder both produce.

A spec is plain data; :func:`momentstream.patterns.nfa.compile_moment` validates it and
turns it into the immutable automaton the engine runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from momentstream.patterns.loop_spec import LoopSpec
from momentstream.patterns.playbook_spec import PlaybookSpec
from momentstream.patterns.quiet_hours import QuietHours

__all__ = [
    "CONTIGUITIES",
    "SKIP_STRATEGIES",
    "SKIP_TO_STEP",
    "AbsentStep",
    "Contiguity",
    "EventStep",
    "KOfNStep",
    "MomentSpec",
    "SkipStrategy",
    "Step",
    "WindowSpec",
]

Contiguity = Literal["next", "followed_by", "followed_by_any"]
CONTIGUITIES: tuple[Contiguity, ...] = ("next", "followed_by", "followed_by_any")
SkipStrategy = Literal["no_skip", "skip_to_next", "skip_past_last_event", "skip_to_first", "skip_to_last"]
SKIP_STRATEGIES: tuple[SkipStrategy, ...] = ("no_skip", "skip_to_next", "skip_past_last_event", "skip_to_first",
                                             "skip_to_last")  # fmt: skip
SKIP_TO_STEP: tuple[SkipStrategy, ...] = ("skip_to_first", "skip_to_last")
"""Strategies that name a step (``MomentSpec.skip_step``), as Flink's SKIP_TO_FIRST[b] and SKIP_TO_LAST[b]."""

Where = Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class EventStep:
    """One or more events matching ``where``.

    ``contiguity`` relates the step's first event to the previous matched event: ``next``
    (the very next event), ``followed_by`` (the first later event that matches) or
    ``followed_by_any`` (any later event that matches). Repeats inside the step are
    ``followed_by`` unless ``consecutive`` (``next``) or ``combinations`` (``followed_by_any``: every
    combination, Flink's allowCombinations). ``within_ms`` limits the gap since the previous step, ``after_ms``
    sets its least.

    For a looping step: ``until`` stops it once an event satisfying it arrives after the previous step
    (that event is not taken into the loop); ``greedy`` makes it take every event it can, so the match
    moves on only past events the loop could not take (Flink's ``until`` and ``greedy``).

    ``optional`` lets the match skip the step; taken, it still needs ``min_times`` events (Flink's
    ``times(2).optional()``: none or exactly two). An optional step with ``min_times`` 0 or 1 is
    written as ``min_times=0`` instead, as it always was.
    """

    name: str
    where: Where
    contiguity: Contiguity = "followed_by"
    min_times: int = 1
    max_times: int | None = 1
    consecutive: bool = False
    within_ms: int | None = None
    until: Where = None
    greedy: bool = False
    combinations: bool = False
    optional: bool = False
    after_ms: int | None = None
    """An event sooner than this after the previous step's is not taken: ``after: 1d`` is "a later day", and a
    daily export's two rows of one day are no sequence."""

    @property
    def skippable(self) -> bool:
        """Whether a match may pass this step without an event of it."""
        return self.optional or self.min_times == 0


@dataclass(frozen=True, slots=True)
class AbsentStep:
    """No event matching ``where`` between the neighbouring steps, or, at the end of a
    pattern, for ``for_ms`` after the last matched event (completed by time passing)."""

    name: str
    where: Where
    for_ms: int | None = None
    immediately: bool = False
    """Only the very next event after the previous step may not satisfy ``where`` (Flink's notNext)."""


@dataclass(frozen=True, slots=True)
class KOfNStep:
    """At least ``k`` distinct indicators, each seen within ``within_ms`` of the latest one."""

    name: str
    k: int
    indicators: tuple[tuple[str, Where], ...]
    within_ms: int


Step = EventStep | AbsentStep | KOfNStep


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """When to act, relative to the match: open ``opens_after_ms`` after the anchor step's
    last event (or the match's completion), close ``closes_after_ms`` after it.

    ``cancel_if`` events before it opens cancel it; ``used_if`` events while it is open mark
    it used, so it does not report as expired.
    """

    opens_after_ms: int
    closes_after_ms: int
    anchor: str | None = None
    cancel_if: Where = None
    used_if: Where = None


@dataclass(frozen=True, slots=True)
class MomentSpec:
    """A named, versioned moment: a pattern of steps, optional window and bounds."""

    name: str
    steps: tuple[Step, ...]
    version: int = 1
    description: str = ""
    within_ms: int | None = None
    window: WindowSpec | None = None
    skip: SkipStrategy = "skip_past_last_event"
    skip_step: str | None = None
    """The step ``skip_to_first`` and ``skip_to_last`` skip to."""
    max_partial_matches: int = 64
    timezone: str = "UTC"
    source: str = ""
    holdout_share: float = 0.0
    """Share of customers (0 <= share < 1) whose triggers go to the holdout output, not to be acted on."""
    holdout_salt: str = ""
    """Changing it draws a new holdout group (see :mod:`momentstream.triggers.holdout`)."""
    cooldown_ms: int | None = None
    """After a trigger of this moment, the same customer's next one within this time is suppressed."""
    contact_cap: tuple[int, int] | None = None
    """(max triggers, per ms) for one customer across all moments of the file: its ``policy:`` block."""
    quiet_hours: QuietHours | None = None
    """When this moment's triggers wait (or are dropped): the file's ``policy.quiet_hours`` unless overridden."""
    priority: int = 0
    """Higher wins when the frequency cap makes triggers compete (see :mod:`momentstream.triggers.policy`)."""
    channels: tuple[str, ...] = ()
    """The channels its intervention may use; empty means the CRM chooses (only a withdrawal from all stops it)."""
    owner: str | None = None
    """The team that acts on this moment's triggers (beats the objective's owner; works without scoring)."""
    loop: LoopSpec = field(default_factory=LoopSpec)
    """Its outcome, decision rule and actions (:mod:`momentstream.patterns.loop_spec`)."""
    playbook: PlaybookSpec | None = None
    """What a person does with its triggers (:mod:`momentstream.triggers.playbook`)."""
    mode: Literal["live", "shadow"] = "live"
    """shadow: runs and is scored, but its triggers go to the audit output only (no CRM, no policy, no loop)."""
    compare_to: str | None = None
    """For a shadow moment: the live moment it may replace (``report shadow`` compares the two)."""
