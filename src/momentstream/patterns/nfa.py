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
* the gap to the previous group is at most the group's ``within`` (and at least its ``after``), the
  whole span at most the moment's ``within``; a trailing absence holds for its ``for`` after the last
  matched event.

A match is reported when its last event arrives (or when its trailing absence's time is up).
Matches completed at the same instant are ordered by (first event, then the rest), and the
after-match skip strategy then drops those that overlap what was already reported.
"""

from __future__ import annotations

from collections.abc import Callable

from momentstream.core.state import EvidenceRow, MomentState, PartialMatch, PendingMatch
from momentstream.patterns.automaton import (
    ANY,
    FOLLOWED_BY,
    NEXT,
    CompiledMoment,
    CompiledWindow,
    Completion,
    Group,
    KOfN,
    Option,
    Position,
    StepOutcome,
)
from momentstream.patterns.compiler import compile_moment

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

_EMPTY = StepOutcome((), ())


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
            if opt.kofn:  # a later k-of-n step: this match gathers its own indicators
                assert m.kofn is not None
                if mask & m.kofn.any_bits:
                    met = _gather(m.kofn, pm, event_id, ts, seq, mask)
                    if met is not None:
                        created.append(met)
                if mask & opt.absence_bits:
                    dead |= bit
                continue
            hit = mask & opt.pred_bit
            late = opt.within_ms is not None and ts - pm.last_ts > opt.within_ms
            if hit and opt.after_ms is not None and ts - pm.last_ts < opt.after_ms:
                hit = 0  # too soon after the previous step: not this step's event (a later one may be)
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
    if m.kofn is not None and m.kofn.group == 0:
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
    """A first k-of-n step: the moment's indicators; a match begins whenever k of them are met."""
    if not mask & kofn.any_bits:
        return None
    rows = _met(kofn, ms.indicators, event_id, ts, seq, mask)
    if rows is None:
        return None
    return PartialMatch(kofn.group, 1, rows[0][3], rows[0][1], seq, ts, rows)


def _gather(kofn: KOfN, pm: PartialMatch, event_id: str, ts: int, seq: int, mask: int) -> PartialMatch | None:
    """A later k-of-n step: ``pm``'s own indicators since its last event; k of them extend it (it stays, as the
    indicators go on)."""
    seen = {i: (t, s, e) for i, t, s, e in pm.seen}
    rows = _met(kofn, seen, event_id, ts, seq, mask)
    pm.seen = tuple((i, *v) for i, v in sorted(seen.items()))
    if rows is None:
        return None
    return PartialMatch(kofn.group, 1, pm.start_seq, pm.start_ts, seq, ts, (*pm.evidence, *rows))


def _met(kofn: KOfN, seen: dict[int, tuple[int, int, str]], event_id: str, ts: int, seq: int,
         mask: int) -> tuple[EvidenceRow, ...] | None:  # fmt: skip
    """Record the indicators this event meets in ``seen`` (and forget those older than ``within``); the evidence
    rows (each with the mask of what it met) once k are met."""
    for index, bit in enumerate(kofn.bits):
        if mask & bit:
            seen[index] = (ts, seq, event_id)
    horizon = ts - kofn.within_ms
    for index in [i for i, v in seen.items() if v[0] < horizon]:
        del seen[index]
    if len(seen) < kofn.k:
        return None
    events = sorted(set(seen.values()), key=lambda v: v[1])
    masks = {v: sum(1 << i for i, w in seen.items() if w == v) for v in events}  # which indicators it met
    return tuple((eid, t, kofn.group, s, masks[(t, s, eid)]) for t, s, eid in events)


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
