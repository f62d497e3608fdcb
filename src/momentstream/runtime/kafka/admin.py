"""Creating and checking the worker's topics with kafka-python's admin client.

Touchpoints, ticks and the state changelog must have the same partition count (they are
co-partitioned: partition *p* of each lives on the same worker). The changelog is compacted;
ticks are short-lived; actions, audit and dead-letter records are kept long enough for a CRM
or an operator to catch up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from momentstream.ops.settings import WorkerSettings

__all__ = ["TopicMismatchError", "TopicPlan", "changelog_config", "changelog_topic", "ensure_topics", "plan_topics"]

logger = logging.getLogger(__name__)

_DAY_MS = 86_400_000


class TopicMismatchError(RuntimeError):
    """The topics exist but cannot work together (for example different partition counts)."""


@dataclass(frozen=True, slots=True)
class TopicPlan:
    """One topic as the worker needs it."""

    name: str
    partitions: int
    config: dict[str, str]
    copartitioned: bool


def changelog_topic(settings: WorkerSettings) -> str:
    """The name Faust gives the customer-state table's changelog."""
    return f"{settings.app_id}-customer_state-changelog"


def changelog_config(erasure_within_ms: int) -> dict[str, str]:
    """Compaction settings that make an erasure physically gone within ``erasure_within_ms``.

    A tombstone removes a customer's older values only when the log cleaner compacts the segments
    that hold them, and it never compacts the active segment. Rolling segments every half of the
    bound (``segment.ms``) and forcing compaction of anything older than that
    (``max.compaction.lag.ms``) leaves the other half for the cleaner to run. The tombstone itself
    (the key only) is dropped ``delete.retention.ms`` after that.

    Examples
    --------
    >>> changelog_config(86_400_000)["max.compaction.lag.ms"]
    '43200000'
    """
    half = str(max(erasure_within_ms // 2, 1))
    return {"cleanup.policy": "compact", "segment.ms": half, "max.compaction.lag.ms": half,
            "delete.retention.ms": half, "min.cleanable.dirty.ratio": "0.1"}  # fmt: skip


def plan_topics(settings: WorkerSettings) -> list[TopicPlan]:
    """Every topic the worker reads or writes, with partitions and retention set right."""
    p = settings.partitions
    return [
        TopicPlan(settings.touchpoints_topic, p, {"retention.ms": str(7 * _DAY_MS)}, True),
        TopicPlan(settings.ticks_topic, p, {"retention.ms": str(_DAY_MS), "cleanup.policy": "delete"}, True),
        TopicPlan(changelog_topic(settings), p, changelog_config(settings.erasure_within_ms), True),
        TopicPlan(settings.actions_topic, p, {"retention.ms": str(14 * _DAY_MS)}, False),
        TopicPlan(settings.audit_topic, p, {"retention.ms": str(14 * _DAY_MS)}, False),
        # A holdout trigger carries the customer's evidence and story, a dead letter the raw record: neither is
        # erased by an erasure request, so neither is kept longer than an erasure may take. Copy what you measure
        # over weeks into a store your erasure process covers.
        TopicPlan(settings.holdout_topic, p, {"retention.ms": str(settings.erasure_within_ms)}, False),
        TopicPlan(settings.dead_letter_topic, p, {"retention.ms": str(settings.erasure_within_ms)}, False),
        TopicPlan(settings.models_topic, 1, {"cleanup.policy": "compact"}, False),
    ]


def ensure_topics(settings: WorkerSettings, timeout_s: float = 30.0) -> dict[str, str]:
    """Create missing topics and check the co-partitioned ones agree; returns name -> what happened.

    Raises :class:`TopicMismatchError` when an existing co-partitioned topic has another partition
    count than ``settings.partitions`` (the worker would mix customers' states otherwise).
    """
    admin = KafkaAdminClient(
        **settings.kafka.kafka_python(),
        client_id=f"{settings.app_id}-admin",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        plans = plan_topics(settings)
        existing = set(admin.list_topics())
        result: dict[str, str] = {}
        for plan in plans:
            if plan.name in existing:
                result[plan.name] = "exists"
                continue
            try:
                admin.create_topics(
                    [NewTopic(plan.name, plan.partitions, settings.replication_factor, topic_configs=plan.config)],
                    timeout_ms=int(timeout_s * 1000),
                )
                result[plan.name] = "created"
            except TopicAlreadyExistsError:
                result[plan.name] = "exists"
        names = [p.name for p in plans]
        counts = _partition_counts(admin, names)
        deadline = time.monotonic() + timeout_s
        while not all(counts.get(n) for n in names) and time.monotonic() < deadline:
            time.sleep(0.2)  # a topic just created (or a broker just started) reports no partitions for a moment
            counts = _partition_counts(admin, names)
        missing = sorted(n for n in names if not counts.get(n))
        if missing:
            raise TopicMismatchError(f"topics {missing} report no partitions after {timeout_s:.0f} s: the broker "
                                     "is not ready yet (still starting?); run the command again shortly")  # fmt: skip
        wrong = {
            p.name: counts.get(p.name) for p in plans if p.copartitioned and counts.get(p.name) != settings.partitions
        }
        if wrong:
            raise TopicMismatchError(
                f"co-partitioned topics must have {settings.partitions} partitions (MOMENTSTREAM_PARTITIONS); "
                f"found {wrong}. Recreate them, or set partitions to match."
            )
        return result
    finally:
        admin.close()


def _partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for doc in admin.describe_topics(names):
        name = doc.get("name") or doc.get("topic")
        counts[str(name)] = len(doc.get("partitions") or [])
    return counts


def group_offsets(settings: WorkerSettings) -> dict[int, tuple[int, int]]:
    """Per touchpoint partition: (offset the worker group has committed, end offset).

    Offsets are committed only after a record's outputs are flushed, so everything below the
    committed offset is fully processed.
    """
    admin = KafkaAdminClient(**settings.kafka.kafka_python())
    consumer = KafkaConsumer(**settings.kafka.kafka_python(), enable_auto_commit=False)
    try:
        topic = settings.touchpoints_topic
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        ends = consumer.end_offsets(partitions)
        committed = admin.list_group_offsets(settings.app_id).get(settings.app_id, {})
        return {
            tp.partition: (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0, ends[tp])
            for tp in partitions
        }
    finally:
        consumer.close()
        admin.close()


def consumer_lag(settings: WorkerSettings) -> dict[int, int]:
    """Touchpoint records per partition that the worker group has not committed yet (all zeros: all done)."""
    return {partition: end - committed for partition, (committed, end) in group_offsets(settings).items()}
