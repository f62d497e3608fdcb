"""Scheduled sequences: a playbook's timed steps, each a ``playbook_step`` trigger when it comes due.

A moment's playbook may give steps an ``at`` (``{say: Send the guide, at: 1d}``). When one of its
triggers is sent (or recorded for the holdout group), the sequence starts: the customer's state keeps it
under a durable timer, like a deferred trigger, so a crash or a rebalance neither loses nor repeats a
step. Each step, when due:

* goes through the contact policy as any trigger does: consent (a withdrawal from the step's channels
  **stops** the sequence), quiet hours (the step waits for them to end), the frequency cap (a capped step
  is skipped and the sequence goes on); the moment's own cooldown does not apply within its sequence;
* is sent with the parent's evidence, the step's instruction as its playbook, and ``sequence`` naming the
  parent and the step; holdout customers' steps go to the holdout output like their parent, never to the
  CRM, so each step's uplift can be read;
* opens an outcome window of its own when the moment has an ``outcome``, so outcomes link per step.

An event of the customer's that meets the playbook's ``stop_if`` (they bought, say) ends the sequence;
so does a reload that changes the moment. Each early end is audited (``sequence_stopped``). An erasure
removes the sequence with the rest of the customer's state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from momentstream.core.clock import to_ms
from momentstream.core.schema import Output, SequenceStopped, TouchpointEvent, Trigger, ms_to_datetime
from momentstream.core.state import CustomerState, Sequence
from momentstream.patterns.nfa import CompiledMoment
from momentstream.patterns.predicates import Predicate, compile_predicate
from momentstream.triggers.delivery import Delivery
from momentstream.triggers.emit import step_trigger, to_deferred
from momentstream.triggers.loop import Loop
from momentstream.triggers.policy import Defer, Suppress

if TYPE_CHECKING:
    from momentstream.models.scorer import Scorer

__all__ = ["SEQUENCE_OWNER", "SEQUENCE_TIMER", "Sequences"]

SEQUENCE_TIMER = "playbook_step"
SEQUENCE_OWNER = "~sequence"
"""Timers of sequences' next steps; not a moment name, so forgetting a moment's matches keeps them."""
_STARTS = frozenset({"match", "window_open"})


class Sequences:
    """Starts, steps and stops the playbook sequences of one set of compiled moments."""

    def __init__(self, moments: tuple[CompiledMoment, ...], delivery: Delivery, loop: Loop,
                 scorer: Scorer | None) -> None:  # fmt: skip
        self._by_name = {m.name: m for m in moments if m.spec.playbook is not None and m.spec.playbook.timed}
        self._stops: dict[str, Predicate] = {
            m.name: compile_predicate(m.spec.playbook.stop_if, m.spec.timezone)
            for m in self._by_name.values()
            if m.spec.playbook is not None and m.spec.playbook.stop_if is not None
        }
        self._delivery, self._loop, self._scorer = delivery, loop, scorer
        self.active = bool(self._by_name)

    def start(self, state: CustomerState, sent: Trigger) -> None:
        """``sent`` reached the CRM or the holdout output: schedule the first step of its moment's sequence."""
        m = self._by_name.get(sent.moment)
        if m is None or sent.kind not in _STARTS or m.spec.playbook is None:
            return
        state.next_sequence += 1
        state.sequences[state.next_sequence] = Sequence(sent.trigger_id, to_deferred(m, sent))
        due = to_ms(sent.emitted_at) + m.spec.playbook.timed[0].at_ms
        state.timers.schedule(due, SEQUENCE_TIMER, SEQUENCE_OWNER, state.next_sequence)

    def on_event(self, state: CustomerState, event: TouchpointEvent, ts: int, outputs: list[Output]) -> None:
        """An event in time order: sequences whose ``stop_if`` it meets end here."""
        for ref, sequence in list(state.sequences.items()):
            stop = self._stops.get(sequence.parent.moment)
            if stop is not None and stop(event):
                self._stop(state, ref, sequence, "stop_if", ts, outputs, event.event_id)

    def on_timer(self, state: CustomerState, ref: int, fire_at: int, outputs: list[Output]) -> None:
        """A step came due: send it (or hold it over quiet hours, or skip it), then schedule the next."""
        sequence = state.sequences.get(ref)
        if sequence is None:
            return
        m = self._by_name.get(sequence.parent.moment)
        if (
            m is None
            or m.version != sequence.parent.version
            or m.spec.playbook is None
            or sequence.next_step >= len(m.spec.playbook.timed)
        ):  # a reload changed it (even at one version)
            self._stop(state, ref, sequence, "moment_changed", fire_at, outputs)
            return
        trigger = step_trigger(m, state, sequence, fire_at)
        if self._scorer is not None:
            trigger = trigger.model_copy(update={"signals": self._scorer.signals(state, fire_at)})
        sent = self._delivery.deliver_step(state, trigger, outputs)
        if isinstance(sent, Defer):
            state.timers.schedule(sent.until, SEQUENCE_TIMER, SEQUENCE_OWNER, ref)
            return
        if isinstance(sent, Suppress) and sent.reason == "no_consent":
            self._stop(state, ref, sequence, "no_consent", fire_at, outputs)
            return
        if isinstance(sent, Trigger):
            sequence.sent += 1
            timer = self._loop.on_sent(state, sent, None, outputs)
            if timer is not None:
                state.timers.schedule(*timer)
        sequence.next_step += 1
        timed = m.spec.playbook.timed
        if sequence.next_step >= len(timed):
            del state.sequences[ref]
            return
        due = sequence.parent.fired_at + timed[sequence.next_step].at_ms
        state.timers.schedule(due, SEQUENCE_TIMER, SEQUENCE_OWNER, ref)

    def _stop(self, state: CustomerState, ref: int, sequence: Sequence, reason: Reason, at: int,
              outputs: list[Output], event_id: str | None = None) -> None:  # fmt: skip
        del state.sequences[ref]
        state.timers.discard_refs(SEQUENCE_OWNER, frozenset({ref}))
        m = self._by_name.get(sequence.parent.moment)
        total = len(m.spec.playbook.timed) if m is not None and m.spec.playbook is not None else sequence.next_step
        outputs.append(SequenceStopped(customer_id=state.customer_id, moment=sequence.parent.moment,
                                       trigger_id=sequence.trigger_id, at=ms_to_datetime(at), reason=reason,
                                       event_id=event_id, steps_sent=sequence.sent,
                                       steps_left=max(0, total - sequence.next_step)))  # fmt: skip


Reason = Literal["stop_if", "no_consent", "moment_changed"]
