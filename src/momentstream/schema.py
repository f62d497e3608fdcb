"""Wire schemas: the touchpoint events we read and the records we emit.

These pydantic models are the contract with producers (``TouchpointEvent``) and with
CRMs (``Trigger``); everything else in the engine works on compact internal values.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "EARLIEST_TS",
    "FEEDBACK_EVENT_TYPE",
    "IDENTIFY_EVENT_TYPE",
    "LATEST_TS",
    "MAX_ABS_VALUE",
    "MAX_EVENT_BYTES",
    "MAX_PROPERTY_CHARS",
    "RELINKED_ALIAS",
    "SCHEMA_VERSION",
    "Action",
    "DuplicateEvent",
    "Evidence",
    "FeedbackUnmatched",
    "IdentityMerged",
    "IdentityRelinked",
    "LateEvent",
    "Output",
    "Playbook",
    "ShadowTrigger",
    "StateTrimmed",
    "StoryItem",
    "TouchpointEvent",
    "Trigger",
    "TriggerDeferred",
    "TriggerKind",
    "TriggerOutcome",
    "UpliftDecision",
    "Window",
    "WindowCancelled",
    "describe_error",
    "make_trigger_id",
    "ms_to_datetime",
]

SCHEMA_VERSION = "1"

PropertyValue = str | int | float | bool | None
Identifier = Annotated[str, Field(min_length=1, max_length=200)]

MAX_EVENT_BYTES = 65_536
"""The largest event record (a JSON line, or a Kafka record value) the engine takes; larger ones are refused.
Held events live in the customer's state, which must stay far below the broker's 1 MB message limit."""
MAX_ABS_VALUE = 1e15
"""Largest magnitude of ``value``: a quadrillion (in any currency's minor unit) is no order; 1e308 is an attack."""
MAX_PROPERTY_CHARS = 2_048
"""Longest string property (and 64 characters for a property name)."""
_INT64 = 2**63
EARLIEST_TS = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TS = datetime(2200, 1, 1, tzinfo=UTC)
"""Event times outside [EARLIEST_TS, LATEST_TS) are refused: no touchpoint is that old or that new, and
times near year 10000 overflow when converted to UTC."""


@lru_cache(maxsize=1024)
def _is_zone(name: str) -> bool:
    """Whether ``name`` is an IANA timezone this machine knows (cached: events repeat a few zones)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def ms_to_datetime(ms: int) -> datetime:
    """Turn the engine's epoch milliseconds back into an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class TouchpointEvent(BaseModel):
    """One customer touchpoint, as producers put it on the touchpoints topic.

    Parameters
    ----------
    event_id
        Unique per event; repeats are dropped as duplicates.
    customer_id
        The key: all state and ordering is per customer.
    type
        What happened (``purchase``, ``support_ticket``, ``page_view`` …), lower snake case.
    channel
        Where it happened (``web``, ``email``, ``app``, ``phone`` …).
    ts
        Event time, with a timezone; the engine never uses arrival time.
    value
        Optional amount (order value, usage count, NPS score …).
    properties
        Flat key/value attributes that predicates can test.
    text
        Optional free text (ticket body); never logged.

    Examples
    --------
    >>> e = TouchpointEvent.model_validate_json(
    ...     '{"event_id": "e1", "customer_id": "c1", "type": "purchase",'
    ...     ' "ts": "2026-03-02T10:00:00+01:00", "value": 42.5}')
    >>> e.type, e.channel, e.ts.isoformat()
    ('purchase', 'unknown', '2026-03-02T10:00:00+01:00')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier
    customer_id: Identifier
    type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")]
    channel: Annotated[str, Field(min_length=1, max_length=64)] = "unknown"
    ts: AwareDatetime
    value: Annotated[float, Field(allow_inf_nan=False, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)] | None = None
    properties: dict[str, PropertyValue] = Field(default_factory=dict)
    text: Annotated[str, Field(max_length=20_000)] | None = None

    @field_validator("ts")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        # A far date is refused here, in both runtimes alike, instead of overflowing deep in the engine.
        try:
            utc = value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("is out of range") from None
        if not EARLIEST_TS <= utc < LATEST_TS:
            raise ValueError(f"must be from {EARLIEST_TS.year} to {LATEST_TS.year - 1} (UTC)")
        return value

    @field_validator("properties")
    @classmethod
    def _bounded_properties(cls, value: dict[str, PropertyValue]) -> dict[str, PropertyValue]:
        # Values reach msgpack (int64), the models (finite floats) and the state (bounded size).
        if len(value) > 64:
            raise ValueError("at most 64 properties per event")
        for name, item in value.items():
            if not name or len(name) > 64:
                raise ValueError("property names must have 1 to 64 characters")
            if isinstance(item, str) and len(item) > MAX_PROPERTY_CHARS:
                raise ValueError(f"{name}: at most {MAX_PROPERTY_CHARS} characters")
            if isinstance(item, int) and not isinstance(item, bool) and not -_INT64 <= item < _INT64:
                raise ValueError(f"{name}: integers must fit in 64 bits")
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"{name}: numbers must be finite")
        zone = value.get("timezone")
        if zone is not None and not (isinstance(zone, str) and _is_zone(zone)):
            raise ValueError("timezone: not an IANA timezone name (e.g. Europe/Berlin)")
        return value

    @model_validator(mode="after")
    def _identify_names_its_customer(self) -> TouchpointEvent:
        if self.type == IDENTIFY_EVENT_TYPE:
            canonical = self.properties.get("canonical_id")
            if not isinstance(canonical, str) or not 0 < len(canonical) <= 200:
                raise ValueError("an identify event names the customer it joins in properties.canonical_id "
                                 "(1 to 200 characters)")  # fmt: skip
        return self


class Evidence(BaseModel):
    """One event that a pattern step matched; the CRM can look it up by id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str
    ts: datetime
    step: str
    indicators: list[str] | None = None
    """For an event of a k-of-n step: the names of the indicators it satisfied."""


class StoryItem(BaseModel):
    """A recent event of the customer, without properties or text (no PII)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str
    type: str
    channel: str
    ts: datetime


class Window(BaseModel):
    """The intervention window: act between ``opens_at`` and ``closes_at``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opens_at: datetime
    closes_at: datetime


TriggerKind = Literal["match", "window_open", "window_expired"]


class Reason(BaseModel):
    """One feature's signed push on the score, compared with a typical customer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str
    contribution: float
    """In log-odds (for the default model: weight x standardized value, the value clipped to ±5)."""
    points: float | None = Field(default=None, ge=-100, le=100)
    """In probability points: the score minus the score with this feature at its typical value, x 100."""


class Score(BaseModel):
    """The moment's objective as scored when the trigger fired: who should act, how urgently, why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    objective: str
    score: float = Field(ge=0, le=1)
    model_version: str
    tier: str | None
    owner: str
    reasons: list[Reason] = Field(default_factory=list)


class UpliftDecision(BaseModel):
    """Why a ``decide: {by: uplift}`` moment sent this trigger: the predicted lift and what it is worth."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    predicted: float | None = Field(default=None, ge=-1, le=1)
    """P(outcome | contacted) - P(outcome | not contacted) for this customer now (None: model not yet scoring)."""
    value: float
    cost: float
    decision: Literal["send", "learning", "explore", "holdout", "refused"]
    """send: lift x value > cost; learning: the model has too few outcomes to decide yet; explore: the model
    said no, sent anyway to keep learning; holdout: a control trigger, never filtered by the model; refused:
    not sent (on a ``trigger_suppressed`` record with reason ``low_uplift``)."""


class Action(BaseModel):
    """The playbook entry chosen for this trigger (by the moment's bandit, among its ``actions``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    channel: str | None = None
    cost: float = 0.0


class Playbook(BaseModel):
    """What a person does with this trigger (the moment's ``playbook``), filled in from its evidence and score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str | None = None
    channel: str | None = None
    steps: list[str] = Field(default_factory=list)
    talking_points: str = ""


class Trigger(BaseModel):
    """What the engine tells a CRM: this customer, this moment, act now (and why).

    ``trigger_id`` is a hash of the customer, the moment and version, the kind, the matched
    evidence and the window, so a replay or a redelivery yields the same id and consumers
    deduplicate by it. ``emitted_at`` is event time, not wall-clock time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1"] = "1"
    trigger_id: str
    customer_id: str
    moment: str
    moment_version: int
    kind: TriggerKind
    emitted_at: datetime
    window: Window | None = None
    evidence: list[Evidence]
    story: list[StoryItem] = Field(default_factory=list)
    description: str = ""
    score: Score | None = None
    holdout: bool = False
    """In the moment's control group: recorded on the holdout output to measure uplift, not acted on."""
    channels: list[str] | None = None
    """The channels the CRM may use: the moment's ``channels`` the customer still consents to (None: any)."""
    owner: str | None = None
    """The team that owns the moment (its ``owner:`` in the moments file), if it names one."""
    uplift: UpliftDecision | None = None
    """Set for moments that ``decide: {by: uplift}``."""
    action: Action | None = None
    """Set for moments with ``actions``: what to do (holdout triggers carry none)."""
    playbook: Playbook | None = None
    """Set for moments with a ``playbook``: who acts, how, and what to say."""


class ShadowTrigger(BaseModel):
    """A trigger of a ``mode: shadow`` moment: audited to compare with the live moments, never acted on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["shadow_trigger"] = "shadow_trigger"
    customer_id: str
    moment: str
    compare_to: str | None = None
    trigger: Trigger


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


FEEDBACK_EVENT_TYPE = "trigger_feedback"
"""A CRM's report on a trigger: ``properties: {trigger_id, decision: taken|declined, cost}`` (see
:mod:`momentstream.triggers.loop`). Keyed by the customer like any event; it is not customer activity."""


class TriggerOutcome(BaseModel):
    """What followed a trigger of a moment with an ``outcome``: written when its outcome window closes.

    ``group`` is ``treated`` for a trigger sent to the CRM, ``control`` for a holdout trigger (the
    comparison that measures uplift). ``converted`` says whether an outcome event came within the
    window, and which one. ``feedback`` is what the CRM reported (``taken`` / ``declined``, or None).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["trigger_outcome"] = "trigger_outcome"
    trigger_id: str
    customer_id: str
    moment: str
    group: Literal["treated", "control"]
    triggered_at: datetime
    closed_at: datetime
    converted: bool
    outcome_event_id: str | None = None
    outcome_at: datetime | None = None
    feedback: Literal["taken", "declined"] | None = None
    channel: str | None = None
    cost: float | None = None
    action: str | None = None
    predicted_uplift: float | None = None
    tier: str | None = None
    learned: bool = True
    """False when the outcome taught no model (no decide or actions; the CRM declined; closed early)."""


class FeedbackUnmatched(BaseModel):
    """A ``trigger_feedback`` event that names no open trigger of its customer, or is malformed: audited, ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["feedback_unmatched"] = "feedback_unmatched"
    customer_id: str
    event_id: str
    trigger_id: str | None
    reason: str


ERASURE_EVENT_TYPE = "erasure_request"
"""An event of this type erases its customer (right to erasure); send it keyed like any other event. Under
any id of a stitched customer it erases the customer and every alias."""

IDENTIFY_EVENT_TYPE = "identify"
"""Keyed by an alias id (a device, an email), ``properties.canonical_id`` names the customer it is: the
alias's state merges into that customer's, and its later events go there (see :mod:`momentstream.identity`)."""


RELINKED_ALIAS = "relinked_alias"
"""Property of an identify event a re-linked id forwards to its new customer: that customer now has this alias
(so an erasure of the customer reaches it too)."""


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
)


def make_trigger_id(
    customer_id: str,
    moment: str,
    moment_version: int,
    kind: str,
    evidence_ids: list[str],
    window_opens_ms: int | None,
) -> str:
    """Derive a stable trigger id; identical inputs give identical ids across runs."""
    payload = json.dumps(
        [customer_id, f"{moment}@{moment_version}", kind, evidence_ids, window_opens_ms],
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def describe_error(err: ValidationError, whole: str = "(line)") -> str:
    """A one-line reason naming the fields, without echoing values (they may be PII or secrets).

    ``whole`` names what a check across fields refers to (a line of input, a settings document).
    """
    parts = []
    for item in err.errors(include_url=False, include_input=False):
        where = ".".join(str(x) for x in item["loc"]) or whole
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
