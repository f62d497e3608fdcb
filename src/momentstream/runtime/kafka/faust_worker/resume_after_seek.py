"""Keep stream partitions paused until Faust has sought them to their committed offsets.

After a rebalance, Faust's recovery resumes the stream partitions first and only then seeks them
to the committed offsets; the seek waits on a broker round trip. In that gap the fetcher, already
running for the changelog, hands the agent records from wherever the client stood. When the
seek lands it resets the read and committed offsets under a batch that is still being delivered.
After a SIGKILL and restart we saw two outcomes:

- records at the committed offset were never delivered at all, a hole Faust's commit never gets
  past, so that partition stopped committing for good;
- records were processed but their acks were thrown away, which did the same.

Resuming only after the seek leaves no such gap: delivery starts at the committed offset.
Faust resumes stream partitions in exactly two places, and both seek right after.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

__all__ = ["ResumeAfterSeek"]

logger = logging.getLogger(__name__)


class ResumeAfterSeek:
    """Wraps one Faust consumer's ``resume_partitions`` and ``perform_seek`` in place.

    Changelog partitions resume at once, because recovery reads them. Stream partitions are held
    until the next ``perform_seek`` has finished.
    """

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.held: set[Any] = set()
        self._resume = consumer.resume_partitions
        self._seek = consumer.perform_seek

    @classmethod
    def install(cls, consumer: Any) -> ResumeAfterSeek:
        """Replace the two methods on ``consumer``; returns the wrapper."""
        wrapper = cls(consumer)
        consumer.resume_partitions = wrapper.resume_partitions
        consumer.perform_seek = wrapper.perform_seek
        return wrapper

    def resume_partitions(self, tps: Iterable[Any]) -> None:
        """Resume changelog partitions now; hold stream partitions for the seek."""
        wanted = set(tps)
        streams = {tp for tp in wanted if not self.consumer._is_changelog_tp(tp)}
        self.held |= streams
        if wanted - streams:
            self._resume(wanted - streams)

    async def perform_seek(self) -> None:
        """Seek, then resume the partitions held for it (those still assigned)."""
        await self._seek()
        held, self.held = self.held, set()
        assigned = set(self.consumer.assignment())
        if held & assigned:
            logger.debug("resuming %d stream partitions after the seek", len(held & assigned))
            self._resume(held & assigned)
