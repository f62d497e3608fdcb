"""The window search on curves whose answer is known."""

import random

from momentstream.discovery.curve import DelayCurve
from momentstream.discovery.timing import empty_curve, find_window, window_at

H = 3_600_000


def _curve(seed: int, window: tuple[int, int], inside: float, outside: float, n: int = 3000) -> DelayCurve:
    rng = random.Random(seed)
    curve = empty_curve(72 * H)
    for _ in range(n):
        delay = rng.randrange(0, 72 * H)
        p = inside if window[0] * H <= delay < window[1] * H else outside
        curve.add(delay, rng.random() < p, (rng.random(), 0.0, 0.0))
    for _ in range(7):
        curve.add(None, False, (0.0, 0.0, 0.0))
    return curve


def test_the_window_is_found_at_its_edges_with_an_interval_that_excludes_zero() -> None:
    w = find_window(_curve(1, (19, 37), 0.8, 0.25))
    assert w is not None
    assert abs(w.opens_after_ms - 19 * H) <= H
    assert abs(w.closes_after_ms - 37 * H) <= H
    assert w.significant
    assert w.p_value == 1 / 200
    assert w.interval[0] < w.difference < w.interval[1]
    assert w.unreached == (7, 0)
    assert sum(b.customers for b in w.curve) == 3000
    assert abs(w.balance[0][3]) < 0.15  # a random feature is balanced
    assert 0.4 < w.balance[0][1] < 0.6


def test_for_an_outcome_to_avoid_the_window_is_where_the_rate_is_lowest() -> None:
    w = find_window(_curve(2, (10, 20), 0.1, 0.6), lower_is_better=True)
    assert w is not None
    assert abs(w.opens_after_ms - 10 * H) <= H
    assert abs(w.closes_after_ms - 20 * H) <= H
    assert w.difference < 0
    assert w.significant


def test_a_flat_curve_has_no_significant_window_and_too_few_customers_have_none() -> None:
    significant = 0
    for seed in range(3, 23):
        flat = find_window(_curve(seed, (0, 0), 0.3, 0.3))
        significant += flat is not None and flat.significant
    assert significant <= 3  # at the 5% level: about one in twenty by chance
    assert find_window(_curve(4, (19, 37), 0.8, 0.2, n=30)) is None


def test_the_permutation_p_value_is_calibrated_on_flat_curves() -> None:
    p_values = []
    for seed in range(40):
        flat = find_window(_curve(100 + seed, (0, 0), 0.3, 0.3, n=600), permutations=99)
        if flat is not None:
            p_values.append(flat.p_value)
    assert len(p_values) >= 30
    share_small = sum(p <= 0.1 for p in p_values) / len(p_values)
    assert share_small < 0.3, p_values  # about 10% expected under no effect


def test_window_at_counts_inside_and_outside() -> None:
    curve = empty_curve(72 * H)
    curve.add(5 * H, True, ())
    curve.add(20 * H, False, ())
    curve.add(None, True, ())
    assert window_at(curve, 0, 10 * H) == ((1, 1), (1, 0))
