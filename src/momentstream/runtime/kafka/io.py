"""Operator tools around the worker's topics, with kafka-python: produce events, tail a topic, tick.

These are what an operator or a test uses to put journeys into Kafka and watch what comes out;
the worker itself runs on confluent-kafka (see :mod:`momentstream.runtime.kafka.batch_worker.worker`) or Faust.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from momentstream.ops.kafka_connection import KafkaConnection
from momentstream.runtime.inputs import looks_like_segment, segment_key
from momentstream.runtime.kafka.processor import encode_tick

__all__ = ["ProduceReport", "TopicRecord", "key_of", "produce_lines", "read_topic", "send_ticks"]


@dataclass(slots=True)
class ProduceReport:
    """What :func:`produce_lines` sent."""

    sent: int = 0
    unkeyed: int = 0
    seconds: float = 0.0
    send_times: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicRecord:
    """One record read back from a topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    timestamp_ms: int

    def json(self) -> Any:
        """The value parsed as JSON."""
        return json.loads(self.value)


def key_of(line: bytes) -> bytes | None:
    """The record key for an event line: its customer_id (a Segment message's customer), or None if it has none.

    Examples
    --------
    >>> key_of(b'{"customer_id": "c-7", "type": "purchase"}')
    b'c-7'
    >>> key_of(b'{"type": "identify", "anonymousId": "a-1", "userId": "u-1"}')
    b'a-1'
    >>> key_of(b"not json") is None
    True
    """
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if looks_like_segment(doc):  # a CDP's message: keyed by the customer it is about
        customer: object = segment_key(doc)
    else:
        customer = doc.get("customer_id") if isinstance(doc, dict) else None
    return customer.encode() if isinstance(customer, str) and customer else None


def producer(kafka: KafkaConnection, **options: Any) -> KafkaProducer:
    """A producer tuned for throughput, waiting for all in-sync replicas."""
    settings: dict[str, Any] = {"acks": "all", "linger_ms": 5, "batch_size": 262_144, "retries": 5}
    settings.update(options)
    return KafkaProducer(**kafka.kafka_python(), **settings)


def produce_lines(
    kafka: KafkaConnection,
    topic: str,
    lines: Iterable[bytes],
    *,
    rate: float | None = None,
    track_times: bool = False,
    on_progress: Any = None,
) -> ProduceReport:
    """Send event lines as they are (the worker dead-letters bad ones), keyed by customer id.

    ``rate`` paces sending to that many records per second; ``track_times`` records when each
    event id was sent (for latency measurements).
    """
    report = ProduceReport()
    started = time.perf_counter()
    out = producer(kafka)
    try:
        for raw in lines:
            line = raw.strip()
            if not line:
                continue
            key = key_of(line)
            if key is None:
                report.unkeyed += 1
            if rate:
                delay = started + report.sent / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            out.send(topic, key=key, value=line)
            if track_times and key is not None:
                report.send_times[_event_id(line)] = time.time()
            report.sent += 1
            if on_progress is not None and report.sent % 10_000 == 0:
                on_progress(report.sent)
        out.flush()
    finally:
        out.close()
    report.seconds = time.perf_counter() - started
    return report


def _event_id(line: bytes) -> str:
    try:
        return str(json.loads(line).get("event_id", ""))
    except (ValueError, AttributeError):
        return ""


def send_ticks(kafka: KafkaConnection, topic: str, now_ms: int, final: bool = False) -> int:
    """Write one tick record to every partition of the ticks topic; returns how many."""
    out = producer(kafka)
    try:
        partitions = sorted(out.partitions_for(topic) or [])
        for partition in partitions:
            out.send(topic, value=encode_tick(now_ms, final), partition=partition)
        out.flush()
    finally:
        out.close()
    return len(partitions)


def read_topic(
    kafka: KafkaConnection,
    topic: str,
    *,
    from_beginning: bool = True,
    idle_timeout_s: float = 5.0,
    max_records: int | None = None,
    follow: bool = False,
) -> Iterator[TopicRecord]:
    """Records of a topic without joining a group (no offsets committed).

    Stops after ``idle_timeout_s`` with nothing new (unless ``follow``) or ``max_records``.
    """
    consumer = KafkaConsumer(**kafka.kafka_python(), enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=int(idle_timeout_s * 1000))  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        if from_beginning:
            consumer.seek_to_beginning(*partitions)
        else:
            consumer.seek_to_end(*partitions)
        seen = 0
        while True:
            for message in consumer:
                yield TopicRecord(message.partition, message.offset, message.key, message.value or b"",
                                  dict(message.headers or []), message.timestamp)  # fmt: skip
                seen += 1
                if max_records is not None and seen >= max_records:
                    return
            if not follow:
                return
    finally:
        consumer.close()
