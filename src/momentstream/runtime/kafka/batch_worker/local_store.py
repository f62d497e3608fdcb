"""A local RocksDB copy of the batched worker's table (``store: rocksdb``), so a restart reads only the
changelog written since, not all of it.

One database per partition under ``<data_dir>/v1/tables/`` (where the Faust runtime keeps its own),
and beside it the changelog offset the database is complete up to. The offset file is written after
the database, so a crash in between only makes the next start read a little more of the changelog.

A copy older than ``max_age_ms`` is not trusted: the changelog may have dropped a tombstone the copy
never saw (an erased customer would come back), so the partition is read from the changelog instead.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from rocksdict import BottommostLevelCompaction, CompactOptions, Options, Rdict, WriteBatch

__all__ = ["LocalStore"]

logger = logging.getLogger(__name__)


class LocalStore:
    """Per-partition RocksDB databases with the changelog offset each is complete up to."""

    def __init__(self, data_dir: Path, max_age_ms: int) -> None:
        self.directory = data_dir / "v1" / "tables"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_age_ms = max_age_ms
        self._open: dict[int, Rdict] = {}

    def resume(self, partition: int) -> tuple[Iterator[tuple[bytes, bytes]], int] | None:
        """The stored entries and the changelog offset to read on from, or None to read it all."""
        meta = self._meta_path(partition)
        try:
            doc = json.loads(meta.read_text())
            offset, saved_ms = int(doc["end_offset"]), int(doc["saved_ms"])
        except (OSError, ValueError, KeyError, TypeError):
            self.forget(partition)
            return None
        if time.time() * 1000 - saved_ms > self.max_age_ms:
            logger.warning("local state of partition %d is older than the tombstone retention: not used", partition)
            self.forget(partition)
            return None
        db = self._db(partition)
        return ((cast(bytes, k), cast(bytes, v)) for k, v in db.items()), offset

    def save(self, partition: int, writes: dict[bytes, bytes | None], end_offset: int) -> None:
        """Apply a batch's writes (None: delete), then record the offset they are complete up to.

        A delete (an erased customer) is made physical at once (:meth:`_purge`): RocksDB keeps a deleted value
        in its write-ahead log and its files until a compaction. Erasures are rare; the cost is paid only then.
        """
        batch = WriteBatch(raw_mode=True)
        deleted = False
        for key, value in writes.items():
            if value is None:
                batch.delete(key)
                deleted = True
            else:
                batch.put(key, value)
        db = self._db(partition)
        db.write(batch)
        if deleted:
            self._purge(partition, db)
        meta = self._meta_path(partition)
        tmp = meta.with_suffix(".tmp")
        tmp.write_text(json.dumps({"end_offset": end_offset, "saved_ms": int(time.time() * 1000)}))
        tmp.replace(meta)

    def _purge(self, partition: int, db: Rdict) -> None:
        """Leave no trace of deleted keys in the files: flush the memtable (its log goes), compact down to the
        last level (where tombstones are dropped, forced: RocksDB keeps them there by default), then reopen
        the database so its manifest, a log of file boundaries that can name a deleted key, starts afresh."""
        db.flush(True)
        options = CompactOptions()
        options.set_bottommost_level_compaction(BottommostLevelCompaction.force())
        db.compact_range(None, None, options)
        db.close()
        del self._open[partition]
        self._db(partition)

    def forget(self, partition: int) -> None:
        """Delete a partition's copy (another worker owns it now, or it can no longer be trusted)."""
        db = self._open.pop(partition, None)
        if db is not None:
            db.close()
        self._meta_path(partition).unlink(missing_ok=True)
        shutil.rmtree(self._db_path(partition), ignore_errors=True)

    def close(self) -> None:
        """Close every open database."""
        for db in self._open.values():
            db.close()
        self._open.clear()

    def _db(self, partition: int) -> Rdict:
        db = self._open.get(partition)
        if db is None:
            db = self._open[partition] = Rdict(str(self._db_path(partition)), Options(raw_mode=True))
        return db

    def _db_path(self, partition: int) -> Path:
        return self.directory / f"customer_state-{partition}.db"

    def _meta_path(self, partition: int) -> Path:
        return self.directory / f"customer_state-{partition}.offset"
