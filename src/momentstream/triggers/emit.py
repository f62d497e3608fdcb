"""Build :class:`~momentstream.core.schema.Trigger` records from matcher results.

Kept apart from the matcher so the automaton knows nothing about the wire contract; the
contact policy (:mod:`momentstream.triggers.policy`) decides what happens to them next.
"""

from __future__ import annotations

from momentstream.core.clock import to_ms
from momentstream.core.schema import (
    Evidence,
    SequenceStep,
    StoryItem,
    Trigger,
    TriggerKind,
    Window,
    WindowCancelled,
    make_trigger_id,
    ms_to_datetime,
)
from momentstream.core.state import CustomerState, DeferredTrigger, EvidenceRow, Sequence
from momentstream.patterns.nfa import CompiledMoment, Completion
from momentstream.patterns.windows import WindowEvent
from momentstream.triggers.holdout import in_holdout

__all__ = ["cancelled_record", "deferred_trigger", "is_held_out", "match_trigger", "step_trigger", "to_deferred",
           "window_trigger"]  # fmt: skip


def is_held_out(m: CompiledMoment, customer_id: str) -> bool:
    """Whether the customer is in this moment's holdout group (its triggers, and their revocations, stay apart)."""
    return in_holdout(customer_id, m.name, m.spec.holdout_share, m.spec.holdout_salt)


def _evidence(m: CompiledMoment, rows: tuple[EvidenceRow, ...]) -> list[Evidence]:
    return [Evidence(event_id=r[0], ts=ms_to_datetime(r[1]), step=m.groups[r[2]].name,
                     indicators=indicator_names(m, r[4]) if len(r) > 4 else None) for r in rows]  # fmt: skip


def indicator_names(m: CompiledMoment, mask: int) -> list[str] | None:
    """The k-of-n indicators a mask of bits names (None for a moment without indicators)."""
    if m.kofn is None:
        return None
    return [name for i, name in enumerate(m.kofn.names) if mask >> i & 1]


def _story(state: CustomerState) -> list[StoryItem]:
    return [StoryItem(event_id=s[0], type=s[1], channel=s[2], ts=ms_to_datetime(s[3])) for s in state.story]


def _trigger(
    m: CompiledMoment,
    state: CustomerState,
    kind: TriggerKind,
    rows: tuple[EvidenceRow, ...],
    at: int,
    window: tuple[int, int] | None,
) -> Trigger:
    trigger_id = make_trigger_id(
        state.customer_id,
        m.name,
        m.version,
        kind,
        [r[0] for r in rows],
        None if window is None else window[0],
    )
    return Trigger(
        trigger_id=trigger_id,
        customer_id=state.customer_id,
        moment=m.name,
        moment_version=m.version,
        kind=kind,
        emitted_at=ms_to_datetime(at),
        window=None
        if window is None
        else Window(opens_at=ms_to_datetime(window[0]), closes_at=ms_to_datetime(window[1])),
        evidence=_evidence(m, rows),
        story=_story(state),
        description=m.spec.description,
        holdout=is_held_out(m, state.customer_id),
        owner=m.spec.owner,
    )


def match_trigger(m: CompiledMoment, state: CustomerState, done: Completion) -> Trigger:
    """A trigger for a moment without a window: act now."""
    return _trigger(m, state, "match", done.evidence, done.completed_at, None)


def window_trigger(m: CompiledMoment, state: CustomerState, event: WindowEvent) -> Trigger:
    """A trigger for a window that opened, or that closed unused (``window_expired``)."""
    kind: TriggerKind = "window_open" if event.kind == "open" else "window_expired"
    w = event.window
    return _trigger(m, state, kind, w.evidence, event.at, (w.opens_at, w.closes_at))


def to_deferred(m: CompiledMoment, trigger: Trigger) -> DeferredTrigger:
    """What to keep of a trigger held over quiet hours, to build it again with the same id."""
    groups = {g.name: i for i, g in enumerate(m.groups)}
    names = {n: i for i, n in enumerate(m.kofn.names)} if m.kofn is not None else {}
    rows = tuple((e.event_id, to_ms(e.ts), groups.get(e.step, 0), 0) if e.indicators is None else
                 (e.event_id, to_ms(e.ts), groups.get(e.step, 0), 0, sum(1 << names[n] for n in e.indicators
                                                                          if n in names))
                 for e in trigger.evidence)  # fmt: skip
    window = None if trigger.window is None else (to_ms(trigger.window.opens_at), to_ms(trigger.window.closes_at))
    return DeferredTrigger(m.name, m.version, trigger.kind, rows, window, to_ms(trigger.emitted_at))


def deferred_trigger(m: CompiledMoment, state: CustomerState, held: DeferredTrigger, at: int) -> Trigger:
    """The held trigger, emitted at ``at`` with the customer's story as it is now."""
    kind: TriggerKind = "window_open" if held.kind == "window_open" else "match"
    return _trigger(m, state, kind, held.evidence, at, held.window)


def step_trigger(m: CompiledMoment, state: CustomerState, sequence: Sequence, at: int) -> Trigger:
    """The sequence's next step, due at ``at``: the parent's evidence, the customer's story now, an id of its own
    (a hash of the parent's id and the step number, so a replay and a redelivery agree)."""
    assert m.spec.playbook is not None
    timed = m.spec.playbook.timed
    step = sequence.next_step + 1
    trigger = _trigger(m, state, "playbook_step", sequence.parent.evidence, at, None)
    trigger_id = make_trigger_id(state.customer_id, m.name, m.version, "playbook_step",
                                 [sequence.trigger_id, str(step)], None)  # fmt: skip
    place = SequenceStep(parent_trigger_id=sequence.trigger_id, step=step, of=len(timed), after=timed[step - 1].at)
    return trigger.model_copy(update={"trigger_id": trigger_id, "sequence": place})


def cancelled_record(m: CompiledMoment, state: CustomerState, event: WindowEvent) -> WindowCancelled:
    """An audit record for a window that will never open."""
    return WindowCancelled(
        customer_id=state.customer_id,
        moment=m.name,
        moment_version=m.version,
        reason=event.reason,
        at=ms_to_datetime(event.at),
        evidence=_evidence(m, event.window.evidence),
    )
