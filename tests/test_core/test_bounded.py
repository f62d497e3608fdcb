"""The per-customer logs: bounded like the deques they replaced, at a fraction of the memory."""

from __future__ import annotations

import sys
from collections import deque
from datetime import UTC, datetime

from momentstream.core.bounded import Bounded
from momentstream.core.schema import TouchpointEvent
from momentstream.core.state import CustomerState


def test_it_keeps_the_newest_items_as_a_bounded_deque_would() -> None:
    log: Bounded[int] = Bounded(maxlen=4)
    reference: deque[int] = deque(maxlen=4)
    for i in range(11):
        log.append(i)
        reference.append(i)
        if i % 3 == 2:
            assert log.popleft() == reference.popleft()
        assert list(log) == list(reference)
    assert list(Bounded(range(10), maxlen=3)) == [7, 8, 9]
    unbounded: Bounded[int] = Bounded(range(1000))
    unbounded.append(1000)
    assert len(unbounded) == 1001


def test_an_empty_customer_costs_a_list_per_log_not_a_deque() -> None:
    state = CustomerState("c1")
    logs = [state.recent_ids, state.story, state.revocable, state.contacts, state.muted_windows]
    assert all(isinstance(log, Bounded) for log in logs[2:])
    assert sum(sys.getsizeof(log) for log in logs) * 5 < 5 * sys.getsizeof(deque())
    for i in range(300):  # the two the state trims itself stay within their sizes
        state.remember_id(f"e{i}")
        visit = TouchpointEvent(event_id=f"e{i}", customer_id="c1", type="visit", ts=datetime(2026, 1, 5, tzinfo=UTC))
        state.add_to_story(visit, i)
    assert len(state.recent_ids) == state.dedup_size
    assert state.recent_ids[0] == "e44"
    assert len(state.story) == state.story_size
    assert state.story[-1][0] == "e299"


def test_the_logs_survive_the_state_encoding_with_their_bounds() -> None:
    state = CustomerState("c1")
    for i in range(100):
        state.contacts.append((i, "m", f"t{i}", -1))
        state.revocable.append((f"t{i}", "m", "match", i, i + 1))
    back = CustomerState.from_bytes(state.to_bytes())
    assert back.contacts == state.contacts
    assert len(back.contacts) == 64
    back.contacts.append((100, "m", "t100", -1))
    assert len(back.contacts) == 64
    assert back.contacts[0][0] == 37
    assert len(back.revocable) == 16
    assert back.revocable.maxlen == 16
