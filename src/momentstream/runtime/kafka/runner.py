"""Starting a worker process: check the topics, restore the models, then run the chosen runtime."""

from __future__ import annotations

import logging
import signal

import faust

from momentstream.core.engine import Engine
from momentstream.models.objectives import ObjectivesError
from momentstream.ops.redact import install_log_redaction
from momentstream.ops.settings import WorkerSettings
from momentstream.patterns.dsl import parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.patterns.rollout import MomentChangeError
from momentstream.runtime.kafka.access import check_access
from momentstream.runtime.kafka.admin import ensure_topics
from momentstream.runtime.kafka.batch_worker.worker import BatchWorker
from momentstream.runtime.kafka.faust_worker.app import Worker
from momentstream.runtime.kafka.moment_registry import (
    FILE_KEY,
    MODELS_KEY,
    REGISTRY_KEY,
    ROLLOUT_SOURCE,
    RolloutWatcher,
    check_moments,
    newest_by_key,
    publish_registry,
)

__all__ = ["run_worker"]

logger = logging.getLogger(__name__)


def run_worker(settings: WorkerSettings, engine: Engine) -> int:
    """Run until SIGINT/SIGTERM; topics are created (or checked) first so a mismatch fails early.

    Logging is already configured by the caller (:func:`~momentstream.ops.logs.configure_logging`, before the
    first line is logged); the Faust runtime is handed the same root handler.
    """
    install_log_redaction()  # Faust and aiokafka quote the broker address in their own log lines
    if not check_access(settings.kafka):
        logger.warning("no broker at %s answered yet; the clients keep trying", settings.kafka.describe())
    created = ensure_topics(settings)
    made = [name for name, what in created.items() if what == "created"]
    if made:
        logger.warning("created topics: %s", ", ".join(made))
    stored, models_end = newest_by_key(settings)
    rolled_out = stored.get(FILE_KEY)
    if rolled_out is not None:  # the deployment's source of truth since its first rollout
        try:
            engine.replace_moments(parse_moments(rolled_out.decode(errors="replace"), source=ROLLOUT_SOURCE))
        except (PatternError, ObjectivesError, ValueError) as err:
            logger.error("the moments rolled out to %s do not load (%s); publish a good file with momentstream "
                         "rollout", settings.models_topic, err)  # fmt: skip
            return 2
        logger.warning("moments: running the file last rolled out (momentstream rollout), not the local one")
    try:
        plan = check_moments(stored.get(REGISTRY_KEY), engine.moments)
    except MomentChangeError as err:
        logger.error("refusing these moments (the deployment's record is in %s): %s", settings.models_topic, err)
        return 2
    for line in plan.lines():
        logger.warning("moments: %s", line)
    publish_registry(settings, engine.moments)
    if engine.scorer is not None:
        restore_models(settings, engine, stored.get(MODELS_KEY))
    if settings.runtime == "batch":
        try:
            worker = BatchWorker(settings, engine, rollouts=RolloutWatcher(settings, models_end))
        except OSError as err:  # the web port is taken, most often
            logger.error("cannot serve on %s:%d: %s", settings.web_host, settings.web_port, err.strerror or err)
            return 1
        return worker.run()
    app = Worker(settings, engine, rollouts=RolloutWatcher(settings, models_end))
    signal.signal(signal.SIGHUP, app.request_reload)
    app.app.conf.loghandlers = list(logging.root.handlers)  # mode's setup clears the root, then adds these
    # Faust's own console handler is left out (a root without handlers), so every line has the one format.
    quiet_root = {"version": 1, "disable_existing_loggers": False, "root": {"level": settings.log_level.upper(),
                  "handlers": []}}  # fmt: skip
    faust_worker = faust.Worker(app.app, loglevel=settings.log_level.upper(), redirect_stdouts=False,
                                logging_config=quiet_root,
                                quiet=settings.log_format == "json")  # fmt: skip  # no banner among JSON lines
    faust_worker.execute_from_commandline()
    return 0


def restore_models(settings: WorkerSettings, engine: Engine, newest: bytes | None) -> bool:
    """Load the newest model snapshot of the models topic (``newest``), if there is one."""
    assert engine.scorer is not None
    key = settings.model_snapshot_key
    engine.scorer.snapshot_key = None if key is None else key.get_secret_value().encode()
    if newest is None:
        logger.warning("no model snapshot in %s: models start fresh", settings.models_topic)
        return False
    try:
        refused = engine.scorer.restore(newest)
    except ValueError as err:
        logger.error("model snapshot in %s refused (%s): models start fresh", settings.models_topic, err)
        return False
    if refused:
        logger.error("models not restored, starting fresh: %s",
                     ", ".join(f"{r.name} ({r.reason})" for r in refused))  # fmt: skip
    versions = ", ".join(m.version for m in engine.scorer.models.values())
    logger.warning("models restored from %s: %s", settings.models_topic, versions)
    return True
