"""Compile a moment's spec into its automaton, checking everything a moments file can get wrong.

Errors name the moment and the field (``pattern[2].until``), so the loader can say where to look.
"""

from __future__ import annotations

from dataclasses import dataclass

from momentstream.core.clock import format_duration
from momentstream.patterns.automaton import (
    ANY,
    FOLLOWED_BY,
    NEXT,
    CompiledMoment,
    CompiledWindow,
    Group,
    KOfN,
    Option,
    Position,
    Test,
    make_position,
)
from momentstream.patterns.errors import PatternError
from momentstream.patterns.predicates import Predicate, compile_predicate
from momentstream.patterns.spec import SKIP_TO_STEP, AbsentStep, EventStep, KOfNStep, MomentSpec, Step, Where

__all__ = ["compile_moment"]

_CONTIGUITY_CODE = {"next": NEXT, "followed_by": FOLLOWED_BY, "followed_by_any": ANY}
_MAX_CAP = 10_000


class _PredicateTable:
    """Numbers the moment's predicates so a match test is one bit."""

    def __init__(self, timezone: str) -> None:
        self.timezone = timezone
        self.items: list[Predicate] = []

    def add(self, where: Where, field: str) -> int:
        try:
            predicate = compile_predicate(where, self.timezone)
        except PatternError as err:
            raise err.located(field_prefix=field) from None
        self.items.append(predicate)
        return 1 << (len(self.items) - 1)


def compile_moment(spec: MomentSpec) -> CompiledMoment:
    """Validate a spec and build its automaton; errors name the moment and the field.

    Examples
    --------
    >>> from momentstream.patterns.spec import EventStep, MomentSpec
    >>> compile_moment(MomentSpec("m", (EventStep("a", {"type": "x"}, max_times=0),)))
    Traceback (most recent call last):
    ...
    momentstream.patterns.errors.PatternError: moment 'm': field 'pattern[0].times': ...
    """
    try:
        return _compile(spec)
    except PatternError as err:
        raise err.located(source=spec.source, moment=spec.name) from None


def _compile(spec: MomentSpec) -> CompiledMoment:
    if not spec.name:
        raise PatternError("a moment needs a name", field="name")
    if not 1 <= spec.max_partial_matches <= _MAX_CAP:
        raise PatternError(f"expected 1 to {_MAX_CAP}", field="max_partial_matches")
    if spec.within_ms is not None and spec.within_ms <= 0:
        raise PatternError("must be positive", field="within")
    table = _PredicateTable(spec.timezone)
    groups: list[Group] = []
    contiguity: list[int] = []
    step_gaps: list[tuple[int | None, int | None]] = []  # per group: (within, after) since the previous
    boundary_absence: dict[int, int] = {}
    boundary_not_next: dict[int, int] = {}
    end_absence_ms: int | None = None
    end_absence_bits = 0
    kofn: KOfN | None = None
    names: set[str] = set()
    steps = spec.steps
    if not steps:
        raise PatternError("a moment needs at least one step", field="pattern")
    for i, step in enumerate(steps):
        field = f"pattern[{i}]"
        if step.name in names:
            raise PatternError(f"step name {step.name!r} is used twice", field=f"{field}.name")
        names.add(step.name)
        if isinstance(step, AbsentStep):
            if not groups:
                raise PatternError("a pattern cannot start with an absence", field=field)
            bit = table.add(step.where, f"{field}.{'not_next' if step.immediately else 'absent'}")
            is_last = all(isinstance(s, AbsentStep) for s in steps[i:])
            if step.immediately:
                if is_last:
                    raise PatternError("a pattern cannot end with not_next: nothing would say when it holds "
                                       "(use an absence with 'for')", field=field)  # fmt: skip
                b = len(groups) - 1
                boundary_not_next[b] = boundary_not_next.get(b, 0) | bit
                continue
            if is_last:
                if step.for_ms is None or step.for_ms <= 0:
                    raise PatternError("an absence at the end of a pattern needs a positive 'for'",
                                       field=f"{field}.for")  # fmt: skip
                if end_absence_ms is not None and end_absence_ms != step.for_ms:
                    raise PatternError("trailing absences must share one 'for'", field=f"{field}.for")
                end_absence_ms = step.for_ms
                end_absence_bits |= bit
            else:
                if step.for_ms is not None:
                    raise PatternError("'for' only applies to an absence at the end of a pattern",
                                       field=f"{field}.for")  # fmt: skip
                b = len(groups) - 1
                boundary_absence[b] = boundary_absence.get(b, 0) | bit
            continue
        if isinstance(step, KOfNStep):
            if kofn is not None:
                raise PatternError("a moment may have one k-of-n step", field=field)
            kofn = _compile_kofn(step, table, field, len(groups))
            groups.append(Group(step.name, 1, 1, 0))
            contiguity.append(ANY)
            step_gaps.append((None, None))
            continue
        _check_event_step(step, field, first=all(g.skippable for g in groups))
        if step.within_ms is not None and step.within_ms <= 0:
            raise PatternError("must be positive", field=f"{field}.within")
        if step.after_ms is not None:
            if step.after_ms <= 0:
                raise PatternError("must be positive", field=f"{field}.after")
            if not groups:
                raise PatternError("the first step has no previous one to be after", field=f"{field}.after")
            if step.within_ms is not None and step.after_ms > step.within_ms:
                raise PatternError("after is longer than within: nothing could match", field=f"{field}.after")
        bit = table.add(step.where, f"{field}.where")
        until = table.add(step.until, f"{field}.until") if step.until is not None else 0
        groups.append(Group(step.name, step.min_times, step.max_times, bit, until, step.greedy, step.optional))
        contiguity.append(_CONTIGUITY_CODE[step.contiguity])
        step_gaps.append((step.within_ms, step.after_ms))
    if all(g.skippable for g in groups):
        raise PatternError("at least one step must be mandatory", field="pattern")
    for g, group in enumerate(groups):
        if group.greedy and all(h.skippable for h in groups[g + 1 :]):
            raise PatternError(f"greedy is not allowed on the last step ({group.name!r}): the match would end "
                               "at its first event, so it could never take more; add a step after it (Flink "
                               "refuses it too)", field=f"{_event_fields(steps)[g]}.greedy")  # fmt: skip
    inner = [_inner_contiguity(s) for s in steps if not isinstance(s, AbsentStep)]
    boundaries = _Boundaries(boundary_absence, boundary_not_next)
    positions = tuple(
        _positions_for(g, groups, contiguity, step_gaps, boundaries, inner[g]) for g in range(len(groups))
    )
    start = _start_position(groups, kofn if kofn is not None and kofn.group == 0 else None)
    window = _compile_window(spec, table, groups, end_absence_ms)
    predicates = tuple(table.items)
    by_type, any_type, relevant = _index(predicates)
    has_next = any(o.contiguity == NEXT or o.not_next_bits for row in positions for pos in row for o in pos.options)
    return CompiledMoment(
        spec=spec,
        groups=tuple(groups),
        positions=positions,
        start=start,
        kofn=kofn,
        end_absence_ms=end_absence_ms,
        end_absence_bits=end_absence_bits,
        window=window,
        predicates=predicates,
        relevant_types=relevant,
        has_next=has_next,
        start_bits=_start_bits(start, kofn if kofn is not None and kofn.group == 0 else None),
        by_type=by_type,
        any_type=any_type,
        skip_group=_skip_group(spec, groups),
    )


def _skip_group(spec: MomentSpec, groups: list[Group]) -> int | None:
    if spec.skip not in SKIP_TO_STEP:
        if spec.skip_step is not None:
            raise PatternError(f"only skip_to_first and skip_to_last name a step, not {spec.skip}", field="skip")
        return None
    found = [i for i, g in enumerate(groups) if g.name == spec.skip_step]
    if not found:
        names = [g.name for g in groups]
        raise PatternError(f"{spec.skip} needs the name of an event step (steps: {names}), "
                           f"not {spec.skip_step!r}", field="skip")  # fmt: skip
    return found[0]


def _event_fields(steps: tuple[Step, ...]) -> list[str]:
    """The field name (``pattern[i]``) of each step that is a group (not an absence)."""
    return [f"pattern[{i}]" for i, s in enumerate(steps) if not isinstance(s, AbsentStep)]


def _check_event_step(step: EventStep, field: str, first: bool) -> None:
    """Quantifiers and the looping options; ``first``: the step can begin a match."""
    if step.max_times is not None and (step.max_times < 1 or step.max_times < step.min_times):
        raise PatternError(f"times must satisfy 1 <= max and min <= max, got [{step.min_times}, {step.max_times}]",
                           field=f"{field}.times")  # fmt: skip
    if step.min_times < 0:
        raise PatternError("times cannot be negative", field=f"{field}.times")
    if step.until is not None and step.max_times is not None:
        raise PatternError(
            "until stops a looping step: give it one_or_more or times: [n, null]", field=f"{field}.until"
        )
    repeats = step.max_times is None or step.max_times > 1
    if step.combinations and (not repeats or step.consecutive):
        raise PatternError("combinations applies to a repeating step that is not consecutive",
                           field=f"{field}.combinations")  # fmt: skip
    if step.greedy:
        if not repeats or step.combinations:
            raise PatternError("greedy applies to a repeating step without combinations", field=f"{field}.greedy")
        if first:
            raise PatternError("a step that can begin a match cannot be greedy (nothing comes before it to move on "
                               "from)", field=f"{field}.greedy")  # fmt: skip


def _inner_contiguity(step: EventStep | KOfNStep) -> int:
    """How a group's repeats relate to each other."""
    if isinstance(step, EventStep) and step.consecutive:
        return NEXT
    if isinstance(step, EventStep) and step.combinations:
        return ANY
    return FOLLOWED_BY


@dataclass(frozen=True, slots=True)
class _Boundaries:
    """Constraints between group ``b`` and the next one: absences and not-next, as predicate masks."""

    absent: dict[int, int]
    not_next: dict[int, int]


def _compile_kofn(step: KOfNStep, table: _PredicateTable, field: str, group: int) -> KOfN:
    names = [n for n, _ in step.indicators]
    if len(set(names)) != len(names):
        raise PatternError("indicator names must be distinct", field=f"{field}.of")
    if not 1 <= step.k <= len(names):
        raise PatternError(f"at_least must be between 1 and the {len(names)} indicators", field=f"{field}.at_least")
    if step.within_ms <= 0:
        raise PatternError("must be positive", field=f"{field}.within")
    bits = tuple(table.add(where, f"{field}.of.{name}") for name, where in step.indicators)
    any_bits = 0
    for bit in bits:
        any_bits |= bit
    return KOfN(step.k, tuple(names), bits, step.within_ms, any_bits, group)


def _moves(
    g: int,
    groups: list[Group],
    contiguity: list[int],
    step_gaps: list[tuple[int | None, int | None]],
    boundaries: _Boundaries,
) -> tuple[list[Option], bool]:
    """Options that leave group ``g`` (skipping optional groups), and whether the match can end."""
    options = []
    crossed = crossed_next = 0
    for h in range(g + 1, len(groups)):
        crossed |= boundaries.absent.get(h - 1, 0)
        crossed_next |= boundaries.not_next.get(h - 1, 0)
        target = groups[h]
        within, after = step_gaps[h]
        options.append(Option(h, False, contiguity[h], target.pred_bit, crossed, within, target.until_bits,
                              target.greedy, crossed_next, kofn=not target.pred_bit, after_ms=after))  # fmt: skip
        if not groups[h].skippable:
            return options, False
    return options, True


def _positions_for(
    g: int,
    groups: list[Group],
    contiguity: list[int],
    step_gaps: list[tuple[int | None, int | None]],
    boundaries: _Boundaries,
    inner: int,
) -> tuple[Position, Position, Position]:
    group = groups[g]
    repeat = Option(g, True, inner, group.pred_bit, 0, None, group.until_bits, group.greedy)
    moves, completes = _moves(g, groups, contiguity, step_gaps, boundaries)
    below_min = make_position((repeat,), False)
    between = make_position((repeat, *moves), completes)
    at_max = make_position(tuple(moves), completes)
    return below_min, between, at_max


def _start_position(groups: list[Group], kofn: KOfN | None) -> Position:
    if kofn is not None:
        return make_position((), False)
    options = []
    for h, group in enumerate(groups):
        options.append(Option(h, False, ANY, group.pred_bit, 0, None))
        if not group.skippable:
            break
    return make_position(tuple(options), False)


def _start_bits(start: Position, kofn: KOfN | None) -> int:
    """Predicates that can begin a match (or feed k-of-n indicators)."""
    bits = kofn.any_bits if kofn is not None else 0
    for opt in start.options:
        bits |= opt.pred_bit
    return bits


def _compile_window(
    spec: MomentSpec, table: _PredicateTable, groups: list[Group], end_absence_ms: int | None
) -> CompiledWindow | None:
    w = spec.window
    if w is None:
        return None
    if w.opens_after_ms < 0:
        raise PatternError("cannot be negative", field="window.opens_after")
    if w.closes_after_ms <= w.opens_after_ms:
        raise PatternError("must be later than opens_after", field="window.closes_after")
    anchor = None
    if w.anchor is not None:
        found = [i for i, g in enumerate(groups) if g.name == w.anchor]
        if not found:
            raise PatternError(f"no step named {w.anchor!r} (steps: {[g.name for g in groups]})",
                               field="window.anchor")  # fmt: skip
        anchor = found[0]
        if end_absence_ms is not None and w.closes_after_ms <= end_absence_ms:
            raise PatternError(
                f"the window closes {format_duration(w.closes_after_ms)} after {w.anchor!r}, but the pattern "
                f"completes no sooner than {format_duration(end_absence_ms)} after it (the trailing absence): "
                "every window would be closed before it could open",
                field="window.closes_after",
            )
    cancel = table.add(w.cancel_if, "window.cancel_if") if w.cancel_if is not None else 0
    used = table.add(w.used_if, "window.used_if") if w.used_if is not None else 0
    return CompiledWindow(w.opens_after_ms, w.closes_after_ms, anchor, cancel, used)


def _index(
    predicates: tuple[Predicate, ...],
) -> tuple[dict[str, tuple[tuple[int, Test], ...]], tuple[tuple[int, Test], ...], frozenset[str] | None]:
    any_type = tuple((1 << i, p.test) for i, p in enumerate(predicates) if p.types is None)
    typed: dict[str, list[tuple[int, Test]]] = {}
    for i, p in enumerate(predicates):
        for t in p.types or ():
            typed.setdefault(t, []).append((1 << i, p.test))
    by_type = {t: tuple(sorted(tests + list(any_type), key=lambda x: x[0])) for t, tests in typed.items()}
    relevant = None if any_type else frozenset(by_type)
    return by_type, any_type, relevant
