"""How the batched worker's Kafka clients and local store are configured (librdkafka settings, RocksDB copy)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from momentstream.ops.settings import WorkerSettings

if TYPE_CHECKING:
    from momentstream.runtime.kafka.batch_worker.local_store import LocalStore

__all__ = ["LIBRDKAFKA_LOG", "consumer_config", "local_store", "producer_config"]

LIBRDKAFKA_LOG = logging.getLogger("librdkafka")
"""librdkafka's own messages go through Python logging, so the credential redaction applies to them too."""


def local_store(settings: WorkerSettings) -> LocalStore | None:
    """The RocksDB copy for ``store: rocksdb`` (rocksdict is an optional dependency, imported only then)."""
    if settings.store != "rocksdb":
        return None
    from momentstream.runtime.kafka.batch_worker.local_store import LocalStore  # noqa: PLC0415

    # A tombstone may leave the changelog delete.retention.ms (half of erasure_within) after compaction.
    return LocalStore(settings.data_dir, settings.erasure_within_ms // 2)


def consumer_config(settings: WorkerSettings) -> dict[str, Any]:
    """Range assignment keeps partition p of touchpoints and ticks on the same worker (co-partitioning)."""
    return {
        **settings.kafka.librdkafka(),
        "logger": LIBRDKAFKA_LOG,
        "group.id": settings.app_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "range",
        "session.timeout.ms": int(settings.session_timeout * 1000),
        "heartbeat.interval.ms": int(max(settings.session_timeout / 10, 1.0) * 1000),
        "max.poll.interval.ms": 300_000,
        "fetch.wait.max.ms": 10,
    }


def producer_config(settings: WorkerSettings) -> dict[str, Any]:
    """Every record acknowledged by all in-sync replicas, once (idempotent), keyed as Java clients key."""
    return {
        **settings.kafka.librdkafka(),
        "logger": LIBRDKAFKA_LOG,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": settings.producer_linger_ms,
        "message.max.bytes": 1_000_000,
        # Keyed records this worker puts back on the touchpoints topic (identity handoffs) must land where the
        # Java clients, kafka-python and Faust put that key: their murmur2, not librdkafka's default CRC32.
        "partitioner": "murmur2_random",
    }
