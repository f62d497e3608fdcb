"""Per-customer state: encoding, versioning, bounds."""

from __future__ import annotations

from bisect import bisect_left

import msgpack
import pytest

from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.state import SCAN_IDS, CustomerState, StateFormatError
from momentstream.core.state_budget import trim
from momentstream.patterns.dsl import Moment
from tests.helpers import event


def test_unknown_format_is_refused() -> None:
    with pytest.raises(StateFormatError):
        CustomerState.from_bytes(msgpack.packb([99, "c"]))
    with pytest.raises(StateFormatError):
        CustomerState.from_bytes(b"\xc1 not msgpack")


def test_dedup_ring_and_story_are_bounded() -> None:
    engine = Engine([Moment("m").begin("a", where={"type": "a"}).compile()],
                    EngineConfig(allowed_lateness_ms=0, dedup_size=8, story_size=4))  # fmt: skip
    state = engine.new_state("c1")
    for i in range(100):
        engine.on_event(state, event(f"e{i}", "x", i))
    assert len(state.recent_ids) == 8
    assert [s[0] for s in state.story] == ["e96", "e97", "e98", "e99"]
    assert len(state.to_bytes()) < 400


def test_buffered_events_survive_encoding() -> None:
    engine = Engine([Moment("m").begin("a", where={"type": "a"}).compile()], EngineConfig(allowed_lateness_ms=10**9))
    state = engine.new_state("c1")
    engine.on_event(state, event("e1", "a", 0, value=3.5, properties={"k": "v"}))
    copy = CustomerState.from_bytes(state.to_bytes())
    assert copy.buffer == state.buffer
    assert copy.remember_id("e1") is False


def test_a_changed_moment_version_resets_its_progress() -> None:
    state = CustomerState("c1")
    state.moment("m", 1).partials.append(None)  # type: ignore[arg-type]
    assert state.moment("m", 2).partials == []


def test_duplicates_are_found_below_and_above_the_scan_limit_and_after_cuts_and_decoding() -> None:
    """Ids are scanned in a list up to SCAN_IDS (a set would cost a tenth of a customer); past it, their hashes."""
    state = CustomerState("c1", dedup_size=200)
    for n in range(300):
        assert state.remember_id(f"e{n}")
        assert not state.remember_id(f"e{n}")
        assert not state.remember_id(f"e{max(n - 199, 0)}")  # the oldest still remembered
        if n >= 200:
            assert state.remember_id(f"e{n - 200}")  # forgotten: taken again, and now the newest
            state.recent_ids.pop()
            state.index_ids()
        hashes = state._id_hashes
        assert (hashes is None) == (len(state.recent_ids) <= SCAN_IDS)
        assert hashes is None or list(hashes) == sorted(hash(i) for i in state.recent_ids)
    back = CustomerState.from_bytes(state.to_bytes())
    assert not back.remember_id("e299")
    assert back.remember_id("e99")
    trim(back, 200)  # cuts the ids to the newer half: the hashes follow
    assert len(back.recent_ids) <= SCAN_IDS or list(back._id_hashes or []) == sorted(map(hash, back.recent_ids))
    assert not back.remember_id(back.recent_ids[-1])
    assert back.remember_id(back.recent_ids[0][:-1] + "x")


def test_a_hash_found_among_the_ids_is_confirmed_in_the_list_so_a_collision_drops_nothing() -> None:
    state = CustomerState("c1", dedup_size=100)
    for n in range(SCAN_IDS + 5):
        state.remember_id(f"e{n}")
    hashes = state._id_hashes
    assert hashes is not None
    hashes.insert(bisect_left(hashes, hash("fresh")), hash("fresh"))  # as if another id had the same hash
    assert state.remember_id("fresh")
    assert not state.remember_id("fresh")
    assert state.recent_ids[-1] == "fresh"
