"""The statistics against the figures their authors published."""

import pytest

from momentstream.discovery.stats import benjamini_hochberg, fisher_p, newcombe_difference, wilson


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
     (29, 29, 0.8830, 1.0)],
)  # fmt: skip
def test_wilson_matches_newcombe_1998_table_i(successes: int, n: int, low: float, high: float) -> None:
    # Newcombe, Statistics in Medicine 17 (1998) 857-872, Table I, method 3 (score, no continuity correction).
    assert wilson(successes, n) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "low", "high"),
    [(56, 70, 48, 80, 0.0524, 0.3339), (9, 10, 3, 10, 0.1705, 0.8090), (6, 7, 2, 7, 0.0582, 0.8062),
     (5, 56, 0, 29, -0.0381, 0.1926), (0, 10, 0, 20, -0.1611, 0.2775), (10, 10, 0, 20, 0.6791, 1.0)],
)  # fmt: skip
def test_difference_interval_matches_newcombe_1998_table_ii(x1: int, n1: int, x2: int, n2: int, low: float,
                                                            high: float) -> None:  # fmt: skip
    # Newcombe, Statistics in Medicine 17 (1998) 873-890, Table II, method 10 (hybrid score).
    assert newcombe_difference(x1, n1, x2, n2) == pytest.approx((low, high), abs=5e-5)


def test_benjamini_hochberg_matches_the_1995_example() -> None:
    # Benjamini and Hochberg, JRSS B 57 (1995) 289-300, section 4: 15 p-values, q = 0.05 rejects 4
    # (Bonferroni would reject 3).
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719,
         0.6528, 0.7590, 1.000]  # fmt: skip
    rejected, adjusted = benjamini_hochberg(p, 0.05)
    assert rejected == [True] * 4 + [False] * 11
    assert sum(x <= 0.05 / 15 for x in p) == 3
    assert all(a >= x for a, x in zip(adjusted, p, strict=True))
    assert (
        max(a for a, r in zip(adjusted, rejected, strict=True) if r)
        <= 0.05
        < min(a for a, r in zip(adjusted, rejected, strict=True) if not r)
    )


def test_benjamini_hochberg_holds_for_untested_hypotheses_entered_as_one() -> None:
    assert benjamini_hochberg([0.001, 0.01], 0.05)[0] == [True, True]
    assert benjamini_hochberg([0.0001, 0.01] + [1.0] * 98, 0.05)[0][:2] == [True, False]
    with pytest.raises(ValueError, match="between 0 and 1"):
        benjamini_hochberg([0.5], 0)


def test_fisher_exact_matches_the_tea_tasting_experiment() -> None:
    # Fisher (1935): 3 of 4 cups right each way, two-sided p = 34/70.
    assert fisher_p(3, 4, 1, 4) == pytest.approx(34 / 70)
    assert fisher_p(0, 0, 5, 10) == 1.0


def test_wilson_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match=r"0\.\.10"):
        wilson(11, 10)
    assert wilson(0, 0) == (0.0, 1.0)
