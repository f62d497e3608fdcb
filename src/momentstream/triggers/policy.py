"""The contact policy: whether a trigger that fired may reach the customer now, later, or not at all.

Checked in the core when a trigger fires, so the replay runner and the worker decide alike.
The rules, in the order they are applied:

1. **Consent**: a moment that names ``channels`` keeps those the customer still consents to;
   with none left it is suppressed (``no_consent``). A moment without channels is stopped only
   by a withdrawal from every channel.
2. **Quiet hours**: a trigger due inside them waits until they end (``trigger_deferred``)
   if its window is still open then, and is dropped otherwise (``quiet_hours``). A ``match``
   has no window and always waits. When it is delivered, every rule is checked again.
3. **Cooldown** per moment (``cooldown``); a playbook's scheduled steps are part of the contact that
   started them, so the moment's cooldown does not hold them back (the cap does).
4. **Frequency cap** per customer across moments (``frequency_cap``). When the cap is full,
   a trigger of higher ``priority`` takes the place of open, still unused windows of lower
   priority: those are revoked (``superseded``) and stop counting. Triggers that fire at the
   same instant are decided in priority order.

``window_expired`` is information, not a contact: it only follows its own opening.
Holdout customers get the same policy, so treated and holdout groups stay comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

from momentstream.core.state import Contact, CustomerState
from momentstream.patterns.nfa import CompiledMoment
from momentstream.triggers.consent import allowed_channels, contactable

__all__ = ["POLICY_REASONS", "ContactPolicy", "Decision", "Defer", "Deliver", "Suppress"]

POLICY_REASONS = (
    "no_consent",
    "quiet_hours",
    "cooldown",
    "frequency_cap",
    "superseded",
    "opening_suppressed",
    "window_used",
    "window_closed",
    "moment_changed",
    "low_uplift",
)
"""``TriggerSuppressed.reason`` values of the contact policy (a score condition gives its own text)."""


@dataclass(frozen=True, slots=True)
class Deliver:
    """Send it; ``channels`` (when the moment names some) are the ones still allowed."""

    channels: list[str] | None = None
    supersede: tuple[Contact, ...] = ()
    """Delivered window openings of lower priority that this trigger replaces under the cap."""


@dataclass(frozen=True, slots=True)
class Suppress:
    """Do not send it; ``reason`` is one of :data:`POLICY_REASONS`."""

    reason: str


@dataclass(frozen=True, slots=True)
class Defer:
    """Send it at ``until`` (the end of quiet hours), checking the policy again then."""

    until: int


Decision = Deliver | Suppress | Defer


class ContactPolicy:
    """The policy of one set of compiled moments (their file's ``policy:`` block and per-moment keys).

    Examples
    --------
    >>> from momentstream.patterns.dsl import parse_moments
    >>> moments = parse_moments('''
    ... policy: {max_triggers: 1, per: 7d}
    ... moments:
    ...   - {name: bought, channels: [email], pattern: [{name: b, where: {type: purchase}}]}
    ... ''')
    >>> policy, state = ContactPolicy(moments), CustomerState("c1")
    >>> policy.decide(state, moments[0], "match", at=0, closes_at=None)
    Deliver(channels=['email'], supersede=())
    >>> state.contacts.append((0, "bought", "t1", -1))
    >>> policy.decide(state, moments[0], "match", at=1000, closes_at=None)
    Suppress(reason='frequency_cap')
    """

    def __init__(self, moments: tuple[CompiledMoment, ...]) -> None:
        self._by_name = {m.name: m for m in moments}
        self.cap = next((m.spec.contact_cap for m in moments if m.spec.contact_cap is not None), None)
        horizons = [m.spec.cooldown_ms or 0 for m in moments] + [self.cap[1] if self.cap else 0]
        self.memory_ms = max(horizons)
        """How long delivered triggers matter (0: no cap and no cooldown, so none are remembered)."""

    def priority(self, moment: str) -> int:
        """The moment's priority (0 for a moment no longer configured)."""
        m = self._by_name.get(moment)
        return m.spec.priority if m is not None else 0

    def decide(self, state: CustomerState, m: CompiledMoment, kind: str, at: int, closes_at: int | None) -> Decision:
        """Decide on a ``match`` or ``window_open`` of ``m`` firing at ``at`` (a window closing at ``closes_at``)."""
        spec = m.spec
        channels = None
        if spec.channels:
            channels = allowed_channels(state.consent, spec.channels)
            if not channels:
                return Suppress("no_consent")
        elif not contactable(state.consent):
            return Suppress("no_consent")
        quiet = spec.quiet_hours
        if quiet is not None:
            zone = quiet.zone(state.zone, spec.timezone)
            if quiet.is_quiet(at, zone):
                until = quiet.next_allowed(at, zone)
                if closes_at is not None and until >= closes_at:
                    return Suppress("quiet_hours")
                return Defer(until)
        if (
            spec.cooldown_ms is not None
            and kind != "playbook_step"
            and any(c[1] == m.name and at - c[0] < spec.cooldown_ms for c in state.contacts)
        ):  # a sequence's steps follow their own trigger: the cooldown is between sequences, not within one
            return Suppress("cooldown")
        if self.cap is None:
            return Deliver(channels)
        limit, per = self.cap
        counted = [c for c in state.contacts if at - c[0] < per]
        excess = len(counted) - limit + 1
        if excess <= 0:
            return Deliver(channels)
        replaceable = sorted(
            (c for c in counted if self.priority(c[1]) < spec.priority and _window_unused(state, c, at)),
            key=lambda c: (self.priority(c[1]), c[0]),
        )
        if len(replaceable) < excess:
            return Suppress("frequency_cap")
        return Deliver(channels, tuple(replaceable[:excess]))


def _window_unused(state: CustomerState, contact: Contact, at: int) -> bool:
    """A delivered window opening that is still open at ``at`` and that no one has acted on yet."""
    _, moment, _, opens_at = contact
    ms = state.moments.get(moment)
    if opens_at < 0 or ms is None:
        return False
    return any(w.opens_at == opens_at and w.is_open and not w.used and w.closes_at > at for w in ms.windows.values())
