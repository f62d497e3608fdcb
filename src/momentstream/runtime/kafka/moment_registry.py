"""The deployment's memory of its moments: name, version and fingerprint, kept in the models topic.

A worker that starts (or reloads, on SIGHUP) with a moments file compares it with what the deployment
last ran (:func:`momentstream.patterns.rollout.plan_rollout`) and refuses a pattern changed without a
new version, instead of reading customers' progress under other rules. The record is keyed ``moments``
in the compacted models topic, beside the model snapshot (key ``snapshot``).

``momentstream rollout FILE`` publishes a moments file under the key ``moments_file``: every worker
applies it within seconds (:class:`RolloutWatcher`), and a worker that starts later runs it too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping

from confluent_kafka import Consumer, TopicPartition

from momentstream.core.engine import Engine
from momentstream.data import bundled_moments_path
from momentstream.models.objectives import ObjectivesError, objectives_for
from momentstream.ops.metrics import WorkerMetrics
from momentstream.ops.settings import WorkerSettings
from momentstream.patterns.dsl import load_moments, parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.patterns.nfa import CompiledMoment
from momentstream.patterns.rollout import MomentChangeError, RolloutPlan, plan_rollout, registry
from momentstream.runtime.kafka.io import producer, read_topic
from momentstream.runtime.kafka.routing import precreate_series

__all__ = [
    "FILE_KEY",
    "MODELS_KEY",
    "REGISTRY_KEY",
    "RolloutWatcher",
    "check_moments",
    "newest_by_key",
    "publish",
    "read_registry",
    "reload_moments",
]

logger = logging.getLogger(__name__)
_QUIET = logging.getLogger("momentstream.rollouts.librdkafka")

REGISTRY_KEY = b"moments"
MODELS_KEY = b"snapshot"
FILE_KEY = b"moments_file"
ROLLOUT_SOURCE = "the models topic (momentstream rollout)"


def newest_by_key(settings: WorkerSettings) -> tuple[dict[bytes, bytes], int]:
    """The newest value of each key of the models topic (snapshot, registry, rolled-out file), and the offset
    after the last record read (where a :class:`RolloutWatcher` goes on)."""
    newest: dict[bytes, bytes] = {}
    end = 0
    for record in read_topic(settings.kafka, settings.models_topic, idle_timeout_s=2.0):
        end = record.offset + 1
        if record.key is not None:
            newest[record.key] = record.value
    return newest, end


def read_registry(recorded: bytes | None) -> Mapping[str, Mapping[str, object]]:
    """The recorded registry (name -> version and fingerprint); empty when there is none or it is unreadable."""
    if recorded is None:
        return {}
    try:
        doc = json.loads(recorded)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        logger.error("the moments record in the models topic is unreadable; comparing with nothing")
        return {}
    return doc


def check_moments(recorded: bytes | None, moments: Iterable[CompiledMoment]) -> RolloutPlan:
    """The plan from the recorded registry to these moments; :class:`MomentChangeError` if it refuses any."""
    plan = plan_rollout(read_registry(recorded), moments)
    if plan.refused:
        raise MomentChangeError("; ".join(plan.refused))
    return plan


def publish(settings: WorkerSettings, key: bytes, value: bytes) -> None:
    """One record of the models topic (the registry, a rolled-out file); waits until the broker has it."""
    out = producer(settings.kafka)
    try:
        out.send(settings.models_topic, key=key, value=value)
        out.flush()
    finally:
        out.close()


def publish_registry(settings: WorkerSettings, moments: Iterable[CompiledMoment]) -> None:
    """Record the moments this deployment now runs."""
    publish(settings, REGISTRY_KEY, json.dumps(registry(moments), sort_keys=True).encode())


class RolloutWatcher:
    """Notices moments files published by ``momentstream rollout`` after ``start_offset`` (no consumer group:
    every worker sees every rollout)."""

    def __init__(self, settings: WorkerSettings, start_offset: int) -> None:
        self._consumer = Consumer({**settings.kafka.librdkafka(), "group.id": f"{settings.app_id}-rollouts",
                                   "enable.auto.commit": False, "logger": _QUIET})  # fmt: skip
        self._consumer.assign([TopicPartition(settings.models_topic, 0, start_offset)])

    def newest_file(self) -> str | None:
        """The newest moments file published since the last call, or None; never waits."""
        found = None
        while True:
            message = self._consumer.poll(0)
            if message is None:
                return found
            if message.error() is None and message.key() == FILE_KEY:
                found = (message.value() or b"").decode(errors="replace")

    def close(self) -> None:
        """Leave the topic."""
        self._consumer.close()


def reload_moments(settings: WorkerSettings, engine: Engine, metrics: WorkerMetrics, text: str | None = None) -> bool:
    """Apply the moments file again (SIGHUP), or ``text`` (a rollout): unchanged moments keep every customer's
    progress, a new version resets only its own, and a refused or broken file leaves the running moments.

    A SIGHUP reloads the objectives file too (when scoring is on): both apply together or neither does.
    Objectives keep their learned models unless what they learn from changed, which is refused.
    """
    path = ROLLOUT_SOURCE if text is not None else str(settings.moments or bundled_moments_path())
    scorer = engine.scorer if settings.scoring and text is None else None
    before = (scorer.config, dict(scorer.models)) if scorer is not None else None
    objective_lines: list[str] = []
    try:
        moments = parse_moments(text, source=path) if text is not None else load_moments(path)
        plan = plan_rollout(registry(engine.moments), moments)
        if plan.refused:
            raise MomentChangeError("; ".join(plan.refused))
        if scorer is not None:
            objective_lines = scorer.replace_objectives(objectives_for(moments, settings.objectives))
        try:
            engine.replace_moments(moments)
        except Exception:
            if scorer is not None and before is not None:
                scorer.models = before[1]  # every model as it was, a removed objective's too
                scorer.replace_objectives(before[0])
            raise
    except (PatternError, MomentChangeError, ObjectivesError, OSError, ValueError) as err:
        metrics.reloads.labels(result="refused").inc()
        logger.error("moments not reloaded from %s, the previous ones keep running: %s", path, err)
        return False
    publish_registry(settings, engine.moments)
    precreate_series(metrics, engine)
    metrics.reloads.labels(result="applied").inc()
    lines = plan.lines() + [f"objective {line}" for line in objective_lines]
    logger.warning("moments reloaded from %s: %s", path, "; ".join(lines) or "nothing changed")
    return True
