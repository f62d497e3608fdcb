"""When to intervene: the outcome rate by delay from an anchor to the first intervention.

For the customers a moment fired for, bin the delay from the anchor step to the first
intervention (e.g. ``outreach``), report each bin's outcome rate with its Wilson interval,
and find the contiguous window [opens_after, closes_after) whose customers did best
against those reached outside it. The window is the maximum-likelihood one under a step
model (one rate inside, another outside: Kulldorff's Bernoulli scan statistic), which
converges on the true edges as data grows, where maximising the raw difference chases
lucky bins and maximising an interval bound widens the window; each side holds at least
``min_support`` customers. Its difference gets a Newcombe interval.

This is observational: who was reached when was not random. The balance of behaviour
before the anchor (inside vs outside) is reported beside the window so a reader can see
whether the customers reached inside were different to begin with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from momentstream.clock import format_duration
from momentstream.discovery.scan import TimingRow
from momentstream.discovery.stats import newcombe_difference, wilson

__all__ = ["BALANCE_FEATURES", "Bin", "TimingWindow", "bin_width_for", "find_window"]

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

    @property
    def label(self) -> str:
        """``19h-37h``."""
        return f"{format_duration(self.opens_after_ms)}-{format_duration(self.closes_after_ms)}"

    @property
    def significant(self) -> bool:
        """The interval of the difference excludes zero."""
        return self.interval[0] > 0 or self.interval[1] < 0

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


def _log_likelihood(x: int, n: int) -> float:
    """Bernoulli log-likelihood of x successes in n at the maximum-likelihood rate."""
    if x in (0, n):
        return 0.0
    p = x / n
    return x * math.log(p) + (n - x) * math.log(1 - p)


def find_window(
    rows: Sequence[TimingRow],
    max_delay_ms: int,
    *,
    min_support: int = 20,
    width_ms: int | None = None,
    lower_is_better: bool = False,
) -> TimingWindow | None:
    """The best contiguous window over the delay curve, or None with too few reached customers.

    ``lower_is_better`` for outcomes to avoid (churn): the window is where the rate is lowest.
    """
    width = width_ms or bin_width_for(max_delay_ms)
    n_bins = max(1, -(-max_delay_ms // width))
    customers = [0] * n_bins
    positive = [0] * n_bins
    late_n = late_x = none_n = none_x = 0
    for row in rows:
        if row.delay_ms is None:
            none_n += 1
            none_x += row.label
        elif row.delay_ms >= n_bins * width:
            late_n += 1
            late_x += row.label
        else:
            b = row.delay_ms // width
            customers[b] += 1
            positive[b] += row.label
    reached_n = sum(customers) + late_n
    reached_x = sum(positive) + late_x
    if reached_n < 2 * min_support:
        return None
    best: tuple[float, int, int] | None = None
    for i in range(n_bins):
        n_in = x_in = 0
        for j in range(i, n_bins):
            n_in += customers[j]
            x_in += positive[j]
            n_out, x_out = reached_n - n_in, reached_x - x_in
            if n_in < min_support or n_out < min_support:
                continue
            better = x_in / n_in < x_out / n_out if lower_is_better else x_in / n_in > x_out / n_out
            if not better:
                continue
            fit = _log_likelihood(x_in, n_in) + _log_likelihood(x_out, n_out)
            if best is None or fit > best[0] + 1e-9:
                best = (fit, i, j + 1)
    if best is None:
        return None
    _, i, j = best
    n_in, x_in = sum(customers[i:j]), sum(positive[i:j])
    interval = newcombe_difference(x_in, n_in, reached_x - x_in, reached_n - n_in)
    curve = tuple(Bin(k * width, (k + 1) * width, customers[k], positive[k]) for k in range(n_bins))
    inside_rows = [r for r in rows if r.delay_ms is not None and i * width <= r.delay_ms < j * width]
    outside_rows = [r for r in rows if r.delay_ms is not None and not i * width <= r.delay_ms < j * width]
    return TimingWindow(
        i * width, j * width, (n_in, x_in), (reached_n - n_in, reached_x - x_in), (none_n, none_x),
        x_in / n_in - (reached_x - x_in) / (reached_n - n_in), interval, curve, _balance(inside_rows, outside_rows),
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
