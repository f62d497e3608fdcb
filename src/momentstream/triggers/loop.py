"""Closing the loop: link outcomes and CRM feedback to the triggers before them, decide by uplift, pick actions.

For a moment with an ``outcome`` (:mod:`momentstream.patterns.loop_spec`), every trigger that
reaches the CRM or the holdout output opens an *outcome window* in the customer's state: a small
record with a timer at its end. The first outcome event of the window is linked to the latest
trigger of that moment before it; a ``trigger_feedback`` event from the CRM (``properties:
{trigger_id, decision: taken|declined, cost}``) is linked by id when it arrives (its time stamp is
the CRM's, which may be older than the customer's latest event). When the window closes, a
:class:`~momentstream.core.schema.TriggerOutcome` goes to the audit output, treated or control, and the
moment's models learn from it:

* ``decide: {by: uplift}``: an :class:`~momentstream.models.uplift.UpliftModel` learns the outcome
  of treated and of holdout triggers. At fire time it predicts the lift for this customer, and the
  trigger is sent only when ``lift x value > cost``; otherwise it is suppressed, audited with the
  reason ``low_uplift``. Holdout triggers are never filtered (the control group stays random), a
  share ``explore`` of refused triggers is sent anyway, and until both arms have ``min_labels``
  outcomes every trigger is sent.
* ``actions``: an :class:`~momentstream.models.action_bandit.ActionBandit` picks one action per
  treated trigger and learns from its outcome.

A treated trigger the CRM declined teaches no model (it was not a contact), nor does a holdout
trigger the CRM reports it acted on (a contacted control); both still count in the intent-to-treat
comparison, where they were assigned. Like the engine, this does no I/O: it changes the state it is given and
appends outputs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from momentstream.core.clock import to_ms
from momentstream.core.schema import (
    Action,
    FeedbackUnmatched,
    Output,
    TouchpointEvent,
    Trigger,
    TriggerOutcome,
    TriggerRevoked,
    UpliftDecision,
    ms_to_datetime,
)
from momentstream.core.state import CustomerState, OpenTrigger
from momentstream.patterns.loop_spec import LoopSpec
from momentstream.patterns.nfa import CompiledMoment
from momentstream.patterns.predicates import compile_predicate
from momentstream.triggers.holdout import holdout_bucket
from momentstream.triggers.preferences import matched, note_preferences

if TYPE_CHECKING:
    from momentstream.models.scorer import Scorer

__all__ = ["LOOP_OWNER", "LOOP_TIMER", "MAX_OPEN", "Loop"]

LOOP_TIMER = "outcome"
LOOP_OWNER = "~loop"
"""The timers closing outcome windows; not a moment name, so forgetting a moment's partial matches keeps them."""
MAX_OPEN = 64
"""Outcome windows open per customer; beyond it the oldest closes at once (reported, not learned)."""
Timer = tuple[int, str, str, int]
"""(fire at ms, kind, owner, ref): what :meth:`Loop.on_sent` asks the engine to schedule."""
_ACTIONABLE = frozenset({"match", "window_open"})
_LINKED = _ACTIONABLE | {"playbook_step"}
"""Triggers whose outcomes are linked: a sequence's steps too, each with its own window (uplift per step)."""
_LARGEST_COST = 1e9


class Loop:
    """Runs the outcome windows, decisions and action choices of one set of compiled moments."""

    def __init__(self, moments: tuple[CompiledMoment, ...], scorer: Scorer | None) -> None:
        self._specs: dict[str, LoopSpec] = {m.name: m.spec.loop for m in moments if m.spec.loop.outcome is not None}
        self._outcomes = {
            m.name: compile_predicate(m.spec.loop.outcome, m.spec.timezone)
            for m in moments
            if m.spec.loop.outcome is not None
        }
        self._scorer = scorer
        self.active = bool(self._specs)
        self.prefers = tuple(sorted({spec.prefer for spec in self._specs.values() if spec.prefer is not None}))
        """The event properties in which customers state preferences (read on every event that has them)."""

    # -- at fire time ----------------------------------------------------------------------
    def decide(self, state: CustomerState, trigger: Trigger) -> tuple[Trigger, bool, dict[str, float] | None]:
        """The trigger with its action and predicted uplift; False when it should not be sent (low uplift); and
        the features the moment's models saw (None when it learns nothing), for :meth:`on_sent`."""
        spec = self._specs.get(trigger.moment)
        if spec is None or not spec.learns or trigger.kind not in _ACTIONABLE or self._scorer is None:
            return trigger, True, None
        x = self._scorer.loop_features(trigger.moment, state, to_ms(trigger.emitted_at))
        update: dict[str, object] = {}
        cost = spec.decide.cost if spec.decide is not None else 0.0
        if spec.actions and not trigger.holdout:
            stated = state.preferences.get(spec.prefer) if spec.prefer is not None else None
            preferred = matched(spec.actions, stated[0] if stated is not None else None)
            chosen = preferred or self._scorer.bandits[trigger.moment].choose(x)
            action = next(a for a in spec.actions if a.name == chosen)
            update["action"] = Action(name=action.name, channel=action.channel, cost=action.cost,
                                      chosen_by="preference" if preferred else "policy")  # fmt: skip
            cost = action.cost
        send = True
        if spec.decide is not None:
            model = self._scorer.uplift_models[trigger.moment]
            lift = model.lift(x)
            predicted = None if math.isnan(lift) else round(max(-1.0, min(1.0, lift)), 4)
            if trigger.holdout:
                decision = "holdout"
            elif predicted is None or not model.warm(spec.decide.min_labels):
                decision = "learning"
            elif predicted * spec.decide.value > cost:
                decision = "send"
            elif holdout_bucket(trigger.trigger_id, trigger.moment, "explore") < spec.decide.explore:
                decision = "explore"
            else:
                decision, send = "refused", False
            update["uplift"] = UpliftDecision(predicted=predicted, value=spec.decide.value, cost=cost,
                                              decision=decision)  # fmt: skip
        return (trigger.model_copy(update=update) if update else trigger), send, x

    def note_preferences(self, state: CustomerState, event: TouchpointEvent, ts: int) -> None:
        """An event in time order: keep what it states in the properties the moments ``prefer``."""
        note_preferences(state, event.properties, self.prefers, ts)

    def on_sent(
        self, state: CustomerState, trigger: Trigger, x: dict[str, float] | None, outputs: list[Output]
    ) -> Timer | None:
        """A trigger reached the CRM or the holdout output: open its outcome window, keeping ``x`` (from
        :meth:`decide`, at the same instant) to learn from; returns the timer closing it."""
        spec = self._specs.get(trigger.moment)
        if spec is None or trigger.kind not in _LINKED:
            return None
        at = to_ms(trigger.emitted_at)
        state.next_open_ref += 1
        state.open_triggers[state.next_open_ref] = OpenTrigger(
            trigger.trigger_id, trigger.moment, at, at + spec.outcome_within_ms, trigger.holdout, x,
            trigger.action.name if trigger.action else None,
            trigger.uplift.predicted if trigger.uplift else None,
            trigger.score.tier if trigger.score else None,
            preferred=trigger.action is not None and trigger.action.chosen_by == "preference",
            step=trigger.sequence.step if trigger.sequence is not None else None,
        )  # fmt: skip
        while len(state.open_triggers) > MAX_OPEN:
            oldest = min(state.open_triggers)
            self._close(state, state.open_triggers.pop(oldest), at, outputs, learn=False)
            state.timers.discard_refs(LOOP_OWNER, frozenset({oldest}))
        return (at + spec.outcome_within_ms, LOOP_TIMER, LOOP_OWNER, state.next_open_ref)

    def forget(self, state: CustomerState, revoked: list[TriggerRevoked]) -> None:
        """Revoked triggers (disproved by a late event, or superseded) should not have fired: their outcome
        windows close without a record, in either group, so revocations never bias the comparison."""
        ids = {r.trigger_id for r in revoked}
        refs = [ref for ref, t in state.open_triggers.items() if t.trigger_id in ids]
        for ref in refs:
            del state.open_triggers[ref]
        if refs:
            state.timers.discard_refs(LOOP_OWNER, frozenset(refs))

    # -- afterwards ------------------------------------------------------------------------
    def on_event(self, state: CustomerState, event: TouchpointEvent, ts: int) -> None:
        """Link an outcome event to the latest open trigger of each moment it is the outcome of."""
        linked: set[str] = set()
        for entry in sorted(state.open_triggers.values(), key=lambda t: -t.at_ms):
            if entry.moment in linked or not entry.at_ms < ts <= entry.deadline_ms:
                continue
            outcome = self._outcomes.get(entry.moment)
            if outcome is None or not outcome(event):
                continue
            linked.add(entry.moment)
            if entry.outcome_event_id is None:
                entry.outcome_event_id, entry.outcome_ms = event.event_id, ts

    def on_feedback(self, state: CustomerState, event: TouchpointEvent, outputs: list[Output]) -> None:
        """The CRM's report on a trigger; malformed or unmatched reports are audited and change nothing."""
        props = event.properties
        trigger_id = props.get("trigger_id")
        decision = props.get("decision")
        cost = props.get("cost")

        def unmatched(reason: str) -> None:
            known = trigger_id if isinstance(trigger_id, str) and trigger_id else None
            outputs.append(FeedbackUnmatched(customer_id=state.customer_id, event_id=event.event_id,
                                             trigger_id=known, reason=reason))  # fmt: skip

        if not isinstance(trigger_id, str) or not trigger_id:
            return unmatched("properties.trigger_id is missing")
        if decision not in ("taken", "declined"):
            return unmatched("properties.decision must be taken or declined")
        if cost is not None and (
            isinstance(cost, bool) or not isinstance(cost, int | float) or not 0 <= cost <= _LARGEST_COST
        ):
            return unmatched(f"properties.cost must be a number from 0 to {_LARGEST_COST:g}")
        entry = next((t for t in state.open_triggers.values() if t.trigger_id == trigger_id), None)
        if entry is None:
            return unmatched("no open trigger of this customer has this id (unknown, or its outcome window closed)")
        if to_ms(event.ts) > entry.deadline_ms:
            return unmatched("reported after the trigger's outcome window closed")
        entry.feedback, entry.channel = str(decision), event.channel
        entry.cost = float(cost) if cost is not None else entry.cost
        return None

    def on_timer(self, state: CustomerState, ref: int, fire_at: int, outputs: list[Output]) -> None:
        """An outcome window closed: report it and let the moment's models learn from it."""
        entry = state.open_triggers.pop(ref, None)
        if entry is not None:
            self._close(state, entry, fire_at, outputs, learn=True)

    def _close(self, state: CustomerState, entry: OpenTrigger, at: int, outputs: list[Output], learn: bool) -> None:
        converted = entry.outcome_event_id is not None
        spec = self._specs.get(entry.moment)
        contaminated = entry.holdout and entry.feedback == "taken"  # the CRM acted on a control trigger
        learned = (
            learn and spec is not None and spec.learns and entry.x is not None and entry.feedback != "declined"
            and not contaminated and self._scorer is not None
        )  # fmt: skip
        if learned and spec is not None and self._scorer is not None and entry.x is not None:
            learned = False
            if spec.decide is not None and entry.moment in self._scorer.uplift_models:
                self._scorer.uplift_models[entry.moment].learn(entry.x, not entry.holdout, converted)
                learned = True
            bandit = self._scorer.bandits.get(entry.moment)
            if bandit is not None and entry.action is not None and not entry.holdout and not entry.preferred:
                bandit.learn(entry.action, entry.x, converted)
                learned = True
        outputs.append(TriggerOutcome(
            trigger_id=entry.trigger_id, customer_id=state.customer_id, moment=entry.moment,
            group="control" if entry.holdout else "treated", triggered_at=ms_to_datetime(entry.at_ms),
            closed_at=ms_to_datetime(at), converted=converted, outcome_event_id=entry.outcome_event_id,
            outcome_at=ms_to_datetime(entry.outcome_ms) if entry.outcome_ms is not None else None,
            feedback=entry.feedback, channel=entry.channel, cost=entry.cost, action=entry.action,
            predicted_uplift=entry.predicted, tier=entry.tier, learned=learned, step=entry.step,
        ))  # fmt: skip
