"""Who is in the value cohort: the rule, the share, the threshold."""

from __future__ import annotations

import math

import pytest

from momentstream.journeys.cohort import parse_by, parse_top, top_threshold


@pytest.mark.parametrize("text", ["value", "value within", "value within soon", "sum within 3d", "value within 0d",
                                  "value within 5000d", "value within 3d extra"])  # fmt: skip
def test_a_bad_by_names_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="--by"):
        parse_by(text)


@pytest.mark.parametrize("text", ["0%", "60%", "-5%", "five", "nan", "inf", "1"])
def test_a_bad_top_share_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--top"):
        parse_top(text)


def test_count_rule_and_its_description() -> None:
    rule = parse_by("  count within 90d ")
    assert (rule.measure, rule.within_ms, rule.describe()) == ("count", 90 * 86_400_000, "count within 90d")


def test_ties_at_the_threshold_are_all_in_and_no_value_is_never_top() -> None:
    assert top_threshold([5.0, 5.0, 5.0, 1.0], 0.25) == 5.0  # three share the top value: all three are in
    assert top_threshold([0.0, 0.0, 3.0, 0.0], 0.5) == 3.0  # half the customers, but only one has any value
    assert top_threshold([0.0, 0.0], 0.5) == math.inf
    assert top_threshold([], 0.1) == math.inf
