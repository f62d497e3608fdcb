"""ResumeAfterSeek: stream partitions start fetching only once the seek to committed offsets is done."""

from __future__ import annotations

import asyncio

from faust.types import TP

from momentstream.runtime.kafka.faust_worker.resume_after_seek import ResumeAfterSeek

CHANGELOG = "app-customer_state-changelog"
STREAM = [TP("touchpoints", 0), TP("touchpoints", 1), TP("ticks", 0)]
LOG = [TP(CHANGELOG, 0), TP(CHANGELOG, 1)]


class Consumer:
    """The three members of a Faust consumer the wrapper uses, keeping a journal of calls in order."""

    def __init__(self, assigned: list[TP]) -> None:
        self.assigned = set(assigned)
        self.journal: list[tuple[str, frozenset[TP]]] = []

    def assignment(self) -> set[TP]:
        return self.assigned

    def _is_changelog_tp(self, tp: TP) -> bool:
        return tp.topic == CHANGELOG

    def resume_partitions(self, tps: set[TP]) -> None:
        self.journal.append(("resume", frozenset(tps)))

    async def perform_seek(self) -> None:
        await asyncio.sleep(0)
        self.journal.append(("seek", frozenset()))


def test_changelog_partitions_resume_at_once_stream_partitions_after_the_seek() -> None:
    consumer = Consumer(STREAM + LOG)
    ResumeAfterSeek.install(consumer)
    consumer.resume_partitions(set(LOG))
    assert consumer.journal == [("resume", frozenset(LOG))]
    consumer.resume_partitions(set(STREAM))  # what Faust's recovery does just before it seeks
    assert consumer.journal == [("resume", frozenset(LOG))]
    asyncio.run(consumer.perform_seek())
    assert consumer.journal == [("resume", frozenset(LOG)), ("seek", frozenset()), ("resume", frozenset(STREAM))]


def test_a_partition_revoked_before_the_seek_is_not_resumed() -> None:
    consumer = Consumer(STREAM)
    ResumeAfterSeek.install(consumer)
    consumer.resume_partitions(set(STREAM))
    consumer.assigned = {STREAM[0]}
    asyncio.run(consumer.perform_seek())
    assert consumer.journal[-1] == ("resume", frozenset({STREAM[0]}))


def test_a_seek_with_nothing_held_resumes_nothing() -> None:
    consumer = Consumer(STREAM)
    ResumeAfterSeek.install(consumer)
    asyncio.run(consumer.perform_seek())
    asyncio.run(consumer.perform_seek())
    assert consumer.journal == [("seek", frozenset()), ("seek", frozenset())]
