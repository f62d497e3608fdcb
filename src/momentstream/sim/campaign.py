"""A closed-loop world for uplift: customers who respond to contact, do not, or are hurt by it.

Each customer belongs to a hidden segment that shows in what they do (the engine sees the
events, never the segment). A moment fires when a customer abandons a cart; if its trigger
reaches the CRM (sent, not held out), the world contacts the customer, and the chance of a
purchase within a week is the segment's base rate plus its treatment effect:

================  =====  ====  ======  =====================================
segment           share  base  effect  what the engine can see
================  =====  ====  ======  =====================================
persuadable       30%    10%   +25 pt  many page views, few product uses
sure_thing        25%    45%    0 pt   heavy product use, purchases
sleeping_dog      20%    30%   -15 pt  support tickets (contact annoys them)
lost_cause        25%     3%    +1 pt  little activity
================  =====  ====  ======  =====================================

Contacting everyone gains about 5 purchases per 100 contacts; contacting only persuadables
gains 25. With the actions ``email`` (the effects above) and ``call`` (:data:`ACTION_EFFECTS`: a
person on the phone settles a sleeping dog's grievance, +20 points, but moves a persuadable only +5),
the best action depends on the customer, which is what a bandit has to learn.

Because the world knows each trigger's true effect, a policy's incremental outcomes are measured
exactly, not estimated. The world reacts to the engine's decisions while it runs, which
is why it is a loop and not a file: events go in day by day, and purchases follow triggers.

>>> from momentstream.core.engine import Engine, EngineConfig
>>> from momentstream.patterns.dsl import parse_moments
>>> engine = Engine(parse_moments(CART_MOMENT.format(extra="")), EngineConfig(allowed_lateness_ms=0))
>>> run = run_campaign(engine, customers=40, days=30, seed=3)
>>> len(run.triggers) > 20, {t.segment for t in run.triggers} <= set(SEGMENTS)
(True, True)
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine
from momentstream.core.schema import (
    FEEDBACK_EVENT_TYPE,
    Output,
    SequenceStopped,
    TouchpointEvent,
    Trigger,
    TriggerOutcome,
    TriggerSuppressed,
)
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.touch import touchpoint

__all__ = ["ACTION_EFFECTS", "CART_MOMENT", "SEGMENTS", "CampaignRun", "Segment", "TriggerRecord", "run_campaign"]

START = datetime(2026, 1, 5, tzinfo=UTC)
CART_MOMENT = """
moments:
  - name: cart_rescue
    description: A customer left a cart; a contact may bring them back.
    pattern: [{{name: left, where: {{type: cart_abandon}}}}]
    holdout: 0.2
    outcome: {{where: {{type: purchase}}, within: 7d}}
{extra}"""
"""The moment the world is run with; ``extra`` adds ``decide:`` or ``actions:`` lines (4-space indent)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A kind of customer: how likely they buy after a cart, what contact changes, and how they behave."""

    name: str
    share: float
    base: float
    effect: float
    mix: tuple[tuple[str, float], ...]
    """Daily rates of their everyday events."""


SEGMENTS = {
    s.name: s
    for s in (
        Segment("persuadable", 0.30, 0.10, 0.25, (("page_view", 2.5), ("product_use", 0.3))),
        Segment("sure_thing", 0.25, 0.45, 0.0, (("product_use", 2.0), ("page_view", 0.4), ("purchase", 0.1))),
        Segment("sleeping_dog", 0.20, 0.30, -0.15, (("support_ticket", 0.35), ("product_use", 1.0))),
        Segment("lost_cause", 0.25, 0.03, 0.01, (("page_view", 0.2),)),
    )
}
ACTION_EFFECTS = {
    "persuadable": {"email": 0.25, "call": 0.05},
    "sure_thing": {"email": 0.0, "call": 0.0},
    "sleeping_dog": {"email": -0.15, "call": 0.20},
    "lost_cause": {"email": 0.01, "call": 0.02},
}
"""Effect of each action per segment (a trigger without an action has the segment's ``effect``, email's)."""
STEP_EFFECT = 0.5
"""What a later step of a playbook's sequence does, as a share of the segment's effect of the first contact."""
CART_RATE = 0.12
"""Cart abandonments per customer per day."""


@dataclass(slots=True)
class TriggerRecord:
    """One trigger of the cart moment: what the engine decided and what the world knows about it."""

    trigger_id: str
    customer_id: str
    segment: str
    effect: float
    at_ms: int
    holdout: bool
    contacted: bool
    decision: str | None
    predicted: float | None
    x: dict[str, float] | None
    action: str | None = None
    converted: bool | None = None
    step: int | None = None
    """For a playbook step's trigger: which step of its sequence."""


@dataclass(slots=True)
class CampaignRun:
    """Every trigger the moment fired, sent or not, and every engine output."""

    triggers: list[TriggerRecord] = field(default_factory=list)
    outcomes: list[TriggerOutcome] = field(default_factory=list)
    events: int = 0
    stopped: list[SequenceStopped] = field(default_factory=list)
    """Playbook sequences that ended early (a purchase met their ``stop_if``)."""


def run_campaign(engine: Engine, customers: int = 2_000, days: int = 120, seed: int = 7) -> CampaignRun:
    """Run the world against ``engine`` for ``days``; the engine's decisions change what customers do."""
    rng = random.Random(seed)
    runner = ReplayRunner(engine)
    run = CampaignRun()
    segments = list(SEGMENTS.values())
    queue: list[tuple[int, int, TouchpointEvent]] = []
    numbers: dict[str, int] = {}
    order = 0

    def push(customer: str, kind: str, ts: datetime, channel: str = "web", **props: str | float) -> None:
        nonlocal order
        numbers[customer] = numbers.get(customer, 0) + 1
        ev = touchpoint(customer, numbers[customer], kind, ts, channel, value=40.0 if kind == "purchase" else None,
                        properties=props or None)  # fmt: skip
        order += 1
        heapq.heappush(queue, (to_ms(ev.ts), order, ev))

    who = {}
    for i in range(customers):
        customer = f"s{i:05d}"
        segment = rng.choices(segments, weights=[s.share for s in segments])[0]
        who[customer] = segment
        for kind, per_day in (*segment.mix, ("cart_abandon", CART_RATE)):
            t = rng.expovariate(per_day) * 86_400
            while t < days * 86_400:
                push(customer, kind, START + timedelta(seconds=t), "app" if kind == "product_use" else "web")
                t += rng.expovariate(per_day) * 86_400
    by_id: dict[str, TriggerRecord] = {}
    while queue:
        _, _, ev = heapq.heappop(queue)
        run.events += 1
        for output in runner.feed(ev):
            _observe(output, runner, engine, who, rng, push, run, by_id)
    for output in runner.finish(to_ms(START + timedelta(days=days + 8))):
        _observe(output, runner, engine, who, rng, push, run, by_id)
    return run


def _observe(output: Output, runner: ReplayRunner, engine: Engine, who: dict[str, Segment], rng: random.Random,
             push: Callable[..., None], run: CampaignRun, by_id: dict[str, TriggerRecord]) -> None:  # fmt: skip
    """React to one engine output: contact and maybe buy after a trigger; note outcomes."""
    if isinstance(output, SequenceStopped):
        run.stopped.append(output)
        return
    if isinstance(output, TriggerOutcome):
        run.outcomes.append(output)
        record = by_id.get(output.trigger_id)
        if record is not None:
            record.converted = output.converted
        return
    if not isinstance(output, Trigger | TriggerSuppressed) or output.kind not in ("match", "playbook_step"):
        return
    segment = who[output.customer_id]
    state = runner.states.get(output.customer_id)
    at = to_ms(output.at if isinstance(output, TriggerSuppressed) else output.emitted_at)
    x = engine.scorer.loop_features(output.moment, state, at) if engine.scorer and state else None
    holdout = isinstance(output, Trigger) and output.holdout
    contacted = isinstance(output, Trigger) and not output.holdout
    uplift = output.uplift
    decision, predicted = (uplift.decision, uplift.predicted) if uplift else (None, None)
    action = output.action.name if isinstance(output, Trigger) and output.action else None
    effect = ACTION_EFFECTS[segment.name].get(action, segment.effect) if action else segment.effect
    step = output.sequence.step if isinstance(output, Trigger) and output.sequence is not None else None
    record = TriggerRecord(output.trigger_id, output.customer_id, segment.name, effect, at, holdout,
                           contacted, decision, predicted, x, action, step=step)  # fmt: skip
    run.triggers.append(record)
    by_id[record.trigger_id] = record
    if isinstance(output, TriggerSuppressed):
        return
    when = datetime.fromtimestamp(at / 1000, UTC)
    if contacted:
        push(output.customer_id, FEEDBACK_EVENT_TYPE, when + timedelta(hours=1), "crm",
             trigger_id=output.trigger_id, decision="taken")  # fmt: skip
    # A cart's own chance of a purchase is drawn once, at its trigger; a later step of the playbook's sequence only
    # adds what that contact does (its segment's effect, halved: a reminder moves people less than the first touch).
    first = output.kind == "match"
    chance = (segment.base if first else 0.0) + (effect * (1.0 if first else STEP_EFFECT) if contacted else 0.0)
    if rng.random() < chance:
        push(output.customer_id, "purchase", when + timedelta(hours=rng.uniform(2, 160)))
