"""Stage one's other shapes: k-of-n sets, absences and thresholds, found where they hold, counted as the engine
counts them."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime

from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine
from momentstream.core.schema import TouchpointEvent, Trigger
from momentstream.discovery.candidate import Candidate, CustomerSample, MiningOptions, Scorer
from momentstream.discovery.moments_file import spec_mapping
from momentstream.discovery.outcome import Outcome, parse_where
from momentstream.discovery.shapes import _cuts, _without, absences, earliest_by_count, nice_between, nice_floor, sets
from momentstream.discovery.tokens import event_numbers, event_tokens, threshold_token, token_name, token_where
from momentstream.discovery.verify import candidate_spec, describe, names_for
from momentstream.patterns.dsl import spec_from_mapping
from momentstream.patterns.nfa import compile_moment
from momentstream.patterns.predicates import compile_predicate

H = 3_600_000
D = 24 * H
T0 = to_ms(datetime(2026, 1, 5, tzinfo=UTC))
KINDS = ("a", "b", "c", "d", "e")


def _tok(kind: str) -> tuple[str, str, None]:
    return (kind, "", None)


def _events(rng: random.Random, customer: str, n: int) -> list[TouchpointEvent]:
    times = sorted(T0 + rng.randrange(0, 40) * 6 * H for _ in range(n))  # 6-hour steps: edges are met exactly
    return [TouchpointEvent.model_validate({"event_id": f"{customer}-{i}", "customer_id": customer,
                                            "type": rng.choice(KINDS), "ts": datetime.fromtimestamp(t / 1000, UTC)})
            for i, t in enumerate(times)]  # fmt: skip


def _sample(events: list[TouchpointEvent]) -> CustomerSample:
    by_token: dict[tuple[str, str, object], list[int]] = {}
    for e in events:
        for token in event_tokens(e):
            by_token.setdefault(token, []).append(to_ms(e.ts))
    return CustomerSample(events[0].customer_id, by_token, [to_ms(e.ts) for e in events], [], None, None)


def _first_trigger(candidate: Candidate, events: list[TouchpointEvent], until: int) -> int | None:
    engine = Engine([compile_moment(candidate_spec(candidate, "m", None))])
    state = engine.new_state(events[0].customer_id)
    outputs = [o for e in events for o in engine.on_event(state, e).outputs]
    outputs += engine.on_tick(state, until, final=True).outputs
    times = [to_ms(o.emitted_at) for o in outputs if isinstance(o, Trigger)]
    return min(times) if times else None


def test_the_search_counts_a_k_of_n_set_as_the_engine_does() -> None:
    """Random histories: the first time stage one says 2 or 3 of {a, b, c} held within a day is the time the
    engine's at_least moment first fires (or neither fires), edges included."""
    rng = random.Random(7)
    tokens = (_tok("a"), _tok("b"), _tok("c"))
    for i in range(300):
        events = _events(rng, f"c{i}", rng.randint(1, 12))
        by_count = earliest_by_count([_sample(events)], tokens, D)
        for k in (2, 3):
            expected = _first_trigger(Candidate(tokens, (D,), at_least=k), events, T0 + 30 * D)
            assert by_count[k - 1].get(0) == expected, (i, k)


def test_the_search_counts_an_absence_as_the_engine_does() -> None:
    rng = random.Random(11)
    for i in range(60):
        events = _events(rng, f"c{i}", rng.randint(1, 12))
        fired = _without([_sample(events)], _tok("a"), _tok("b"), D, T0 + 30 * D)
        expected = _first_trigger(Candidate((_tok("a"),), (), D, absent=_tok("b")), events, T0 + 30 * D)
        assert fired.get(0) == expected, i


def _labelled(rng: random.Random, n: int,
              effect: Callable[[CustomerSample], int | None]) -> tuple[list[CustomerSample], Scorer]:  # fmt: skip
    """Customers with random a..e events; the outcome (an ``o`` a day later) follows when ``effect(sample)`` gives
    a time, with 80% chance (else at a random time with 5% chance); the reference time at rest is random."""
    samples = []
    end = T0 + 60 * D
    where, predicate = parse_where("o", "--outcome")
    outcome = Outcome(where, predicate, 14 * D)
    for i in range(n):
        sample = _sample(_events(rng, f"c{i}", rng.randint(2, 10)))
        hit = effect(sample)
        if hit is not None and rng.random() < 0.8:
            sample.outcomes = [hit + D]
        elif rng.random() < 0.05:
            sample.outcomes = [T0 + rng.randrange(0, 40 * D)]
        sample.reference = T0 + rng.randrange(0, 40 * D)
        sample.reference_label = outcome.label(sample.outcomes, sample.reference, end)
        samples.append(sample)
    return samples, Scorer(samples, outcome, end)


def test_a_three_of_four_effect_is_found_as_one_set_not_as_pairs() -> None:
    rng = random.Random(3)
    wanted = (_tok("a"), _tok("b"), _tok("c"), _tok("d"))

    def effect(s: CustomerSample) -> int | None:
        return earliest_by_count([s], wanted, 7 * D)[2].get(0)

    samples, scorer = _labelled(rng, 1500, effect)
    pairs = []
    for x in wanted:
        for y in wanted:
            if x != y:
                fired = {i: t for i, s in enumerate(samples) if (t := _pair(s, x, y)) is not None}
                counts, p, bits = scorer.score(fired)
                pairs.append(Candidate((x, y), (7 * D,), None, counts, p, members=bits))
    pairs.sort(key=lambda c: c.p_value)
    found = sorted(sets(scorer, pairs, MiningOptions(min_support=20)), key=lambda c: c.p_value)
    assert found, "no set was scored"
    best = found[0]
    assert (set(best.tokens), best.at_least) == (set(wanted), 3), describe(best)
    assert best.p_value < min(c.p_value for c in pairs)


def _pair(s: CustomerSample, x: tuple[str, str, None], y: tuple[str, str, None]) -> int | None:
    for t in s.by_token.get(x, []):
        later = [u for u in s.by_token.get(y, []) if t < u <= t + 7 * D]
        if later:
            return later[0]
    return None


def test_a_set_is_never_made_of_the_outcome_itself() -> None:
    rng = random.Random(5)
    _samples, scorer = _labelled(rng, 600, lambda s: None)
    o = _tok("o")
    pairs = [Candidate((o, _tok("a")), (D,), None, (100, 90, 500, 10), 1e-30),
             Candidate((_tok("a"), o), (D,), None, (100, 90, 500, 10), 1e-30)]  # fmt: skip
    assert sets(scorer, pairs, MiningOptions(min_support=5)) == []


def test_an_absence_is_found_where_the_missing_event_is_what_matters() -> None:
    """After ``a``, customers who did not ``b`` within 12h reach the outcome; those who did, do not."""
    rng = random.Random(9)

    def effect(s: CustomerSample) -> int | None:
        for t in s.by_token.get(_tok("a"), [])[:1]:
            if not any(t < u <= t + 12 * H for u in s.by_token.get(_tok("b"), [])):
                return t + 12 * H
        return None

    _samples, scorer = _labelled(rng, 1500, effect)
    found = sorted(absences(scorer, [_tok(k) for k in KINDS], MiningOptions(min_support=20)),
                   key=lambda c: c.p_value)  # fmt: skip
    assert found
    best = found[0]
    assert (best.tokens, best.absent) == ((_tok("a"),), _tok("b")), describe(best)
    assert best.silence_ms is not None
    assert 6 * H <= best.silence_ms <= D


def test_shapes_turn_into_moments_the_file_format_reads_back() -> None:
    s = Candidate((_tok("a"), _tok("b"), _tok("c")), (7 * D,), at_least=2)
    a = Candidate((_tok("cart"),), (), 12 * H, absent=_tok("purchase"))
    v = Candidate((_tok("ticket"), threshold_token("purchase", "value", 100)), (D,))
    assert describe(s) == "at least 2 of {a, b, c} within 7d"
    assert describe(a) == "cart -> no purchase for 12h"
    assert describe(v) == "ticket -> purchase[value>=100] (within 1d)"
    assert names_for([s, a, v]) == ["d01_2_of_a_b_c", "d02_cart_no_purchase", "d03_ticket_purchase_value_100"]
    for c, name in zip([s, a, v], names_for([s, a, v]), strict=True):
        spec = candidate_spec(c, name, None)
        assert spec_from_mapping(spec_mapping(spec)).steps == spec.steps


def test_a_threshold_token_matches_what_its_name_says() -> None:
    token = threshold_token("purchase", "value", 100)
    predicate = compile_predicate(token_where(token))
    event = {"event_id": "e", "customer_id": "c", "type": "purchase", "ts": "2026-01-05T00:00:00Z"}
    assert predicate(TouchpointEvent.model_validate({**event, "value": 100}))
    assert not predicate(TouchpointEvent.model_validate({**event, "value": 99.5}))
    assert token_name(threshold_token("order", "order_number", 3)) == "order[order_number>=3]"
    by_property = compile_predicate(token_where(threshold_token("order", "order_number", 3)))
    assert by_property(TouchpointEvent.model_validate({**event, "type": "order", "properties": {"order_number": 4}}))


def test_thresholds_are_round_numbers_a_person_would_write() -> None:
    assert [nice_floor(x) for x in (0.07, 9.99, 10.0, 249.0, 1e6)] == [0.05, 5.0, 10.0, 200.0, 1e6]
    assert nice_between(12.0, 130.0) == [20.0, 25.0, 50.0, 100.0]
    assert nice_between(5.0, 5.0) == []
    assert nice_between(-3.0, 0.0) == []


def test_a_count_gets_whole_thresholds() -> None:
    """CDNOW's ``cds`` (CDs per order) is a count: "2.5 CDs or more" would read as nonsense."""
    rng = random.Random(2)
    sample = CustomerSample("c", {}, [], [], None, None)
    sample.numbers[("purchase", "cds")] = [(i, float(rng.choice([1, 1, 1, 2, 2, 3, 4, 6]))) for i in range(400)]
    sample.numbers[("purchase", "value")] = [(i, rng.uniform(5, 300)) for i in range(400)]
    cuts = _cuts([sample], "purchase")
    assert cuts["cds"]
    assert all(c.is_integer() for c in cuts["cds"])
    assert cuts["value"]  # amounts keep their round numbers (2.5 x 10^n among them when in range)


def test_hostile_numbers_give_sane_thresholds_or_none() -> None:
    """Flags are no numbers; amounts near the schema's bound, negatives and a single value give round cuts or none."""
    event = {"event_id": "e", "customer_id": "c", "type": "purchase", "ts": "2026-01-05T00:00:00Z"}
    flagged = TouchpointEvent.model_validate({**event, "value": 1e15, "properties": {"gift": True, "n": -3}})
    assert list(event_numbers(flagged)) == [("value", 1e15), ("n", -3.0)]
    sample = CustomerSample("c", {}, [], [], None, None)
    sample.numbers[("purchase", "value")] = [(i, 10 ** (i / 10)) for i in range(151)]  # 1 to 1e15
    sample.numbers[("purchase", "refund")] = [(i, -float(i)) for i in range(100)]
    sample.numbers[("purchase", "same")] = [(i, 7.0) for i in range(100)]
    cuts = _cuts([sample], "purchase")
    assert cuts["value"]
    assert all(math.isfinite(c) and c > 0 for c in cuts["value"])
    assert "refund" not in cuts  # nothing above zero to cut at
    assert "same" not in cuts  # one value: no threshold separates anything
