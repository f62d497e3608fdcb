"""Stage two: turn stage one's best candidates into moments, count them with the engine, test them.

The counts that reach the report come from :func:`momentstream.discovery.scan.scan`, i.e.
from the engine's compiled matcher, never from stage one's approximation, and from customers
stage one never saw (:mod:`.split`), so Benjamini-Hochberg runs over the candidates tested.
Near-duplicates (a sequence with and without its silence, firing for nearly the same customers)
are folded into the best. A sequence that only adds steps to a significant shorter one, with
neither a significantly stronger effect nor better evidence, is folded into the shorter one, and
one that is no stronger is listed after it (parsimony): a noise step in front of the real moment
must not take its place, nor its window. Likewise a sequence of a k-of-n set's indicators (one of the
orders the set takes) is folded into the set when it is neither stronger nor better evidenced.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from momentstream.core.clock import format_duration
from momentstream.discovery.mining import Candidate
from momentstream.discovery.outcome import SYSTEM_TYPES
from momentstream.discovery.scan import MomentCounts, ScanResult
from momentstream.discovery.shapes import SET_WINDOWS_MS
from momentstream.discovery.stats import benjamini_hochberg, fisher_p
from momentstream.discovery.tokens import AT_LEAST, slug, token_name, token_where
from momentstream.patterns.spec import AbsentStep, EventStep, KOfNStep, MomentSpec, Step

__all__ = ["Finding", "candidate_spec", "findings", "parents_of", "quiet_where"]

_NEAR_DUPLICATE = 0.8
"""Jaccard overlap of fired customers above which the weaker of two moments is folded."""
_SAME_SET = 0.5
"""Jaccard overlap of two k-of-n sets' indicators above which they are variants of one set."""
_SAMPLE_WEIGHT = 0.5
"""Weight of the search sample's log p-value when choosing among a set's variants. Chosen on planted 3-of-5
histories 2011-2040 and 933519359, never on the benchmark's: 23/31 exact at 0.5, 22/31 at 1, 19/31 at 0."""
_STRONGER = 0.10
"""Two-sided Fisher p-value below which a longer moment's outcome rate counts as stronger than its shorter one's
(one-sided 0.05, in the direction of its effect)."""


def quiet_where(intervention: dict[str, Any] | None) -> dict[str, Any]:
    """What breaks a silence: any event except bookkeeping and the intervention itself.

    >>> quiet_where({"type": "outreach"})
    {'not': {'type': ['consent_granted', 'consent_withdrawn', 'erasure_request', 'outreach']}}
    """
    excluded = set(SYSTEM_TYPES)
    if intervention is not None and set(intervention) == {"type"}:  # one cheap type test instead of two
        kinds = intervention["type"]
        excluded |= {kinds} if isinstance(kinds, str) else set(kinds)
        intervention = None
    system: dict[str, Any] = {"type": sorted(excluded)}
    return {"not": {"any_of": [system, intervention]}} if intervention else {"not": system}


def candidate_spec(candidate: Candidate, name: str, intervention: dict[str, Any] | None,
                   after_ms: int | None = None) -> MomentSpec:  # fmt: skip
    """The moment a candidate stands for; a frequency rule (no gaps) is one step repeated k times.

    ``after_ms`` (a coarse history's resolution) keeps each step on a later timestamp than the previous one:
    a daily export's two rows of one day are no sequence, as the search never counted them as one.
    """
    tokens = candidate.tokens
    if candidate.at_least:
        indicators: dict[str, dict[str, Any]] = {}
        for token in tokens:
            label = slug(token_name(token), 32)
            indicators[label if label not in indicators else f"{label}_{len(indicators)}"] = token_where(token)
        kofn = KOfNStep("indicators", candidate.at_least, tuple(indicators.items()), candidate.gaps_ms[0])
        return MomentSpec(name, (kofn,), skip="skip_past_last_event")
    if candidate.absent is not None:
        first = EventStep(f"s1_{slug(token_name(tokens[0]), 32)}", token_where(tokens[0]))
        missing = AbsentStep(f"no_{slug(token_name(candidate.absent), 32)}", token_where(candidate.absent),
                             for_ms=candidate.silence_ms)  # fmt: skip
        return MomentSpec(name, (first, missing), skip="skip_past_last_event")
    if not candidate.gaps_ms:
        step = EventStep("repeated", token_where(tokens[0]), min_times=len(tokens), max_times=len(tokens))
        return MomentSpec(name, (step,), within_ms=30 * 86_400_000, skip="skip_past_last_event")
    steps: list[Step] = []
    for i, token in enumerate(tokens):
        within = candidate.gaps_ms[i - 1] if i else None
        steps.append(EventStep(f"s{i + 1}_{slug(token_name(token), 32)}", token_where(token), within_ms=within,
                               after_ms=after_ms if i else None))  # fmt: skip
    if candidate.silence_ms:
        steps.append(AbsentStep("silence", quiet_where(intervention), for_ms=candidate.silence_ms))
    return MomentSpec(name, tuple(steps), skip="skip_past_last_event")


def describe(candidate: Candidate) -> str:
    """``support_ticket -> purchase[order_number=2] (within 4d) -> nothing for 18h``."""
    if candidate.at_least:
        listed = ", ".join(token_name(t) for t in candidate.tokens)
        return f"at least {candidate.at_least} of {{{listed}}} within {format_duration(candidate.gaps_ms[0])}"
    if candidate.absent is not None:
        return (f"{token_name(candidate.tokens[0])} -> no {token_name(candidate.absent)} "
                f"for {format_duration(candidate.silence_ms or 0)}")  # fmt: skip
    if not candidate.gaps_ms:
        return f"{token_name(candidate.tokens[0])} x{len(candidate.tokens)} within 30d"
    parts = [token_name(candidate.tokens[0])]
    for token, gap in zip(candidate.tokens[1:], candidate.gaps_ms, strict=True):
        parts.append(f"{token_name(token)} (within {format_duration(gap)})")
    if candidate.silence_ms:
        parts.append(f"nothing for {format_duration(candidate.silence_ms)}")
    return " -> ".join(parts)


@dataclass(frozen=True, slots=True)
class Finding:
    """A candidate counted by the engine, with its statistics."""

    candidate: Candidate
    spec: MomentSpec
    counts: MomentCounts
    p_value: float
    q_value: float
    significant: bool

    @property
    def rate(self) -> float:
        """Outcome rate after the moment fired."""
        return self.counts.rate

    @property
    def rest_rate(self) -> float:
        """Outcome rate of the customers it did not fire for."""
        return self.counts.rest_rate

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95% interval of :attr:`rate`."""
        return self.counts.interval

    @property
    def lift(self) -> float:
        """How many times likelier the outcome is after the moment (inf when the rest never had it)."""
        return self.rate / self.rest_rate if self.rest_rate else float("inf") if self.rate else 1.0

    @property
    def description(self) -> str:
        """The sequence in words."""
        return describe(self.candidate)


def names_for(candidates: Sequence[Candidate], prefix: str = "d") -> list[str]:
    """Unique moment names by rank: ``d01_support_ticket_purchase_silence`` and so on."""
    names = []
    for rank, c in enumerate(candidates, start=1):
        words = "_".join(slug(token_name(t), 32) for t in c.tokens[:4]) if c.gaps_ms else slug(token_name(c.tokens[0]))
        if c.at_least:
            words = f"{c.at_least}_of_{words}"
        elif c.absent is not None:
            words += f"_no_{slug(token_name(c.absent), 32)}"
        else:
            words += "_silence" if c.silence_ms else "" if c.gaps_ms else f"_x{len(c.tokens)}"
        names.append(f"{prefix}{rank:02d}_{words}"[:80].rstrip("_"))
    return names


def findings(
    tried: int, verified: Sequence[Candidate], specs: Sequence[MomentSpec], result: ScanResult, q: float
) -> list[Finding]:
    """Exact tests on the engine's counts, BH over ``tried`` tests; significant and distinct ones first.

    ``tried`` is the number of hypotheses the p-values must answer for: the candidates tested, when the
    counts come from customers the search never saw (see :mod:`.split`).
    """
    p_values = []
    for spec in specs:
        c = result.counts[spec.name]
        p_values.append(fisher_p(c.positive, c.fired, c.rest_positive, c.rest))
    everything = p_values + [1.0] * max(0, tried - len(p_values))
    rejected, adjusted = benjamini_hochberg(everything, q) if everything else ([], [])
    out = [Finding(cand, spec, result.counts[spec.name], p, adjusted[i], rejected[i])
           for i, (cand, spec, p) in enumerate(zip(verified, specs, p_values, strict=True))]  # fmt: skip
    out.sort(key=lambda f: (not f.significant, f.p_value, -f.counts.fired, f.spec.name))
    return _fold_extensions(_fold_near_duplicates(out, result.sketches))


def parents_of(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The shorter moments each sequence extends, to be counted beside it: without its silence, without its
    first step and without its last (sequences of three steps or more). For a k-of-n set: the set without
    each indicator, and with the other windows (the search kept only its best variant; the customers it
    never saw decide). Only those not already given."""
    given = {c.key for c in candidates}
    out: dict[tuple[object, ...], Candidate] = {}
    for c in candidates:
        if c.at_least:
            for variant in _set_variants(c):
                if variant.key not in given:
                    out.setdefault(variant.key, variant)
            continue
        if not c.gaps_ms:
            continue
        shorter = [(c.tokens, c.gaps_ms)] if c.silence_ms else []
        if len(c.tokens) >= 3:
            shorter += [(c.tokens[:-1], c.gaps_ms[:-1]), (c.tokens[1:], c.gaps_ms[1:])]
        for tokens, gaps in shorter:
            # The search's timing signal of the longer moment is the best guess for its part (never searched alone).
            parent = Candidate(tokens, gaps, timing=c.timing)
            if parent.key in given:
                continue
            if parent.key not in out or out[parent.key].timing < c.timing:
                out[parent.key] = parent
    return list(out.values())


def _set_variants(c: Candidate) -> list[Candidate]:
    within = c.gaps_ms[0]
    out = [Candidate(c.tokens, (w,), timing=c.timing, at_least=c.at_least) for w in SET_WINDOWS_MS
           if w != within and w <= max(within, 7 * 86_400_000)]  # fmt: skip
    if len(c.tokens) == 2:  # each order alone: when one of them carries it all, the order is the moment
        out += [Candidate(c.tokens, (within,), timing=c.timing), Candidate(c.tokens[::-1], (within,), timing=c.timing)]
    if len(c.tokens) > max(c.at_least, 2):
        for left_out in c.tokens:
            rest = tuple(t for t in c.tokens if t != left_out)
            out.append(Candidate(rest, (within,), timing=c.timing, at_least=c.at_least))
    return out


def _fold_extensions(ranked: list[Finding]) -> list[Finding]:
    """Parsimony among nested sequences (a longer one extends a shorter one; both significant).

    The longer one is dropped when it is no stronger and no better evidenced: the shorter one says it all.
    When it is stronger, it goes before the shorter one (which is mostly its signal, diluted); when it is
    no stronger but better evidenced, it stays, after the shorter one.
    """
    significant = [f for f in ranked if f.significant and f.candidate.gaps_ms]
    kept = [f for f in ranked
            if not (f in significant and any(_folds_into(f, a) or _part_of_set(f, a) or _order_suffices(f, a)
                                             for a in significant))]  # fmt: skip
    for _ in range(len(kept) ** 2):  # a few moves; the bound only guards against tests that disagree in a circle
        move = _misplaced(kept, significant)
        if move is None:
            break
        i, j = move
        kept.insert(j, kept.pop(i))
    return kept


def _misplaced(kept: list[Finding], significant: list[Finding]) -> tuple[int, int] | None:
    """The first finding listed after one it should precede, with the place it should take."""
    for i, later in enumerate(kept):
        if later not in significant:
            continue
        for j, earlier in enumerate(kept[:i]):
            if earlier not in significant:
                continue
            if (_extends(later, earlier) and _stronger(later, earlier)) or (
                _extends(earlier, later) and not _stronger(earlier, later)
            ):
                return i, j
    return None


def _folds_into(longer: Finding, shorter: Finding) -> bool:
    """The shorter moment says all the longer one does: it extends it, is no stronger, and is no better evidenced."""
    return _extends(longer, shorter) and not _stronger(longer, shorter) and shorter.p_value <= longer.p_value


def _part_of_set(part: Finding, whole: Finding) -> bool:
    """A sequence of a k-of-n set's indicators, or a set sharing most of them, no stronger than the set and no
    better evidenced: one of the orders the set takes (``a -> b`` of "3 of a, b, c, d, e"), or a variant of it
    (another k or window, an indicator more or less), judged on both halves of the customers."""
    mine, theirs = set(part.candidate.tokens), set(whole.candidate.tokens)
    if part is whole or not whole.candidate.at_least:
        return False
    if part.candidate.at_least:  # variants of one set: the held-out p-values differ by chance, so both halves judge
        if len(mine & theirs) < _SAME_SET * len(mine | theirs):
            return False
        return _both_halves(whole) <= _both_halves(part) and not _stronger(part, whole)
    if not mine <= theirs:
        return False
    return whole.p_value <= part.p_value and not _stronger(part, whole)


def _both_halves(f: Finding) -> float:
    """Log evidence over all customers: the held-out test's p-value and the search sample's (1 if never scored
    there), the latter at half weight: the search chose its best-looking variant on those very customers. Used
    only to choose among variants of one set, never to call anything significant."""
    return math.log(max(f.p_value, 1e-300)) + _SAMPLE_WEIGHT * math.log(max(f.candidate.p_value, 1e-300))


def _order_suffices(whole: Finding, order: Finding) -> bool:
    """A set of two indicators whose one order, as a sequence, is at least as well evidenced and no weaker:
    the other order adds nothing, so the set's claim that order does not matter is not shown."""
    if not whole.candidate.at_least or not _plain(order.candidate) or order is whole:
        return False
    if set(order.candidate.tokens) != set(whole.candidate.tokens) or len(order.candidate.tokens) != 2:
        return False
    return order.p_value <= whole.p_value and not _stronger(whole, order)


def _plain(c: Candidate) -> bool:
    return not c.at_least and c.absent is None


def _extends(longer: Finding, shorter: Finding) -> bool:
    """Whether ``shorter``'s steps appear, in order, among ``longer``'s, which has more (sequences only)."""
    if not (_plain(longer.candidate) and _plain(shorter.candidate)):
        return False
    mine, theirs = longer.candidate.tokens, iter(shorter.candidate.tokens)
    wanted = next(theirs, None)
    for token in mine:
        if token == wanted:
            wanted = next(theirs, None)
    return wanted is None and len(shorter.candidate.tokens) < len(mine)


def _stronger(longer: Finding, shorter: Finding) -> bool:
    """Whether the longer moment's outcome rate is further from the rest's than the shorter's, significantly."""
    direction = 1 if longer.lift >= 1 else -1
    if (longer.rate - shorter.rate) * direction <= 0:
        return False
    a, b = longer.counts, shorter.counts
    return fisher_p(a.positive, a.fired, b.positive, b.fired) < _STRONGER


def _family(c: Candidate) -> tuple[object, ...]:
    """A candidate's steps with thresholds left open: variants of one moment share it."""
    steps = tuple((kind, field, None if field.endswith(AT_LEAST) else value) for kind, field, value in c.tokens)
    return steps, c.at_least, c.absent


def _fold_near_duplicates(ranked: list[Finding], sketches: dict[str, set[str]]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in ranked:
        mine = sketches.get(finding.spec.name, set())
        duplicate = False
        for better in kept:
            if _family(better.candidate) == _family(finding.candidate):  # the same with another silence or threshold
                duplicate = True
                break
            theirs = sketches.get(better.spec.name, set())
            union = len(mine | theirs)
            if union and len(mine & theirs) / union >= _NEAR_DUPLICATE:
                duplicate = True
                break
        if not duplicate:
            kept.append(finding)
    return kept
