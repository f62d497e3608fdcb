"""A batch is what has arrived: the wait is for the first record only (a real broker: tests/integration)."""

from __future__ import annotations

from typing import Any

from momentstream.runtime.kafka.batch_worker.fetch import next_batch


class _Queue:
    """A consumer's local queue of fetched records, with librdkafka's blocking rules for the two calls."""

    def __init__(self, ready: list[str]) -> None:
        self.ready, self.waited = ready, 0.0

    def poll(self, timeout: float) -> Any:
        if not self.ready:
            self.waited += timeout
            return None
        return self.ready.pop(0)

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        taken, self.ready = self.ready[:num_messages], self.ready[num_messages:]
        if len(taken) < num_messages:
            self.waited += timeout  # consume blocks until it has num_messages or the timeout passed
        return taken


def test_a_batch_takes_what_has_arrived_and_never_waits_to_fill() -> None:
    queue = _Queue(["a", "b", "c"])
    assert next_batch(queue, 2000, 0.02) == ["a", "b", "c"]
    assert queue.waited == 0.0
    assert next_batch(queue, 2000, 0.02) == []
    assert queue.waited == 0.02  # only the wait for a first record


def test_a_batch_holds_at_most_its_size() -> None:
    queue = _Queue([str(i) for i in range(5)])
    assert next_batch(queue, 2, 0.02) == ["0", "1"]
    assert next_batch(queue, 1, 0.02) == ["2"]
    assert next_batch(queue, 10, 0.02) == ["3", "4"]
