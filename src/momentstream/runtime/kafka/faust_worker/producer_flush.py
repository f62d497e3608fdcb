"""A producer-buffer flush that ends: it waits for what was buffered when it began, not for an empty buffer.

Faust commits offsets only after ``ProducerBuffer.flush()``, which loops until the buffer is empty.
Our agent writes the customer table once per record, so under steady input the buffer refills as
fast as it drains and the commit never finishes. We saw a worker under a 500 events/s stream keep no
committed offset at all, and a restarted worker's first commit last as long as its whole backlog.
That flush also gives up after 0.1 s with no send, so a slow broker could let a commit pass changelog
writes that had not been handed to the producer yet.

The buffer is a FIFO queue. Offsets are chosen before the flush starts, and a record is acked only
after its table write is buffered. So "every message put before the flush began has been sent" is
exactly the condition the commit needs, and it is always reached.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["BoundedFlush"]

POLL_S = 0.002
"""How often a waiting flush looks at the sent count (a commit runs every ``commit_interval``)."""


class BoundedFlush:
    """Counts puts and sends on one Faust ``ProducerBuffer``; ``flush`` waits for the puts made so far.

    Install it before the producer starts (the buffer's send task binds ``_send_pending`` when it starts).

    >>> import asyncio
    >>> class Buffer:  # the two methods Faust's ProducerBuffer uses
    ...     def __init__(self): self.sent = []
    ...     def put(self, item): asyncio.get_running_loop().create_task(self._send_pending(item))
    ...     async def _send_pending(self, item): self.sent.append(item)
    ...     async def flush(self): raise AssertionError("replaced")
    >>> async def main():
    ...     buffer = Buffer()
    ...     BoundedFlush.install(buffer)
    ...     buffer.put("a"); buffer.put("b")
    ...     await buffer.flush()
    ...     return buffer.sent
    >>> asyncio.run(main())
    ['a', 'b']
    """

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer
        self.put_count = 0
        self.sent_count = 0
        self._put = buffer.put
        self._send = buffer._send_pending

    @classmethod
    def install(cls, buffer: Any) -> BoundedFlush:
        """Wrap ``buffer``'s put, send and flush in place; returns the counter."""
        conf = getattr(getattr(buffer, "app", None), "conf", None)
        if conf is not None and conf.producer_threaded:
            raise ValueError("a threaded producer sends outside the buffer's task; its sends cannot be counted")
        counter = cls(buffer)
        buffer.put = counter.put
        buffer._send_pending = counter.send_pending
        buffer.flush = counter.flush
        return counter

    def put(self, fut: Any) -> None:
        """Count, then buffer as Faust would."""
        self.put_count += 1
        self._put(fut)

    async def send_pending(self, fut: Any) -> None:
        """Hand one buffered message to the producer, then count it (even when the send failed)."""
        try:
            await self._send(fut)
        finally:
            self.sent_count += 1

    @property
    def backlog(self) -> int:
        """Messages buffered and not yet handed to the producer."""
        return self.put_count - self.sent_count

    async def flush(self) -> None:
        """Wait until every message put before this call has been handed to the producer."""
        target = self.put_count
        while self.sent_count < target:
            if getattr(self.buffer, "should_stop", False):
                # Stopping: the buffer's send task quits after its current message, so send the rest here.
                await self._send_the_rest()
                return
            await asyncio.sleep(POLL_S)

    async def _send_the_rest(self) -> None:
        queue: asyncio.Queue[Any] = self.buffer.pending
        while not queue.empty():
            await self.send_pending(queue.get_nowait())
