"""A deliberately naive reference matcher for the property test of the NFA.

It enumerates every assignment of events to steps and checks the declarative rules of
``momentstream.patterns.nfa`` one by one; then applies the skip strategy as the NFA docs
describe. Exponential, and only meant for sequences of a handful of events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class RefGroup:
    types: frozenset[str]
    contiguity: str
    min_times: int
    max_times: int | None
    consecutive: bool
    within: int | None
    absence_before: frozenset[str]  # types that may not occur between the previous group and this one


@dataclass(frozen=True)
class RefPattern:
    groups: tuple[RefGroup, ...]
    within: int | None
    skip: str


Assignment = tuple[tuple[int, int], ...]  # (event index, group)


def _assignments(pattern: RefPattern, n_events: int, last: int) -> Iterator[Assignment]:
    """Every increasing assignment of events <= last to non-decreasing groups, ending at ``last``."""
    groups = len(pattern.groups)

    def extend(prefix: Assignment) -> Iterator[Assignment]:
        if prefix and prefix[-1][0] == last:
            yield prefix
            return
        start = prefix[-1][0] + 1 if prefix else 0
        low_group = prefix[-1][1] if prefix else 0
        for idx in range(start, last + 1):
            for g in range(low_group, groups):
                yield from extend((*prefix, (idx, g)))

    yield from extend(())


def _valid(pattern: RefPattern, types: list[str], times: list[int], a: Assignment) -> bool:
    groups = pattern.groups
    counts = [0] * len(groups)
    for idx, g in a:
        if types[idx] not in groups[g].types:
            return False
        counts[g] += 1
    for g, group in enumerate(groups):
        if counts[g] < group.min_times or (group.max_times is not None and counts[g] > group.max_times):
            return False
    # the match must reach the last mandatory group and start at its first used group
    first_group, last_group = a[0][1], a[-1][1]
    if any(groups[g].min_times > 0 for g in range(first_group)):
        return False
    if any(groups[g].min_times > 0 for g in range(last_group + 1, len(groups))):
        return False
    for (i, g), (j, h) in pairwise(a):
        between = range(i + 1, j)
        if g == h:
            if groups[g].consecutive:
                if j != i + 1:
                    return False
            elif any(types[t] in groups[g].types for t in between):
                return False
            continue
        target = groups[h]
        if target.contiguity == "next" and j != i + 1:
            return False
        if target.contiguity == "followed_by" and any(types[t] in target.types for t in between):
            return False
        crossed: set[str] = set()
        for k in range(g + 1, h + 1):
            crossed |= groups[k].absence_before
        if any(types[t] in crossed for t in between):
            return False
        if target.within is not None and times[j] - times[i] > target.within:
            return False
    return not (pattern.within is not None and times[a[-1][0]] - times[a[0][0]] > pattern.within)


def reference_matches(pattern: RefPattern, types: list[str], times: list[int]) -> list[Assignment]:
    """Matches in the order they are reported, after the skip strategy."""
    reported: list[Assignment] = []
    floor = -1
    banned: set[int] = set()
    for last in range(len(types)):
        found = [a for a in _assignments(pattern, len(types), last) if _valid(pattern, types, times, a)]
        found.sort(key=lambda a: (a[0][0], tuple(i for i, _ in a), tuple(g for _, g in a)))
        for a in found:
            start = a[0][0]
            if pattern.skip == "skip_past_last_event":
                if start <= floor:
                    continue
                floor = last
            elif pattern.skip == "skip_to_next":
                if start in banned:
                    continue
                banned.add(start)
            reported.append(a)
    return reported
