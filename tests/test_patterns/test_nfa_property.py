"""Property test: the compiled NFA reports exactly what the brute-force reference reports."""

from __future__ import annotations

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
    return RefGroup(
        types=draw(type_sets),
        contiguity=draw(st.sampled_from(["next", "followed_by", "followed_by_any"])),
        min_times=low,
        max_times=high,
        consecutive=draw(st.booleans()),
        within=draw(st.one_of(st.none(), st.integers(1, 4))),
        absence_before=frozenset(),
    )


@st.composite
def patterns(draw: st.DrawFn) -> RefPattern:
    gs = draw(st.lists(groups(), min_size=1, max_size=3))
    if all(g.min_times == 0 for g in gs):
        first = gs[0]
        gs[0] = RefGroup(first.types, first.contiguity, 1, first.max_times or 1, first.consecutive,
                         first.within, first.absence_before)  # fmt: skip
    for i in range(1, len(gs)):
        if gs[i].min_times > 0 and draw(st.integers(0, 3)) == 0:
            g = gs[i]
            gs[i] = RefGroup(g.types, g.contiguity, g.min_times, g.max_times, g.consecutive, g.within,
                             draw(type_sets))  # fmt: skip
    return RefPattern(tuple(gs), draw(st.one_of(st.none(), st.integers(1, 8))),
                      draw(st.sampled_from(["no_skip", "skip_to_next", "skip_past_last_event"])))  # fmt: skip


def to_spec(p: RefPattern) -> MomentSpec:
    steps: list[Step] = []
    for i, g in enumerate(p.groups):
        if g.absence_before:
            steps.append(AbsentStep(f"not_{i}", {"type": sorted(g.absence_before)}))
        steps.append(EventStep(f"g{i}", {"type": sorted(g.types)}, g.contiguity,  # type: ignore[arg-type]
                               g.min_times, g.max_times, g.consecutive,
                               None if g.within is None else g.within * 60_000))  # fmt: skip
    within = None if p.within is None else p.within * 60_000
    return MomentSpec("prop", tuple(steps), within_ms=within, skip=p.skip,  # type: ignore[arg-type]
                      max_partial_matches=10_000)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
