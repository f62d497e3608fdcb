"""The compiled moment: an immutable automaton shared by every customer, and what matching reports.

Built by :func:`momentstream.patterns.compiler.compile_moment`; run by :mod:`momentstream.patterns.nfa`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from momentstream.core.schema import TouchpointEvent
from momentstream.core.state import EvidenceRow
from momentstream.patterns.predicates import Predicate
from momentstream.patterns.spec import MomentSpec, SkipStrategy

__all__ = [
    "ANY",
    "FOLLOWED_BY",
    "NEXT",
    "CompiledMoment",
    "CompiledWindow",
    "Completion",
    "Group",
    "KOfN",
    "Option",
    "Position",
    "StepOutcome",
    "Test",
]

NEXT, FOLLOWED_BY, ANY = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Option:
    """One way to extend a partial match: add an event to group ``target``."""

    target: int
    repeat: bool
    contiguity: int
    pred_bit: int
    absence_bits: int
    within_ms: int | None
    stop_bits: int = 0
    """An event satisfying these ends the option for good (the target group's ``until``)."""
    greedy: bool = False
    """Taking an event here forbids the options past the target group for that event (and so for ever)."""
    not_next_bits: int = 0
    """The event right after the partial match's last one may not satisfy these (``not_next``)."""
    kofn: bool = False
    """The target is a later k-of-n step: events feed the partial match's indicators instead of being taken."""
    after_ms: int | None = None
    """An event sooner than this after the partial match's last one is not taken (the step's ``after``)."""


@dataclass(frozen=True, slots=True)
class Position:
    """The options leaving a (group, count phase) position, and whether a match may end there."""

    options: tuple[Option, ...]
    completes: bool
    all_dead: int
    """The dead-mask value meaning no option is left."""


def make_position(options: tuple[Option, ...], completes: bool) -> Position:
    return Position(options, completes, (1 << len(options)) - 1)


@dataclass(frozen=True, slots=True)
class Group:
    """A step that consumes events, with its quantifier."""

    name: str
    min_times: int
    max_times: int | None
    pred_bit: int
    until_bits: int = 0
    greedy: bool = False
    optional: bool = False
    """Skippable although ``min_times`` > 0: none, or ``min_times`` to ``max_times`` events."""

    @property
    def skippable(self) -> bool:
        """Whether a match may pass this step without an event of it."""
        return self.optional or self.min_times == 0


@dataclass(frozen=True, slots=True)
class KOfN:
    """Compiled k-of-n indicators: the first group (counted per moment) or a later one (per partial match)."""

    k: int
    names: tuple[str, ...]
    bits: tuple[int, ...]
    within_ms: int
    any_bits: int
    """Mask of every indicator's predicate."""
    group: int = 0


@dataclass(frozen=True, slots=True)
class CompiledWindow:
    """The window rule with its anchor resolved to a group index and predicates to bits."""

    opens_after_ms: int
    closes_after_ms: int
    anchor_group: int | None
    cancel_bits: int
    used_bits: int


@dataclass(frozen=True, slots=True)
class Completion:
    """A full match: its evidence rows, first and last event sequence numbers, and when it completed."""

    evidence: tuple[EvidenceRow, ...]
    start_seq: int
    last_seq: int
    completed_at: int

    def order_key(self) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
        """Matches completing together are reported in this order: first event, events, steps."""
        return (
            self.start_seq,
            tuple(row[3] for row in self.evidence),
            tuple(row[2] for row in self.evidence),
        )


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one event or timer did to a moment: reported matches, timers to schedule, and
    references of pending matches that were dropped (their timers can be discarded)."""

    completions: tuple[Completion, ...]
    timers: tuple[tuple[int, str, int], ...]
    cancelled: tuple[int, ...] = ()


Test = Callable[[TouchpointEvent], bool]


@dataclass(frozen=True, slots=True)
class CompiledMoment:
    """An immutable, validated moment; build with :func:`compile_moment` or the DSL.

    Every predicate of the moment has one bit; :meth:`evaluate` returns the mask of the
    predicates an event satisfies, evaluating only those that can accept its type.
    """

    spec: MomentSpec
    groups: tuple[Group, ...]
    positions: tuple[tuple[Position, Position, Position], ...]
    start: Position
    kofn: KOfN | None
    end_absence_ms: int | None
    end_absence_bits: int
    window: CompiledWindow | None
    predicates: tuple[Predicate, ...]
    relevant_types: frozenset[str] | None
    has_next: bool
    start_bits: int
    by_type: dict[str, tuple[tuple[int, Test], ...]]
    any_type: tuple[tuple[int, Test], ...]
    skip_group: int | None = None
    """The group ``skip_to_first`` / ``skip_to_last`` skip to."""

    @property
    def name(self) -> str:
        """The moment's name."""
        return self.spec.name

    @property
    def version(self) -> int:
        """The moment's version (part of every trigger id)."""
        return self.spec.version

    @property
    def skip(self) -> SkipStrategy:
        """After-match skip strategy."""
        return self.spec.skip

    def evaluate(self, event: TouchpointEvent) -> int:
        """Bitmask of the moment's predicates that ``event`` satisfies."""
        mask = 0
        for bit, test in self.by_type.get(event.type, self.any_type):
            if test(event):
                mask |= bit
        return mask

    def position(self, group: int, count: int) -> Position:
        """Where a partial match with ``count`` events in ``group`` stands."""
        g = self.groups[group]
        if count < g.min_times:
            phase = 0
        elif g.max_times is not None and count >= g.max_times:
            phase = 2
        else:
            phase = 1
        return self.positions[group][phase]
