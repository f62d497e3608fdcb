"""Make an erased customer's changelog values leave the broker within ``erasure_within``, even on a quiet
partition.

The changelog rolls a segment (``segment.ms``, half of ``erasure_within``) only when a record is appended,
and the log cleaner never compacts the active segment. On a partition that gets no write after an erasure,
the erased customer's old values would stay on the broker's disks indefinitely. So after writing an
erasure's tombstone to a partition, the batched worker appends one more tombstone, of a key no customer
has (:data:`ROLL_KEY`), once ``segment.ms`` has passed: that append rolls the segment, and
``max.compaction.lag.ms`` then makes the cleaner compact it. Loading the changelog, the extra tombstone
deletes nothing; a worker that lost the partition meanwhile still appends it (harmless to the new owner).

>>> roller = SegmentRoller(segment_ms=10_000)
>>> roller.erased(3, now_s=100.0)
>>> roller.due(now_s=105.0), roller.due(now_s=111.5), roller.due(now_s=200.0)
([], [3], [])
"""

from __future__ import annotations

__all__ = ["ROLL_KEY", "SegmentRoller"]

ROLL_KEY = b"\x00momentstream.segment-roll"
"""The key of the rolling tombstone: NUL-led, so no customer id (1-200 printable characters) is ever it."""
MARGIN_S = 1.0
"""Past ``segment.ms``, so the broker's clock surely sees the segment as old enough to roll."""


class SegmentRoller:
    """Which changelog partitions owe a rolling tombstone, and when."""

    def __init__(self, segment_ms: int) -> None:
        self.delay_s = segment_ms / 1000 + MARGIN_S
        self._due: dict[int, float] = {}

    def erased(self, partition: int, now_s: float) -> None:
        """A tombstone of an erased customer went to ``partition`` at ``now_s`` (monotonic seconds)."""
        self._due.setdefault(partition, now_s + self.delay_s)

    def due(self, now_s: float) -> list[int]:
        """The partitions to append :data:`ROLL_KEY` to now (each once per erasure round)."""
        ready = sorted(p for p, at in self._due.items() if at <= now_s)
        for partition in ready:
            del self._due[partition]
        return ready
