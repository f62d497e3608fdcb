"""The worker's Prometheus metrics, in a registry of its own.

Names follow Prometheus conventions (``momentstream_..._total`` counters, ``..._seconds``
histograms); labels are bounded sets (result, reason, moment, kind, partition), never a
customer id.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable
from importlib.metadata import version

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from momentstream.core.schema import TriggerOutcome
from momentstream.triggers.uplift import OutcomeTally

__all__ = ["CONTENT_TYPE", "WorkerMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4"
EVENT_RESULTS = ("processed", "dead_lettered", "duplicate", "late")
DEAD_LETTER_REASONS = ("invalid_json", "invalid_event", "too_large", "key_mismatch", "missing_key", "invalid_tick",
                       "processing_error", "invalid_merge", "identity_refused")  # fmt: skip
TRIGGER_KINDS = ("match", "window_open", "window_expired", "playbook_step", "revoked")
FEEDBACK_RESULTS = ("taken", "declined", "unmatched")
RELOAD_RESULTS = ("applied", "refused")
IDENTITY_STEPS = ("merge_sent", "forwarded", "merged", "merged_late", "relinked")
SNAPSHOT_REFUSALS = ("pickled_format", "unsigned", "bad_signature", "malformed", "kind", "non_finite", "unreadable")
INSPECT_RESULTS = ("found", "not_found", "unauthorized", "disabled", "bad_request", "unreadable")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Event to trigger: tens of milliseconds on a quiet worker, minutes behind a backlog."""
ANOMALY_BUCKETS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0)
"""Standard deviations of a customer's own rhythm: above 2-3 is unusual for them; the features cap it at 10."""

disable_created_metrics()  # type: ignore[no-untyped-call]  # a `_created` series per counter doubles the families and nobody queries them


class WorkerMetrics:
    """One worker's metrics; :meth:`render` gives the /metrics text.

    Examples
    --------
    >>> m = WorkerMetrics()
    >>> m.events.labels(result="processed").inc()
    >>> b'momentstream_events_total{result="processed"} 1.0' in m.render()
    True
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, open fds, ...
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.build = Info("momentstream_build", "The running momentstream and Python versions", registry=r)
        self.build.info({"version": version("momentstream"), "python": platform.python_version()})
        self.events = Counter("momentstream_events", "Touchpoint records consumed, by result", ["result"], registry=r)
        self.dead_letters = Counter(
            "momentstream_dead_letters", "Records sent to the dead-letter topic, by reason", ["reason"], registry=r
        )
        self.triggers = Counter("momentstream_triggers", "Triggers produced, by moment and kind", ["moment", "kind"],
                                registry=r)  # fmt: skip
        self.suppressed = Counter("momentstream_triggers_suppressed", "Triggers held back, by moment and reason "
                                  "(a contact-policy reason, or score_condition)",
                                  ["moment", "reason"], registry=r)  # fmt: skip
        self.deferred = Counter("momentstream_triggers_deferred", "Triggers held over the customer's quiet hours",
                                ["moment"], registry=r)  # fmt: skip
        self.held = Counter("momentstream_events_held", "Events further than max_skew ahead of their partition's "
                            "clock: processed for their customer, but time did not move", registry=r)  # fmt: skip
        self.ticks = Counter("momentstream_ticks", "Tick records consumed", registry=r)
        self.evicted = Counter("momentstream_customers_evicted", "Customers forgotten after idle_ttl of silence "
                               "with nothing pending", registry=r)  # fmt: skip
        self.processing = Histogram(
            "momentstream_processing_seconds",
            "Time from taking a batch (a record with runtime faust) to having its outputs sent and state saved",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.timers_pending = Gauge("momentstream_timers_pending", "Timers held by this worker's customers",
                                    registry=r)  # fmt: skip
        self.customers = Gauge("momentstream_customers_tracked", "Customers with state on this worker", registry=r)
        self.lag = Gauge("momentstream_consumer_lag_records", "Touchpoint records not yet processed, by partition",
                         ["partition"], registry=r)  # fmt: skip
        self.model_labels = Gauge("momentstream_model_labels_learned", "Delayed labels learned, by objective",
                                  ["objective"], registry=r)  # fmt: skip
        self.model_drifting = Gauge("momentstream_model_drifting", "1 while a model is drifting (tiers lowered)",
                                    ["objective"], registry=r)  # fmt: skip
        self.model_auc = Gauge("momentstream_model_roc_auc", "Progressive ROC AUC of a model", ["objective"],
                               registry=r)  # fmt: skip
        self.model_calibration = Gauge("momentstream_model_calibration_error", "Progressive expected calibration "
                                       "error of a model (0: a score of 0.8 comes true 80% of the time)",
                                       ["objective"], registry=r)  # fmt: skip
        self.model_skips = Counter("momentstream_model_inputs_skipped", "Feature vectors or scores a model "
                                   "refused as NaN or infinite (or a label it rolled back), by objective",
                                   ["objective"], registry=r)  # fmt: skip
        self.snapshots_refused = Counter("momentstream_model_snapshots_refused", "Model snapshots not published "
                                         "because a model had non-finite weights", registry=r)  # fmt: skip
        self.snapshot_refusals = Counter("momentstream_model_snapshot_refusals", "Model snapshots, or models in "
                                         "one, refused at load (the model starts fresh), by reason: "
                                         "pickled_format, unsigned, bad_signature, malformed, kind, non_finite, "
                                         "unreadable", ["reason"], registry=r)  # fmt: skip
        self.outcomes = Counter("momentstream_trigger_outcomes", "Outcome windows closed, by moment, group "
                                "(treated or control), whether the outcome came, and the trigger's tier (none: "
                                "unscored)", ["moment", "group", "converted", "tier"], registry=r)  # fmt: skip
        self.feedback = Counter("momentstream_trigger_feedback", "CRM feedback on triggers, by result (taken, "
                                "declined, or unmatched: no open trigger has that id)", ["result"],
                                registry=r)  # fmt: skip
        self.uplift = Gauge("momentstream_moment_uplift", "Treated minus control outcome rate of a moment's closed "
                            "outcome windows on this worker since it started, with its 95% interval (bound: "
                            "estimate, low, high)", ["moment", "bound"], registry=r)  # fmt: skip
        self._tallies: dict[str, OutcomeTally] = {}
        self._lag_partitions: set[str] = set()
        self._skips_seen: dict[str, int] = {}
        self._refusals_seen: dict[str, int] = {}
        self.shadow_triggers = Counter("momentstream_shadow_triggers", "Triggers of shadow moments (audited, never "
                                       "sent), by moment and kind", ["moment", "kind"], registry=r)  # fmt: skip
        self.reloads = Counter("momentstream_moment_reloads", "Moments file reloads (SIGHUP), by result: applied, "
                               "refused (the previous moments keep running)", ["result"], registry=r)  # fmt: skip
        self.identity = Counter("momentstream_identity_records", "Identity stitching: alias states sent on "
                                "(merge_sent), events forwarded from an alias (forwarded), alias states taken in, in "
                                "order or late (merged, merged_late)", ["step"], registry=r)  # fmt: skip
        self.inspections = Counter("momentstream_inspections", "Operator look-ups of a customer (/customers/<id>), "
                                   "by result", ["result"], registry=r)  # fmt: skip
        self.trigger_latency = Histogram("momentstream_trigger_latency_seconds", "From an event record's Kafka "
                                         "timestamp to the broker holding the triggers it caused",
                                         buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.trigger_anomaly = Histogram("momentstream_trigger_anomaly", "How unusual the customer's behaviour "
                                         "was for them when a trigger went out (the trigger's signals.anomaly, "
                                         "standard deviations of their own rhythm), by moment; while scoring",
                                         ["moment"], buckets=ANOMALY_BUCKETS, registry=r)  # fmt: skip
        self.ready = Gauge("momentstream_ready", "1 when the worker has partitions and has recovered its state",
                           registry=r)  # fmt: skip
        self.last_beat = time.time()
        """Unix time the processing loop last completed a cycle (set by that loop, read by the web thread)."""
        self.heartbeat = Gauge("momentstream_loop_heartbeat_timestamp_seconds", "Unix time the processing loop "
                               "last completed a cycle (a batch, an idle poll, a recovery chunk); read when "
                               "scraped, so a hung loop shows its age", registry=r)  # fmt: skip
        self.heartbeat.set_function(lambda: self.last_beat)

    def precreate(self, moments: Iterable[str], suppress_reasons: Iterable[str], objectives: Iterable[str] = (),
                  looped: Iterable[str] = (), shadows: Iterable[str] = ()) -> None:  # fmt: skip
        """Series at 0 for every label value known at start, so a rate over a counter that never moved is 0
        (not "no data", which an alert comparing it with 0 never sees) and dashboards show every moment."""
        names, reasons = list(moments), [*suppress_reasons, "score_condition"]
        single: tuple[tuple[Counter, Iterable[str]], ...] = (
            (self.events, EVENT_RESULTS), (self.dead_letters, DEAD_LETTER_REASONS), (self.model_skips, objectives),
            (self.feedback, FEEDBACK_RESULTS), (self.inspections, INSPECT_RESULTS), (self.reloads, RELOAD_RESULTS),
            (self.identity, IDENTITY_STEPS), (self.snapshot_refusals, SNAPSHOT_REFUSALS),
        )  # fmt: skip
        for counter, values in single:
            for value in values:
                counter.labels(value)
        for counter, moment_names in ((self.triggers, names), (self.shadow_triggers, shadows)):
            for moment in moment_names:
                for kind in TRIGGER_KINDS:
                    counter.labels(moment=moment, kind=kind)
        for moment in names:
            self.deferred.labels(moment=moment)
            for reason in reasons:
                self.suppressed.labels(moment=moment, reason=reason)
        for moment in looped:
            for group in ("treated", "control"):
                for converted in ("true", "false"):
                    self.outcomes.labels(moment=moment, group=group, converted=converted, tier="none")

    def beat(self) -> None:
        """The processing loop is alive: called once per cycle by that loop, never by the web thread."""
        self.last_beat = time.time()

    def loop_age(self) -> float:
        """Seconds since the processing loop last beat (what liveness compares with ``heartbeat_timeout``)."""
        return time.time() - self.last_beat

    def set_lag(self, lags: dict[int, int], owned: set[int]) -> None:
        """Lag of the partitions this worker owns; partitions given away lose their series (a stale lag of a
        partition another worker now drains would keep a lag alert firing)."""
        keep = {str(p) for p in owned}
        for gone in self._lag_partitions - keep:
            self.lag.remove(gone)
        for partition, lag in lags.items():
            self.lag.labels(partition=str(partition)).set(lag)
        self._lag_partitions = keep & (self._lag_partitions | {str(p) for p in lags})

    def count_model_skips(self, objective: str, total: int) -> None:
        """Bring the skip counter up to a model's own running total (models count; the worker reports)."""
        seen = self._skips_seen.get(objective, 0)
        if total > seen:
            self.model_skips.labels(objective=objective).inc(total - seen)
        self._skips_seen[objective] = total

    def count_snapshot_refusals(self, totals: dict[str, int]) -> None:
        """Bring the snapshot refusal counter up to the scorer's running totals, by reason."""
        for reason, total in totals.items():
            seen = self._refusals_seen.get(reason, 0)
            if total > seen:
                self.snapshot_refusals.labels(reason=reason).inc(total - seen)
            self._refusals_seen[reason] = total

    def count_outcome(self, outcome: TriggerOutcome) -> None:
        """Count a closed outcome window and move the moment's uplift gauge (once both groups have one)."""
        self.outcomes.labels(
            moment=outcome.moment,
            group=outcome.group,
            converted=str(outcome.converted).lower(),
            tier=outcome.tier or "none",
        ).inc()
        if outcome.feedback is not None:
            self.feedback.labels(result=outcome.feedback).inc()
        if outcome.step is not None:  # a sequence's step: its uplift is read per step in the report, not here
            return
        tally = self._tallies.setdefault(outcome.moment, OutcomeTally())
        tally.add(outcome)
        if tally.comparable:
            u = tally.uplift(outcome.moment)
            for bound, value in (("estimate", u.difference), ("low", u.low), ("high", u.high)):
                self.uplift.labels(moment=outcome.moment, bound=bound).set(value)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
