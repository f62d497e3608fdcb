"""What a CRM receives: the trigger, its evidence, score and playbook, and what followed it.

These pydantic models are the contract with CRMs (JSON Schema in ``schemas/``); the trigger id is the
idempotency key, stable across runs, runtimes and restarts.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Action",
    "Evidence",
    "ExpectedSpend",
    "Playbook",
    "Reason",
    "ScheduledStep",
    "Score",
    "SequenceStep",
    "ShadowTrigger",
    "Signals",
    "StoryItem",
    "Trigger",
    "TriggerKind",
    "TriggerOutcome",
    "UpliftDecision",
    "Why",
    "Window",
    "make_trigger_id",
]


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


TriggerKind = Literal["match", "window_open", "window_expired", "playbook_step"]


class Reason(BaseModel):
    """One feature's signed push on the score, compared with a typical customer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str
    contribution: float
    """In log-odds (for the default model: weight x standardized value, the value clipped to ±5)."""
    points: float | None = Field(default=None, ge=-100, le=100)
    """In probability points: the score minus the score with this feature at its typical value, x 100."""


class Why(BaseModel):
    """One reason in words: features that move together (a purchase count and its money) summed into one push."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str
    """The group: ``silence``, ``activity``, ``purchases``, ``billing``, ``support``, ``channels``, ``tenure`` or
    ``type_<event>``."""
    says: str
    """What it means for this customer, e.g. "silent 12 days, usually every 2", "activity down 60% vs their usual"."""
    points: float = Field(ge=-100, le=100)
    """The group's push in probability points (positive: towards the objective, e.g. more churn risk)."""
    contribution: float
    """The same push in log-odds: the sum of its features' contributions."""
    features: list[str]


class ExpectedSpend(BaseModel):
    """What the customer is expected to spend over the value objective's horizon, in the events' currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    objective: str
    amount: float = Field(ge=0)
    horizon_days: float = Field(gt=0)
    model_version: str
    warm: bool
    """False while the value model is warming up: the amount is there, ``min_value`` is not applied yet."""


class Signals(BaseModel):
    """What the customer's own behaviour says at the trigger's instant, whatever the moment is bound to.

    ``anomaly`` is how unusual the customer is for themselves, in standard deviations of their own gaps
    between events: ``silence`` for the current silence, ``burst`` for the last gap being short, and
    ``anomaly`` the larger of the two (0 when neither is unusual). It needs no model; it stays 0 until the
    customer has six events (five gaps make a rhythm). ``value`` is the value objective's expected spend,
    when one is configured.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    anomaly: float = Field(ge=0)
    silence: float
    burst: float
    value: ExpectedSpend | None = None


class Score(BaseModel):
    """The moment's objective as scored when the trigger fired: who should act, how urgently, why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    objective: str
    score: float = Field(ge=0, le=1)
    model_version: str
    tier: str | None
    owner: str
    reasons: list[Reason] = Field(default_factory=list)
    """The single features that moved the score most (the detail behind ``why``)."""
    why: list[Why] = Field(default_factory=list)
    """The reasons a person reads, largest push first (added in 1.x: absent from older triggers)."""
    value: ExpectedSpend | None = None
    """The customer's expected spend, when an objective of ``kind: value`` is configured (added in 1.x)."""


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
    """The playbook entry chosen for this trigger among the moment's ``actions``: the customer's stated
    preference when they gave one that names an action, else the moment's bandit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    channel: str | None = None
    cost: float = 0.0
    chosen_by: Literal["policy", "preference"] = "policy"
    """``preference``: the customer stated it (the moment's ``prefer`` property); ``policy``: the moment's bandit
    chose it, learning from its outcomes (added in 1.x: absent from older triggers, which the policy chose)."""


class ScheduledStep(BaseModel):
    """A step of the playbook's sequence, as the trigger that started it announces it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: int = Field(ge=1)
    due_at: datetime
    say: str


class SequenceStep(BaseModel):
    """Which step of which sequence a ``playbook_step`` trigger is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parent_trigger_id: str
    """The trigger whose sending started the sequence."""
    step: int = Field(ge=1)
    of: int = Field(ge=1)
    after: str
    """The step's ``at`` as the moments file gives it (``3d``): how long after the parent it comes due."""


class Playbook(BaseModel):
    """What a person does with this trigger (the moment's ``playbook``), filled in from its evidence and score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str | None = None
    channel: str | None = None
    steps: list[str] = Field(default_factory=list)
    talking_points: str = ""
    scheduled: list[ScheduledStep] = Field(default_factory=list)
    """The sequence this trigger started (its steps arrive as ``playbook_step`` triggers when due, unless the
    customer meets the playbook's ``stop_if`` first); empty on the steps themselves (added in 1.x)."""


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
    sequence: SequenceStep | None = None
    """Set on ``playbook_step`` triggers: the parent trigger and the step's place in its sequence."""
    signals: Signals | None = None
    """Set whenever the worker scores (``scoring: true``), bound to an objective or not: how unusual the
    customer's behaviour is for them, and their expected spend (added in 1.x: absent from older triggers)."""


class ShadowTrigger(BaseModel):
    """A trigger of a ``mode: shadow`` moment: audited to compare with the live moments, never acted on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Literal["shadow_trigger"] = "shadow_trigger"
    customer_id: str
    moment: str
    compare_to: str | None = None
    trigger: Trigger


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
    step: int | None = None
    """For a ``playbook_step`` trigger's outcome: which step of its sequence (uplift can be read per step)."""


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
