"""Semantics of each pattern construct, on small hand-written sequences."""

from __future__ import annotations

import pytest

from momentstream.core.clock import parse_duration
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.state import CustomerState
from momentstream.patterns.dsl import Moment, spec_from_mapping
from momentstream.patterns.errors import PatternError
from momentstream.patterns.nfa import compile_moment
from tests.helpers import event, events, evidence_ids, hours, run, triggers


def two_step(contiguity: str) -> Moment:
    m = Moment("m").begin("a", where={"type": "a"})
    return getattr(m, contiguity)("b", where={"type": "b"})


@pytest.mark.parametrize(
    ("contiguity", "expected"),
    [
        ("next", [["e2", "e3"]]),  # only the b right after an a
        ("followed_by", [["e0", "e3"], ["e2", "e3"]]),
        ("followed_by_any", [["e0", "e3"], ["e2", "e3"], ["e0", "e4"], ["e2", "e4"]]),
    ],
)
def test_contiguity(contiguity: str, expected: list[list[str]]) -> None:
    stream = events([("a", 0), ("c", 1), ("a", 2), ("b", 3), ("b", 4)])
    moment = two_step(contiguity).skip("no_skip").compile()
    assert sorted(evidence_ids(run(moment, stream))) == sorted(expected)


def test_times_matches_exactly_n_with_relaxed_repeats() -> None:
    moment = Moment("m").begin("a", where={"type": "a"}).times(3).compile()
    stream = events([("a", 0), ("x", 1), ("a", 2), ("a", 3), ("a", 4)])
    assert evidence_ids(run(moment, stream)) == [["e0", "e2", "e3"]]


def test_consecutive_repeats_must_be_adjacent() -> None:
    moment = Moment("m").begin("a", where={"type": "a"}).times(2).consecutive().compile()
    stream = events([("a", 0), ("x", 1), ("a", 2), ("a", 3)])
    assert evidence_ids(run(moment, stream)) == [["e2", "e3"]]


def test_one_or_more_reports_each_extension_without_skip() -> None:
    moment = (
        Moment("m").begin("a", where={"type": "a"}).one_or_more().followed_by("b", where={"type": "b"})
        .skip("no_skip").compile()
    )  # fmt: skip
    stream = events([("a", 0), ("a", 1), ("b", 2)])
    assert evidence_ids(run(moment, stream)) == [["e0", "e1", "e2"], ["e0", "e2"], ["e1", "e2"]]


def test_one_or_more_with_skip_past_last_event_reports_the_longest_earliest_match() -> None:
    """Quantifier greediness: with the default skip, the match that starts first wins."""
    moment = Moment("m").begin("a", where={"type": "a"}).one_or_more().followed_by("b", where={"type": "b"}).compile()
    stream = events([("a", 0), ("a", 1), ("a", 2), ("b", 3), ("a", 4), ("b", 5)])
    assert evidence_ids(run(moment, stream)) == [["e0", "e1", "e2", "e3"], ["e4", "e5"]]


def test_skip_to_next_keeps_matches_from_later_starts() -> None:
    moment = Moment("m").begin("a", where={"type": "a"}).followed_by_any("b", where={"type": "b"})
    stream = events([("a", 0), ("a", 1), ("b", 2), ("b", 3)])
    got = evidence_ids(run(moment.skip("skip_to_next").compile(), stream))
    assert got == [["e0", "e2"], ["e1", "e2"]]


def test_optional_step_may_be_skipped() -> None:
    moment = (
        Moment("m").begin("a", where={"type": "a"}).followed_by("maybe", where={"type": "x"}).optional()
        .followed_by("b", where={"type": "b"}).skip("no_skip").compile()
    )  # fmt: skip
    assert evidence_ids(run(moment, events([("a", 0), ("b", 1)]))) == [["e0", "e1"]]
    assert evidence_ids(run(moment, events([("a", 0), ("x", 1), ("b", 2)]))) == [
        ["e0", "e1", "e2"],
        ["e0", "e2"],
    ]


def test_step_within_limits_the_gap_to_the_previous_step() -> None:
    moment = Moment("m").begin("a", where={"type": "a"}).followed_by("b", where={"type": "b"}, within="10m").compile()
    assert evidence_ids(run(moment, events([("a", 0), ("b", 10)]))) == [["e0", "e1"]]
    assert evidence_ids(run(moment, events([("a", 0), ("b", 11)]))) == []


def test_step_after_skips_events_too_soon_after_the_previous_step() -> None:
    """``after``: a b at the same time as the a (a daily export's rows of one day) is no sequence; a later one is."""
    moment = Moment("m").begin("a", where={"type": "a"}).followed_by("b", where={"type": "b"}, after="10m").compile()
    assert evidence_ids(run(moment, events([("a", 0), ("b", 0), ("b", 9), ("b", 10)]))) == [["e0", "e3"]]
    assert evidence_ids(run(moment, events([("a", 0), ("b", 0)]))) == []
    strict = Moment("m").begin("a", where={"type": "a"}).next("b", where={"type": "b"}, after="10m").compile()
    assert evidence_ids(run(strict, events([("a", 0), ("b", 5), ("b", 20)]))) == []  # the very next one was too soon


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"name": "a", "where": {"type": "a"}, "after": "1h"}], "no previous one"),
        (
            [
                {"name": "a", "where": {"type": "a"}},
                {"name": "b", "where": {"type": "b"}, "after": "2d", "within": "1d"},
            ],
            "nothing could match",
        ),
        ([{"name": "a", "where": {"type": "a"}}, {"name": "b", "where": {"type": "b"}, "after": "0s"}], "positive"),
    ],
)
def test_step_after_is_checked(steps: list[dict[str, object]], message: str) -> None:
    with pytest.raises(PatternError, match=message):
        compile_moment(spec_from_mapping({"name": "m", "pattern": steps}))


def test_pattern_within_limits_the_whole_span() -> None:
    moment = (
        Moment("m").begin("a", where={"type": "a"}).followed_by("b", where={"type": "b"})
        .followed_by("c", where={"type": "c"}).within("1h").compile()
    )  # fmt: skip
    assert evidence_ids(run(moment, events([("a", 0), ("b", 30), ("c", 60)]))) == [["e0", "e1", "e2"]]
    assert evidence_ids(run(moment, events([("a", 0), ("b", 30), ("c", 61)]))) == []


def test_absence_between_steps() -> None:
    moment = (
        Moment("m").begin("a", where={"type": "a"}).not_followed_by("no_x", where={"type": "x"})
        .followed_by("b", where={"type": "b"}).compile()
    )  # fmt: skip
    assert evidence_ids(run(moment, events([("a", 0), ("x", 1), ("b", 2)]))) == []
    assert evidence_ids(run(moment, events([("a", 0), ("y", 1), ("b", 2)]))) == [["e0", "e2"]]


def silent_after_purchase() -> Moment:
    return (
        Moment("quiet")
        .begin("buy", where={"type": "purchase"})
        .not_followed_by("silence", where={"type": ["purchase", "page_view"]}, for_="18h")
    )


def test_absence_at_pattern_end_completes_by_time_passing_alone() -> None:
    """No further event from this customer: another customer's events move the clock."""
    stream = [event("p", "purchase", 0), event("o1", "page_view", hours(17), customer="other"),
              event("o2", "page_view", hours(19), customer="other")]  # fmt: skip
    outs = run(silent_after_purchase().compile(), stream)
    [trigger] = triggers(outs)
    assert trigger.customer_id == "c1"
    assert trigger.emitted_at == stream[0].ts + __import__("datetime").timedelta(hours=18)


def test_absence_at_pattern_end_is_broken_by_a_matching_event_at_the_deadline() -> None:
    stream = [event("p", "purchase", 0), event("v", "page_view", hours(18)),
              event("o", "page_view", hours(40), customer="other")]  # fmt: skip
    assert triggers(run(silent_after_purchase().compile(), stream)) == []


def test_absence_at_pattern_end_ignores_unrelated_events() -> None:
    stream = [event("p", "purchase", 0), event("mail", "email_open", hours(3)),
              event("o", "page_view", hours(40), customer="other")]  # fmt: skip
    assert evidence_ids(run(silent_after_purchase().compile(), stream)) == [["p"]]


def test_absence_at_end_needs_the_clock_or_a_final_flush() -> None:
    """Without later events the deadline is only reached when the input ends with --until drain."""
    stream = [event("p", "purchase", 0)]
    assert triggers(run(silent_after_purchase().compile(), stream)) == []
    assert len(triggers(run(silent_after_purchase().compile(), stream, until=2**62))) == 1


def kofn() -> Moment:
    return Moment("expand").at_least(
        3,
        of={"pricing": {"type": "page_view", "properties": {"page": "pricing"}}, "seats": {"type": "seat_limit"},
            "invite": {"type": "invite"}, "heavy": {"type": "usage", "value": {"gte": 500}}},
        within="14d",
    )  # fmt: skip


def test_k_of_n_needs_distinct_indicators_within_the_window() -> None:
    day = hours(24)
    stream = [
        event("s1", "seat_limit", 0),
        event("s2", "seat_limit", day),  # same indicator again: still one distinct
        event("i", "invite", 2 * day),
        event("u_small", "usage", 3 * day, value=10.0),  # not heavy: no indicator
        event("p", "page_view", 4 * day, properties={"page": "pricing"}),
    ]
    assert evidence_ids(run(kofn().compile(), stream)) == [["s2", "i", "p"]]


def test_k_of_n_forgets_indicators_older_than_the_window() -> None:
    day = hours(24)
    stream = [event("s", "seat_limit", 0), event("i", "invite", 10 * day),
              event("p", "page_view", 15 * day, properties={"page": "pricing"})]  # fmt: skip
    assert triggers(run(kofn().compile(), stream)) == []


def test_k_of_n_followed_by_another_step() -> None:
    moment = kofn().followed_by("talked", where={"type": "sales_call"}, within="2d").compile()
    day = hours(24)
    stream = [event("s", "seat_limit", 0), event("i", "invite", day), event("u", "usage", day + 1, value=900.0),
              event("call", "sales_call", 2 * day)]  # fmt: skip
    assert evidence_ids(run(moment, stream)) == [["s", "i", "u", "call"]]


def test_k_of_n_evidence_names_the_indicators_each_event_met() -> None:
    moment = kofn().followed_by("talked", where={"type": "sales_call"}, within="2d").compile()
    day = hours(24)
    both = event("big", "usage", day, value=900.0, properties={"page": "pricing"})  # heavy usage only
    stream = [event("s", "seat_limit", 0), both, event("i", "invite", day + 1), event("call", "sales_call", 2 * day)]
    (trigger,) = triggers(run(moment, stream))
    assert [(e.event_id, e.step, e.indicators) for e in trigger.evidence] == [
        ("s", "indicators", ["seats"]), ("big", "indicators", ["heavy"]), ("i", "indicators", ["invite"]),
        ("call", "talked", None),
    ]  # fmt: skip


def test_an_event_that_meets_two_indicators_names_both_and_survives_the_state_encoding() -> None:
    moment = Moment("expand").at_least(
        2, of={"pricing": {"type": "page_view", "properties": {"page": "pricing"}},
               "any_view": {"type": "page_view"}, "invite": {"type": "invite"}}, within="14d",
    ).followed_by("talked", where={"type": "sales_call"}).compile()  # fmt: skip
    engine = Engine([moment], EngineConfig(allowed_lateness_ms=0))
    state = engine.new_state("c1")
    engine.on_event(state, event("p", "page_view", 0, properties={"page": "pricing"}))
    state = CustomerState.from_bytes(state.to_bytes())  # a restart between the indicators and the last step
    outputs = engine.on_event(state, event("call", "sales_call", 60)).outputs
    (trigger,) = triggers(outputs)
    assert trigger.evidence[0].indicators == ["pricing", "any_view"]


def test_cap_on_partial_matches_keeps_state_bounded() -> None:
    moment = (
        Moment("m").begin("a", where={"type": "a"}).followed_by_any("b", where={"type": "b"})
        .max_partial_matches(5).compile()
    )  # fmt: skip
    engine = Engine([moment], EngineConfig(allowed_lateness_ms=0))
    state = engine.new_state("c1")
    for e in events([("a", i) for i in range(50)]):
        engine.on_event(state, e)
    assert len(state.moments["m"].partials) == 5
    assert state.moments["m"].dropped == 45


def test_durations_in_the_builder_use_the_same_parser() -> None:
    assert silent_after_purchase().compile().end_absence_ms == parse_duration("18h")


# -- k-of-n as a later step -----------------------------------------------------------------------
def trial_then_signals(within: str = "3d") -> Moment:
    signals = {"seats": {"type": "seat_added"}, "invite": {"type": "teammate_invited"}, "api": {"type": "api_call"}}
    return Moment("m").begin("trial", where={"type": "trial_started"}).at_least(2, signals, within, name="signals")


def test_a_later_k_of_n_step_counts_indicators_after_the_previous_step_only() -> None:
    stream = events([("seat_added", 0), ("trial_started", 10), ("page_view", 20), ("teammate_invited", 30),
                     ("api_call", 40)])  # fmt: skip
    outputs = run(trial_then_signals().compile(), stream)
    # The seat added before the trial does not count: the match needs the invite and the API call.
    assert evidence_ids(outputs) == [["e1", "e3", "e4"]]
    [trigger] = triggers(outputs)
    assert [(e.step, e.indicators) for e in trigger.evidence] == [("trial", None), ("signals", ["invite"]),
                                                                  ("signals", ["api"])]  # fmt: skip


def test_a_later_k_of_n_step_forgets_indicators_older_than_its_within() -> None:
    stream = events([("trial_started", 0), ("seat_added", 10), ("api_call", hours(30))])
    assert evidence_ids(run(trial_then_signals("1d").compile(), stream)) == []
    assert evidence_ids(run(trial_then_signals("2d").compile(), stream)) == [["e0", "e1", "e2"]]


def test_a_later_k_of_n_step_can_be_followed_and_its_progress_survives_the_state_encoding() -> None:
    moment = trial_then_signals().followed_by("paid", where={"type": "purchase"}).compile()
    engine = Engine([moment], EngineConfig(allowed_lateness_ms=0))
    state = engine.new_state("c1")
    for e in events([("trial_started", 0), ("seat_added", 10)]):
        engine.on_event(state, e)
    [partial] = state.moments["m"].partials
    assert [i for i, *_ in partial.seen] == [0]  # seats seen, waiting for one more
    state = CustomerState.from_bytes(state.to_bytes())
    outputs = []
    for e in [event("e2", "api_call", 20), event("e3", "purchase", 30)]:
        outputs += engine.on_event(state, e).outputs
    assert evidence_ids(outputs) == [["e0", "e1", "e2", "e3"]]


def test_only_one_k_of_n_step_per_moment() -> None:
    with pytest.raises(PatternError, match="one k-of-n step"):
        trial_then_signals().at_least(1, {"x": {"type": "x"}}, "1d", name="more").compile()
