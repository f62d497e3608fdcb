"""What both runtimes do with the shared models besides scoring: publish snapshots and report gauges."""

from __future__ import annotations

import logging

from momentstream.core.engine import Engine
from momentstream.models.scorer import PoisonedModelError
from momentstream.ops.metrics import WorkerMetrics

__all__ = ["publishable_snapshot", "refresh_model_gauges"]

logger = logging.getLogger(__name__)


def publishable_snapshot(engine: Engine, metrics: WorkerMetrics) -> bytes | None:
    """The models' snapshot, or None: no models, or one with non-finite weights (never published, so
    the newest good snapshot on the topic stays the one a restart loads)."""
    if engine.scorer is None:
        return None
    try:
        return engine.scorer.snapshot()
    except PoisonedModelError as err:
        metrics.snapshots_refused.inc()
        logger.error("%s", err)
        return None


def refresh_model_gauges(engine: Engine, metrics: WorkerMetrics) -> None:
    """Labels learned, inputs skipped, drift, progressive AUC and calibration per objective."""
    if engine.scorer is None:
        return
    metrics.count_snapshot_refusals(engine.scorer.refusals)
    for name, model in engine.scorer.models.items():
        metrics.count_model_skips(name, model.skipped + model.reverted)
        metrics.model_labels.labels(objective=name).set(model.learned)
        metrics.model_drifting.labels(objective=name).set(1 if model.drifting else 0)
        metrics.model_auc.labels(objective=name).set(model.quality()[0])
        metrics.model_calibration.labels(objective=name).set(model.calibration_error())
