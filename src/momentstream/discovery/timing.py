"""When to intervene: the outcome rate by delay from an anchor to the first intervention.

For the customers a moment fired for, bin the delay from the anchor step to the first
intervention (e.g. ``outreach``), report each bin's outcome rate with its Wilson interval,
and find the contiguous window [opens_after, closes_after) whose customers did best
against those reached outside it. The window is the maximum-likelihood one under a step
model (one rate inside, another outside: Kulldorff's Bernoulli scan statistic), which
converges on the true edges as data grows, where maximising the raw difference chases
lucky bins and maximising an interval bound widens the window; each side holds at least
``min_support`` customers. Whether the window is real is judged by a permutation test of the
whole search (a flat curve always has a best-looking window); its difference gets a Newcombe
interval, which describes the window found but does not account for the search.

This is observational: who was reached when was not random. The balance of behaviour
before the anchor (inside vs outside) is reported beside the window so a reader can see
whether the customers reached inside were different to begin with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from momentstream.core.clock import format_duration
from momentstream.discovery.curve import DelayCurve
from momentstream.discovery.stats import newcombe_difference, wilson

__all__ = [
    "BALANCE_FEATURES",
    "PERMUTATIONS",
    "Bin",
    "TimingWindow",
    "bin_width_for",
    "empty_curve",
    "find_window",
    "window_at",
]

PERMUTATIONS = 199
"""Shuffles for a window's p-value: the smallest possible is 1/200."""
_ENOUGH_EXCEEDANCES = 10
"""Stop shuffling once this many shuffles beat the window (Besag and Clifford 1991): it is not significant."""
_H = 3_600_000
_WIDTHS_MS = (15 * 60_000, 30 * 60_000, _H, 2 * _H, 3 * _H, 6 * _H, 12 * _H, 24 * _H)
BALANCE_FEATURES = ("events in the 30 days before", "days since first event", "outcome events before")


@dataclass(frozen=True, slots=True)
class Bin:
    """Customers first reached ``start_ms``..``end_ms`` after the anchor, and their outcome rate."""

    start_ms: int
    end_ms: int
    customers: int
    positive: int

    @property
    def rate(self) -> float:
        """Outcome rate in the bin."""
        return self.positive / self.customers if self.customers else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95% interval of the rate."""
        return wilson(self.positive, self.customers)


@dataclass(frozen=True, slots=True)
class TimingWindow:
    """The chosen window and the whole curve it was chosen from."""

    opens_after_ms: int
    closes_after_ms: int
    inside: tuple[int, int]
    """(customers, with outcome) reached inside the window."""
    outside: tuple[int, int]
    """(customers, with outcome) reached outside it, within the curve's range or later."""
    unreached: tuple[int, int]
    difference: float
    interval: tuple[float, float]
    curve: tuple[Bin, ...]
    balance: tuple[tuple[str, float, float, float], ...]
    """Per feature: mean inside, mean outside, standardised mean difference."""
    statistic: float
    """Log-likelihood ratio of the window against one rate for all reached customers."""
    p_value: float
    """Monte Carlo p-value of the search: how often shuffled outcomes give as strong a window."""
    significant: bool
    """``p_value`` below the level asked for."""

    @property
    def label(self) -> str:
        """``19h-37h``."""
        return f"{format_duration(self.opens_after_ms)}-{format_duration(self.closes_after_ms)}"

    @property
    def strength(self) -> float:
        """How far the interval of the difference stays from zero (ranks windows of different moments)."""
        return max(self.interval[0], -self.interval[1])


def bin_width_for(max_delay_ms: int, bins: int = 80) -> int:
    """A human bin width giving at most about ``bins`` bins over the range."""
    for width in _WIDTHS_MS:
        if max_delay_ms / width <= bins:
            return width
    return _WIDTHS_MS[-1]


def empty_curve(max_delay_ms: int) -> DelayCurve:
    """A curve over 0..``max_delay_ms`` in human-width bins."""
    width = bin_width_for(max_delay_ms)
    return DelayCurve.empty(width, max(1, -(-max_delay_ms // width)))


def _fit(cn: np.ndarray, cx: np.ndarray, min_support: int, lower_is_better: bool) -> np.ndarray:
    """Log-likelihood of the step model for every window [i, j) of bins, from cumulative counts.

    ``cn`` has shape (bins + 1,) and ``cx`` shape (..., bins + 1): a leading axis holds permutations.
    Windows that break the support floor or point the wrong way get -inf.
    """
    total_n, total_x = cn[-1], cx[..., -1:, None]
    n_in = (cn[None, :] - cn[:, None]).astype(float)  # [i, j] = customers in bins i..j-1
    x_in = (cx[..., None, :] - cx[..., :, None]).astype(float)
    n_out = total_n - n_in
    x_out = total_x - x_in
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_in, rate_out = x_in / n_in, x_out / n_out
        fit = (xlogy(x_in, rate_in) + xlogy(n_in - x_in, 1 - rate_in)
               + xlogy(x_out, rate_out) + xlogy(n_out - x_out, 1 - rate_out))  # fmt: skip
    direction = rate_in < rate_out if lower_is_better else rate_in > rate_out
    allowed = (n_in >= min_support) & (n_out >= min_support) & np.triu(np.ones_like(n_in, dtype=bool), 1)
    return np.where(allowed & direction, fit, -np.inf)


def _null_fit(n: float, x: float) -> float:
    rate = x / n if n else 0.0
    return float(xlogy(x, rate) + xlogy(n - x, 1 - rate))


def find_window(
    curve: DelayCurve,
    *,
    min_support: int = 20,
    lower_is_better: bool = False,
    permutations: int = PERMUTATIONS,
    alpha: float = 0.05,
    seed: int = 0,
) -> TimingWindow | None:
    """The best contiguous window over the delay curve, or None with too few reached customers.

    ``lower_is_better`` for outcomes to avoid (churn): the window is where the rate is lowest.
    The window's p-value comes from ``permutations`` shuffles of the outcomes over the reached
    customers (drawn per bin from the multivariate hypergeometric distribution, which is what a
    shuffle does to bin counts), each searched the same way (Kulldorff's Monte Carlo test):
    searching many windows finds a "difference" in pure noise, and only this p-value accounts
    for the search. Shuffling stops early once ten shuffles beat the window (the sequential test
    of Besag and Clifford): then it is far from significant and its p-value is estimated.
    """
    width, n_bins = curve.width_ms, curve.bins
    customers = np.array([int(r[0]) for r in curve.rows[: n_bins + 1]], dtype=np.int64)  # last: reached later
    positive = np.array([int(r[1]) for r in curve.rows[: n_bins + 1]], dtype=np.int64)
    reached_n, reached_x = int(customers.sum()), int(positive.sum())
    if reached_n < 2 * min_support:
        return None
    cn = np.concatenate(([0], np.cumsum(customers)))  # includes the later ones as a last bin, never inside

    def cumulative(x: np.ndarray) -> np.ndarray:
        return np.concatenate((np.zeros((*x.shape[:-1], 1), np.int64), np.cumsum(x, axis=-1)), axis=-1)

    observed = _fit(cn, cumulative(positive), min_support, lower_is_better)[:-1, :-1]
    if not np.isfinite(observed).any():
        return None
    i, j = (int(k) for k in np.unravel_index(int(np.argmax(observed)), observed.shape))
    best = float(observed[i, j])
    beaten = done = 0
    if permutations:
        rng = np.random.default_rng(seed)
        while done < permutations and beaten < _ENOUGH_EXCEEDANCES:
            chunk = min(64, permutations - done)
            drawn = rng.multivariate_hypergeometric(customers, reached_x, size=chunk)
            fits = _fit(cn, cumulative(drawn), min_support, lower_is_better)[..., :-1, :-1]
            beaten += int((fits.reshape(chunk, -1).max(axis=1) >= best - 1e-9).sum())
            done += chunk
    if not permutations:
        p_value = math.nan
    elif beaten >= _ENOUGH_EXCEEDANCES:  # clearly not significant: Besag and Clifford's sequential estimate
        p_value = min(1.0, beaten / done)
    else:
        p_value = (1 + beaten) / (permutations + 1)
    n_in, x_in = int(customers[i:j].sum()), int(positive[i:j].sum())
    bins = tuple(Bin(k * width, (k + 1) * width, int(customers[k]), int(positive[k])) for k in range(n_bins))
    unreached = curve.customers(n_bins + 1, n_bins + 2)
    outside_rows = [k for k in range(n_bins + 1) if not i <= k < j]
    return TimingWindow(
        i * width, j * width, (n_in, x_in), (reached_n - n_in, reached_x - x_in), unreached,
        x_in / n_in - (reached_x - x_in) / (reached_n - n_in),
        newcombe_difference(x_in, n_in, reached_x - x_in, reached_n - n_in), bins,
        _balance(curve, list(range(i, j)), outside_rows), best - _null_fit(reached_n, reached_x), p_value,
        p_value < alpha,
    )  # fmt: skip


def _balance(curve: DelayCurve, inside: list[int], outside: list[int]) -> tuple[tuple[str, float, float, float], ...]:
    out = []
    for name, a, b in zip(BALANCE_FEATURES, curve.features(inside), curve.features(outside), strict=True):
        mean_a, var_a = _moments(*a)
        mean_b, var_b = _moments(*b)
        pooled = math.sqrt((var_a + var_b) / 2)
        out.append((name, mean_a, mean_b, (mean_a - mean_b) / pooled if pooled > 0 else 0.0))
    return tuple(out)


def _moments(n: float, total: float, squares: float) -> tuple[float, float]:
    """Mean and sample variance from a count, a sum and a sum of squares."""
    if n <= 0:
        return 0.0, 0.0
    mean = total / n
    variance = max(0.0, (squares - n * mean * mean) / (n - 1)) if n > 1 else 0.0
    return mean, variance


def window_at(curve: DelayCurve, opens_after_ms: int, closes_after_ms: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(customers, with outcome) reached inside a window of the curve's bins and outside it: the backtest."""
    first, last = opens_after_ms // curve.width_ms, closes_after_ms // curve.width_ms
    n_in, x_in = curve.customers(first, last)
    n_all, x_all = curve.customers(0, curve.bins + 1)
    return (n_in, x_in), (n_all - n_in, x_all - x_in)
