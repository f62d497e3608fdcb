"""An erasure reaches every store a worker keeps, within ``erasure_within``, with nothing else written after it.

Before: with the local RocksDB store the erased values stayed on the worker's disk until a clean stop; on
the broker they went only once the partition got new writes; late events kept their whole payload in the
audit topic; holdout and dead-letter records outlived the erasure by 90 and 30 days.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from momentstream.core.schema import ERASURE_EVENT_TYPE, TouchpointEvent
from momentstream.devtools.broker import Broker
from momentstream.devtools.cluster import Deployment, WorkerProcess, wait_until
from momentstream.runtime.kafka.admin import changelog_topic, consumer_lag
from momentstream.runtime.kafka.io import read_topic
from tests.integration.test_kafka_runtime import lines_of

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
ERASED = "c-erased-7f3a"


def files_holding(directory: Path, needle: bytes) -> list[str]:
    return [f.name for f in directory.rglob("*") if f.is_file() and needle in f.read_bytes()]


def test_an_erasure_reaches_the_local_store_the_changelog_and_the_topics(kafka_broker: Broker, tmp_path: Path) -> None:
    mine = [TouchpointEvent(event_id=f"m{i}", customer_id=ERASED, type="page_view", ts=T0 + timedelta(minutes=i))
            for i in range(5)]  # fmt: skip
    other = [TouchpointEvent(event_id=f"o{h}", customer_id="c-other", type="page_view", ts=T0 + timedelta(hours=h))
             for h in (1, 2)]  # fmt: skip
    late = TouchpointEvent(event_id="o0", customer_id="c-other", type="support_ticket", ts=T0,
                           text="SECRET ticket text", properties={"plan": "pro"})  # fmt: skip
    erase = TouchpointEvent(event_id="x", customer_id=ERASED, type=ERASURE_EVENT_TYPE, ts=T0 + timedelta(hours=1))
    env = {"MOMENTSTREAM_ERASURE_WITHIN": "6s", "MOMENTSTREAM_STORE": "rocksdb", "MOMENTSTREAM_SCORING": "false"}
    deployment = Deployment(kafka_broker.bootstrap, partitions=1, extra_env=env)
    deployment.create_topics()
    settings = deployment.settings()
    data = tmp_path / f"{deployment.name}-erasure-data"

    def values_of_erased() -> int:
        records = read_topic(settings.kafka, changelog_topic(settings), idle_timeout_s=1.5)
        return sum(1 for r in records if r.key == ERASED.encode() and r.value)

    worker = WorkerProcess(deployment, tmp_path, "erasure")
    try:
        worker.wait_ready()
        deployment.produce(lines_of([*mine, *other, late]))
        wait_until(lambda: not any(consumer_lag(settings).values()), 60, "the customers' events", [worker])
        assert files_holding(data, ERASED.encode())  # the customer is on the worker's disk
        assert values_of_erased() >= 1
        deployment.produce(lines_of([erase]))
        wait_until(lambda: not any(consumer_lag(settings).values()), 60, "the erasure", [worker])
        on_disk = files_holding(data, ERASED.encode())
        started = time.monotonic()
        while values_of_erased() and time.monotonic() - started < 90:  # nothing else is written meanwhile
            time.sleep(2)
        left = values_of_erased()
        took = time.monotonic() - started
        print(f"changelog values of the erased customer gone in {took:.0f} s (erasure_within 6s, no other writes)")
        audit = [r.json() for r in deployment.read("audit")]
    finally:
        worker.kill(signal.SIGTERM)
    assert on_disk == [], f"the erased customer is still in {on_disk} while the worker runs"
    assert left == 0, f"{left} old values of the erased customer still in the changelog after {took:.0f} s"
    [late_record] = [a for a in audit if a.get("output") == "late_event"]
    assert late_record["event"]["event_id"] == "o0"
    assert late_record["event"].get("text") is None
    assert not late_record["event"].get("properties")
    [erased] = [a for a in audit if a.get("output") == "customer_erased"]
    covered = " | ".join(erased["covered"])
    for store in ("state changelog", "local RocksDB copy", "holdout and dead-letter topics", "late events"):
        assert store in covered, covered
    admin = KafkaAdminClient(**settings.kafka.kafka_python())
    try:
        resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in (settings.holdout_topic,
                                                                          settings.dead_letter_topic)]  # fmt: skip
        described = admin.describe_configs(resources)
    finally:
        admin.close()
    retention = {topic: configs["retention.ms"]["value"] for topic, configs in described["topic"].items()}
    assert retention == {settings.holdout_topic: "6000", settings.dead_letter_topic: "6000"}
