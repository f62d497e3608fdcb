"""Stage one of discovery: propose moments that move the outcome rate, cheaply.

A beam search over a sample of customers held in memory: every frequent token, then every
frequent pair, then the best prefixes extended by one token up to four steps, each with and
without a trailing silence; then the other shapes (:mod:`.shapes`): k-of-n sets grown from the
pairs, a pair's first step without its second, thresholds on values. Each is scored by the
outcome rate after it against the rate of customers it does not fire for. The counts here are
approximate (earliest chain only); the candidates that go on are counted exactly by the engine's
matcher on customers the search never saw (:mod:`momentstream.discovery.verify`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from momentstream.discovery.candidate import (
    SILENCES_MS,
    Candidate,
    CustomerSample,
    MiningOptions,
    Scorer,
    raises,
    round_up_duration,
    sample_customer,
)
from momentstream.discovery.chains import Chains, completions, extend, learned_gaps, silenced, starts, tightened
from momentstream.discovery.outcome import Outcome
from momentstream.discovery.shapes import absences, sets, thresholds
from momentstream.discovery.tokens import Token

__all__ = [
    "SILENCES_MS",
    "Candidate",
    "CustomerSample",
    "Mined",
    "MiningOptions",
    "diverse",
    "mine",
    "round_up_duration",
    "sample_customer",
]

_D = 86_400_000
_COMPASS_COUNTS = (1, 2, 3, 5, 8)
_COMPASS_SPAN_MS = 30 * _D


@dataclass(slots=True)
class Mined:
    """Stage one's result: every scored candidate (``tried``), best first, and the Compass baseline."""

    candidates: list[Candidate]
    tried: int
    tokens: int
    compass: Candidate | None = None
    sampled: int = 0
    counts: Counter[str] = field(default_factory=Counter)


def _frequent_tokens(samples: Sequence[CustomerSample], options: MiningOptions) -> list[Token]:
    support: Counter[Token] = Counter()
    values: dict[tuple[str, str], set[object]] = defaultdict(set)
    for s in samples:
        support.update(s.by_token.keys())
        for kind, name, value in s.by_token:
            if name:
                values[(kind, name)].add(value)
    keep = []
    for token, n in support.items():
        kind, name, _ = token
        if n < options.min_support:
            continue
        if name and (len(values[(kind, name)]) > options.max_values or n >= support[(kind, "", None)]):
            continue  # an id-like property, or a refinement that refines nothing
        keep.append(token)
    keep.sort(key=lambda t: (-support[t], str(t)))
    return keep[: options.max_tokens]


def mine(samples: Sequence[CustomerSample], outcome: Outcome, end_ms: int, options: MiningOptions) -> Mined:
    """Beam search for sequences of 2..max_steps tokens (and silences) that shift the outcome rate.

    Each sequence is tried with the longest gap allowed and with the gaps its customers who
    reached the outcome actually showed (rounded up to human units), each with and without
    every trailing silence; all of these count as tried.
    """
    scorer = Scorer(samples, outcome, end_ms)
    tokens = _frequent_tokens(samples, options)
    scored: dict[tuple[object, ...], Candidate] = {}
    loose = options.max_gap_ms

    def variants(seq: tuple[Token, ...], chains: Chains, gaps: tuple[int, ...]) -> Candidate | None:
        firsts = completions(chains)
        counts, p, members = scorer.score({i: end for i, (end, _) in firsts.items()})
        if counts[0] < options.min_support:
            return None
        best = Candidate(seq, gaps, None, counts, p, members=members)
        scored[best.key] = best
        if options.silences:
            for silence in SILENCES_MS:
                if silence > options.max_gap_ms:
                    break
                if silence < options.resolution_ms:
                    continue
                s_counts, s_p, s_members = scorer.score(silenced(samples, chains, silence, end_ms))
                if s_counts[0] >= options.min_support:
                    variant = Candidate(seq, gaps, silence, s_counts, s_p, members=s_members)
                    scored[variant.key] = variant
                    best = min(best, variant, key=lambda c: c.p_value)
        return best

    def consider(seq: tuple[Token, ...], chains: Chains) -> Candidate | None:
        best = variants(seq, chains, (loose,) * (len(seq) - 1))
        if best is None:
            return None
        firsts = completions(chains)
        reached = {i: f for i, f in firsts.items() if outcome.label(samples[i].outcomes, f[0], end_ms)}
        learned = learned_gaps(reached, len(seq), loose, options.resolution_ms)
        used = chains
        if reached and learned != best.gaps_ms:
            tight_chains = tightened(chains, learned)
            tight = variants(seq, tight_chains, learned)
            if tight is not None and tight.p_value < best.p_value:
                best, used = tight, tight_chains
        if options.timing_max_delay_ms is not None:
            best = replace(best, timing=_timing_statistic(scorer, best, used, options.timing_max_delay_ms))
            scored[best.key] = best
        return best

    first_chains = {t: starts(samples, t) for t in tokens}
    frontier: list[tuple[Candidate, Chains]] = []
    for first in tokens:
        for second in tokens:
            chains = extend(samples, first_chains[first], second, loose)
            if len(chains) >= options.min_support:
                best = consider((first, second), chains)
                if best is not None:
                    frontier.append((best, chains))
    for _ in range(3, options.max_steps + 1):
        frontier.sort(key=lambda item: item[0].p_value)
        grown: list[tuple[Candidate, Chains]] = []
        for best, chains in frontier[: options.beam]:
            for token in tokens:
                longer = extend(samples, chains, token, loose)
                if len(longer) >= options.min_support:
                    found = consider((*best.tokens, token), longer)
                    if found is not None:
                        grown.append((found, longer))
        frontier = grown
    plain = sorted((c for c in scored.values() if c.gaps_ms), key=lambda c: (c.p_value, str(c.key)))
    pairs = [c for c in plain if len(c.tokens) == 2 and not c.silence_ms]
    leads = list(dict.fromkeys(c.tokens[-1] for c in plain[: options.beam]))
    for shape in (*sets(scorer, pairs, options), *absences(scorer, tokens, options, leads)):
        scored[shape.key] = shape
    # the sequences a threshold may sharpen: distinct orders that raise the outcome (a planted "worth at least x"
    # is diluted by the ordinary amounts, so its plain order can rank below protective ones and their silences)
    sharpen = list(dict.fromkeys(c.tokens for c in plain if raises(c.counts)))[: options.beam]
    thresholds(scorer, sharpen, consider, options)
    ranked = sorted(scored.values(), key=lambda c: (c.p_value, -c.counts[0], str(c.key)))
    return Mined(ranked, len(scored), len(tokens), _compass(samples, scorer, tokens, options), len(samples))


def _timing_statistic(scorer: Scorer, candidate: Candidate, chains: Chains, max_delay_ms: int) -> float:
    """How strongly the outcome after ``candidate`` depends on when the intervention came (sample only)."""
    silence = candidate.silence_ms or 0
    fired = (silenced(scorer.samples, chains, silence, scorer.end_ms) if silence
             else {i: end for i, (end, _) in completions(chains).items()})  # fmt: skip
    return scorer.timing(fired, silence, max_delay_ms)


def diverse(ranked: Sequence[Candidate], limit: int, max_overlap: float = 0.5) -> list[Candidate]:
    """The best ``limit`` candidates, skipping any that fires for mostly the same sampled customers
    (Jaccard overlap above ``max_overlap``) as a better one: variants of one pattern would
    otherwise fill every place the engine counts."""
    chosen: list[Candidate] = []
    for candidate in ranked:
        if len(chosen) >= limit:
            break
        mine = candidate.members
        if all((mine & c.members).bit_count() <= max_overlap * (mine | c.members).bit_count() for c in chosen):
            chosen.append(candidate)
    return chosen


def _compass(samples: Sequence[CustomerSample], scorer: Scorer, tokens: Iterable[Token],
             options: MiningOptions) -> Candidate | None:  # fmt: skip
    """The best "did X at least k times within 30 days" rule, as a frequency-threshold tool shows it."""
    best: Candidate | None = None
    for token in tokens:
        if token[1]:
            continue
        for k in _COMPASS_COUNTS:
            fired = {}
            for index, s in enumerate(samples):
                times = s.by_token.get(token, [])
                for j in range(k - 1, len(times)):
                    if times[j] - times[j - k + 1] <= _COMPASS_SPAN_MS:
                        fired[index] = times[j]
                        break
            counts, p, _ = scorer.score(fired)
            if counts[0] < options.min_support or not raises(counts):
                continue
            candidate = Candidate((token,) * k, (), None, counts, p)
            if best is None or p < best.p_value:
                best = candidate
    return best
