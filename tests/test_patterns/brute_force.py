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
    not_next_before: frozenset[str] = frozenset()  # types the event right after the previous group may not have
    until: frozenset[str] = frozenset()  # a looping group takes no event from the first of these on
    greedy: bool = False
    combinations: bool = False
    optional: bool = False  # none, or min_times..max_times events

    @property
    def skippable(self) -> bool:
        return self.optional or self.min_times == 0


@dataclass(frozen=True)
class RefPattern:
    groups: tuple[RefGroup, ...]
    within: int | None
    skip: str
    skip_group: int | None = None  # for skip_to_first / skip_to_last


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
        if group.optional and counts[g] == 0:
            continue
        if counts[g] < group.min_times or (group.max_times is not None and counts[g] > group.max_times):
            return False
    # the match must reach the last mandatory group and start at its first used group
    first_group, last_group = a[0][1], a[-1][1]
    if any(not groups[g].skippable for g in range(first_group)):
        return False
    if any(not groups[g].skippable for g in range(last_group + 1, len(groups))):
        return False
    if not _until_holds(groups, types, a):
        return False
    for (i, g), (j, h) in pairwise(a):
        between = range(i + 1, j)
        if g == h:
            if groups[g].consecutive:
                if j != i + 1:
                    return False
            elif not groups[g].combinations and any(types[t] in groups[g].types for t in between):
                return False
            continue
        if _greedy_blocks(pattern, types, times, counts, (i, g), (j, h)):
            return False
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
        crossed_next: set[str] = set()
        for k in range(g + 1, h + 1):
            crossed_next |= groups[k].not_next_before
        if types[i + 1] in crossed_next:  # the event right after i (j itself when adjacent)
            return False
        if target.within is not None and times[j] - times[i] > target.within:
            return False
    return not (pattern.within is not None and times[a[-1][0]] - times[a[0][0]] > pattern.within)


def _until_holds(groups: tuple[RefGroup, ...], types: list[str], a: Assignment) -> bool:
    """A looping group takes no event at or after the first ``until`` event since its entry (the previous
    matched event; the group's own first event when it begins the match)."""
    for g, group in enumerate(groups):
        if not group.until:
            continue
        taken = [n for n, (_, h) in enumerate(a) if h == g]
        if not taken:
            continue
        entry = a[taken[0] - 1][0] if taken[0] > 0 else a[taken[0]][0]
        for n in taken:
            idx = a[n][0]
            if idx != entry and any(types[t] in group.until for t in range(entry + 1, idx + 1)):
                return False
    return True


def _greedy_blocks(pattern: RefPattern, types: list[str], times: list[int], counts: list[int],
                   left: tuple[int, int], arrived: tuple[int, int]) -> bool:  # fmt: skip
    """Moving from event i (group g) to event j (group h): a greedy group k in [g, h) that could have taken an
    event t in (i, j] forbids it (k == g: one more repeat; k > g: a skipped optional group's first event)."""
    (i, g), (j, h) = left, arrived
    groups = pattern.groups
    for k in range(g, h):
        group = groups[k]
        if not group.greedy:
            continue
        if k == g and group.max_times is not None and counts[g] >= group.max_times:
            continue
        for t in range(i + 1, j + 1):
            if any(types[u] in group.until for u in range(i + 1, t + 1)):
                break  # stopped: it takes nothing from here on
            if types[t] not in group.types:
                continue
            strict = group.consecutive if k == g else group.contiguity == "next"
            if strict and t != i + 1:
                break
            if k > g and group.within is not None and times[t] - times[i] > group.within:
                continue
            return True
    return False


def reference_matches(pattern: RefPattern, types: list[str], times: list[int]) -> list[Assignment]:
    """Matches in the order they are reported, after the skip strategy."""
    reported: list[Assignment] = []
    floor = -1
    banned: set[int] = set()
    skip_floor = -1
    for last in range(len(types)):
        found = [a for a in _assignments(pattern, len(types), last) if _valid(pattern, types, times, a)]
        found.sort(key=lambda a: (a[0][0], tuple(i for i, _ in a), tuple(g for _, g in a)))
        for a in found:
            start = a[0][0]
            if pattern.skip in ("skip_to_first", "skip_to_last"):
                if start < skip_floor:
                    continue
                at_step = [idx for idx, g in a if g == pattern.skip_group]
                if at_step:
                    skip_floor = max(skip_floor, at_step[0] if pattern.skip == "skip_to_first" else at_step[-1])
            elif pattern.skip == "skip_past_last_event":
                if start <= floor:
                    continue
                floor = last
            elif pattern.skip == "skip_to_next":
                if start in banned:
                    continue
                banned.add(start)
            reported.append(a)
    return reported
