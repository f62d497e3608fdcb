"""The RocksDB copy of the batched worker's table: resumes where it was saved, never trusts a stale copy."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytest.importorskip("rocksdict")

from momentstream.runtime.kafka.batch_worker.local_store import LocalStore


def test_a_saved_partition_resumes_with_its_entries_and_offset(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, max_age_ms=3_600_000)
    store.save(2, {b"c1": b"v1", b"c2": b"v2"}, end_offset=10)
    store.save(2, {b"c1": None, b"c3": b"\x00\xff"}, end_offset=12)
    store.close()
    resumed = LocalStore(tmp_path, max_age_ms=3_600_000).resume(2)
    assert resumed is not None
    entries, offset = resumed
    assert dict(entries) == {b"c2": b"v2", b"c3": b"\x00\xff"}
    assert offset == 12


def test_a_partition_never_saved_is_read_from_the_changelog(tmp_path: Path) -> None:
    assert LocalStore(tmp_path, max_age_ms=3_600_000).resume(5) is None


def test_a_copy_older_than_the_tombstone_retention_is_dropped(tmp_path: Path) -> None:
    """The changelog may have dropped a tombstone the copy never saw: an erased customer must not return."""
    store = LocalStore(tmp_path, max_age_ms=3_600_000)
    store.save(0, {b"erased-later": b"v"}, end_offset=3)
    meta = store.directory / "customer_state-0.offset"
    doc = json.loads(meta.read_text())
    doc["saved_ms"] = int(time.time() * 1000) - 2 * 3_600_000
    meta.write_text(json.dumps(doc))
    assert store.resume(0) is None
    assert not meta.exists()
    assert store.resume(0) is None


@pytest.mark.parametrize("garbage", ["", "{", '{"end_offset": "x"}', "[]", '{"saved_ms": 1}'])
def test_a_damaged_offset_file_means_read_it_all(tmp_path: Path, garbage: str) -> None:
    store = LocalStore(tmp_path, max_age_ms=3_600_000)
    store.save(1, {b"c": b"v"}, end_offset=7)
    (store.directory / "customer_state-1.offset").write_text(garbage)
    assert store.resume(1) is None


def test_an_erased_customer_leaves_no_byte_in_the_store_files(tmp_path: Path) -> None:
    """RocksDB keeps a deleted value in its write-ahead log and files until a compaction: not past an erasure."""
    store = LocalStore(tmp_path, 10**9)
    secret = b"SUPPORT-TICKET-TEXT-OF-C-ERASED" * 20
    store.save(0, {b"c-erased": secret, b"c-other": b"x" * 100}, 5)
    store.save(0, {b"c-other": b"y" * 100}, 6)
    store.save(0, {b"c-erased": None}, 7)
    holding = [f.name for f in tmp_path.rglob("*") if f.is_file() and b"SUPPORT-TICKET-TEXT" in f.read_bytes()]
    assert holding == []
    resumed = store.resume(0)
    assert resumed is not None
    assert dict(resumed[0]) == {b"c-other": b"y" * 100}
