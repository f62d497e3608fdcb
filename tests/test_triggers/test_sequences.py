"""Scheduled sequences: a playbook's timed steps fire on time, stop on conversion or opt-out, obey the policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from momentstream.core.clock import to_ms
from momentstream.core.customer_view import customer_view, render_view
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import (
    ERASURE_EVENT_TYPE,
    Output,
    SequenceStopped,
    TouchpointEvent,
    Trigger,
    TriggerDeferred,
    TriggerOutcome,
    TriggerSuppressed,
)
from momentstream.core.state import CustomerState
from momentstream.patterns.dsl import parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.runtime.replay.runner import ReplayRunner

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
STEPS = """      steps:
        - Welcome call
        - {say: "Send the guide to {customer_id}", at: 1d}
        - {say: Invite to the webinar, at: 3d}
        - {say: Check in, at: 7d}
      stop_if: {type: purchase}
"""


def moments(policy: str = "", extra: str = "", steps: str = STEPS, holdout: float = 0.0) -> str:
    return f"""
{policy}
moments:
  - name: onboard
    pattern: [{{name: signup, where: {{type: signup}}}}]
    holdout: {holdout}
    outcome: {{where: {{type: purchase}}, within: 30d}}
{extra}    playbook:
      owner: success
{steps}"""


def ev(event_id: str, kind: str, at: timedelta, customer: str = "c", **fields: Any) -> TouchpointEvent:
    return TouchpointEvent(event_id=event_id, customer_id=customer, type=kind, ts=T0 + at, **fields)


def run(stream: list[TouchpointEvent], text: str | None = None, until: timedelta = 40 * DAY) -> list[Output]:
    engine = Engine(parse_moments(text or moments()), EngineConfig(allowed_lateness_ms=0))
    return list(ReplayRunner(engine).run(sorted(stream, key=lambda e: e.ts), until=to_ms(T0 + until)))


def steps_of(outputs: list[Output]) -> list[Trigger]:
    return [o for o in outputs if isinstance(o, Trigger) and o.kind == "playbook_step"]


def test_each_step_fires_on_time_with_its_own_id_and_instruction() -> None:
    outputs = run([ev("s", "signup", timedelta(0))])
    parent = next(o for o in outputs if isinstance(o, Trigger) and o.kind == "match")
    assert parent.playbook is not None
    assert parent.playbook.steps == ["Welcome call"]
    assert [(s.step, s.due_at, s.say) for s in parent.playbook.scheduled] == [
        (1, T0 + DAY, "Send the guide to c"), (2, T0 + 3 * DAY, "Invite to the webinar"), (3, T0 + 7 * DAY, "Check in")
    ]  # fmt: skip
    steps = steps_of(outputs)
    assert [s.emitted_at for s in steps] == [T0 + DAY, T0 + 3 * DAY, T0 + 7 * DAY]
    assert [s.playbook.steps if s.playbook else None for s in steps] == [
        ["Send the guide to c"], ["Invite to the webinar"], ["Check in"]
    ]  # fmt: skip
    assert [(s.sequence.step, s.sequence.of, s.sequence.after) for s in steps if s.sequence] == [
        (1, 3, "1d"), (2, 3, "3d"), (3, 3, "7d")
    ]  # fmt: skip
    assert all(s.sequence is not None and s.sequence.parent_trigger_id == parent.trigger_id for s in steps)
    assert len({parent.trigger_id, *(s.trigger_id for s in steps)}) == 4
    assert all(s.evidence == parent.evidence and s.playbook and s.playbook.owner == "success" for s in steps)
    assert not [o for o in outputs if isinstance(o, SequenceStopped)]
    outcomes = [o for o in outputs if isinstance(o, TriggerOutcome)]  # each step has its own outcome window
    assert sorted((o.step or 0) for o in outcomes) == [0, 1, 2, 3]


def test_a_conversion_stops_the_sequence_and_is_linked_to_the_step_before_it() -> None:
    outputs = run([ev("s", "signup", timedelta(0)), ev("buy", "purchase", 2 * DAY)])
    assert [s.sequence.step for s in steps_of(outputs) if s.sequence] == [1]
    [stopped] = [o for o in outputs if isinstance(o, SequenceStopped)]
    assert (stopped.reason, stopped.event_id, stopped.steps_sent, stopped.steps_left) == ("stop_if", "buy", 1, 2)
    assert stopped.at == T0 + 2 * DAY
    outcomes = {o.step: o for o in outputs if isinstance(o, TriggerOutcome)}
    assert outcomes[1].converted
    assert outcomes[1].outcome_event_id == "buy"
    assert not outcomes[None].converted  # the latest contact before the purchase was the step


def test_withdrawing_consent_stops_the_sequence_and_a_purchase_before_any_step_stops_it_whole() -> None:
    channels = "    channels: [email]\n"
    withdrawn = ev("w", "consent_withdrawn", 2 * DAY, channel="email")  # binds on arrival, as it must
    clock = ev("o", "page_view", 1.5 * DAY, "other")  # so the clock passes day 1 before the withdrawal arrives
    outputs = run([ev("s", "signup", timedelta(0)), clock, withdrawn], moments(extra=channels))
    assert [s.sequence.step for s in steps_of(outputs) if s.sequence] == [1]
    [suppressed] = [o for o in outputs if isinstance(o, TriggerSuppressed)]
    assert (suppressed.kind, suppressed.reason) == ("playbook_step", "no_consent")
    [stopped] = [o for o in outputs if isinstance(o, SequenceStopped)]
    assert (stopped.reason, stopped.steps_sent, stopped.steps_left) == ("no_consent", 1, 2)
    early = run([ev("s", "signup", timedelta(0)), ev("buy", "purchase", timedelta(hours=2))])
    assert steps_of(early) == []
    [stopped] = [o for o in early if isinstance(o, SequenceStopped)]
    assert (stopped.steps_sent, stopped.steps_left) == (0, 3)


def test_quiet_hours_hold_a_step_until_morning_and_the_next_keeps_its_time() -> None:
    policy = 'policy: {quiet_hours: {from: "21:00", to: "08:00", timezone: UTC}}'
    late = [ev("s", "signup", timedelta(hours=12))]  # 22:00: the parent waits for 08:00 too
    outputs = run(late, moments(policy=policy))
    parent = next(o for o in outputs if isinstance(o, Trigger) and o.kind == "match")
    morning = T0 + DAY - timedelta(hours=2)  # 08:00 the next day
    assert parent.emitted_at == morning
    assert [s.emitted_at for s in steps_of(outputs)] == [morning + DAY, morning + 3 * DAY, morning + 7 * DAY]
    steps = "      steps:\n        - {say: Nudge, at: 12h}\n        - {say: Follow up, at: 1d}\n"
    outputs = run([ev("s", "signup", timedelta(0))], moments(policy=policy, steps=steps))  # 10:00, then 22:00
    deferred = [o for o in outputs if isinstance(o, TriggerDeferred)]
    assert [(d.kind, d.at, d.until) for d in deferred] == [("playbook_step", T0 + timedelta(hours=12), morning)]
    assert [s.emitted_at for s in steps_of(outputs)] == [morning, T0 + DAY]


def test_the_cap_skips_a_step_the_cooldown_does_not_and_the_sequence_goes_on() -> None:
    policy = "policy: {max_triggers: 2, per: 7d}"
    outputs = run([ev("s", "signup", timedelta(0))], moments(policy=policy, extra="    cooldown: 30d\n"))
    assert [s.sequence.step for s in steps_of(outputs) if s.sequence] == [1, 3]  # day 3: the cap is full
    capped = [o for o in outputs if isinstance(o, TriggerSuppressed)]
    assert [(c.kind, c.reason, c.at) for c in capped] == [("playbook_step", "frequency_cap", T0 + 3 * DAY)]


def test_holdout_customers_steps_go_to_the_holdout_output_never_to_the_crm() -> None:
    customers = [f"c{i}" for i in range(30)]
    outputs = run([ev(f"s{c}", "signup", timedelta(0), c) for c in customers], moments(holdout=0.5))
    steps = steps_of(outputs)
    held = {s.customer_id for s in steps if s.holdout}
    parents = {o.customer_id for o in outputs if isinstance(o, Trigger) and o.kind == "match" and o.holdout}
    assert held == parents
    assert held
    assert held != set(customers)
    assert len(steps) == 3 * len(customers)  # every customer's sequence runs, to measure each step's uplift


def test_a_sequence_survives_the_state_encoding_midway() -> None:
    engine = Engine(parse_moments(moments()), EngineConfig(allowed_lateness_ms=0))
    whole = engine.new_state("c")
    outputs = list(engine.on_event(whole, ev("s", "signup", timedelta(0))).outputs)
    split = CustomerState.from_bytes(whole.to_bytes())
    outputs += engine.on_tick(whole, to_ms(T0 + 10 * DAY)).outputs
    halfway = engine.on_tick(split, to_ms(T0 + 2 * DAY)).outputs
    resumed = CustomerState.from_bytes(split.to_bytes())
    assert resumed.sequences == split.sequences
    rest = engine.on_tick(resumed, to_ms(T0 + 10 * DAY)).outputs
    ids = [o.trigger_id for o in outputs if isinstance(o, Trigger)]
    assert [o.trigger_id for o in [*halfway, *rest] if isinstance(o, Trigger) and o.kind == "playbook_step"] == ids[1:]


def test_an_erasure_ends_the_sequence_and_a_changed_moment_stops_it() -> None:
    clock = ev("o", "page_view", 1.5 * DAY, "other")
    erased = run([ev("s", "signup", timedelta(0)), clock, ev("x", ERASURE_EVENT_TYPE, 2 * DAY)])
    assert [s.sequence.step for s in steps_of(erased) if s.sequence] == [1]
    engine = Engine(parse_moments(moments()), EngineConfig(allowed_lateness_ms=0))
    state = engine.new_state("c")
    engine.on_event(state, ev("s", "signup", timedelta(0)))
    engine.replace_moments(parse_moments(moments().replace("name: onboard", "name: onboard\n    version: 2")))
    outputs = engine.on_tick(state, to_ms(T0 + 10 * DAY)).outputs
    [stopped] = [o for o in outputs if isinstance(o, SequenceStopped)]
    assert (stopped.reason, stopped.steps_sent, stopped.steps_left) == ("moment_changed", 0, 3)
    assert not steps_of(outputs)
    shorter = "      steps:\n        - {say: Nudge, at: 1d}\n"  # the same version, fewer steps: no step past the end
    engine = Engine(parse_moments(moments()), EngineConfig(allowed_lateness_ms=0))
    state = engine.new_state("c")
    engine.on_event(state, ev("s", "signup", timedelta(0)))
    engine.on_tick(state, to_ms(T0 + 2 * DAY))
    engine.replace_moments(parse_moments(moments(steps=shorter)))
    outputs = engine.on_tick(state, to_ms(T0 + 10 * DAY)).outputs
    [stopped] = [o for o in outputs if isinstance(o, SequenceStopped)]
    assert (stopped.reason, stopped.steps_sent) == ("moment_changed", 1)


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        ("      steps: [{say: Nudge, at: soon}]\n", "playbook.steps[0].at", "duration"),
        ("      steps: [{say: Nudge, at: 200d}]\n", "playbook.steps[0].at", "180d"),
        ("      steps: [{say: Nudge}]\n", "playbook.steps[0]", "at"),
        ("      steps: [{say: '', at: 1d}]\n", "playbook.steps[0].say", "instruction"),
        ("      steps: [{say: Nudge, at: 1d, when: now}]\n", "playbook.steps[0]", "say"),
        ("      steps: [{say: Later, at: 3d}, {say: Sooner, at: 1d}]\n", "playbook.steps", "order"),
        ("      steps: [Call]\n      stop_if: {type: purchase}\n", "playbook.stop_if", "at"),
        ("      steps: [{say: Nudge, at: 1d}]\n      stop_if: purchase\n", "playbook.stop_if", "where"),
        ("      steps: [{say: Nudge, at: 1d}]\n      stop_if: {tpye: purchase}\n", "playbook.stop_if", "tpye"),
        ("      steps: [{say: '{step.nope.at}', at: 1d}]\n", "playbook.steps[0]", "unknown placeholder"),
    ],
)
def test_a_sequence_a_person_could_misread_is_refused(steps: str, field: str, words: str) -> None:
    with pytest.raises(PatternError, match=words) as found:
        parse_moments(moments(steps=steps))
    assert found.value.field is not None
    assert found.value.field.startswith(field)


def test_a_person_looking_the_customer_up_sees_the_sequence_and_its_next_step() -> None:
    engine = Engine(parse_moments(moments()), EngineConfig(allowed_lateness_ms=0))
    state = engine.new_state("c")
    engine.on_event(state, ev("s", "signup", timedelta(0)))
    engine.on_tick(state, to_ms(T0 + 2 * DAY))
    [sequence] = customer_view(engine, state)["sequences"]
    assert (sequence["moment"], sequence["steps_sent"], sequence["next_step"], sequence["of"]) == ("onboard", 1, 2, 3)
    assert sequence["next_due"] == (T0 + 3 * DAY).isoformat().replace("+00:00", "Z")
    assert "sequence: onboard step 2 of 3 due" in render_view(customer_view(engine, state))


def test_a_steps_instruction_quotes_the_channel_it_may_use() -> None:
    steps = "      steps:\n        - {say: 'Write by {channel}', at: 1d}\n"
    outputs = run([ev("s", "signup", timedelta(0))], moments(extra="    channels: [email]\n", steps=steps))
    [step] = steps_of(outputs)
    assert step.channels == ["email"]
    assert step.playbook is not None
    assert step.playbook.steps == ["Write by email"]
