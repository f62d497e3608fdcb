"""Stage two's parsimony: a step that adds nothing to a shorter moment does not take its place."""

from __future__ import annotations

from momentstream.discovery.mining import Candidate
from momentstream.discovery.scan import MomentCounts, ScanResult
from momentstream.discovery.verify import candidate_spec, findings, names_for, parents_of

H = 3_600_000


def _token(kind: str) -> tuple[str, str, None]:
    return (kind, "", None)


def _candidate(*kinds: str, silence: int | None = None) -> Candidate:
    return Candidate(tuple(_token(k) for k in kinds), tuple(24 * H for _ in kinds[1:]), silence)


def _found(counts: dict[tuple[str, ...], MomentCounts]) -> list[tuple[str, ...]]:
    """The significant sequences, best first, after folding."""
    candidates = [_candidate(*kinds) for kinds in counts]
    specs = [candidate_spec(c, n, None) for c, n in zip(candidates, names_for(candidates, "c"), strict=True)]
    result = ScanResult(counts={s.name: counts[tuple(t[0] for t in c.tokens)]
                                for s, c in zip(specs, candidates, strict=True)})  # fmt: skip
    return [tuple(t[0] for t in f.candidate.tokens) for f in findings(len(specs), candidates, specs, result, 0.05)
            if f.significant]  # fmt: skip


def test_a_step_that_adds_no_lift_is_folded_into_the_shorter_moment() -> None:
    found = _found({
        ("noise", "trial", "feature"): MomentCounts(fired=600, positive=150, rest=3400, rest_positive=340),
        ("trial", "feature"): MomentCounts(fired=1900, positive=460, rest=2100, rest_positive=210),
    })  # fmt: skip
    assert found == [("trial", "feature")]


def test_a_step_that_makes_the_effect_stronger_stays() -> None:
    found = _found({
        ("ticket", "trial", "feature"): MomentCounts(fired=600, positive=300, rest=3400, rest_positive=340),
        ("trial", "feature"): MomentCounts(fired=1900, positive=460, rest=2100, rest_positive=210),
    })  # fmt: skip
    assert found == [("ticket", "trial", "feature"), ("trial", "feature")]  # the stronger, longer one first


def test_an_insignificant_shorter_moment_absorbs_nothing() -> None:
    found = _found({
        ("noise", "trial", "feature"): MomentCounts(fired=600, positive=150, rest=3400, rest_positive=340),
        ("trial", "feature"): MomentCounts(fired=1900, positive=200, rest=2100, rest_positive=210),
    })  # fmt: skip
    assert found == [("noise", "trial", "feature")]


def test_parents_are_the_sequence_without_its_silence_first_or_last_step() -> None:
    longer = _candidate("a", "b", "c", silence=3 * H)
    parents = {(tuple(t[0] for t in p.tokens), p.gaps_ms, p.silence_ms) for p in parents_of([longer])}
    assert parents == {
        (("a", "b", "c"), (24 * H, 24 * H), None),
        (("a", "b"), (24 * H,), None),
        (("b", "c"), (24 * H,), None),
    }
    assert parents_of([_candidate("a", "b"), _candidate("a", "b", "c")]) == [_candidate("b", "c")]


def test_a_longer_moment_with_better_evidence_is_kept_after_the_shorter_one() -> None:
    """Barely a higher rate than its last two steps, but far more certain: kept, listed after them."""
    found = _found({
        ("sign", "trial", "feature"): MomentCounts(fired=430, positive=150, rest=3570, rest_positive=200),
        ("trial", "feature"): MomentCounts(fired=500, positive=150, rest=3500, rest_positive=290),
    })  # fmt: skip
    assert found == [("trial", "feature"), ("sign", "trial", "feature")]
