"""Greedy chains: how stage one follows a sequence through a sampled customer's token times.

Per customer, one chain per occurrence of the first token (up to :data:`MAX_STARTS`), each taking
the earliest next token within the gap: a later one could only complete later, never earlier.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from momentstream.discovery.candidate import CustomerSample, round_up_duration
from momentstream.discovery.tokens import Token

__all__ = [
    "MAX_STARTS",
    "Chains",
    "completions",
    "extend",
    "learned_gaps",
    "quiet_after",
    "silenced",
    "starts",
    "tightened",
]

Chains = dict[int, list[tuple[int, tuple[int, ...]]]]
"""Per sampled customer: one greedy chain (end time, gaps) per occurrence of the first token, in order."""
MAX_STARTS = 64


def extend(samples: Sequence[CustomerSample], chains: Chains, token: Token, max_gap_ms: int) -> Chains:
    """Chains that continue with ``token`` within the gap (the earliest such event: any later one
    could only make a later, never an earlier, completion)."""
    out: Chains = {}
    for index, ends in chains.items():
        times = samples[index].by_token.get(token)
        if not times:
            continue
        longer = []
        for end, gaps in ends:
            i = bisect.bisect_right(times, end)
            if i < len(times) and times[i] - end <= max_gap_ms:
                longer.append((times[i], (*gaps, times[i] - end)))
        if longer:
            out[index] = longer
    return out


def starts(samples: Sequence[CustomerSample], token: Token) -> Chains:
    return {i: [(t, ()) for t in s.by_token[token][:MAX_STARTS]] for i, s in enumerate(samples) if token in s.by_token}


def completions(chains: Chains) -> dict[int, tuple[int, tuple[int, ...]]]:
    """Each customer's earliest completion (greedy chains from later starts end no earlier)."""
    return {i: min(ends) for i, ends in chains.items()}


def tightened(chains: Chains, limits: tuple[int, ...]) -> Chains:
    """The chains whose every gap is within ``limits``: exactly the greedy chains under those limits."""
    out: Chains = {}
    for index, ends in chains.items():
        kept = [(e, g) for e, g in ends if all(x <= y for x, y in zip(g, limits, strict=True))]
        if kept:
            out[index] = kept
    return out


def learned_gaps(firsts: dict[int, tuple[int, tuple[int, ...]]], steps: int, max_gap_ms: int,
                  resolution_ms: int = 1) -> tuple[int, ...]:  # fmt: skip
    """Per transition: the 95th percentile of the given chains' gaps, rounded up to a human unit (no finer than
    the history's time resolution)."""
    learned = []
    for k in range(steps - 1):
        gaps = sorted(g[k] for _, g in firsts.values())
        q95 = gaps[min(len(gaps) - 1, int(0.95 * len(gaps)))] if gaps else max_gap_ms
        learned.append(min(max_gap_ms, round_up_duration(max(q95, resolution_ms, 1))))
    return tuple(learned)


def silenced(samples: Sequence[CustomerSample], chains: Chains, silence_ms: int, end_ms: int) -> dict[int, int]:
    """Customers with no activity for ``silence_ms`` after one of their chains: earliest completion."""
    out = {}
    for index, ends in chains.items():
        done = quiet_after((end for end, _ in ends), samples[index].activity, silence_ms, end_ms)
        if done is not None:
            out[index] = done
    return out


def quiet_after(starts: Iterable[int], blockers: list[int], quiet_ms: int, end_ms: int) -> int | None:
    """The first start (in time order) followed by none of ``blockers`` (sorted) for ``quiet_ms``: the time that
    became known; None if none did before ``end_ms``.

    >>> quiet_after([0, 10, 40], [5, 20], 15, 100)
    55
    """
    for start in starts:
        done = start + quiet_ms
        if done > end_ms:
            return None
        i = bisect.bisect_right(blockers, start)
        if i == len(blockers) or blockers[i] > done:
            return done
    return None
