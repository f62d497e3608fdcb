"""BoundedFlush on Faust's real ProducerBuffer: a flush ends under steady input and waits out slow sends."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.producer import ProducerBuffer

from momentstream.runtime.kafka.faust_worker.producer_flush import BoundedFlush


class Sink:
    """Stands in for the Kafka producer behind the buffer: records what it was handed, after a delay."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.sent: list[int] = []

    def message(self, n: int) -> Any:
        async def publish_message(fut: Any, wait: bool = False) -> None:
            await asyncio.sleep(self.delay_s)
            self.sent.append(n)

        return SimpleNamespace(message=SimpleNamespace(channel=SimpleNamespace(publish_message=publish_message)))


@pytest.fixture
def app() -> faust.App:
    return faust.App("test-producer-flush", autodiscover=False)


async def started_buffer(app: faust.App) -> tuple[ProducerBuffer, BoundedFlush]:
    buffer = ProducerBuffer()
    buffer.app = app
    counter = BoundedFlush.install(buffer)
    await buffer.start()
    return buffer, counter


def test_flush_ends_while_messages_keep_arriving(app: faust.App) -> None:
    async def main() -> tuple[int, list[int]]:
        buffer, _ = await started_buffer(app)
        sink = Sink(delay_s=0.002)
        stop = asyncio.Event()

        async def steady_input() -> None:  # a table write per record, faster than the sends
            n = 0
            while not stop.is_set():
                buffer.put(sink.message(n))
                n += 1
                await asyncio.sleep(0.001)

        feeder = asyncio.create_task(steady_input())
        await asyncio.sleep(0.05)
        put_before = buffer.size + len(sink.sent)
        await asyncio.wait_for(buffer.flush(), timeout=5)  # Faust's own flush never returns here
        sent_at_return = list(sink.sent)
        stop.set()
        await feeder
        await buffer.stop()
        return put_before, sent_at_return

    put_before, sent = asyncio.run(main())
    assert sent[:put_before] == list(range(put_before))


def test_flush_waits_for_sends_slower_than_faust_gives_up_on(app: faust.App) -> None:
    async def main() -> list[int]:
        buffer, counter = await started_buffer(app)
        sink = Sink(delay_s=0.15)  # Faust's flush returns after 0.1 s without a send
        for n in range(3):
            buffer.put(sink.message(n))
        await buffer.flush()
        sent = list(sink.sent)
        assert counter.backlog == 0
        await buffer.stop()
        return sent

    assert asyncio.run(main()) == [0, 1, 2]


def test_stopping_sends_what_is_left(app: faust.App) -> None:
    async def main() -> list[int]:
        buffer, _ = await started_buffer(app)
        sink = Sink(delay_s=0.01)
        for n in range(20):
            buffer.put(sink.message(n))
        await buffer.stop()  # its send task quits early; the stop's flush sends the rest
        return sink.sent

    assert asyncio.run(main()) == list(range(20))


def test_a_threaded_producer_is_refused(app: faust.App) -> None:
    app.conf.producer_threaded = True
    buffer = ProducerBuffer()
    buffer.app = app
    with pytest.raises(ValueError, match="threaded"):
        BoundedFlush.install(buffer)
