"""A new deployment's state from a backfill: each customer's state written to the worker's changelog, so the
workers start warm (partial matches, open windows, timers, contacts and consent as the history left them).

The backfill (``replay --engine spark``) writes ``states/``: each customer's state encoding and next wake-up.
Here each becomes the changelog record the worker itself would write (key: the customer id; value: the stored
entry's header, with the customer's partition, then the state), in the partition Kafka's default partitioner
gives the customer id, as ``momentstream produce`` keys the touchpoints. A worker recovering its partitions
reads them as its own. A changelog that already holds state is refused: that deployment is not new.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2

from momentstream.core.state import CustomerState, StateFormatError
from momentstream.ops.settings import WorkerSettings
from momentstream.runtime.kafka.admin import changelog_topic
from momentstream.runtime.kafka.io import producer
from momentstream.runtime.kafka.stored import MAX_STORED_BYTES, encode_entry

__all__ = ["SeedRefusedError", "SeedReport", "key_partition", "seed_states"]


class SeedRefusedError(ValueError):
    """The changelog cannot be seeded as asked (missing, another partition count, already holding state)."""


@dataclass(slots=True)
class SeedReport:
    """What was written: customers per changelog partition, and how long it took."""

    partitions: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def customers(self) -> int:
        """Customers written."""
        return sum(self.partitions.values())


def key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (the Java client's murmur2) gives a keyed record.

    >>> key_partition(b"cust-00001", 4), key_partition(b"cust-00001", 4) == key_partition(b"cust-00001", 4)
    (0, True)
    """
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def seed_states(settings: WorkerSettings, states: Iterable[tuple[str, int | None, bytes]], *,
                force: bool = False) -> SeedReport:  # fmt: skip
    """Write ``(customer id, next wake-up, state bytes)`` to the changelog of ``settings``' deployment."""
    started = time.perf_counter()
    topic = changelog_topic(settings)
    existing = _end_offsets(settings, topic)
    if not existing:
        raise SeedRefusedError(f"no changelog topic {topic!r}: run `momentstream topics create` first")
    if len(existing) != settings.partitions:
        raise SeedRefusedError(f"{topic} has {len(existing)} partitions, the deployment {settings.partitions}")
    held = sum(existing.values())
    if held and not force:
        raise SeedRefusedError(f"{topic} already holds {held:,} records: this deployment has state (--force "
                               "writes over those customers)")  # fmt: skip
    report = SeedReport()
    out = producer(settings.kafka)
    try:
        for customer_id, wakeup, data in states:
            state = CustomerState.from_bytes(data)
            if state.customer_id != customer_id:
                raise StateFormatError(f"a state stored under {customer_id!r} is another customer's")
            key = customer_id.encode()
            partition = key_partition(key, settings.partitions)
            value = encode_entry(partition, wakeup, state)
            if len(value) > MAX_STORED_BYTES:
                raise SeedRefusedError(f"a customer's state is {len(value):,} bytes, over {MAX_STORED_BYTES:,}")
            out.send(topic, key=key, value=value, partition=partition)
            report.partitions[partition] += 1
        out.flush()
    finally:
        out.close()
    report.seconds = time.perf_counter() - started
    return report


def _end_offsets(settings: WorkerSettings, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(**settings.kafka.kafka_python(), enable_auto_commit=False)
    try:
        found = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in sorted(found)])
        return {tp.partition: int(end) for tp, end in ends.items()}
    finally:
        consumer.close()
