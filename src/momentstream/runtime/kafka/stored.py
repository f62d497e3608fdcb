"""How a customer's state is stored in a runtime's key-value table (and its changelog).

The value carries a small header in front of the engine's state bytes: the partition the
customer belongs to, their next wake-up and how many timers they hold. After a restart or a
rebalance the runtime rebuilds its timer index from these headers alone, without decoding
every customer's full state.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

from momentstream.core.state import CustomerState, StateFormatError

__all__ = ["ENTRY_FORMAT", "MAX_STORED_BYTES", "StoredEntry", "decode_entry", "encode_entry"]

ENTRY_FORMAT = 2
"""Bumped when the header layout changes; the state bytes carry their own format number.
Format 1 (without the newest event time) is still read."""
MAX_STORED_BYTES = 786_432
"""The largest stored value: a changelog record must fit the producer's 1 MB request limit with room to spare."""


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """The header of a stored value, and the state bytes behind it (decoded on demand)."""

    partition: int
    wakeup: int | None
    timers: int
    state_bytes: bytes
    max_seen: int | None = None
    """The customer's newest event time: after a restart the partition clock resumes from the newest of these."""

    def state(self) -> CustomerState:
        """The full customer state."""
        return CustomerState.from_bytes(self.state_bytes)


def encode_entry(partition: int, wakeup: int | None, state: CustomerState) -> bytes:
    """Bytes for the table: header plus the state's own versioned encoding.

    Examples
    --------
    >>> entry = decode_entry(encode_entry(3, 1_000, CustomerState("c1", max_seen=5)))
    >>> entry.partition, entry.wakeup, entry.timers, entry.state().customer_id, entry.max_seen
    (3, 1000, 0, 'c1', 5)
    """
    doc = [ENTRY_FORMAT, partition, wakeup, len(state.timers), state.to_bytes(), state.max_seen]
    return msgpack.packb(doc, use_bin_type=True)


def decode_entry(data: bytes) -> StoredEntry:
    """Read the header; raise :class:`StateFormatError` for bytes this version cannot read."""
    try:
        doc = msgpack.unpackb(data, raw=False)
    except (ValueError, msgpack.UnpackException) as err:
        raise StateFormatError(f"not a stored momentstream entry: {err}") from None
    if not isinstance(doc, list) or (doc[:1], len(doc)) not in (([1], 5), ([ENTRY_FORMAT], 6)):
        raise StateFormatError("stored entry has an unknown format")
    _, partition, wakeup, timers, state_bytes, *newest = doc
    return StoredEntry(partition, wakeup, timers, state_bytes, newest[0] if newest else None)
