"""``replay --engine spark``: a backfill of a history too large for one machine, on Spark's executors.

Customers are independent in the engine (a moment, a timer, a contact cap belong to one customer), which is
why Kafka workers can split them by partition and still give replay's triggers. Here Spark does the
splitting: events are keyed by customer, customers joined by ``identify`` events are kept together (their
states merge), and each partition runs the embedded replay runner over its events in event-time order, as
one Kafka partition's worker would. The final tick is the same for every partition: ``--until``, or the
newest event time that another customer's confirms (as a restarted worker's clock resumes).

Written under the output directory, one Spark part file per partition:

- ``triggers/``: the CRM's stream (triggers and revocations), JSON lines as ``replay -o`` writes them;
- ``holdout/``: holdout customers' triggers; ``audit/``: late, duplicate, cancelled, outcome records;
- ``rejects/``: refused lines with their line numbers and reasons;
- ``states/``: each customer's state at the end (``{"customer_id", "wakeup", "state"}``, the state as base64
  of its versioned encoding, the value a worker's changelog holds), for a new deployment to start warm.

Models are not run: a model learns from the whole history in time order, which no split of it can give.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine
from momentstream.core.events import IDENTIFY_EVENT_TYPE
from momentstream.core.schema import Output, TouchpointEvent, Trigger, TriggerRevoked
from momentstream.discovery.history import customer_hash
from momentstream.runtime.guard import DEFAULT_MAX_SKEW_MS, confirmed_newest
from momentstream.runtime.inputs import InputFormat
from momentstream.runtime.replay.runner import EventRefusedError, ReplayRunner, ReplaySummary
from momentstream.runtime.replay.time_order import event_micros
from momentstream.runtime.sources import Reject
from momentstream.spark.reading import read_records

__all__ = ["OUTPUTS", "BackfillOptions", "backfill", "read_states"]

OUTPUTS = ("triggers", "holdout", "audit", "rejects", "states")
"""The directories a backfill writes under its output directory."""
EVENTS_PER_PARTITION = 200_000
"""Events one partition's runner sorts and runs: its memory is these events and their customers' states."""
_NEWEST_LOOKED_AT = 1_000
"""Customers' newest event times looked at for the final tick (the newest one another customer confirms)."""


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    """How to read the history, and when the backfill's clock stops (``until``; None: at the end)."""

    until: int | None = None
    max_skew_ms: int | None = DEFAULT_MAX_SKEW_MS
    input_format: InputFormat | None = None
    partitions: int | None = None


def backfill(spark: Any, source: str | Path, engine: Engine, out_dir: str, options: BackfillOptions) -> ReplaySummary:
    """Replay ``source`` with ``engine`` (which must not score) on Spark; the outputs under ``out_dir``."""
    from pyspark import StorageLevel  # noqa: PLC0415 - optional dependency

    if engine.scorer is not None:
        raise ValueError("a backfill on Spark runs without models: build the engine with scoring off")
    records = read_records(spark, source, options.input_format).map(_keyed).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        valid = records.filter(lambda r: r[0] is not None)
        roots = _components(valid.flatMap(_link).distinct().collect())
        until = options.until
        if until is None:
            newest = valid.map(lambda r: (r[0], r[2][3])).reduceByKey(max).values().top(_NEWEST_LOOKED_AT)
            until = confirmed_newest(newest, options.max_skew_ms)
        sc = spark.sparkContext
        together = sc.broadcast(roots)
        events = valid.count()
        partitions = options.partitions or max(sc.defaultParallelism, -(-events // EVENTS_PER_PARTITION))
        keyed = valid.map(lambda r: (together.value.get(r[0], r[0]), r[2])).partitionBy(partitions, customer_hash)
        run = partial(_run_partition, engine, until, options.max_skew_ms)
        refused_docs = records.filter(lambda r: r[0] is None).map(lambda r: r[2])
        refused = refused_docs.map(lambda doc: ("rejects", json.dumps(doc)))
        outputs = refused.union(keyed.values().mapPartitions(run)).persist(StorageLevel.MEMORY_AND_DISK)
        for kind in OUTPUTS:
            outputs.filter(lambda o, k=kind: o[0] == k).values().saveAsTextFile(f"{out_dir.rstrip('/')}/{kind}")
        summary = ReplaySummary()
        for part in outputs.filter(lambda o: o[0] == "summary").values().collect():
            summary.add(part)
        input_rejects = refused_docs.count()
        summary.rejected += input_rejects
        if input_rejects:  # quoted when nothing was valid
            first = refused_docs.first()
            summary.first_reject = Reject(first["line"], first["error"], first["raw"], first["reason"])
        summary.lines = records.map(lambda r: r[1]).max() if events or summary.rejected else 0
        outputs.unpersist()
        together.unpersist()
    finally:
        records.unpersist()
    return summary


def _keyed(record: tuple[int, TouchpointEvent | Reject]) -> tuple[str | None, int, Any]:
    """(customer, line, (µs, line, event JSON, ms, canonical id of an identify)) or (None, line, reject JSON)."""
    number, item = record
    if isinstance(item, Reject):
        return None, number, item.to_json()
    canonical = item.properties.get("canonical_id") if item.type == IDENTIFY_EVENT_TYPE else None
    micros = event_micros(item)
    return item.customer_id, number, (micros, number, item.model_dump_json(), to_ms(item.ts), canonical)


def _link(record: tuple[str, int, Any]) -> list[tuple[str, str]]:
    canonical = record[2][4]
    return [(record[0], canonical)] if isinstance(canonical, str) and canonical else []


def _components(links: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Every id joined to another by an identify event -> one id of its group (the smallest): kept together.

    >>> _components([("device-1", "c9"), ("mail-1", "c9"), ("device-2", "c3")])["device-1"]
    'c9'
    """
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: root(x) for x in parent}


def _run_partition(engine: Engine, until: int | None, max_skew_ms: int | None,
                   events: Iterable[tuple[int, int, str, int, Any]]) -> Iterator[tuple[str, Any]]:  # fmt: skip
    """One partition's customers through the replay runner in event-time order (ties in file order)."""
    runner = ReplayRunner(engine, max_skew_ms)
    summary = ReplaySummary()
    number = 0
    for _, number, doc, _, _ in sorted(events, key=lambda e: (e[0], e[1])):
        event = TouchpointEvent.model_validate_json(doc)
        try:
            outputs = runner.feed(event)
            summary.events += 1
        except EventRefusedError as refused:
            summary.rejected += 1
            yield "rejects", json.dumps(refused.reject(number, event).to_json())
            outputs = []
        yield from _emitted(outputs, summary)
        yield from _failures(runner, number, summary)
    yield from _emitted(runner.finish(until), summary)
    yield from _failures(runner, number, summary)
    for customer_id, state in runner.states.items():
        wakeup = engine.next_wakeup(state)
        stored = {"customer_id": customer_id, "wakeup": wakeup, "state": base64.b64encode(state.to_bytes()).decode()}
        yield "states", json.dumps(stored)
    summary.customers, summary.held, summary.evicted = len(runner.states), runner.held, runner.evicted
    yield "summary", summary


def _emitted(outputs: list[Output], summary: ReplaySummary) -> Iterator[tuple[str, str]]:
    for output in outputs:
        summary.count(output)
        if isinstance(output, Trigger | TriggerRevoked):
            yield ("holdout" if output.holdout else "triggers"), output.model_dump_json()
        else:
            yield "audit", output.model_dump_json()


def _failures(runner: ReplayRunner, number: int, summary: ReplaySummary) -> Iterator[tuple[str, str]]:
    """Customers whose timers raised were reset: each is a reject, as in the local replay."""
    for reject in runner.failure_rejects(number):
        summary.rejected += 1
        yield "rejects", json.dumps(reject.to_json())


def read_states(lines: Iterable[str]) -> Iterator[tuple[str, int | None, bytes]]:
    """The ``states/`` records a backfill wrote: (customer id, next wake-up, state bytes)."""
    for line in lines:
        if line.strip():
            doc = json.loads(line)
            yield doc["customer_id"], doc["wakeup"], base64.b64decode(doc["state"])
