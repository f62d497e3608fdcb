"""Delivering fired triggers: the contact policy's decision carried out on the customer's state.

The engine decides *when* a trigger fires; this decides what becomes of it: sent (and
remembered for caps, cooldowns and revocation), suppressed (audited), deferred over quiet
hours (kept in the state with a timer, and released later), or sent in place of lower-priority
windows that it supersedes. It also revokes sent triggers that a too-late event disproves.
Like the engine it does no I/O: it appends outputs and changes the state it is given.
"""

from __future__ import annotations

from momentstream.core.clock import to_ms
from momentstream.core.schema import (
    Evidence,
    Output,
    Score,
    TouchpointEvent,
    Trigger,
    TriggerDeferred,
    TriggerRevoked,
    TriggerSuppressed,
    make_trigger_id,
    ms_to_datetime,
)
from momentstream.core.state import Contact, CustomerState, DeferredTrigger
from momentstream.patterns.nfa import CompiledMoment
from momentstream.triggers.emit import deferred_trigger, is_held_out, to_deferred
from momentstream.triggers.playbook import render_playbook
from momentstream.triggers.policy import ContactPolicy, Defer, Deliver, Suppress

__all__ = ["DEFER_OWNER", "DEFER_TIMER", "Delivery", "suppressed"]

DEFER_TIMER = "deliver"
DEFER_OWNER = "~deferred"
"""Timers of triggers held over quiet hours; not a moment name, so forgetting a moment keeps them."""


class Delivery:
    """Carries out the contact policy of one set of compiled moments."""

    def __init__(self, moments: tuple[CompiledMoment, ...]) -> None:
        self._by_name = {m.name: m for m in moments}
        self.policy = ContactPolicy(moments)

    def deliver(self, state: CustomerState, trigger: Trigger, outputs: list[Output]) -> None:
        """Apply the contact policy, emit, and remember for a while what a late event could disprove."""
        m = self._by_name[trigger.moment]
        at = to_ms(trigger.emitted_at)
        window = trigger.window
        if trigger.kind == "window_expired":
            key = (m.name, to_ms(window.opens_at)) if window is not None else None
            if key in state.muted_windows:
                state.muted_windows.remove(key)  # type: ignore[arg-type]
                outputs.append(suppressed(trigger, "opening_suppressed"))
            elif m.spec.playbook is not None:  # the CRM closes what the opening asked for
                outputs.append(trigger.model_copy(update={"playbook": render_playbook(m.spec.playbook, trigger)}))
            else:
                outputs.append(trigger)
            return
        decision = self.policy.decide(state, m, trigger.kind, at, to_ms(window.closes_at) if window else None)
        if isinstance(decision, Suppress):
            outputs.append(suppressed(trigger, decision.reason))
            if window is not None:  # its expiry must not reach a CRM that never saw it open
                state.muted_windows.append((m.name, to_ms(window.opens_at)))
            return
        if isinstance(decision, Defer):
            self._defer(state, m, trigger, decision.until, outputs)
            return
        trigger = self._send(state, m, trigger, decision, outputs)
        after = max(to_ms(e.ts) for e in trigger.evidence)
        if trigger.kind == "match" and m.end_absence_bits:
            state.revocable.append((trigger.trigger_id, m.name, trigger.kind, after, at))
        elif trigger.kind == "window_open" and m.window is not None and m.window.cancel_bits and window:
            # A cancel_if event before the window opened would have cancelled it.
            state.revocable.append((trigger.trigger_id, m.name, trigger.kind, after, to_ms(window.opens_at) - 1))

    def deliver_step(self, state: CustomerState, trigger: Trigger, outputs: list[Output]) -> Trigger | Defer | Suppress:
        """A sequence's step: the policy as for any trigger (consent, quiet hours, the cap; not the moment's own
        cooldown), then sent (returned), suppressed (audited), or to wait for quiet hours to end (the ``Defer``:
        the caller moves the step's timer; audited as deferred)."""
        m = self._by_name[trigger.moment]
        at = to_ms(trigger.emitted_at)
        decision = self.policy.decide(state, m, trigger.kind, at, None)
        if isinstance(decision, Suppress):
            outputs.append(suppressed(trigger, decision.reason))
            return decision
        if isinstance(decision, Defer):
            outputs.append(_deferred_record(trigger, decision.until))
            return decision
        return self._send(state, m, trigger, decision, outputs)

    def _send(self, state: CustomerState, m: CompiledMoment, trigger: Trigger, decision: Deliver,
              outputs: list[Output]) -> Trigger:  # fmt: skip
        """Carry out a decision to deliver: supersede what it replaces, keep the allowed channels, fill the
        playbook (after the channels, which it may quote), remember the contact, emit; the trigger as sent."""
        for contact in decision.supersede:
            self._supersede(state, contact, trigger, outputs)
        if decision.channels is not None:
            trigger = trigger.model_copy(update={"channels": decision.channels})
        if m.spec.playbook is not None:
            trigger = trigger.model_copy(update={"playbook": render_playbook(m.spec.playbook, trigger)})
        window = trigger.window
        self._remember_contact(state, (to_ms(trigger.emitted_at), m.name, trigger.trigger_id,
                                       to_ms(window.opens_at) if window else -1))  # fmt: skip
        outputs.append(trigger)
        return trigger

    def _remember_contact(self, state: CustomerState, contact: Contact) -> None:
        """Keep delivered triggers only as long as a cap or cooldown can count them: state stays small."""
        memory = self.policy.memory_ms
        contacts = state.contacts
        while contacts and contact[0] - contacts[0][0] >= memory:
            contacts.popleft()
        if memory:
            contacts.append(contact)

    def _defer(
        self, state: CustomerState, m: CompiledMoment, trigger: Trigger, until: int, outputs: list[Output]
    ) -> None:
        """Keep the trigger in the state and wake up when quiet hours end."""
        state.next_deferral += 1
        state.deferred[state.next_deferral] = to_deferred(m, trigger)
        state.timers.schedule(until, DEFER_TIMER, DEFER_OWNER, state.next_deferral)
        outputs.append(_deferred_record(trigger, until))

    def release(self, state: CustomerState, held: DeferredTrigger, now: int, outputs: list[Output]) -> Trigger | None:
        """Quiet hours are over: the held trigger, to fire again, unless its window is gone or used (audited)."""
        m = self._by_name.get(held.moment)
        reason = None
        if m is None or m.version != held.version:
            reason = "moment_changed"
        elif held.window is not None:
            ms = state.moments.get(m.name)
            window = next((w for w in (ms.windows.values() if ms else ()) if w.opens_at == held.window[0]), None)
            if window is None or not window.is_open:
                reason = "window_closed"
            elif window.used:
                reason = "window_used"  # someone reached out during the night: nothing left to do
        if reason is None:
            assert m is not None
            return deferred_trigger(m, state, held, now)
        opens = held.window[0] if held.window else None
        trigger_id = make_trigger_id(state.customer_id, held.moment, held.version, held.kind,
                                     [r[0] for r in held.evidence], opens)  # fmt: skip
        outputs.append(TriggerSuppressed(trigger_id=trigger_id, customer_id=state.customer_id, moment=held.moment,
                                         kind="window_open" if held.window else "match", at=ms_to_datetime(now),
                                         reason=reason))  # fmt: skip
        return None

    def _supersede(self, state: CustomerState, contact: Contact, by: Trigger, outputs: list[Output]) -> None:
        """Revoke a delivered, unused lower-priority window opening that ``by`` replaces under the cap."""
        _, name, trigger_id, opens_at = contact
        state.contacts.remove(contact)
        state.muted_windows.append((name, opens_at))
        for entry in [r for r in state.revocable if r[0] == trigger_id]:
            state.revocable.remove(entry)
        old = self._by_name.get(name)
        holdout = old is not None and is_held_out(old, state.customer_id)
        newest: Evidence = max(by.evidence, key=lambda e: e.ts)
        outputs.append(TriggerRevoked(trigger_id=trigger_id, customer_id=state.customer_id, moment=name,
                                      kind="window_open", reason=f"superseded by {by.moment} (higher priority) "
                                      "under the frequency cap", late_event_id=newest.event_id,
                                      late_event_ts=newest.ts, superseded_by=by.trigger_id,
                                      holdout=holdout))  # fmt: skip

    def revocations(self, state: CustomerState, event: TouchpointEvent, ts: int) -> list[Output]:
        """Revoke emitted triggers that a too-late event disproves (each at most once)."""
        revoked: list[Output] = []
        for entry in list(state.revocable):
            trigger_id, name, kind, after, until = entry
            m = self._by_name.get(name)
            if m is None or not after < ts <= until:
                continue
            bits = m.end_absence_bits if kind == "match" else (m.window.cancel_bits if m.window else 0)
            if not m.evaluate(event) & bits:
                continue
            reason = (
                "the silence it needed was broken" if kind == "match" else "a cancel_if event came before it opened"
            )
            holdout = is_held_out(m, state.customer_id)
            if kind == "window_open":  # the CRM is told to cancel it: its expiry must not follow
                state.muted_windows.append((name, until + 1))
            revoked.append(TriggerRevoked(trigger_id=trigger_id, customer_id=state.customer_id, moment=name,
                                          kind=kind, reason=reason, late_event_id=event.event_id,
                                          late_event_ts=event.ts, holdout=holdout))  # fmt: skip
            state.revocable.remove(entry)
        return revoked


def _deferred_record(trigger: Trigger, until: int) -> TriggerDeferred:
    """The audit record of a trigger held until ``until`` (the end of quiet hours)."""
    return TriggerDeferred(
        trigger_id=trigger.trigger_id,
        customer_id=trigger.customer_id,
        moment=trigger.moment,
        kind=trigger.kind,
        at=trigger.emitted_at,
        until=ms_to_datetime(until),
    )


def suppressed(trigger: Trigger, reason: str, score: Score | None = None) -> TriggerSuppressed:
    """The audit record of a trigger that is not sent, and why."""
    return TriggerSuppressed(trigger_id=trigger.trigger_id, customer_id=trigger.customer_id, moment=trigger.moment,
                             kind=trigger.kind, at=trigger.emitted_at, reason=reason,
                             score=score or trigger.score, uplift=trigger.uplift)  # fmt: skip
