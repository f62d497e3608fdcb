"""Matched requests: a customer's stated preference chooses the action; the policy chooses and learns the rest."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import Action, Output, TouchpointEvent, Trigger, TriggerOutcome
from momentstream.core.state import CustomerState
from momentstream.patterns.dsl import parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.runtime.replay.runner import ReplayRunner
from tests.helpers import event, hours

DAY = hours(24)


def moments(extra: str = "    prefer: prefers\n", holdout: float = 0.0) -> str:
    return f"""
moments:
  - name: ask
    pattern: [{{name: promoter, where: {{type: nps_response}}}}]
    holdout: {holdout}
    outcome: {{where: {{type: referral}}, within: 7d}}
    actions:
      - {{name: case_study, channel: email}}
      - {{name: review_request, channel: email}}
      - {{name: referral_call, channel: phone, cost: 5}}
{extra}"""


def stated(event_id: str, minutes: float, customer: str, value: Any) -> TouchpointEvent:
    """A profile update carrying the customer's stated preference (any event with the property would do)."""
    return event(event_id, "profile_update", minutes, customer, properties={"prefers": value})


def run(stream: list[TouchpointEvent], text: str | None = None) -> tuple[Engine, list[Output]]:
    engine = Engine(parse_moments(text or moments()), EngineConfig(allowed_lateness_ms=0))
    stream = sorted(stream, key=lambda ev: ev.ts)
    until = int(stream[-1].ts.timestamp() * 1000) + 8 * 86_400_000
    return engine, list(ReplayRunner(engine).run(stream, until=until))


def triggers(outputs: list[Output]) -> dict[str, Trigger]:
    return {o.customer_id: o for o in outputs if isinstance(o, Trigger)}


def test_a_stated_preference_chooses_the_action_and_the_policy_learns_only_from_its_own_picks() -> None:
    stream = [stated(f"p{i}", 0, f"c{i}", "Case Study") for i in range(0, 40, 2)]  # half the customers said
    stream += [event(f"n{i}", "nps_response", 60, f"c{i}") for i in range(40)]
    stream += [event(f"r{i}", "referral", DAY, f"c{i}") for i in range(0, 40, 4)]
    engine, outputs = run(stream)
    fired = triggers(outputs)
    assert len(fired) == 40
    for i in range(40):
        action = fired[f"c{i}"].action
        assert action is not None
        if i % 2 == 0:
            assert (action.name, action.chosen_by) == ("case_study", "preference")
        else:
            assert action.chosen_by == "policy"
    outcomes = [o for o in outputs if isinstance(o, TriggerOutcome)]
    assert len(outcomes) == 40
    assert {o.customer_id for o in outcomes if o.learned} == {f"c{i}" for i in range(1, 40, 2)}
    assert engine.scorer is not None
    assert engine.scorer.bandits["ask"].learned == 20  # the policy's own picks, not the requested ones


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (["webinar"], None),  # names no action: the policy chooses
        (["referral-call"], "referral_call"),  # hyphens and case are forgiven
        (["webinar, review_request, case_study"], "review_request"),  # several: the first that is an action
        (["case_study", "review_request"], "review_request"),  # the latest statement wins
        (["case_study", ""], None),  # an empty statement withdraws it
        (["case_study", None], None),  # so does null
        (["case_study", 7], "case_study"),  # a number is not a statement: the last one stands
    ],
)
def test_which_statement_counts(said: list[Any], expected: str | None) -> None:
    stream = [stated(f"p{k}", k, "c", value) for k, value in enumerate(said)]
    stream.append(event("n", "nps_response", 60, "c"))
    _, outputs = run(stream)
    action = triggers(outputs)["c"].action
    assert action is not None
    if expected is None:
        assert action.chosen_by == "policy"
    else:
        assert (action.name, action.chosen_by) == (expected, "preference")


def test_a_statement_after_the_trigger_does_not_change_it_and_holdout_customers_get_no_action() -> None:
    stream = [event("n", "nps_response", 60, "c"), stated("p", 61, "c", "case_study")]
    _, outputs = run(stream)
    action = triggers(outputs)["c"].action
    assert action is not None
    assert action.chosen_by == "policy"  # in event time, the customer had not said it yet
    customers = [f"c{i}" for i in range(20)]
    stream = [stated(f"p{c}", 0, c, "case_study") for c in customers]
    _, held = run(stream + [event(f"n{c}", "nps_response", 60, c) for c in customers], moments(holdout=0.5))
    fired = triggers(held).values()
    assert {t.holdout for t in fired} == {True, False}
    for trigger in fired:  # the control group is never contacted, whatever they asked for
        assert (
            trigger.action is None
            if trigger.holdout
            else trigger.action == Action(name="case_study", channel="email", chosen_by="preference")
        )


def test_without_prefer_the_property_is_not_read_or_kept() -> None:
    stream = [stated("p", 0, "c", "case_study"), event("n", "nps_response", 60, "c")]
    engine, outputs = run(stream, moments(extra=""))
    action = triggers(outputs)["c"].action
    assert action is not None
    assert action.chosen_by == "policy"
    assert engine.loop.prefers == ()


def test_a_stated_preference_survives_the_state_encoding_and_an_older_encoding_reads_as_none() -> None:
    engine = Engine(parse_moments(moments()), EngineConfig(allowed_lateness_ms=0))
    runner = ReplayRunner(engine)
    list(runner.run([stated("p", 0, "c", "case_study "), event("n", "nps_response", 60, "c")]))
    state = runner.states["c"]
    assert state.preferences == {"prefers": ("case_study", state.preferences["prefers"][1])}
    again = CustomerState.from_bytes(state.to_bytes())
    assert again.preferences == state.preferences
    assert [t.preferred for t in again.open_triggers.values()] == [True]
    older = msgpack.unpackb(state.to_bytes(), raw=False, strict_map_key=False)[:-2]  # before preferences, sequences
    assert CustomerState.from_bytes(msgpack.packb(older, use_bin_type=True)).preferences == {}


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("    prefer: 3\n", "name of an event property"),
        ("    prefer: 'what they want'\n", "name of an event property"),
        ("    prefer: [prefers]\n", "name of an event property"),
    ],
)
def test_a_bad_prefer_is_refused_with_its_field(extra: str, words: str) -> None:
    with pytest.raises(PatternError, match=words) as found:
        parse_moments(moments(extra))
    assert found.value.field is not None
    assert found.value.field.endswith("prefer")


def test_prefer_without_actions_is_refused() -> None:
    text = """
moments:
  - name: ask
    pattern: [{name: promoter, where: {type: nps_response}}]
    outcome: {where: {type: referral}, within: 7d}
    prefer: prefers
"""
    with pytest.raises(PatternError, match="prefer chooses among the moment's actions"):
        parse_moments(text)


@pytest.mark.parametrize(("alias_at", "expected"), [(20, "case_study"), (5, "review_request")])
def test_a_preference_stated_under_an_alias_is_merged_latest_first(alias_at: float, expected: str) -> None:
    stream = [
        stated("pa", 10, "ann", "review_request"),
        stated("pd", alias_at, "dev-1", "case_study"),
        event("id1", "identify", 30, "dev-1", properties={"canonical_id": "ann"}),
        event("n", "nps_response", 60, "ann"),
    ]
    _, outputs = run(stream)
    action = triggers(outputs)["ann"].action
    assert action is not None
    assert (action.name, action.chosen_by) == (expected, "preference")
