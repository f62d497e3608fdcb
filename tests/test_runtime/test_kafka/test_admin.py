"""Topic checks against a broker that is still starting: no false "recreate them" advice."""

from __future__ import annotations

from typing import Any

import pytest

from momentstream.ops.settings import load_settings
from momentstream.runtime.kafka import admin as kafka_admin
from momentstream.runtime.kafka.admin import TopicMismatchError, ensure_topics, plan_topics


class StartingBroker:
    """Answers as a broker just started does: the new topics report no partitions for the first few asks."""

    def __init__(self, partitions: dict[str, int], silent_asks: int, **_: Any) -> None:
        self.partitions = partitions
        self.silent_asks = silent_asks
        self.created: list[str] = []

    def list_topics(self) -> list[str]:
        return list(self.created)

    def create_topics(self, topics: list[Any], timeout_ms: int) -> None:
        self.created += [t.name for t in topics]

    def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        self.silent_asks -= 1
        if self.silent_asks >= 0:
            return [{"topic": n, "partitions": []} for n in names]
        return [{"topic": n, "partitions": [{}] * self.partitions.get(n, 0)} for n in names]

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("silent", "fails"), [(0, False), (5, False), (10**6, True)])
def test_new_topics_that_report_no_partitions_yet_are_waited_for(
    monkeypatch: pytest.MonkeyPatch, silent: int, fails: bool
) -> None:
    settings = load_settings(None, partitions=4)
    broker = StartingBroker({p.name: p.partitions for p in plan_topics(settings)}, silent)
    monkeypatch.setattr(kafka_admin, "KafkaAdminClient", lambda **kw: broker)
    if fails:
        with pytest.raises(TopicMismatchError, match="not ready yet") as err:
            ensure_topics(settings, timeout_s=1.0)
        assert "Recreate" not in str(err.value)
    else:
        assert set(ensure_topics(settings, timeout_s=5.0).values()) == {"created"}
        assert broker.silent_asks < 0  # it asked again until the partitions showed


def test_a_real_mismatch_is_still_refused_with_the_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(None, partitions=4)
    counts = {p.name: (2 if p.copartitioned else p.partitions) for p in plan_topics(settings)}
    broker = StartingBroker(counts, 0)
    broker.created = list(counts)  # they exist already, the co-partitioned ones with 2 partitions
    monkeypatch.setattr(kafka_admin, "KafkaAdminClient", lambda **kw: broker)
    with pytest.raises(TopicMismatchError, match="Recreate them"):
        ensure_topics(settings, timeout_s=1.0)
    assert broker.created == list(counts)  # nothing was created over them


def test_topics_holding_what_an_erasure_cannot_reach_expire_within_erasure_within() -> None:
    settings = load_settings(None, erasure_within="36h")
    retention = {p.name: p.config.get("retention.ms") for p in plan_topics(settings)}
    assert retention[settings.holdout_topic] == retention[settings.dead_letter_topic] == str(36 * 3_600_000)
