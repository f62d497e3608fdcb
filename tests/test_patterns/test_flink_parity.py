"""The pattern constructs Flink CEP has, on the sequences of Flink's documentation and its IT cases
(GreedyITCase, UntilConditionITCase, AfterMatchSkipITCase, NotPatternITCase, the allowCombinations tests).

Flink reports every match (NO_SKIP) unless told otherwise, so these moments use ``no_skip`` where Flink's
case does. Event names are Flink's; a price is the event's ``value``.
"""

from __future__ import annotations

import pytest

from momentstream.core.schema import TouchpointEvent
from momentstream.patterns.dsl import Moment, parse_moments
from momentstream.patterns.errors import PatternError
from tests.helpers import event, evidence_ids, run


def stream(*names: str, prices: dict[int, float] | None = None) -> list[TouchpointEvent]:
    """Events e0, e1, … of the given types a minute apart (``prices``: the value of some of them)."""
    prices = prices or {}
    return [event(f"e{i}", kind.rstrip("0123456789"), i, value=prices.get(i)) for i, kind in enumerate(names)]


def names(moment: Moment, events: list[TouchpointEvent]) -> list[list[str]]:
    """Each match as the input names of its events (e.g. ``["c", "a1", "d"]``), in report order."""
    labels = {e.event_id: label for e, label in zip(events, _labels(events), strict=True)}
    return [[labels[i] for i in match] for match in evidence_ids(run(moment.compile(), events))]


def _labels(events: list[TouchpointEvent]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for e in events:
        seen[e.type] = seen.get(e.type, 0) + 1
        out.append(f"{e.type}{seen[e.type]}")
    return out


# -- greedy (Flink's GreedyITCase: c a* d and c a+ d) ---------------------------------------------
def c_a_d(optional: bool, greedy: bool = True, until_price_over: float | None = None) -> Moment:
    m = Moment("m").begin("start", where={"type": "c"}).followed_by("middle", where={"type": "a"}).one_or_more()
    if optional:
        m = m.optional()
    if greedy:
        m = m.greedy()
    if until_price_over is not None:
        m = m.until({"value": {"gt": until_price_over}})
    return m.followed_by("end", where={"type": "d"}).skip("no_skip")


@pytest.mark.parametrize("optional", [True, False], ids=["zero_or_more", "one_or_more"])
@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        (["c", "a", "a", "a", "d"], [["c1", "a1", "a2", "a3", "d1"]]),
        (["c", "x", "a", "x", "a", "x", "a", "d"], [["c1", "a1", "a2", "a3", "d1"]]),  # in between
        (["c", "a", "a", "x", "d"], [["c1", "a1", "a2", "d1"]]),  # dummy events after the quantifier
    ],
    ids=["plain", "in_between", "dummy_after"],
)
def test_greedy_takes_every_event_it_can(optional: bool, sequence: list[str], expected: list[list[str]]) -> None:
    assert names(c_a_d(optional), stream(*sequence)) == expected


def test_greedy_zero_or_more_with_no_event_for_it() -> None:
    assert names(c_a_d(optional=True), stream("c", "x", "d")) == [["c1", "d1"]]
    assert names(c_a_d(optional=False), stream("c", "x", "d")) == []


def test_without_greedy_every_prefix_of_the_loop_matches() -> None:
    got = names(c_a_d(optional=True, greedy=False), stream("c", "a", "a", "a", "d"))
    assert sorted(got) == sorted([["c1", "d1"], ["c1", "a1", "d1"], ["c1", "a1", "a2", "d1"],
                                  ["c1", "a1", "a2", "a3", "d1"]])  # fmt: skip


def test_greedy_until_stops_at_the_first_expensive_event() -> None:
    """GreedyITCase.testGreedyUntilZeroOrMoreWithDummyEventsAfterQuantifier and ...BeforeQuantifier."""
    after = stream("c", "a", "a", "a", "a", "d", prices={1: 2.0, 2: 3.0, 3: 3.0, 4: 4.0, 5: 3.0})
    assert names(c_a_d(optional=True, until_price_over=3.0), after) == [["c1", "a1", "a2", "a3", "d1"]]
    before = stream("c", "a", "a", "a", "a", "d", prices={1: 4.0, 2: 2.0, 3: 3.0, 4: 3.0, 5: 3.0})
    assert names(c_a_d(optional=True, until_price_over=3.0), before) == [["c1", "d1"]]


# -- until (Flink's UntilConditionITCase) ----------------------------------------------------------
def test_until_ends_a_loop_and_the_event_that_ends_it_is_not_taken() -> None:
    events = stream("a", "a", "x", "a", "b", prices={2: 5.0})

    def moment(until: bool) -> Moment:
        m = Moment("m").begin("loop", where={"type": "a"}).one_or_more()
        m = m.until({"value": {"gt": 3}}) if until else m
        return m.followed_by("end", where={"type": "b"}).skip("no_skip")

    with_until = names(moment(until=True), events)
    assert ["a1", "a2", "a3", "b1"] not in with_until
    assert sorted(with_until) == sorted([["a1", "b1"], ["a1", "a2", "b1"], ["a2", "b1"], ["a3", "b1"]])
    assert ["a1", "a2", "a3", "b1"] in names(moment(until=False), events)


# -- allowCombinations ---------------------------------------------------------------------------
def test_combinations_give_every_subset_of_the_loop() -> None:
    def moment(combinations: bool) -> Moment:
        m = Moment("m").begin("start", where={"type": "a"}).followed_by_any("middle", where={"type": "b"})
        m = m.one_or_more()
        m = m.allow_combinations() if combinations else m
        return m.followed_by("end", where={"type": "c"}).skip("no_skip")

    events = stream("a", "b", "b", "b", "c")
    subsets = [["b1"], ["b2"], ["b3"], ["b1", "b2"], ["b1", "b3"], ["b2", "b3"], ["b1", "b2", "b3"]]
    assert sorted(names(moment(True), events)) == sorted([["a1", *s, "c1"] for s in subsets])
    # Without: the loop cannot skip a b it could take (Flink's default, skip till next); only b1 b3 is missing.
    without = [s for s in subsets if s != ["b1", "b3"]]
    assert sorted(names(moment(False), events)) == sorted([["a1", *s, "c1"] for s in without])


# -- after-match skip (Flink's documentation table for b+ c on b1 b2 b3 c) ---------------------------
@pytest.mark.parametrize(
    ("strategy", "step", "expected"),
    [
        ("no_skip", None, [["b1", "b2", "b3", "c1"], ["b2", "b3", "c1"], ["b3", "c1"]]),
        ("skip_to_next", None, [["b1", "b2", "b3", "c1"], ["b2", "b3", "c1"], ["b3", "c1"]]),
        ("skip_past_last_event", None, [["b1", "b2", "b3", "c1"]]),
        ("skip_to_first", "b", [["b1", "b2", "b3", "c1"], ["b2", "b3", "c1"], ["b3", "c1"]]),
        ("skip_to_last", "b", [["b1", "b2", "b3", "c1"], ["b3", "c1"]]),
    ],
)
def test_after_match_skip_strategies(strategy: str, step: str | None, expected: list[list[str]]) -> None:
    moment = Moment("m").begin("b", where={"type": "b"}).one_or_more().consecutive()
    moment = moment.next("c", where={"type": "c"}).skip(strategy, step)  # type: ignore[arg-type]
    assert names(moment, stream("b", "b", "b", "c")) == expected


def test_skip_to_first_of_a_later_step_drops_what_started_before_it() -> None:
    """(a | b | c) (b | c) c+ greedy d on a b c1 c2 c3 d, as in Flink's documentation."""

    def moment(strategy: str, step: str | None) -> Moment:
        m = Moment("m").begin("one", where={"type": ["a", "b", "c"]}).next("two", where={"type": ["b", "c"]})
        m = m.next("three", where={"type": "c"}).one_or_more().greedy().followed_by("four", where={"type": "d"})
        return m.skip(strategy, step)  # type: ignore[arg-type]

    events = stream("a", "b", "c", "c", "c", "d")
    full = ["a1", "b1", "c1", "c2", "c3", "d1"]
    assert names(moment("no_skip", None), events) == [full, ["b1", "c1", "c2", "c3", "d1"],
                                                      ["c1", "c2", "c3", "d1"]]  # fmt: skip
    assert names(moment("skip_to_first", "three"), events) == [full, ["c1", "c2", "c3", "d1"]]
    assert names(moment("skip_to_last", "three"), events) == [full]
    assert names(moment("skip_past_last_event", None), events) == [full]


def test_skip_to_a_step_the_match_does_not_have_skips_nothing() -> None:
    m = Moment("m").begin("a", where={"type": "a"}).followed_by("b", where={"type": "b"}).optional()
    m = m.followed_by("c", where={"type": "c"}).skip("skip_to_last", "b")  # type: ignore[arg-type]
    assert names(m, stream("a", "a", "c")) == [["a1", "c1"], ["a2", "c1"]]


# -- notNext (Flink's NotPatternITCase) -----------------------------------------------------------
def test_not_next_forbids_only_the_event_right_after() -> None:
    m = Moment("m").begin("a", where={"type": "a"}).not_next("no_b", where={"type": "b"})
    m = m.followed_by("c", where={"type": "c"}).skip("no_skip")
    assert names(m, stream("a", "b", "c")) == []
    assert names(m, stream("a", "x", "b", "c")) == [["a1", "c1"]]
    assert names(m, stream("a", "c")) == [["a1", "c1"]]


# -- an optional step right after an absence ------------------------------------------------------
def test_an_optional_step_may_follow_an_absence() -> None:
    m = Moment("m").begin("a", where={"type": "a"}).not_followed_by("no_x", where={"type": "x"})
    m = m.followed_by("b", where={"type": "b"}).optional().followed_by("c", where={"type": "c"}).skip("no_skip")
    assert sorted(names(m, stream("a", "b", "c"))) == sorted([["a1", "b1", "c1"], ["a1", "c1"]])
    assert names(m, stream("a", "x", "c")) == []  # x between a and c, with b skipped
    assert names(m, stream("a", "b", "x", "c")) == [["a1", "b1", "c1"]]  # the absence sits before b only


# -- the same in YAML, and what is refused ---------------------------------------------------------
def test_the_yaml_keys_build_the_same_moment() -> None:
    [moment] = parse_moments("""
moments:
  - name: m
    skip: {skip_to_last: three}
    pattern:
      - {name: one, where: {type: [a, b, c]}}
      - {name: not_x, not_next: {type: x}}
      - {name: three, where: {type: c}, one_or_more: true, greedy: true, until: {value: {gt: 3}}}
      - {name: many, where: {type: e}, contiguity: followed_by_any, times: [1, null], combinations: true}
      - {name: four, where: {type: d}}
""")
    three, many = moment.spec.steps[2], moment.spec.steps[3]
    assert (moment.spec.skip, moment.spec.skip_step, moment.skip_group) == ("skip_to_last", "three", 1)
    assert (three.greedy, three.until, many.combinations) == (True, {"value": {"gt": 3}}, True)  # type: ignore[union-attr]
    assert moment.has_next  # not_next sees every event


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("{name: s, where: {type: b}, until: {type: x}}", "until stops a looping step"),
        ("{name: s, where: {type: b}, greedy: true}", "greedy applies to a repeating step"),
        ("{name: s, where: {type: b}, one_or_more: true, greedy: true, combinations: true}", "without combinations"),
        ("{name: s, where: {type: b}, one_or_more: true, consecutive: true, combinations: true}", "not consecutive"),
        ("{name: s, where: {type: b}, one_or_more: true, greedy: 'yes'}", "expected true or false"),
        ("{name: s, not_next: {type: b}}", "cannot end with not_next"),
        ("{name: s, not_next: {type: b}, for: 1h}", "not_next takes name, not_next"),
    ],
)
def test_impossible_loop_options_are_refused_with_their_field(step: str, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        parse_moments(f"moments: [{{name: m, pattern: [{{name: a, where: {{type: a}}}}, {step}]}}]")


def test_a_greedy_first_step_is_refused() -> None:
    with pytest.raises(PatternError, match="can begin a match cannot be greedy"):
        parse_moments("moments: [{name: m, pattern: [{name: a, where: {type: a}, one_or_more: true, greedy: true}]}]")


@pytest.mark.parametrize(
    ("skip", "message"),
    [
        ("skip_to_first", "skips to a step: write skip: {skip_to_first: <step name>}"),
        ("{skip_to_last: nope}", "needs the name of an event step"),
        ("{skip_to_nowhere: a}", "unknown strategy"),
        ("{skip_to_first: [a]}", "unknown strategy"),
    ],
)
def test_a_skip_strategy_must_name_a_real_step(skip: str, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        parse_moments(f"moments: [{{name: m, skip: {skip}, pattern: [{{name: a, where: {{type: a}}}}]}}]")


# -- the differences from Flink, on purpose (README: "Against Flink CEP") ---------------------------
def test_within_is_inclusive() -> None:
    moment = Moment("m").begin("a", where={"type": "a"}).followed_by("b", where={"type": "b"}).within("7d")
    week = 7 * 24 * 60
    assert evidence_ids(run(moment.compile(), [event("a", "a", 0), event("b", "b", week)])) == [["a", "b"]]
    assert evidence_ids(run(moment.compile(), [event("a", "a", 0), event("b", "b", week + 1)])) == []


def test_an_absence_after_a_loop_holds_between_the_loop_and_the_next_step_only() -> None:
    m = Moment("m").begin("loop", where={"type": "a"}).one_or_more()
    m = m.not_followed_by("no_x", where={"type": "x"}).followed_by("end", where={"type": "b"}).skip("no_skip")
    got = names(m, stream("a", "x", "a", "b"))
    assert ["a1", "a2", "b1"] in got  # the x inside the loop does not count (Flink would drop this match)
    assert ["a1", "b1"] not in got  # the x between the loop's last event and b does


# -- times(n).optional(): none or exactly n (Flink), never a count in between ----------------------
def a_b_twice_optional_c() -> Moment:
    m = Moment("m").begin("a", where={"type": "a"}).followed_by("b", where={"type": "b"}).times(2).optional()
    return m.followed_by("c", where={"type": "c"}).skip("no_skip")


def test_an_optional_step_of_two_takes_none_or_exactly_two() -> None:
    assert names(a_b_twice_optional_c(), stream("a", "c")) == [["a1", "c1"]]
    got = names(a_b_twice_optional_c(), stream("a", "b", "b", "c"))
    assert sorted(got) == sorted([["a1", "b1", "b2", "c1"], ["a1", "c1"]])  # taken twice, or skipped
    assert names(a_b_twice_optional_c(), stream("a", "b", "c")) == [["a1", "c1"]]  # not [a1, b1, c1]


def test_optional_times_in_yaml_is_the_same_and_one_optional_event_keeps_its_old_form() -> None:
    text = """
moments:
  - name: m
    skip: no_skip
    pattern:
      - {name: a, where: {type: a}}
      - {name: b, where: {type: b}, times: 2, optional: true}
      - {name: c, where: {type: c}}
"""
    [moment] = parse_moments(text)
    assert moment.spec.steps == a_b_twice_optional_c().compile().spec.steps
    assert evidence_ids(run(moment, stream("a", "b", "c"))) == [["e0", "e2"]]
    [single] = parse_moments(text.replace("times: 2, optional: true", "optional: true"))
    step = single.spec.steps[1]
    assert (step.min_times, step.max_times, step.optional) == (0, 1, False)  # type: ignore[union-attr]


# -- a greedy last step: refused, as Flink refuses it ----------------------------------------------
@pytest.mark.parametrize("absence_after", [False, True])
def test_a_greedy_last_step_is_refused(absence_after: bool) -> None:
    m = Moment("m").begin("a", where={"type": "a"}).followed_by("b", where={"type": "b"}).one_or_more().greedy()
    if absence_after:
        m = m.not_followed_by("no_c", where={"type": "c"}, for_="1h")
    with pytest.raises(PatternError, match=r"greedy is not allowed on the last step") as err:
        m.compile()
    assert "b" in str(err.value)


# -- documented differences: until before the loop starts, not_next after a loop ---------------------
def test_until_before_the_loop_begins_stops_it_from_beginning() -> None:
    """Ours: a stop event after the previous step ends the loop even before its first event (Flink's until
    starts counting at the loop's first event). The README says so."""
    m = Moment("m").begin("c", where={"type": "c"}).followed_by("loop", where={"type": "a"}).one_or_more()
    m = m.until({"type": "x"}).followed_by("end", where={"type": "d"}).skip("no_skip")
    assert names(m, stream("c", "x", "a", "d")) == []
    assert names(m, stream("c", "a", "x", "d")) == [["c1", "a1", "d1"]]


def test_not_next_after_a_loop_is_checked_after_the_loops_last_event_only() -> None:
    m = Moment("m").begin("loop", where={"type": "a"}).one_or_more().not_next("no_x", where={"type": "x"})
    m = m.followed_by("end", where={"type": "b"}).skip("no_skip")
    got = names(m, stream("a", "x", "a", "b"))
    assert ["a1", "a2", "b1"] in got  # the x right after a1, inside the loop, does not count
    assert ["a1", "b1"] not in got  # right after the loop's last event it does


def test_an_absence_inside_a_loop_is_written_with_until_and_the_absence() -> None:
    """The README's recipe: until: X on the loop plus an absence of X after it forbids X anywhere from the loop's
    first event to the next step. A `not:` in the loop's where does not (the loop steps over the X)."""
    recipe = Moment("m").begin("loop", where={"type": "a"}).one_or_more().until({"type": "x"})
    recipe = recipe.not_followed_by("no_x", where={"type": "x"}).followed_by("end", where={"type": "b"})
    recipe = recipe.skip("no_skip")
    assert names(recipe, stream("a", "x", "a", "b")) == [["a2", "b1"]]  # only the loop begun after the x
    assert sorted(names(recipe, stream("a", "a", "b"))) == sorted([["a1", "a2", "b1"], ["a2", "b1"], ["a1", "b1"]])
    not_in_where = Moment("m").begin("loop", where={"type": "a", "not": {"type": "x"}}).one_or_more()
    not_in_where = not_in_where.followed_by("end", where={"type": "b"}).skip("no_skip")
    assert ["a1", "a2", "b1"] in names(not_in_where, stream("a", "x", "a", "b"))  # the x did not stop it
