"""The compiled moment (an immutable automaton shared by all customers) and its matcher.

Semantics, for one customer's events in (time, arrival) order e1, e2, …: a match assigns
increasing events to the step groups in order, each group receiving between its ``min``
and ``max`` events that satisfy its predicate, such that

* a group's first event relates to the previous matched event by the group's contiguity:
  ``next`` — it is the very next event; ``followed_by`` — no event in between satisfies the
  group's predicate; ``followed_by_any`` — no constraint;
* repeats inside a group are ``followed_by`` (or ``next`` when ``consecutive``, ``followed_by_any``
  with ``combinations``);
* no event between two matched events satisfies an absence placed between their groups, and the
  event right after the earlier one does not satisfy a ``not_next`` placed there;
* a looping group with ``until`` takes no event at or after the first one that satisfies ``until``
  since the previous group's last event;
* a match moves on from a ``greedy`` group only if no event it could still have taken came before
  the next matched event (that event included);
* the gap to the previous group is at most the group's ``within``, the whole span at most the
  moment's ``within``; a trailing absence holds for its ``for`` after the last matched event.

A match is reported when its last event arrives (or when its trailing absence's time is up).
Matches completed at the same instant are ordered by (first event, then the rest), and the
after-match skip strategy then drops those that overlap what was already reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from momentstream.clock import format_duration
from momentstream.patterns.errors import PatternError
from momentstream.patterns.predicates import Predicate, compile_predicate
from momentstream.patterns.spec import SKIP_TO_STEP, AbsentStep, EventStep, KOfNStep, MomentSpec, SkipStrategy, Where
from momentstream.schema import TouchpointEvent
from momentstream.state import EvidenceRow, MomentState, PartialMatch, PendingMatch

__all__ = [
    "ANY",
    "FOLLOWED_BY",
    "NEXT",
    "CompiledMoment",
    "CompiledWindow",
    "Completion",
    "Group",
    "Option",
    "Position",
    "StepOutcome",
    "advance",
    "compile_moment",
    "fire_absence",
]

NEXT, FOLLOWED_BY, ANY = 0, 1, 2
_CONTIGUITY_CODE = {"next": NEXT, "followed_by": FOLLOWED_BY, "followed_by_any": ANY}
_MAX_CAP = 10_000


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


@dataclass(frozen=True, slots=True)
class Position:
    """The options leaving a (group, count phase) position, and whether a match may end there."""

    options: tuple[Option, ...]
    completes: bool
    all_dead: int
    """The dead-mask value meaning no option is left."""


def _position(options: tuple[Option, ...], completes: bool) -> Position:
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


@dataclass(frozen=True, slots=True)
class KOfN:
    """Compiled k-of-n indicators (always the first group)."""

    k: int
    names: tuple[str, ...]
    bits: tuple[int, ...]
    within_ms: int
    any_bits: int
    """Mask of every indicator's predicate."""


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


_EMPTY = StepOutcome((), ())
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


# -- compilation ----------------------------------------------------------------------------
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
    step_within: list[int | None] = []
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
            if groups:
                raise PatternError("k-of-n indicators must be the first step", field=field)
            kofn = _compile_kofn(step, table, field)
            groups.append(Group(step.name, 1, 1, 0))
            contiguity.append(ANY)
            step_within.append(None)
            continue
        _check_event_step(step, field, first=all(g.min_times == 0 for g in groups))
        if step.within_ms is not None and step.within_ms <= 0:
            raise PatternError("must be positive", field=f"{field}.within")
        bit = table.add(step.where, f"{field}.where")
        until = table.add(step.until, f"{field}.until") if step.until is not None else 0
        groups.append(Group(step.name, step.min_times, step.max_times, bit, until, step.greedy))
        contiguity.append(_CONTIGUITY_CODE[step.contiguity])
        step_within.append(step.within_ms)
    if all(g.min_times == 0 for g in groups):
        raise PatternError("at least one step must be mandatory", field="pattern")
    inner = [_inner_contiguity(s) for s in steps if not isinstance(s, AbsentStep)]
    boundaries = _Boundaries(boundary_absence, boundary_not_next)
    positions = tuple(
        _positions_for(g, groups, contiguity, step_within, boundaries, inner[g]) for g in range(len(groups))
    )
    start = _start_position(groups, kofn)
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
        start_bits=_start_bits(start, kofn),
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


def _compile_kofn(step: KOfNStep, table: _PredicateTable, field: str) -> KOfN:
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
    return KOfN(step.k, tuple(names), bits, step.within_ms, any_bits)


def _moves(
    g: int,
    groups: list[Group],
    contiguity: list[int],
    step_within: list[int | None],
    boundaries: _Boundaries,
) -> tuple[list[Option], bool]:
    """Options that leave group ``g`` (skipping optional groups), and whether the match can end."""
    options = []
    crossed = crossed_next = 0
    for h in range(g + 1, len(groups)):
        crossed |= boundaries.absent.get(h - 1, 0)
        crossed_next |= boundaries.not_next.get(h - 1, 0)
        target = groups[h]
        options.append(Option(h, False, contiguity[h], target.pred_bit, crossed, step_within[h], target.until_bits,
                              target.greedy, crossed_next))  # fmt: skip
        if groups[h].min_times > 0:
            return options, False
    return options, True


def _positions_for(
    g: int,
    groups: list[Group],
    contiguity: list[int],
    step_within: list[int | None],
    boundaries: _Boundaries,
    inner: int,
) -> tuple[Position, Position, Position]:
    group = groups[g]
    repeat = Option(g, True, inner, group.pred_bit, 0, None, group.until_bits, group.greedy)
    moves, completes = _moves(g, groups, contiguity, step_within, boundaries)
    below_min = _position((repeat,), False)
    between = _position((repeat, *moves), completes)
    at_max = _position(tuple(moves), completes)
    return below_min, between, at_max


def _start_position(groups: list[Group], kofn: KOfN | None) -> Position:
    if kofn is not None:
        return _position((), False)
    options = []
    for h, group in enumerate(groups):
        options.append(Option(h, False, ANY, group.pred_bit, 0, None))
        if group.min_times > 0:
            break
    return _position(tuple(options), False)


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


# -- matching -------------------------------------------------------------------------------
def advance(m: CompiledMoment, ms: MomentState, event_id: str, ts: int, seq: int, mask: int) -> StepOutcome:
    """Feed one event (already known to satisfy the predicates in ``mask``) to a moment.

    Mutates ``ms`` in place (the caller owns it) and returns the matches to report and the
    timers to schedule. Call it for every event when the moment has ``next`` contiguity and
    partial matches; otherwise only events with a non-zero mask can change anything.
    """
    if not ms.partials and not ms.pending and not mask & m.start_bits:
        return _EMPTY
    created: list[PartialMatch] = []
    survivors: list[PartialMatch] = []
    within = m.spec.within_ms
    for pm in ms.partials:
        if within is not None and ts - pm.start_ts > within:
            continue
        pos = m.position(pm.group, pm.count)
        dead = pm.dead
        greedy_above = len(m.groups)
        for i, opt in enumerate(pos.options):
            bit = 1 << i
            if dead & bit:
                continue
            if (
                mask & opt.stop_bits
                or opt.target > greedy_above
                or (mask & opt.not_next_bits and seq == pm.last_seq + 1)
            ):
                dead |= bit  # until, a greedy group that took this event, or not_next: never again
                continue
            hit = mask & opt.pred_bit
            late = opt.within_ms is not None and ts - pm.last_ts > opt.within_ms
            if hit and not late and (opt.contiguity != NEXT or seq == pm.last_seq + 1):
                if opt.greedy:
                    greedy_above = opt.target
                count = pm.count + 1 if opt.repeat else 1
                created.append(
                    PartialMatch(
                        opt.target,
                        count,
                        pm.start_seq,
                        pm.start_ts,
                        seq,
                        ts,
                        (*pm.evidence, (event_id, ts, opt.target, seq)),
                    )
                )
            if opt.contiguity == NEXT or late or mask & opt.absence_bits or (hit and opt.contiguity == FOLLOWED_BY):
                dead |= bit
        if dead != pos.all_dead:
            pm.dead = dead
            survivors.append(pm)
    cancelled: list[int] = []
    if ms.pending and mask & m.end_absence_bits:
        cancelled.extend(ms.pending)
        ms.pending.clear()
    if m.kofn is not None:
        started = _indicators(m.kofn, ms, event_id, ts, seq, mask)
        if started is not None and (within is None or ts - started.start_ts <= within):
            created.append(started)
    else:
        for opt in m.start.options:
            if mask & opt.pred_bit:
                created.append(PartialMatch(opt.target, 1, seq, ts, seq, ts, ((event_id, ts, opt.target, seq),)))
    completions: list[Completion] = []
    timers: list[tuple[int, str, int]] = []
    for pm in created:
        pos = m.position(pm.group, pm.count)
        if pos.completes:
            if m.end_absence_ms is None:
                completions.append(Completion(pm.evidence, pm.start_seq, pm.last_seq, ts))
            else:
                ref = ms.new_ref()
                deadline = ts + m.end_absence_ms
                ms.pending[ref] = PendingMatch(ref, deadline, pm.start_seq, pm.last_seq, pm.evidence)
                timers.append((deadline, "absence", ref))
        if pos.options:
            survivors.append(pm)
    ms.partials = survivors
    reported = _apply_skip(m, ms, completions, cancelled) if completions else ()
    if len(ms.partials) > m.spec.max_partial_matches:
        ms.partials.sort(key=lambda p: p.start_seq)
        excess = len(ms.partials) - m.spec.max_partial_matches
        ms.dropped += excess
        del ms.partials[:excess]
    if not reported and not timers and not cancelled:
        return _EMPTY
    return StepOutcome(tuple(reported), tuple(timers), tuple(cancelled))


def fire_absence(m: CompiledMoment, ms: MomentState, ref: int) -> StepOutcome:
    """A trailing absence's time is up: report its match if nothing broke it meanwhile."""
    pending = ms.pending.pop(ref, None)
    if pending is None:
        return _EMPTY
    done = Completion(pending.evidence, pending.start_seq, pending.last_seq, pending.deadline)
    cancelled: list[int] = []
    reported = _apply_skip(m, ms, [done], cancelled)
    return StepOutcome(tuple(reported), (), tuple(cancelled))


def expire(m: CompiledMoment, ms: MomentState, now: int) -> None:
    """Forget partial matches and indicators that time alone has made hopeless (keeps state small)."""
    within = m.spec.within_ms
    if within is not None:
        ms.partials = [p for p in ms.partials if now - p.start_ts <= within]
    if m.kofn is not None and ms.indicators:
        horizon = now - m.kofn.within_ms
        ms.indicators = {k: v for k, v in ms.indicators.items() if v[0] >= horizon}


def _indicators(kofn: KOfN, ms: MomentState, event_id: str, ts: int, seq: int, mask: int) -> PartialMatch | None:
    if not mask & kofn.any_bits:
        return None
    for index, bit in enumerate(kofn.bits):
        if mask & bit:
            ms.indicators[index] = (ts, seq, event_id)
    horizon = ts - kofn.within_ms
    for index in [i for i, seen in ms.indicators.items() if seen[0] < horizon]:
        del ms.indicators[index]
    if len(ms.indicators) < kofn.k:
        return None
    seen = sorted(set(ms.indicators.values()), key=lambda v: v[1])
    masks = {v: sum(1 << i for i, w in ms.indicators.items() if w == v) for v in seen}  # which indicators it met
    evidence = tuple((eid, t, 0, s, masks[(t, s, eid)]) for t, s, eid in seen)
    return PartialMatch(0, 1, seen[0][1], seen[0][0], seq, ts, evidence)


def _apply_skip(
    m: CompiledMoment, ms: MomentState, completions: list[Completion], cancelled: list[int]
) -> list[Completion]:
    """Report matches in order, dropping what the skip strategy says overlaps a reported one."""
    completions.sort(key=Completion.order_key)
    if m.skip == "no_skip":
        return completions
    reported: list[Completion] = []
    if m.skip_group is not None:  # Flink's SKIP_TO_FIRST[step] / SKIP_TO_LAST[step]
        floor = -1
        for c in completions:
            if c.start_seq < floor:
                continue
            reported.append(c)
            seqs = [row[3] for row in c.evidence if row[2] == m.skip_group]
            if seqs:  # a match without the step skips nothing (Flink's default)
                floor = max(floor, seqs[0] if m.skip == "skip_to_first" else seqs[-1])
        _prune(ms, lambda start: start < floor, cancelled)
        return reported
    if m.skip == "skip_past_last_event":
        floor = -1
        for c in completions:
            if c.start_seq > floor:
                reported.append(c)
                floor = max(floor, c.last_seq)
        _prune(ms, lambda start: start <= floor, cancelled)
        return reported
    banned: set[int] = set()
    for c in completions:
        if c.start_seq not in banned:
            reported.append(c)
            banned.add(c.start_seq)
    _prune(ms, banned.__contains__, cancelled)
    return reported


def _prune(ms: MomentState, overlaps: Callable[[int], bool], cancelled: list[int]) -> None:
    """Drop partial matches, pending matches and indicators whose first event ``overlaps``."""
    ms.partials = [p for p in ms.partials if not overlaps(p.start_seq)]
    for ref in [r for r, p in ms.pending.items() if overlaps(p.start_seq)]:
        del ms.pending[ref]
        cancelled.append(ref)
    ms.indicators = {k: v for k, v in ms.indicators.items() if not overlaps(v[1])}
