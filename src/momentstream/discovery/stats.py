"""The statistics discovery reports: score intervals, exact tests, false discovery rate.

Each function follows a published method and is tested against the published figures
(``tests/test_discovery/test_stats.py``), so a number in a report can be checked by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy.stats import fisher_exact

__all__ = ["Z95", "benjamini_hochberg", "fisher_p", "newcombe_difference", "wilson"]

Z95 = 1.959963984540054
"""The standard normal quantile for a two-sided 95% interval."""


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (Wilson 1927; Newcombe 1998, method 3).

    It stays inside [0, 1] and behaves at 0 and n successes, where the textbook
    normal interval collapses; the reason discovery uses it for small supports.

    >>> [round(x, 4) for x in wilson(81, 263)]
    [0.2553, 0.3662]
    """
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in 0..{n}, not {successes}")
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denominator = 1 + z2 / n
    low = 0.0 if successes == 0 else (centre - spread) / denominator
    high = 1.0 if successes == n else (centre + spread) / denominator
    return (low, high)


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """Interval for p1 - p2 from the two Wilson intervals (Newcombe 1998, method 10).

    Good coverage at small counts without iteration; used for window-vs-outside differences.

    >>> [round(x, 4) for x in newcombe_difference(56, 70, 48, 80)]
    [0.0524, 0.3339]
    """
    p1 = x1 / n1 if n1 else 0.0
    p2 = x2 / n2 if n2 else 0.0
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (max(-1.0, low), min(1.0, high))


def fisher_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test: do x1/n1 and x2/n2 differ?

    Exact at any count, so a rare pattern's p-value is not an asymptotic guess.

    >>> round(fisher_p(3, 4, 1, 4), 4)  # Fisher's tea-tasting table
    0.4857
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    return float(fisher_exact(table, alternative="two-sided").pvalue)


def benjamini_hochberg(p_values: Sequence[float], q: float = 0.05) -> tuple[list[bool], list[float]]:
    """Which hypotheses to reject at false discovery rate ``q``, and the adjusted p-values.

    Benjamini and Hochberg (1995): sort the m p-values, find the largest k with
    p(k) <= k q / m, reject the k smallest. Discovery passes every candidate it tried (an
    untested one as p = 1), so the rate holds over everything tried, not only what is shown.

    >>> rejected, _ = benjamini_hochberg([0.01, 0.04, 0.03, 0.5], q=0.05)
    >>> rejected
    [True, False, False, False]
    """
    if not 0 < q < 1:
        raise ValueError(f"q must lie strictly between 0 and 1, not {q}")
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    cutoff = 0
    for rank, i in enumerate(order, start=1):
        if p_values[i] <= rank * q / m:
            cutoff = rank
    rejected = [False] * m
    for i in order[:cutoff]:
        rejected[i] = True
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = min(1.0, running)
    return rejected, adjusted
