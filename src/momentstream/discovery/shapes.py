"""Stage one's other shapes: what ordered sequences cannot say.

* **k-of-n sets.** "Any 3 of these 5 features within 7 days" shows up as many ordered pairs, each
  catching a fraction of the customers; when a pair holds in both orders the order does not matter.
  Sets grow from the best pairs one token at a time (a small beam), each tried for every k and a
  few windows, and are written as ``at_least`` moments.
* **Absences.** "A, then no B for 24h" (a cart not followed by a purchase): for the few events after
  which the outcome is likeliest, every other event as what must not follow.
* **Thresholds.** "A purchase of 100 or more", "a third order or later": the bare event types of the
  best sequences refined by ``value`` or a numeric property, at the round numbers between its median
  and its 99th percentile.

Everything here is scored like the sequences, on the search's customers only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from momentstream.discovery.candidate import SILENCES_MS, Candidate, CustomerSample, MiningOptions, Scorer, raises
from momentstream.discovery.chains import MAX_STARTS, Chains, extend, quiet_after, starts
from momentstream.discovery.tokens import AT_LEAST, Token, threshold_token

__all__ = [
    "MAX_SET",
    "SET_WINDOWS_MS",
    "absences",
    "earliest_by_count",
    "nice_between",
    "nice_floor",
    "sets",
    "thresholds",
]

_D = 86_400_000
SET_WINDOWS_MS = (_D, 3 * _D, 7 * _D, 14 * _D)
"""Windows a k-of-n set is tried with (up to the longest gap the search allows)."""
MAX_SET = 6
_SET_BEAM = 5
_SEED_SETS = 10
_SEED_P = 0.05
"""A pair's order must raise the outcome at least this clearly in the sample, in both orders, to seed a set."""
_ABSENCE_FIRSTS = 5
_FIRST_PASS_MS = (6 * 3_600_000, _D, 3 * _D)


def earliest_by_count(samples: Sequence[CustomerSample], tokens: Sequence[Token],
                      within_ms: int) -> list[dict[int, int]]:  # fmt: skip
    """For k = 1..len(tokens): each customer's earliest time with at least k distinct ``tokens`` each seen within
    ``within_ms`` of it (the engine's ``at_least``: an indicator counts while its latest event is that recent).

    >>> s = CustomerSample("c", {("a", "", None): [0, 50], ("b", "", None): [40], ("c", "", None): [200]},
    ...                    [], [], None, None)
    >>> earliest_by_count([s], [("a", "", None), ("b", "", None), ("c", "", None)], 100)
    [{0: 0}, {0: 40}, {}]
    """
    out: list[dict[int, int]] = [{} for _ in tokens]
    for index, sample in enumerate(samples):
        events = sorted((t, j) for j, token in enumerate(tokens) for t in sample.by_token.get(token, ()))
        latest: dict[int, int] = {}
        reached = 0
        for ts, j in events:
            latest[j] = ts
            count = sum(1 for seen in latest.values() if seen >= ts - within_ms)
            while reached < count:
                out[reached][index] = ts
                reached += 1
            if reached == len(tokens):
                break
    return out


def sets(scorer: Scorer, pairs: Sequence[Candidate], options: MiningOptions) -> list[Candidate]:
    """k-of-n sets grown from the pairs (best first) after which the outcome is likelier.

    The seeds are the pairs that raise the outcome in both orders, taken as unordered; each round keeps the
    best few sets and adds every token seen in a good pair. Every (set, k >= 2, window) scored is returned.
    """
    # The outcome's own events are no indicators: a set holding them predicts the outcome, it is no moment.
    rising = [c for c in pairs if raises(c.counts) and not any(scorer.outcome.could_be(t) for t in c.tokens)]
    pool: list[Token] = []
    for c in rising[: 3 * options.beam]:
        pool += [t for t in c.tokens if t not in pool]
    windows = [w for w in SET_WINDOWS_MS if w <= options.max_gap_ms] or [options.max_gap_ms]
    found: dict[tuple[object, ...], Candidate] = {}
    # Seeds: pairs that hold in both orders (when only one order holds, the order is the moment).
    best_p: dict[tuple[Token, ...], float] = {}
    for c in rising:
        if c.p_value < _SEED_P:
            best_p.setdefault(c.tokens, c.p_value)
    both = {frozenset(ab): max(p, best_p[(ab[1], ab[0])]) for ab, p in best_p.items() if (ab[1], ab[0]) in best_p
            and ab[0] != ab[1]}  # fmt: skip
    frontier = sorted(both, key=lambda m: (both[m], sorted(map(str, m))))[:_SEED_SETS]
    tried: set[frozenset[Token]] = set()
    while frontier:
        best: list[tuple[float, frozenset[Token]]] = []
        for members in frontier:
            tried.add(members)
            p = _score_set(scorer, members, windows, options, found)
            if p is not None:
                best.append((p, members))
        best.sort(key=lambda item: (item[0], sorted(map(str, item[1]))))
        frontier = []
        for _, members in best[:_SET_BEAM]:
            if len(members) >= MAX_SET:
                continue
            kinds = {t[0] for t in members}
            for token in pool:
                grown = members | {token}
                if token[0] not in kinds and grown not in tried and grown not in frontier:
                    frontier.append(grown)
    return list(found.values())


def _score_set(scorer: Scorer, members: frozenset[Token], windows: Sequence[int], options: MiningOptions,
               found: dict[tuple[object, ...], Candidate]) -> float | None:  # fmt: skip
    """Score a set for every k >= 2 and window into ``found``; the best p-value among them (None: too rare)."""
    tokens = tuple(sorted(members, key=str))
    best: float | None = None
    for within in windows:
        by_count = earliest_by_count(scorer.samples, tokens, within)
        for k in range(2, len(tokens) + 1):
            fired = by_count[k - 1]
            if len(fired) < options.min_support:
                break
            counts, p, bits = scorer.score(fired)
            if counts[0] < options.min_support:
                break
            timing = 0.0
            if options.timing_max_delay_ms is not None:
                timing = scorer.timing(fired, 0, options.timing_max_delay_ms)
            c = Candidate(tokens, (within,), None, counts, p, timing, members=bits, at_least=k)
            found[c.key] = c
            best = p if best is None else min(best, p)
    return best


def absences(scorer: Scorer, tokens: Sequence[Token], options: MiningOptions,
              leads: Sequence[Token] = ()) -> list[Candidate]:  # fmt: skip
    """ "A, then no B for d": for the tokens A after which the outcome is likeliest, and the ``leads`` (the last
    steps of the best sequences: "X, then A, then nothing for 12h" often stands for "A, then no B"), every
    other token B.

    A first pass tries three lengths (6h, 1d, 3d) per pair; the best pairs are then tried at every silence
    length. What must not happen is usually an ordinary event (a purchase after a cart), so B ranges over
    all frequent tokens, not only over those found in good pairs.
    """
    samples = scorer.samples
    singles = []
    for token in tokens:
        fired = {i: s.by_token[token][0] for i, s in enumerate(samples) if token in s.by_token}
        counts, p, _ = scorer.score(fired)
        if counts[0] >= options.min_support and raises(counts) and not scorer.outcome.could_be(token):
            singles.append((p, token))
    singles.sort(key=lambda item: (item[0], str(item[1])))
    lengths = [d for d in SILENCES_MS if options.resolution_ms <= d <= options.max_gap_ms]
    first_pass = [d for d in _FIRST_PASS_MS if d in lengths] or lengths[:1]
    found: dict[tuple[object, ...], Candidate] = {}
    best: list[tuple[float, Token, Token]] = []
    firsts = [t for _, t in singles[:_ABSENCE_FIRSTS]]
    for lead in leads:
        if lead not in firsts and len(firsts) < 2 * _ABSENCE_FIRSTS and not scorer.outcome.could_be(lead):
            firsts.append(lead)
    for first in firsts:
        for missing in tokens:
            if missing[0] == first[0] or scorer.outcome.could_be(missing):
                continue
            p_best = min((_absence(scorer, first, missing, d, options, found) for d in first_pass), default=1.0)
            best.append((p_best, first, missing))
    best.sort(key=lambda item: (item[0], str(item[1:])))
    for _, first, missing in best[: options.beam // 2]:
        for d in lengths:
            _absence(scorer, first, missing, d, options, found)
    return list(found.values())


def _absence(scorer: Scorer, first: Token, missing: Token, d: int, options: MiningOptions,
             found: dict[tuple[object, ...], Candidate]) -> float:  # fmt: skip
    """Score "first, then no missing for d" into ``found``; its p-value (1 when too rare)."""
    key = Candidate((first,), (), d, absent=missing).key
    if key in found:
        return found[key].p_value
    fired = _without(scorer.samples, first, missing, d, scorer.end_ms)
    if len(fired) < options.min_support:
        return 1.0
    counts, p, bits = scorer.score(fired)
    if counts[0] < options.min_support:
        return 1.0
    timing = 0.0
    if options.timing_max_delay_ms is not None:
        timing = scorer.timing(fired, d, options.timing_max_delay_ms)
    found[key] = Candidate((first,), (), d, counts, p, timing, members=bits, absent=missing)
    return p


def _without(samples: Sequence[CustomerSample], first: Token, missing: Token, d: int, end_ms: int) -> dict[int, int]:
    """Each customer's earliest ``first`` with no ``missing`` in the ``d`` after it: when that became known."""
    fired = {}
    for index, sample in enumerate(samples):
        times = sample.by_token.get(first)
        if not times:
            continue
        done = quiet_after(times[:MAX_STARTS], sample.by_token.get(missing, []), d, end_ms)
        if done is not None:
            fired[index] = done
    return fired


def nice_floor(x: float) -> float:
    """The round number at or below ``x`` (1, 2, 2.5, 5 times a power of ten): a threshold people write.

    >>> [nice_floor(x) for x in (137.0, 3.0, 0.42, 26.0, 1.0)]
    [100.0, 2.5, 0.25, 25.0, 1.0]
    """
    if x <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(x))
    return max(m * power for m in (1, 2, 2.5, 5) if m * power <= x * (1 + 1e-9))


def nice_between(low: float, high: float, limit: int = 8) -> list[float]:
    """Round numbers (1, 2, 2.5, 5 times a power of ten) in ``(low, high]``, at most ``limit`` (the highest kept).

    >>> nice_between(30, 260)
    [50.0, 100.0, 200.0, 250.0]
    """
    if high <= 0 or high <= low:
        return []
    out: list[float] = []
    x = nice_floor(high)
    while x > low and x > 0 and len(out) < limit:
        out.append(x)
        x = nice_floor(x * (1 - 1e-6))
    return sorted(out)


def _cuts(samples: Sequence[CustomerSample], kind: str) -> dict[str, list[float]]:
    """Per numeric field of ``kind``: the round thresholds between its median and its 99th percentile (whole
    numbers for a field that only holds whole numbers)."""
    values: dict[str, list[float]] = {}
    for sample in samples:
        for (k, name), rows in sample.numbers.items():
            if k == kind:
                values.setdefault(name, []).extend(v for _, v in rows)
    out = {}
    for name, xs in values.items():
        xs.sort()
        cuts = nice_between(xs[len(xs) // 2], xs[int(0.99 * (len(xs) - 1))])
        if all(x.is_integer() for x in xs):  # counts: "3 CDs or more", never "2.5 or more"
            cuts = sorted({float(math.ceil(c)) for c in cuts})
        if cuts:
            out[name] = cuts
    return out


def _materialise(samples: Sequence[CustomerSample], token: Token) -> None:
    """Add a threshold token's times to every sample (they are not indexed by default)."""
    kind, field, cut = token
    name = field.removesuffix(AT_LEAST)
    for sample in samples:
        if token not in sample.by_token:
            times = [ts for ts, v in sample.numbers.get((kind, name), ()) if v >= cut]
            if times:
                sample.by_token[token] = sorted(times)


def thresholds(scorer: Scorer, best: Sequence[tuple[Token, ...]],
               consider: Callable[[tuple[Token, ...], Chains], object], options: MiningOptions) -> None:  # fmt: skip
    """Each bare event type of the ``best`` sequences, refined by ``value >= x`` or ``property >= x``, handed to
    ``consider`` (which scores it as it scores any sequence)."""
    samples = scorer.samples
    cache: dict[str, dict[str, list[float]]] = {}
    for tokens in best:
        for i, (kind, field, _) in enumerate(tokens):
            if field:
                continue
            if kind not in cache:
                cache[kind] = _cuts(samples, kind)
            for name, cuts in cache[kind].items():
                for cut in cuts:
                    refined = threshold_token(kind, name, int(cut) if cut.is_integer() else cut)
                    _materialise(samples, refined)
                    seq = (*tokens[:i], refined, *tokens[i + 1 :])
                    chains = starts(samples, seq[0])
                    for token in seq[1:]:
                        chains = extend(samples, chains, token, options.max_gap_ms)
                    if len(chains) >= options.min_support:
                        consider(seq, chains)
