"""Property test: the compiled NFA reports exactly what the brute-force reference reports."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from momentstream.patterns.nfa import compile_moment
from momentstream.patterns.spec import AbsentStep, EventStep, MomentSpec, Step
from tests.helpers import event, run, triggers
from tests.test_patterns.brute_force import RefGroup, RefPattern, reference_matches

ALPHABET = ["a", "b", "c"]
QUANTIFIERS = [(1, 1), (0, 1), (1, None), (2, 2), (1, 2), (0, None), (2, None)]

type_sets = st.sets(st.sampled_from(ALPHABET), min_size=1, max_size=2).map(frozenset)


@st.composite
def groups(draw: st.DrawFn) -> RefGroup:
    low, high = draw(st.sampled_from(QUANTIFIERS))
    optional = low >= 2 and draw(st.integers(0, 2)) == 0  # Flink's times(2).optional(): none or two
    consecutive = draw(st.booleans())
    repeats = high is None or high > 1
    return RefGroup(
        types=draw(type_sets),
        contiguity=draw(st.sampled_from(["next", "followed_by", "followed_by_any"])),
        min_times=low,
        max_times=high,
        consecutive=consecutive,
        within=draw(st.one_of(st.none(), st.integers(1, 4))),
        absence_before=frozenset(),
        until=draw(type_sets) if high is None and draw(st.integers(0, 3)) == 0 else frozenset(),
        combinations=repeats and not consecutive and draw(st.integers(0, 3)) == 0,
        optional=optional,
    )


@st.composite
def patterns(draw: st.DrawFn) -> RefPattern:
    gs = draw(st.lists(groups(), min_size=1, max_size=3))
    if all(g.skippable for g in gs):
        first = gs[0]
        gs[0] = (replace(first, optional=False) if first.optional else
                 RefGroup(first.types, first.contiguity, 1, first.max_times or 1, first.consecutive, first.within,
                          first.absence_before))  # fmt: skip
    for i in range(1, len(gs)):
        g = gs[i]
        if draw(st.integers(0, 3)) == 0:
            gs[i] = replace(g := gs[i], absence_before=draw(type_sets))
        if draw(st.integers(0, 4)) == 0:
            gs[i] = replace(g := gs[i], not_next_before=draw(type_sets))
        startable = all(h.skippable for h in gs[:i])
        can_end_here = all(h.skippable for h in gs[i + 1 :])  # a greedy last step is refused
        if (g.max_times is None or g.max_times > 1) and not g.combinations and not startable and not can_end_here:
            gs[i] = replace(g, greedy=draw(st.integers(0, 2)) == 0)
    skip = draw(st.sampled_from(["no_skip", "skip_to_next", "skip_past_last_event", "skip_to_first", "skip_to_last"]))
    skip_group = draw(st.integers(0, len(gs) - 1)) if skip in ("skip_to_first", "skip_to_last") else None
    return RefPattern(tuple(gs), draw(st.one_of(st.none(), st.integers(1, 8))), skip, skip_group)


def to_spec(p: RefPattern) -> MomentSpec:
    steps: list[Step] = []
    for i, g in enumerate(p.groups):
        if g.absence_before:
            steps.append(AbsentStep(f"not_{i}", {"type": sorted(g.absence_before)}))
        if g.not_next_before:
            steps.append(AbsentStep(f"not_next_{i}", {"type": sorted(g.not_next_before)}, immediately=True))
        steps.append(EventStep(f"g{i}", {"type": sorted(g.types)}, g.contiguity,  # type: ignore[arg-type]
                               g.min_times, g.max_times, g.consecutive,
                               None if g.within is None else g.within * 60_000,
                               until={"type": sorted(g.until)} if g.until else None, greedy=g.greedy,
                               combinations=g.combinations, optional=g.optional))  # fmt: skip
    within = None if p.within is None else p.within * 60_000
    skip_step = None if p.skip_group is None else f"g{p.skip_group}"
    return MomentSpec("prop", tuple(steps), within_ms=within, skip=p.skip,  # type: ignore[arg-type]
                      skip_step=skip_step, max_partial_matches=10_000)  # fmt: skip


@settings(max_examples=900, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pattern=patterns(),
    sequence=st.lists(st.tuples(st.sampled_from(ALPHABET), st.integers(0, 2)), max_size=7),
)
def test_nfa_agrees_with_brute_force(pattern: RefPattern, sequence: list[tuple[str, int]]) -> None:
    moment = compile_moment(to_spec(pattern))
    types = [kind for kind, _ in sequence]
    times = []
    clock = 0
    for _, gap in sequence:
        clock += gap
        times.append(clock)
    stream = [event(f"e{i}", kind, minutes) for i, (kind, minutes) in enumerate(zip(types, times, strict=True))]
    got = [tuple((int(e.event_id[1:]), int(e.step[1:])) for e in t.evidence) for t in triggers(run(moment, stream))]
    expected = reference_matches(pattern, types, times)
    assert got == expected
