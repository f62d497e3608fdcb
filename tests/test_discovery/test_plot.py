"""The delay curve's points carry evidence: bins pooled until each holds enough customers."""

from __future__ import annotations

import itertools
import random

from momentstream.discovery.plot import MIN_BIN_CUSTOMERS, pooled
from momentstream.discovery.timing import Bin

H = 3_600_000


def test_pooled_bins_each_carry_enough_customers_and_lose_none() -> None:
    rng = random.Random(4)
    for _ in range(200):
        curve = []
        for h in range(rng.randint(1, 80)):
            n = rng.randint(0, 12)
            curve.append(Bin(h * H, (h + 1) * H, n, rng.randint(0, n)))
        bins = pooled(tuple(curve))
        total = sum(b.customers for b in curve)
        assert sum(b.customers for b in bins) == total
        assert sum(b.positive for b in bins) == sum(b.positive for b in curve)
        if total >= MIN_BIN_CUSTOMERS:
            assert all(b.customers >= MIN_BIN_CUSTOMERS for b in bins)
        assert all(a.end_ms <= b.start_ms for a, b in itertools.pairwise(bins))
        if bins:
            assert bins[0].start_ms == curve[0].start_ms or curve[0].customers == 0
            assert all(b.customers == 0 for b in curve if b.start_ms >= bins[-1].end_ms)  # only empty ones left
