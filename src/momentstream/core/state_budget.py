"""A customer's state kept within a size budget, the same way in every runtime.

A worker stores each customer's state as one changelog record, which must fit the broker's message
limit; the replay runner has no such limit. A worker that refused an over-size state used to freeze
that customer (every later event dead-lettered) while replay went on firing. Now the engine itself
bounds the state, at points that depend only on the state (so replay and every worker trim at the
same event): it measures the encoded size every :data:`MEASURE_EVERY` arrivals, after a large event,
after a merge, and at every event once the state is past half the budget. Over the budget, held
events are run first (nothing is lost), then :func:`trim` drops, oldest first, what costs least:
partial matches, pending absences, the story, the dedup window, waiting predictions. What was
dropped is reported in a ``state_trimmed`` audit record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from momentstream.core.schema import StateTrimmed, ms_to_datetime
from momentstream.core.state import CustomerState

__all__ = ["EVIDENCE_ROWS", "LARGE_EVENT_BYTES", "MEASURE_EVERY", "keep_within_budget", "should_measure", "trim"]

MEASURE_EVERY = 64
"""Arrivals between two measurements of a state under half its budget."""
LARGE_EVENT_BYTES = 2_048
"""An event at least this large is followed by a measurement."""
EVIDENCE_ROWS = 512
"""Evidence rows held by partial matches past which every event is measured."""
_ROUNDS = 24


def keep_within_budget(state: CustomerState, budget: int, run_held: Callable[[], None]) -> StateTrimmed | None:
    """Measure ``state`` (the engine asks :func:`should_measure` first, so it builds ``run_held`` only when it
    measures); over ``budget``, run its held events (``run_held``), then trim it to three quarters of the budget
    and say what went."""
    before = state.size_hint = len(state.to_bytes())
    if before <= budget:
        return None
    run_held()
    after, dropped = trim(state, budget * 3 // 4)
    return StateTrimmed(customer_id=state.customer_id, at=ms_to_datetime(state.max_seen), bytes_before=before,
                        bytes_after=after, dropped=dropped)  # fmt: skip


def should_measure(state: CustomerState, weight: int, budget: int) -> bool:
    """Whether to encode the state now to measure it (a function of the state alone: deterministic).

    Between measurements a state grows by its events (each large one is measured) and by the evidence
    rows its partial matches gather, one per partial match per event: past :data:`EVIDENCE_ROWS` rows
    every event is measured, so a pattern that multiplies partial matches cannot outrun the budget.

    >>> state = CustomerState("c1")
    >>> state.arrivals = 5
    >>> should_measure(state, 100, 1000), should_measure(state, 4096, 1000)
    (False, True)
    >>> state.size_hint = 600
    >>> should_measure(state, 100, 1000)
    True
    """
    if state.arrivals % MEASURE_EVERY == 0 or weight >= LARGE_EVENT_BYTES or state.size_hint * 2 > budget:
        return True
    rows = 0
    for ms in state.moments.values():
        for p in ms.partials:
            rows += len(p.evidence)
    return rows >= EVIDENCE_ROWS


def trim(state: CustomerState, target: int) -> tuple[int, dict[str, int]]:
    """Drop the state's cheapest parts, oldest first, until it encodes to ``target`` bytes or less.

    Returns the size afterwards and what was dropped, by kind. Held events are not touched here (the
    engine runs them first), nor anything a customer was promised: open windows, held triggers,
    consent, contacts, merges waiting.
    """
    dropped: dict[str, int] = {}
    size = len(state.to_bytes())
    for _ in range(_ROUNDS):
        if size <= target:
            break
        if not _drop_one_round(state, dropped):
            break
        size = len(state.to_bytes())
    state.size_hint = size
    return size, {k: v for k, v in dropped.items() if v}


def _drop_one_round(state: CustomerState, dropped: dict[str, int]) -> bool:
    """Drop a quarter (at least one) of the first kind that has anything left; False when nothing can go."""
    partials = sorted(
        ((p.start_ts, p.start_seq, name) for name, ms in state.moments.items() for p in ms.partials),
        key=lambda x: (x[0], x[1]),
    )
    if partials:
        cut = partials[: max(1, len(partials) // 4)]
        for name in {c[2] for c in cut}:
            ms = state.moments[name]
            gone = {(ts, seq) for ts, seq, n in cut if n == name}
            before = len(ms.partials)
            ms.partials = [p for p in ms.partials if (p.start_ts, p.start_seq) not in gone]
            ms.dropped += before - len(ms.partials)
            dropped["partial_matches"] = dropped.get("partial_matches", 0) + before - len(ms.partials)
        return True
    pending = sorted(((pm.deadline, ref, name) for name, ms in state.moments.items() for ref, pm in ms.pending.items()))
    if pending:
        doomed: dict[str, set[int]] = {}
        for _, ref, name in pending[: max(1, len(pending) // 4)]:
            del state.moments[name].pending[ref]
            doomed.setdefault(name, set()).add(ref)
            dropped["pending_absences"] = dropped.get("pending_absences", 0) + 1
        for name, refs in doomed.items():
            state.timers.discard_refs(name, frozenset(refs))
        return True
    if len(state.story) > 1:
        dropped["story_items"] = dropped.get("story_items", 0) + _halve(state.story)
        return True
    if len(state.recent_ids) > 16:
        ids_cut = _halve(state.recent_ids)
        state.index_ids()
        dropped["dedup_ids"] = dropped.get("dedup_ids", 0) + ids_cut
        return True
    return _drop_predictions(state, dropped)


def _halve(items: list[Any]) -> int:
    """Drop the older half of ``items``; returns how many went."""
    cut = len(items) // 2
    del items[:cut]
    return cut


def _drop_predictions(state: CustomerState, dropped: dict[str, int]) -> bool:
    """The older half of each objective's waiting predictions (their labels are never learned)."""
    kept = getattr(state.scoring, "pending", None)
    if not kept:
        return False
    cut = 0
    for name in kept.objectives:
        count = kept.count(name)
        cut += kept.drop_oldest(name, count // 2 or count)
    dropped["waiting_predictions"] = dropped.get("waiting_predictions", 0) + cut
    return cut > 0
