"""The batched worker's customer-state table: a dict per owned partition, made durable by a changelog topic.

Writes land in memory at once and are remembered as *dirty*; after a batch's triggers are safe the
worker drains them into the changelog (one record per changed customer per batch, a tombstone
for an erased one) and only then commits its input offsets. A crash before that loses memory
only: the input is redelivered and recomputes the same states and trigger ids.

The changelog has the layout Faust gives its table changelog (same topic name, key = customer id,
value = the stored entry), so either runtime can take over the other's state.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["ChangelogTable"]


class ChangelogTable:
    """A :class:`~momentstream.runtime.kafka.processor.StateTable` over the partitions this worker owns.

    Examples
    --------
    >>> table = ChangelogTable()
    >>> table.load(3, [(b"c1", b"v1"), (b"c2", b"v2"), (b"c1", None)], end_offset=3)
    >>> table[b"c9"] = b"v9"
    >>> table.drain(3)
    {b'c9': b'v9'}
    >>> sorted(table.keys_of(3)), table.get(b"c1")
    ([b'c2', b'c9'], None)
    >>> table.drop(3); len(table)
    0
    """

    def __init__(self) -> None:
        self._values: dict[bytes, bytes] = {}
        self._owner: dict[bytes, int] = {}
        self._keys: dict[int, set[bytes]] = {}
        self._dirty: dict[bytes, bytes | None] = {}
        self.end_offsets: dict[int, int] = {}
        """Per partition, the changelog offset after the newest record this table holds (recovered or written)."""

    # -- the StateTable protocol -----------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        """The stored value of a customer, if any."""
        return self._values.get(key)

    def get_customer(self, customer_id: str) -> bytes | None:
        """The stored value by customer id: one dict read, safe from the web thread while the loop writes."""
        return self._values.get(customer_id.encode())

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._values[key] = value
        self._dirty[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self._values[key]
        self._dirty[key] = None

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every stored customer of this worker."""
        yield from self._values.items()

    # -- partitions ------------------------------------------------------------------------------
    def drain(self, partition: int) -> dict[bytes, bytes | None]:
        """The writes since the last drain (None: deleted), now owned by ``partition``: its changelog records.

        Drain after each partition's work is saved, so that every write in it belongs to that partition.
        """
        dirty, self._dirty = self._dirty, {}
        keys = self._keys.setdefault(partition, set())
        for key, value in dirty.items():
            if value is None:
                keys.discard(key)
                self._owner.pop(key, None)
            else:
                keys.add(key)
                self._owner[key] = partition
        return dirty

    def load(self, partition: int, records: Iterator[tuple[bytes, bytes | None]] | list[tuple[bytes, bytes | None]],
             end_offset: int) -> None:  # fmt: skip
        """Apply a partition's changelog records in order (None: a tombstone)."""
        keys = self._keys.setdefault(partition, set())
        for key, value in records:
            if value is None:
                if self._owner.get(key) == partition:
                    self._values.pop(key, None)
                    self._owner.pop(key, None)
                keys.discard(key)
            else:
                self._values[key] = value
                self._owner[key] = partition
                keys.add(key)
        self.end_offsets[partition] = end_offset

    def drop(self, partition: int) -> None:
        """Forget a partition this worker no longer owns (its changelog keeps it)."""
        for key in self._keys.pop(partition, set()):
            if self._owner.get(key) == partition:
                del self._owner[key]
                self._values.pop(key, None)
        self.end_offsets.pop(partition, None)

    def partitions(self) -> set[int]:
        """Partitions whose state is held here."""
        return set(self.end_offsets)

    def keys_of(self, partition: int) -> set[bytes]:
        """The customers of one partition."""
        return set(self._keys.get(partition, ()))

    def written(self, partition: int, end_offset: int) -> None:
        """The broker took changelog records of ``partition`` up to ``end_offset`` (exclusive)."""
        self.end_offsets[partition] = max(self.end_offsets.get(partition, 0), end_offset)
