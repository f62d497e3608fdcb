"""The window search on curves whose answer is known."""

import random

from momentstream.discovery.scan import TimingRow
from momentstream.discovery.timing import find_window, window_at

H = 3_600_000


def _rows(seed: int, window: tuple[int, int], inside: float, outside: float, n: int = 3000) -> list[TimingRow]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        delay = rng.randrange(0, 72 * H)
        p = inside if window[0] * H <= delay < window[1] * H else outside
        rows.append(TimingRow(delay, rng.random() < p, (rng.random(), 0.0, 0.0)))
    rows += [TimingRow(None, False, (0.0, 0.0, 0.0))] * 7
    return rows


def test_the_window_is_found_at_its_edges_with_an_interval_that_excludes_zero() -> None:
    w = find_window(_rows(1, (19, 37), 0.8, 0.25), 72 * H)
    assert w is not None
    assert abs(w.opens_after_ms - 19 * H) <= H
    assert abs(w.closes_after_ms - 37 * H) <= H
    assert w.significant
    assert w.p_value == 1 / 200
    assert w.interval[0] < w.difference < w.interval[1]
    assert w.unreached == (7, 0)
    assert sum(b.customers for b in w.curve) == 3000
    assert abs(w.balance[0][3]) < 0.15  # a random feature is balanced


def test_for_an_outcome_to_avoid_the_window_is_where_the_rate_is_lowest() -> None:
    w = find_window(_rows(2, (10, 20), 0.1, 0.6), 72 * H, lower_is_better=True)
    assert w is not None
    assert abs(w.opens_after_ms - 10 * H) <= H
    assert abs(w.closes_after_ms - 20 * H) <= H
    assert w.difference < 0
    assert w.significant


def test_a_flat_curve_has_no_significant_window_and_too_few_customers_have_none() -> None:
    for seed in range(3, 8):
        flat = find_window(_rows(seed, (0, 0), 0.3, 0.3), 72 * H)
        assert flat is None or not flat.significant, f"seed {seed}: p = {flat.p_value}"
    assert find_window(_rows(4, (19, 37), 0.8, 0.2, n=30), 72 * H) is None


def test_window_at_counts_inside_and_outside() -> None:
    rows = [TimingRow(5 * H, True, (0, 0, 0)), TimingRow(20 * H, False, (0, 0, 0)), TimingRow(None, True, (0, 0, 0))]
    assert window_at(rows, 0, 10 * H) == ((1, 1), (1, 0))
