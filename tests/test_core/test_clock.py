"""Durations, the timer heap and the wake-up index."""

from __future__ import annotations

import pytest

from momentstream.core.clock import TimerHeap, WakeupIndex, format_duration, parse_duration


@pytest.mark.parametrize("text", ["", "19", "h", "19 hours", "-5m", "1h-2m"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "ms"), [("90s", 90_000), ("1.5h", 5_400_000), ("2w", 1_209_600_000), ("250ms", 250)])
def test_durations(text: str, ms: int) -> None:
    assert parse_duration(text) == ms
    assert parse_duration(format_duration(ms)) == ms


def test_timers_fire_in_time_then_scheduling_order_and_survive_encoding() -> None:
    heap = TimerHeap()
    for fire_at, ref in [(30, 1), (10, 2), (30, 3), (20, 4)]:
        heap.schedule(fire_at, "k", "m", ref)
    copy = TimerHeap.from_list(heap.to_list(), heap.next_seq)
    assert [t.ref for t in copy.pop_due(31)] == [2, 4, 1, 3]
    heap.discard_refs("m", frozenset({1, 2}))
    assert [t.ref for t in heap.pop_due(100)] == [4, 3]


def test_wakeup_index_skips_stale_entries() -> None:
    idx = WakeupIndex()
    idx.update("a", 10)
    idx.update("a", 50)
    idx.update("b", 20)
    idx.update("b", None)
    assert idx.pop_due(40) == []
    assert idx.earliest() == 50
    assert idx.pop_due(50) == ["a"]
    assert len(idx) == 0
