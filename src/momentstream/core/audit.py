"""The audit trail: every record the engine writes besides triggers, and the ``Output`` union of them all.

Late and duplicate events, cancelled windows, suppressed, deferred and revoked triggers, identity merges,
erasures and trimmed state: each says what happened to whom and why, without echoing event payloads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from momentstream.core.events import TouchpointEvent
from momentstream.core.trigger_record import (
    Evidence,
    Score,
    ShadowTrigger,
    Trigger,
    TriggerKind,
    TriggerOutcome,
    UpliftDecision,
)

__all__ = [
    "CustomerErased",
    "DuplicateEvent",
    "FeedbackUnmatched",
    "IdentityMerged",
    "IdentityRelinked",
    "LateEvent",
    "Output",
    "SequenceStopped",
    "StateTrimmed",
    "TriggerDeferred",
    "TriggerRevoked",
    "TriggerSuppressed",
    "WindowCancelled",
]


class LateEvent(BaseModel):
    """An event older than what the customer's clock has already committed to (its ids, type, channel, time
    and value: no text or properties, which may be personal and would outlive an erasure in the audit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["late_event"] = "late_event"
    event: TouchpointEvent
    frontier: datetime


class DuplicateEvent(BaseModel):
    """An event whose id this customer has already sent recently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["duplicate_event"] = "duplicate_event"
    customer_id: str
    event_id: str


class WindowCancelled(BaseModel):
    """A window that will not open (a cancel event came first), kept for the audit trail."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["window_cancelled"] = "window_cancelled"
    customer_id: str
    moment: str
    moment_version: int
    reason: str
    at: datetime
    evidence: list[Evidence]


class TriggerSuppressed(BaseModel):
    """A trigger that was not emitted, and why (never silently dropped)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["trigger_suppressed"] = "trigger_suppressed"
    trigger_id: str
    customer_id: str
    moment: str
    kind: TriggerKind
    at: datetime
    reason: str
    score: Score | None = None
    uplift: UpliftDecision | None = None
    """For reason ``low_uplift``: the predicted lift that did not pay for the contact."""


class TriggerRevoked(BaseModel):
    """A late event shows that an emitted trigger should not have fired: cancel the action.

    A ``match`` that needed silence is revoked by a late event that breaks the silence. A
    ``window_open`` is revoked by a late ``cancel_if`` event from before the window opened.
    Events later than the allowed lateness cannot change matching any more, which is why
    this record exists.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["trigger_revoked"] = "trigger_revoked"
    trigger_id: str
    customer_id: str
    moment: str
    kind: TriggerKind
    reason: str
    late_event_id: str
    """The event that disproved it; for a superseded trigger, the newest evidence of the one replacing it."""
    late_event_ts: datetime
    superseded_by: str | None = None
    """Set when a higher-priority trigger took its place under the frequency cap: that trigger's id."""
    holdout: bool = False
    """Revokes a holdout trigger (routed with the holdout output, like the trigger was)."""


class TriggerDeferred(BaseModel):
    """A trigger that fired in the customer's quiet hours and will be delivered when they end.

    The trigger keeps its id; at ``until`` the contact policy is checked again (a cap reached
    in the meantime, or a withdrawn consent, still stops it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["trigger_deferred"] = "trigger_deferred"
    trigger_id: str
    customer_id: str
    moment: str
    kind: TriggerKind
    at: datetime
    until: datetime
    reason: str = "quiet_hours"


class FeedbackUnmatched(BaseModel):
    """A ``trigger_feedback`` event that names no open trigger of its customer, or is malformed: audited, ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["feedback_unmatched"] = "feedback_unmatched"
    customer_id: str
    event_id: str
    trigger_id: str | None
    reason: str


class IdentityMerged(BaseModel):
    """Audit: an alias's state was taken into its canonical customer (``adopted`` counts what came along).

    ``late`` merges arrived after the canonical customer had run past the identify time: they were
    applied on arrival, so their order against those events may differ from a replay's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["identity_merged"] = "identity_merged"
    customer_id: str
    alias_id: str
    merge_id: str
    identified_at: datetime
    late: bool = False
    adopted: dict[str, int]


class IdentityRelinked(BaseModel):
    """Audit: an id already stitched to one customer identified as another (a shared device): from now on
    its events go to ``canonical_id``. Nothing of ``previous_id``'s state moves; the two customers stay apart."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["identity_relinked"] = "identity_relinked"
    customer_id: str
    previous_id: str
    canonical_id: str
    event_id: str
    identified_at: datetime


class StateTrimmed(BaseModel):
    """Audit: the customer's state outgrew ``max_state_bytes`` and its oldest, cheapest parts were dropped
    (``dropped`` counts them by kind: partial_matches, pending_absences, story_items, dedup_ids,
    waiting_predictions). Replay and every worker trim at the same event, so their triggers stay equal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["state_trimmed"] = "state_trimmed"
    customer_id: str
    at: datetime
    bytes_before: int
    bytes_after: int
    dropped: dict[str, int]


class SequenceStopped(BaseModel):
    """Audit: a playbook's sequence ended before its last step. ``reason`` is ``stop_if`` (an event of the
    customer's met the playbook's ``stop_if``: ``event_id``), ``no_consent`` (consent to the step's channel was
    withdrawn), or ``moment_changed`` (a reload changed or removed the moment)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["sequence_stopped"] = "sequence_stopped"
    customer_id: str
    moment: str
    trigger_id: str
    """The trigger that started the sequence."""
    at: datetime
    reason: Literal["stop_if", "no_consent", "moment_changed"]
    event_id: str | None = None
    steps_sent: int
    steps_left: int


class CustomerErased(BaseModel):
    """Confirms an erasure: the customer's state, timers, pending labels and story are gone.

    ``removed`` counts what was deleted, so an auditor can see the request found something; ``covered``
    names each store the erasure reaches and how (the runtime fills in its own: changelog, local copy, topics).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["customer_erased"] = "customer_erased"
    customer_id: str
    request_event_id: str
    requested_at: datetime
    removed: dict[str, int]
    covered: list[str] = Field(default_factory=lambda: ["customer state: deleted"])


Output = (
    Trigger
    | LateEvent
    | DuplicateEvent
    | WindowCancelled
    | TriggerSuppressed
    | TriggerDeferred
    | CustomerErased
    | TriggerRevoked
    | TriggerOutcome
    | FeedbackUnmatched
    | ShadowTrigger
    | IdentityMerged
    | IdentityRelinked
    | StateTrimmed
    | SequenceStopped
)
