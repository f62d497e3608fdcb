"""The deployment's memory of its moments: name, version and fingerprint, kept in the models topic.

A worker that starts (or reloads, on SIGHUP) with a moments file compares it with what the deployment
last ran (:func:`momentstream.patterns.rollout.plan_rollout`) and refuses a pattern changed without a
new version, instead of reading customers' progress under other rules. The record is keyed ``moments``
in the compacted models topic, beside the model snapshot (key ``snapshot``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping

from momentstream.engine import Engine
from momentstream.models.objectives import ObjectivesError
from momentstream.ops.metrics import WorkerMetrics
from momentstream.ops.settings import WorkerSettings
from momentstream.patterns.dsl import load_moments
from momentstream.patterns.errors import PatternError
from momentstream.patterns.nfa import CompiledMoment
from momentstream.patterns.rollout import MomentChangeError, RolloutPlan, plan_rollout, registry
from momentstream.resources import bundled_moments_path
from momentstream.runtime.kafka_io import producer, read_topic
from momentstream.runtime.routing import precreate_series

__all__ = ["MODELS_KEY", "REGISTRY_KEY", "check_moments", "newest_by_key", "publish_registry", "reload_moments"]

logger = logging.getLogger(__name__)

REGISTRY_KEY = b"moments"
MODELS_KEY = b"snapshot"


def newest_by_key(settings: WorkerSettings) -> dict[bytes, bytes]:
    """The newest value of each key of the models topic (the snapshot, the moments registry)."""
    newest: dict[bytes, bytes] = {}
    for record in read_topic(settings.kafka, settings.models_topic, idle_timeout_s=2.0):
        if record.key is not None:
            newest[record.key] = record.value
    return newest


def check_moments(recorded: bytes | None, moments: Iterable[CompiledMoment]) -> RolloutPlan:
    """The plan from the recorded registry to these moments; :class:`MomentChangeError` if it refuses any."""
    old: Mapping[str, Mapping[str, object]] = {}
    if recorded is not None:
        try:
            doc = json.loads(recorded)
            old = doc if isinstance(doc, dict) else {}
        except ValueError:
            logger.error("the moments record in the models topic is unreadable; comparing with nothing")
    plan = plan_rollout(old, moments)
    if plan.refused:
        raise MomentChangeError("; ".join(plan.refused))
    return plan


def publish_registry(settings: WorkerSettings, moments: Iterable[CompiledMoment]) -> None:
    """Record the moments this deployment now runs (waits until the broker has it)."""
    out = producer(settings.kafka)
    try:
        out.send(settings.models_topic, key=REGISTRY_KEY, value=json.dumps(registry(moments), sort_keys=True).encode())
        out.flush()
    finally:
        out.close()


def reload_moments(settings: WorkerSettings, engine: Engine, metrics: WorkerMetrics) -> bool:
    """Apply the moments file again (SIGHUP): unchanged moments keep every customer's progress, a new version
    resets only its own, and a refused or broken file leaves the running moments as they were."""
    path = settings.moments or bundled_moments_path()
    try:
        moments = load_moments(path)
        plan = plan_rollout(registry(engine.moments), moments)
        if plan.refused:
            raise MomentChangeError("; ".join(plan.refused))
        engine.replace_moments(moments)
    except (PatternError, MomentChangeError, ObjectivesError, OSError, ValueError) as err:
        metrics.reloads.labels(result="refused").inc()
        logger.error("moments not reloaded from %s, the previous ones keep running: %s", path, err)
        return False
    publish_registry(settings, engine.moments)
    precreate_series(metrics, engine)
    metrics.reloads.labels(result="applied").inc()
    logger.warning("moments reloaded from %s: %s", path, "; ".join(plan.lines()) or "nothing changed")
    return True
