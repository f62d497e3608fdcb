"""Outcome labels: a horizon past the end of the history is unknown, never a no."""

import pytest

from momentstream.discovery.outcome import Outcome, parse_where, reference_time
from momentstream.patterns.errors import PatternError

H = 3_600_000


def _outcome(absent: bool = False) -> Outcome:
    where, predicate = parse_where("purchase", "--outcome")
    return Outcome(where, predicate, 10 * H, absent)


def test_labels_look_strictly_after_the_time_and_within_the_horizon() -> None:
    times = [5 * H, 30 * H]
    o = _outcome()
    assert o.label(times, 0, 100 * H) is True
    assert o.label(times, 5 * H, 100 * H) is False  # the outcome at that very time is not after it
    assert o.label(times, 19 * H, 100 * H) is False
    assert o.label(times, 20 * H, 100 * H) is True  # 30 h is exactly at the horizon
    assert o.label(times, 95 * H, 100 * H) is None  # the history ends before the horizon
    assert _outcome(absent=True).label(times, 6 * H, 100 * H) is True


@pytest.mark.parametrize("text", ["", "{}", "{type: [}", "{colour: red}", "[purchase]", "{type: 5}"])
def test_a_bad_where_is_refused_with_the_option_named(text: str) -> None:
    with pytest.raises(PatternError, match="--outcome"):
        parse_where(text, "--outcome")


def test_types_lists_and_mappings() -> None:
    assert parse_where("purchase, upgrade", "--outcome")[0] == {"type": ["purchase", "upgrade"]}
    assert parse_where("{type: purchase, value: {gte: 100}}", "--outcome")[1].types == frozenset({"purchase"})


def test_the_reference_time_is_one_of_the_customers_own_times_whose_horizon_fits() -> None:
    times = [1 * H, 2 * H, 3 * H, 95 * H]
    picks = {reference_time(f"c{i}", times, 10 * H, 100 * H) for i in range(50)}
    assert picks == {1 * H, 2 * H, 3 * H}
    assert reference_time("c1", times, 10 * H, 100 * H) == reference_time("c1", times, 10 * H, 100 * H)
    assert reference_time("c1", [95 * H], 10 * H, 100 * H) is None
