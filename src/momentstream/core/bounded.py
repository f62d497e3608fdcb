"""A short list that keeps only its newest items: the small per-customer logs, at a list's size.

Every customer carries three of these logs (revocable triggers, contacts, muted windows), mostly empty.
As :class:`collections.deque` each cost 760 bytes even empty; as a list it costs 56 bytes plus 8 per
item. Dropping the oldest moves at most 64 pointers. (The recent event ids and the story, trimmed by the
state itself, are plain lists.)

>>> log = Bounded([1, 2, 3], maxlen=3)
>>> log.append(4); log
[2, 3, 4]
>>> log.popleft(), log
(2, [3, 4])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

__all__ = ["Bounded"]

T = TypeVar("T")


class Bounded(list[T]):
    """A list whose :meth:`append` drops the oldest item past ``maxlen`` (None: no bound), with ``popleft``."""

    __slots__ = ("maxlen",)

    def __init__(self, items: Iterable[T] = (), maxlen: int | None = None) -> None:
        super().__init__(items)
        self.maxlen = maxlen
        if maxlen is not None and len(self) > maxlen:
            del self[: len(self) - maxlen]

    def append(self, item: T) -> None:
        """Add ``item`` as the newest, dropping the oldest if the list is full."""
        super().append(item)
        if self.maxlen is not None and len(self) > self.maxlen:
            del self[0]

    def popleft(self) -> T:
        """Remove and return the oldest item."""
        return self.pop(0)
