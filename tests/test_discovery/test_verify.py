"""Stage two's parsimony: a step that adds nothing to a shorter moment does not take its place."""

from __future__ import annotations

from momentstream.discovery.mining import Candidate
from momentstream.discovery.scan import MomentCounts, ScanResult
from momentstream.discovery.tokens import threshold_token
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


def _shapes_found(entries: list[tuple[Candidate, MomentCounts]]) -> list[Candidate]:
    """The significant candidates, best first, after folding."""
    candidates = [c for c, _ in entries]
    specs = [candidate_spec(c, n, None) for c, n in zip(candidates, names_for(candidates, "c"), strict=True)]
    result = ScanResult(counts={s.name: counts for s, (_, counts) in zip(specs, entries, strict=True)})
    return [f.candidate for f in findings(len(specs), candidates, specs, result, 0.05) if f.significant]


_SET = Candidate(tuple(_token(k) for k in "abcde"), (7 * 24 * H,), at_least=3)


def test_an_order_of_a_k_of_n_sets_indicators_is_folded_into_the_set() -> None:
    pair = _candidate("a", "b")
    found = _shapes_found([
        (_SET, MomentCounts(fired=900, positive=400, rest=3100, rest_positive=300)),
        (pair, MomentCounts(fired=250, positive=100, rest=3750, rest_positive=600)),
    ])  # fmt: skip
    assert found == [_SET]


def test_a_stronger_order_is_not_folded_into_the_set() -> None:
    pair = _candidate("a", "b")
    found = _shapes_found([
        (_SET, MomentCounts(fired=900, positive=400, rest=3100, rest_positive=300)),
        (pair, MomentCounts(fired=250, positive=200, rest=3750, rest_positive=600)),
    ])  # fmt: skip
    assert set(found) == {_SET, pair}


def test_a_pair_set_gives_way_to_the_one_order_that_carries_it() -> None:
    """2 of {a, b} fires for a -> b (the effect) and for b -> a (nothing): the order is the moment."""
    both = Candidate((_token("a"), _token("b")), (24 * H,), at_least=2)
    order = _candidate("a", "b")
    found = _shapes_found([
        (both, MomentCounts(fired=1200, positive=420, rest=2800, rest_positive=280)),
        (order, MomentCounts(fired=700, positive=360, rest=3300, rest_positive=340)),
    ])  # fmt: skip
    assert found == [order]


def test_a_pair_set_stays_when_both_orders_carry_it() -> None:
    both = Candidate((_token("a"), _token("b")), (24 * H,), at_least=2)
    order = _candidate("a", "b")
    found = _shapes_found([
        (both, MomentCounts(fired=1400, positive=700, rest=2600, rest_positive=260)),
        (order, MomentCounts(fired=700, positive=350, rest=3300, rest_positive=610)),
    ])  # fmt: skip
    assert found == [both]


def test_the_same_sequence_at_another_threshold_is_one_moment() -> None:
    hundred = Candidate((_token("ticket"), threshold_token("purchase", "value", 100)), (24 * H,))
    fifty = Candidate((_token("ticket"), threshold_token("purchase", "value", 50)), (24 * H,))
    found = _shapes_found([
        (hundred, MomentCounts(fired=300, positive=150, rest=3700, rest_positive=370)),
        (fifty, MomentCounts(fired=600, positive=200, rest=3400, rest_positive=320)),
    ])  # fmt: skip
    assert found == [hundred]


def test_a_k_of_n_set_is_counted_beside_its_variants_and_orders() -> None:
    pair_set = Candidate((_token("a"), _token("b")), (24 * H,), at_least=2)
    variants = parents_of([pair_set, _SET])
    assert Candidate((_token("a"), _token("b")), (24 * H,)) in variants  # each order alone
    assert Candidate((_token("b"), _token("a")), (24 * H,)) in variants
    assert Candidate(_SET.tokens, (3 * 24 * H,), at_least=3) in variants  # another window
    assert Candidate(_SET.tokens[1:], _SET.gaps_ms, at_least=3) in variants  # one indicator left out
