"""Where each output and refused record goes, with which key and headers: one answer for every runtime.

The Faust worker and the batched worker send the same bytes to the same topics, so a CRM or an
SRE cannot tell which runtime produced them.
"""

from __future__ import annotations

from dataclasses import dataclass

from momentstream.core.engine import POLICY_REASONS, Engine
from momentstream.core.identity import MERGE_MAGIC, Handoff, MergeRecord, handoff_target
from momentstream.core.schema import (
    CustomerErased,
    DuplicateEvent,
    FeedbackUnmatched,
    IdentityMerged,
    IdentityRelinked,
    LateEvent,
    Output,
    ShadowTrigger,
    Trigger,
    TriggerDeferred,
    TriggerOutcome,
    TriggerRevoked,
    TriggerSuppressed,
)
from momentstream.ops.metrics import WorkerMetrics
from momentstream.ops.settings import WorkerSettings
from momentstream.runtime.kafka.processor import DeadLetter, Work
from momentstream.runtime.sources import kept_raw
from momentstream.triggers.contract import encode, kafka_headers

__all__ = [
    "Outgoing",
    "dead_letters",
    "erasure_coverage",
    "letter_headers",
    "precreate_series",
    "result_of",
    "route_handoff",
    "route_output",
]

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to produce; ``must_arrive`` ones (triggers, dead letters) are waited for before state is saved."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers
    must_arrive: bool


def route_output(output: Output, settings: WorkerSettings, metrics: WorkerMetrics, source_name: str) -> Outgoing:
    """The record for one engine output, counting it in the metrics on the way."""
    if isinstance(output, Trigger | TriggerRevoked):
        # The CRM's stream: triggers (holdout ones to their own topic) and revocations of sent ones.
        kind = "revoked" if isinstance(output, TriggerRevoked) else output.kind
        metrics.triggers.labels(moment=output.moment, kind=kind).inc()
        if isinstance(output, Trigger) and output.signals is not None:
            metrics.trigger_anomaly.labels(moment=output.moment).observe(output.signals.anomaly)
        topic = settings.holdout_topic if output.holdout else settings.actions_topic
        return Outgoing(topic, output.customer_id.encode(), encode(output, source_name), kafka_headers(output), True)
    if isinstance(output, CustomerErased):
        output = output.model_copy(update={"covered": erasure_coverage(settings)})
    if isinstance(output, TriggerSuppressed):
        reason = output.reason if output.reason in POLICY_REASONS else "score_condition"
        metrics.suppressed.labels(moment=output.moment, reason=reason).inc()
    elif isinstance(output, TriggerDeferred):
        metrics.deferred.labels(moment=output.moment).inc()
    elif isinstance(output, TriggerOutcome):
        metrics.count_outcome(output)
    elif isinstance(output, FeedbackUnmatched):
        metrics.feedback.labels(result="unmatched").inc()
    elif isinstance(output, ShadowTrigger):
        metrics.shadow_triggers.labels(moment=output.moment, kind=output.trigger.kind).inc()
    elif isinstance(output, IdentityMerged):
        metrics.identity.labels("merged_late" if output.late else "merged").inc()
    elif isinstance(output, IdentityRelinked):
        metrics.identity.labels("relinked").inc()
    customer = getattr(output, "customer_id", None) or output.event.customer_id  # type: ignore[union-attr]
    headers = [("output", output.output.encode())]
    return Outgoing(settings.audit_topic, customer.encode(), output.model_dump_json().encode(), headers, False)


def erasure_coverage(settings: WorkerSettings) -> list[str]:
    """What a worker's erasure reaches, for the ``customer_erased`` record (docs/guide/erasure.md).

    >>> from momentstream.ops.settings import load_settings
    >>> erasure_coverage(load_settings(None, store="memory"))[1]
    'state changelog: tombstone written, old values compacted out within 24h (a quiet partition is rolled)'
    """
    within = settings.erasure_within
    covered = ["customer state: deleted from the worker's table and cache, with its timers",
               f"state changelog: tombstone written, old values compacted out within {within} (a quiet partition "
               "is rolled)"]  # fmt: skip
    if settings.store == "rocksdb":
        covered.append("local RocksDB copy: deleted, flushed and compacted at once")
    covered += [f"holdout and dead-letter topics: records expire within {within} (retention.ms)",
                "audit topic: late events carry no payload (ids, type, time)",
                "models: aggregates, no per-customer rows"]  # fmt: skip
    return covered


def route_handoff(handoff: Handoff, settings: WorkerSettings, metrics: WorkerMetrics) -> Outgoing:
    """A record for another customer goes back onto the touchpoints topic, keyed by that customer, so it reaches
    the partition (and worker) that owns them. Waited for like a trigger: the sender's state is saved after."""
    if isinstance(handoff, MergeRecord):
        metrics.identity.labels("merge_sent").inc()
        value, kind = handoff.encode(), b"merge"
    else:
        metrics.identity.labels("forwarded").inc()
        value, kind = handoff.event.model_dump_json(exclude_none=True).encode(), b"forward"
    target = handoff_target(handoff).encode()
    return Outgoing(settings.touchpoints_topic, target, value, [("momentstream.handoff", kind)], True)


def precreate_series(metrics: WorkerMetrics, engine: Engine) -> None:
    """Every series this engine's outputs can count, at 0 from the start (see ``WorkerMetrics.precreate``)."""
    objectives = list(engine.scorer.models) if engine.scorer is not None else []
    looped = [m.name for m in engine.moments if m.spec.loop.outcome is not None]
    shadows = [m.name for m in engine.moments if m.spec.mode == "shadow"]
    metrics.precreate([m.name for m in engine.moments if m.spec.mode == "live"], POLICY_REASONS, objectives, looped,
                      shadows)  # fmt: skip


def dead_letters(work: Work, key: bytes | None, value: bytes, source: bytes, topic: str) -> list[Outgoing]:
    """The refused record itself (original bytes, reason in headers) and other customers whose timers raised."""
    letters = []
    if work.dead_letter is not None:
        # A refused merge record is kept whole (it fits a message): it is the only copy of the alias's state.
        kept, size, digest = (value, None, None) if value.startswith(MERGE_MAGIC) else kept_raw(value)
        letters.append(Outgoing(topic, key, kept, letter_headers(work.dead_letter, source, size, digest), True))
    for failure in work.failures:  # other customers whose timers raised: reverted, reported by their key
        letter = DeadLetter("processing_error", failure.error)
        letters.append(Outgoing(topic, failure.customer_id.encode(), b"", letter_headers(letter, source), True))
    return letters


def letter_headers(letter: DeadLetter, source: bytes, size: int | None = None, digest: str | None = None) -> Headers:
    """Dead-letter headers: the reason and error, where the record was, and for a truncated original its
    full size and SHA-256 (so it can be matched with the producer's copy)."""
    headers = [("momentstream.reason", letter.reason.encode()), ("momentstream.error", letter.error.encode()),
               ("momentstream.source", source)]  # fmt: skip
    if size is not None and digest is not None:
        headers += [("momentstream.truncated", b"true"), ("momentstream.original_size", str(size).encode()),
                    ("momentstream.original_sha256", digest.encode())]  # fmt: skip
    return headers


def result_of(work: Work) -> str:
    """How a touchpoint record ended: processed, dead_lettered, duplicate or late."""
    if work.dead_letter is not None:
        return "dead_lettered"
    for output in work.outputs:
        if isinstance(output, DuplicateEvent):
            return "duplicate"
        if isinstance(output, LateEvent):
            return "late"
    return "processed"
