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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from momentstream.clock import format_duration
from momentstream.discovery.scan import TimingRow
from momentstream.discovery.stats import newcombe_difference, wilson

__all__ = ["BALANCE_FEATURES", "PERMUTATIONS", "Bin", "TimingWindow", "bin_width_for", "find_window", "window_at"]

PERMUTATIONS = 199
"""Shuffles for a window's p-value: the smallest possible is 1/200."""
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


def bin_width_for(max_delay_ms: int, bins: int = 48) -> int:
    """A human bin width giving at most about ``bins`` bins over the range."""
    for width in _WIDTHS_MS:
        if max_delay_ms / width <= bins:
            return width
    return _WIDTHS_MS[-1]


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


def _null_fit(labels: np.ndarray) -> float:
    n, x = len(labels), float(labels.sum())
    rate = x / n if n else 0.0
    return float(xlogy(x, rate) + xlogy(n - x, 1 - rate))


def find_window(
    rows: Sequence[TimingRow],
    max_delay_ms: int,
    *,
    min_support: int = 20,
    width_ms: int | None = None,
    lower_is_better: bool = False,
    permutations: int = PERMUTATIONS,
    alpha: float = 0.05,
) -> TimingWindow | None:
    """The best contiguous window over the delay curve, or None with too few reached customers.

    ``lower_is_better`` for outcomes to avoid (churn): the window is where the rate is lowest.
    The window's p-value comes from ``permutations`` shuffles of the outcomes over the reached
    customers, each searched the same way (Kulldorff's Monte Carlo test): searching many
    windows finds a "difference" in pure noise, and only this p-value accounts for the search.
    """
    width = width_ms or bin_width_for(max_delay_ms)
    n_bins = max(1, -(-max_delay_ms // width))
    reached = [r for r in rows if r.delay_ms is not None]
    if len(reached) < 2 * min_support:
        return None
    bins = np.array([min(r.delay_ms // width, n_bins) for r in reached if r.delay_ms is not None], dtype=np.int64)
    labels = np.array([r.label for r in reached], dtype=np.int32)
    order = np.argsort(bins, kind="stable")
    bins, labels = bins[order], labels[order]
    customers = np.bincount(bins, minlength=n_bins + 1)  # the last bin: reached after the curve's range
    cn = np.concatenate(([0], np.cumsum(customers[:n_bins]))).astype(np.int64)
    cn_all = np.append(cn, cn[-1] + customers[n_bins])  # total includes the late ones, on the outside

    def cumulative_x(label_rows: np.ndarray) -> np.ndarray:
        cum = np.concatenate((np.zeros((*label_rows.shape[:-1], 1), np.int64), np.cumsum(label_rows, axis=-1)), -1)
        return np.concatenate((cum[..., cn], cum[..., -1:]), -1)

    observed = _fit(cn_all, cumulative_x(labels), min_support, lower_is_better)[:-1, :-1]
    if not np.isfinite(observed).any():
        return None
    i, j = (int(k) for k in np.unravel_index(int(np.argmax(observed)), observed.shape))
    best = observed[i, j]
    rng = np.random.default_rng(0)
    beaten = 0
    for start in range(0, permutations, 16):
        chunk = min(16, permutations - start)
        shuffled = np.stack([rng.permutation(labels) for _ in range(chunk)])
        fits = _fit(cn_all, cumulative_x(shuffled), min_support, lower_is_better)[..., :-1, :-1]
        beaten += int((fits.reshape(chunk, -1).max(axis=1) >= best - 1e-9).sum())
    p_value = (1 + beaten) / (permutations + 1) if permutations else math.nan
    positive = np.bincount(bins, weights=labels, minlength=n_bins + 1).astype(int)
    n_in, x_in = int(customers[i:j].sum()), int(positive[i:j].sum())
    reached_n, reached_x = len(reached), int(labels.sum())
    none = [r.label for r in rows if r.delay_ms is None]
    curve = tuple(Bin(k * width, (k + 1) * width, int(customers[k]), int(positive[k])) for k in range(n_bins))
    inside_rows = [r for r in reached if r.delay_ms is not None and i * width <= r.delay_ms < j * width]
    outside_rows = [r for r in reached if r.delay_ms is not None and not i * width <= r.delay_ms < j * width]
    return TimingWindow(
        i * width, j * width, (n_in, x_in), (reached_n - n_in, reached_x - x_in), (len(none), sum(none)),
        x_in / n_in - (reached_x - x_in) / (reached_n - n_in),
        newcombe_difference(x_in, n_in, reached_x - x_in, reached_n - n_in), curve,
        _balance(inside_rows, outside_rows), float(best - _null_fit(labels)), p_value, p_value < alpha,
    )  # fmt: skip


def _balance(inside: Sequence[TimingRow], outside: Sequence[TimingRow]) -> tuple[tuple[str, float, float, float], ...]:
    out = []
    for k, name in enumerate(BALANCE_FEATURES):
        a = [r.before[k] for r in inside]
        b = [r.before[k] for r in outside]
        mean_a, mean_b = _mean(a), _mean(b)
        pooled = math.sqrt((_variance(a) + _variance(b)) / 2)
        smd = (mean_a - mean_b) / pooled if pooled > 0 else 0.0
        out.append((name, mean_a, mean_b, smd))
    return tuple(out)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def _variance(xs: Sequence[float]) -> float:
    if len(xs) < 2:
        return 0.0
    m = _mean(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def window_at(
    rows: Sequence[TimingRow], opens_after_ms: int, closes_after_ms: int
) -> tuple[tuple[int, int], tuple[int, int]]:
    """(customers, with outcome) reached inside a given window and outside it: the backtest's figures."""
    inside = [r.label for r in rows if r.delay_ms is not None and opens_after_ms <= r.delay_ms < closes_after_ms]
    outside = [r.label for r in rows if r.delay_ms is not None and not opens_after_ms <= r.delay_ms < closes_after_ms]
    return (len(inside), sum(inside)), (len(outside), sum(outside))
