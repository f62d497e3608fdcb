"""The outcome, decide and actions keys of a moments file: every bad value is refused with its field."""

from __future__ import annotations

import pytest

from momentstream.patterns.dsl import parse_moments
from momentstream.patterns.errors import PatternError

BASE = """
moments:
  - name: cart
    pattern: [{name: left, where: {type: cart_abandon}}]
"""
OUTCOME = "    outcome: {where: {type: purchase}, within: 7d}\n"


def compile_with(extra: str) -> None:
    parse_moments(BASE + extra)


def test_a_full_loop_compiles() -> None:
    text = (
        BASE
        + OUTCOME
        + """    decide: {by: uplift, value: 120, cost: 4, min_labels: 50, explore: 0.1}
    actions: [{name: education_email, channel: email, cost: 1}, {name: discount, cost: 8}]
"""
    )
    loop = parse_moments(text)[0].spec.loop
    assert loop.decide is not None
    assert (loop.decide.value, loop.decide.min_labels) == (120.0, 50)
    assert [a.name for a in loop.actions] == ["education_email", "discount"]
    assert loop.learns


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ("    outcome: {type: purchase}\n", "outcome", "where"),
        ("    outcome: {where: {type: purchase}}\n", "outcome", "within"),
        ("    outcome: {where: {type: purchase}, within: 0s}\n", "outcome.within", "1ms"),
        ("    outcome: {where: {type: purchase}, within: 400d}\n", "outcome.within", "365d"),
        ("    outcome: {where: {type: purchase}, within: soon}\n", "outcome.within", ""),
        ("    outcome: {where: {}, within: 7d}\n", "outcome.where", "where"),
        ("    outcome: {where: {typo: purchase}, within: 7d}\n", "outcome.where.typo", ""),
        ("    decide: {by: uplift, value: 1}\n", "decide", "outcome"),
        ("    outcome: {where: {type: purchase}, within: 7d, value: -1}\n", "outcome.value", "1e-09"),
        ("    outcome: {where: {type: purchase}, within: 7d, value: .nan}\n", "outcome.value", "number"),
        ("    outcome: {where: {type: purchase}, within: 7d, worth: 3}\n", "outcome", "value optional"),
        (OUTCOME + "    decide: {by: propensity, value: 1}\n", "decide.by", "uplift"),
        (OUTCOME + "    decide: {by: uplift}\n", "decide.value", "value"),
        (OUTCOME + "    decide: {by: uplift, value: .inf}\n", "decide.value", "number"),
        (OUTCOME + "    decide: {by: uplift, value: .nan}\n", "decide.value", "number"),
        (OUTCOME + "    decide: {by: uplift, value: 0}\n", "decide.value", "1e-09"),
        (OUTCOME + "    decide: {by: uplift, value: 1.0e+300}\n", "decide.value", "1e+09"),
        (OUTCOME + "    decide: {by: uplift, value: '120'}\n", "decide.value", "number"),
        (OUTCOME + "    decide: {by: uplift, value: 1, cost: -4}\n", "decide.cost", "from 0"),
        (OUTCOME + "    decide: {by: uplift, value: 1, cost: true}\n", "decide.cost", "number"),
        (OUTCOME + "    decide: {by: uplift, value: 1, explore: 1}\n", "decide.explore", "share"),
        (OUTCOME + "    decide: {by: uplift, value: 1, min_labels: 0}\n", "decide.min_labels", "whole"),
        (OUTCOME + "    decide: {by: uplift, value: 1, valeu: 2}\n", "decide", "valeu"),
        (OUTCOME + "    actions: [{name: a}]\n", "actions", "2 to 16"),
        (OUTCOME + "    actions: [{name: a}, {name: a}]\n", "actions", "unique"),
        (OUTCOME + "    actions: [{name: A b}, {name: c}]\n", "actions[0].name", "snake"),
        (OUTCOME + "    actions: [{name: a, cost: -1}, {name: c}]\n", "actions[0].cost", "from 0"),
        (OUTCOME + "    actions: [{name: a, chanel: email}, {name: c}]\n", "actions[0]", ""),
        (OUTCOME + "    actions: [{name: a, channel: emial}, {name: c}]\n", "actions", "did you mean 'email'"),
        (OUTCOME + "    actions: {name: a}\n", "actions", "list"),
    ],
)
def test_bad_loop_settings_are_refused_naming_the_field(extra: str, field: str, words: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_with(extra)
    assert caught.value.field == field
    assert caught.value.moment == "cart"
    assert words in str(caught.value)


def test_the_value_of_an_outcome_may_be_said_once_on_the_outcome() -> None:
    text = (
        BASE
        + """    outcome: {where: {type: purchase}, within: 7d, value: 250}
    decide: {by: uplift, cost: 4}
    actions: [{name: email, cost: 1}, {name: call, cost: 30}]
"""
    )
    loop = parse_moments(text)[0].spec.loop
    assert loop.decide is not None
    assert (loop.decide.value, loop.value, loop.outcome_value) == (250.0, 250.0, 250.0)
    overridden = parse_moments(text.replace("cost: 4}", "cost: 4, value: 90}"))[0].spec.loop
    assert overridden.value == 90.0
