"""Starting a worker process: check the topics, then hand the app to Faust's worker loop."""

from __future__ import annotations

import logging

import faust

from momentstream.engine import Engine
from momentstream.ops.settings import WorkerSettings
from momentstream.runtime.faust_app import Worker
from momentstream.runtime.kafka_admin import ensure_topics

__all__ = ["run_worker"]

logger = logging.getLogger(__name__)


def run_worker(settings: WorkerSettings, engine: Engine) -> int:
    """Run until SIGINT/SIGTERM; topics are created (or checked) first so a mismatch fails early."""
    created = ensure_topics(settings)
    made = [name for name, what in created.items() if what == "created"]
    if made:
        logger.warning("created topics: %s", ", ".join(made))
    worker = Worker(settings, engine)
    faust_worker = faust.Worker(worker.app, loglevel=settings.log_level.upper(), redirect_stdouts=False)
    faust_worker.execute_from_commandline()
    return 0
