"""A history grouped by customer on Spark's executors: the local :class:`History`'s interface over an RDD.

:func:`load_spark_history` validates the input with the local readers' code (:mod:`.reading`), keeps a
customer's first :data:`~momentstream.discovery.history.MAX_EVENTS_PER_CUSTOMER` events in file order,
and groups the rest by customer into partitions of about 100,000 events, kept on the executors (memory,
then disk). Discovery then asks it for two things only: the search's sample (the same customers, in the same
order, as the local engine would take) and a function of each partition's customers (the engine's counts),
whose results come back small.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from momentstream.core.schema import TouchpointEvent
from momentstream.discovery.history import (
    EVENTS_PER_BUCKET,
    MAX_EVENTS_PER_CUSTOMER,
    CustomerHistory,
    History,
    add_figures,
    bucket_count,
    bulk_of,
    count_event,
    count_reject,
    customer_hash,
    customer_history,
    event_row,
)
from momentstream.runtime.inputs import InputFormat
from momentstream.runtime.sources import Reject
from momentstream.spark.reading import read_records
from momentstream.spark.session import spark_session

__all__ = ["SparkHistory", "load_spark_history"]

R = TypeVar("R")
S = TypeVar("S")
_MAX_ORDER_BUCKETS = 512


@dataclass(slots=True)
class SparkHistory(History):
    """A :class:`History` whose customers live on Spark's executors (``grouped``: customer id -> rows)."""

    grouped: Any = None
    order_buckets: int = 2
    """The local engine's bucket count for this input: the search's sample takes customers in its order."""

    def order_key(self, customer_id: str) -> tuple[int, str]:
        """The local engine's order for this input (its bucket count), not Spark's partitions."""
        return _order(customer_id, self.order_buckets)

    def customers_in(self, start_ms: int = -(2**62), end_ms: int = 2**62) -> Iterator[CustomerHistory]:
        """Every customer with events in the period, brought to the driver in the local engine's order (for
        small histories and tests: discovery itself never asks for every customer on the driver)."""
        n = self.order_buckets
        pairs = self.grouped.flatMap(lambda kv: _in_period(kv, start_ms, end_ms))
        for _, customer in sorted(pairs.map(lambda c: (_order(c.customer_id, n), c)).collect()):
            yield customer

    def each_bucket(self, work: Callable[[Iterator[CustomerHistory]], R], start_ms: int, end_ms: int, *,
                    label: str, progress: bool = False, workers: int | None = None) -> Iterator[R]:  # fmt: skip
        """``work`` over each partition's customers on the executors; the results in partition order."""
        results = self.grouped.mapPartitions(lambda part: [work(_customers(part, start_ms, end_ms))]).collect()
        yield from results

    def first_searched(self, searched: Callable[[str], bool], start_ms: int, end_ms: int, limit: int,
                       work: Callable[[CustomerHistory], S], *, progress: bool = False) -> list[S]:  # fmt: skip
        """The local engine's sample: the first ``limit`` searched customers in its bucket order, chosen by a
        top-``limit`` over keys, then ``work`` on each of them on the executors."""
        n = self.order_buckets
        eligible = self.grouped.filter(lambda kv: searched(kv[0]) and _active(kv[1], start_ms, end_ms))
        keys = eligible.map(lambda kv: _order(kv[0], n)).takeOrdered(limit)
        if not keys:
            return []
        chosen = self.grouped.context.broadcast(frozenset(customer for _, customer in keys))
        done = (self.grouped.filter(lambda kv: kv[0] in chosen.value)
                .flatMap(lambda kv: _in_period(kv, start_ms, end_ms))
                .map(lambda c: (_order(c.customer_id, n), work(c))).collect())  # fmt: skip
        chosen.unpersist()
        return [result for _, result in sorted(done, key=lambda pair: pair[0])]


def load_spark_history(
    path: str | Path,
    workdir: Path | None = None,
    *,
    rejects: IO[str] | None = None,
    progress: bool = False,
    input_format: InputFormat | None = None,
    max_per_customer: int = MAX_EVENTS_PER_CUSTOMER,
    spark: Any = None,
    master: str | None = None,
) -> SparkHistory:
    """Read ``path`` with Spark into a :class:`SparkHistory` (the arguments of the local ``load_history``; the
    ``workdir`` is not needed: the executors keep the groups). Rejects come back to ``rejects`` in file order."""
    from pyspark import StorageLevel  # noqa: PLC0415 - optional dependency

    spark = spark or spark_session(master, progress=progress)
    records = read_records(spark, path, input_format).map(_compact).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        history = SparkHistory([])
        last_record = 0
        for part, last in records.mapPartitions(_tally).collect():
            add_figures(history, part)
            last_record = max(last_record, last)
        for reject in records.filter(lambda r: r[1] is None).map(lambda r: r[2]).toLocalIterator():
            count_reject(history, Reject(*reject), rejects)
        history.order_buckets = _order_buckets(path, input_format, last_record)
        partitions = max(spark.sparkContext.defaultParallelism, -(-history.events // EVENTS_PER_BUCKET))
        history.grouped = (records.filter(lambda r: r[1] is not None).map(lambda r: (r[1][0], (r[0], r[1])))
                           .groupByKey(partitions, customer_hash)
                           .mapValues(lambda rows: _capped(rows, max_per_customer))
                           .persist(StorageLevel.MEMORY_AND_DISK))  # fmt: skip
        customers, over_customers, over_events = history.grouped.map(_over_cap).fold((0, 0, 0), _sum3)
    finally:
        records.unpersist()
    history.customers = customers
    history.over_cap_customers, history.over_cap_events = over_customers, over_events
    history.start_ms, history.end_ms, history.stray = bulk_of(history.days)
    return history


def _compact(record: tuple[int, TouchpointEvent | Reject]) -> tuple[int, list[Any] | None, tuple[Any, ...] | None]:
    """(number, the event as a stored row, None) or (number, None, the reject's fields): small to keep."""
    number, item = record
    if isinstance(item, Reject):
        return number, None, (item.line, item.error, item.raw, item.reason, item.size, item.sha256)
    return number, event_row(item), None


def _tally(records: Iterable[tuple[int, list[Any] | None, Any]]) -> list[tuple[History, int]]:
    """One partition's figures (as the local reader counts them), and its last record number."""
    figures, last = History([]), 0
    for number, row, _ in records:
        last = max(last, number)
        if row is not None:
            count_event(figures, row[4], row[2])
    return [(figures, last)]


def _capped(rows: Iterable[tuple[int, list[Any]]], limit: int) -> tuple[list[list[Any]], int]:
    """A customer's first ``limit`` rows in file order (a bot's millions are counted, not kept), and the count."""
    ordered = sorted(rows, key=lambda pair: pair[0])
    return [row for _, row in ordered[:limit]], len(ordered)


def _over_cap(kv: tuple[str, tuple[list[list[Any]], int]]) -> tuple[int, int, int]:
    kept, total = len(kv[1][0]), kv[1][1]
    return 1, int(total > kept), total - kept


def _sum3(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int]:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def _active(value: tuple[list[list[Any]], int], start_ms: int, end_ms: int) -> bool:
    return any(start_ms <= row[4] < end_ms for row in value[0])


def _in_period(kv: tuple[str, tuple[list[list[Any]], int]], start_ms: int, end_ms: int) -> list[CustomerHistory]:
    rows = [row for row in kv[1][0] if start_ms <= row[4] < end_ms]
    return [customer_history(kv[0], rows)] if rows else []


def _customers(part: Iterable[tuple[str, tuple[list[list[Any]], int]]], start_ms: int,
               end_ms: int) -> Iterator[CustomerHistory]:  # fmt: skip
    for kv in sorted(part, key=lambda kv: kv[0]):
        yield from _in_period(kv, start_ms, end_ms)


def _order(customer_id: str, buckets: int) -> tuple[int, str]:
    """Where the local engine meets a customer: by bucket, then by id."""
    return customer_hash(customer_id) % buckets, customer_id


def _order_buckets(path: str | Path, fmt: InputFormat | None, records: int) -> int:
    """The local engine's bucket count for this input (a local file: exactly; elsewhere: by its records)."""
    if Path(str(path)).is_file():
        return bucket_count(path, fmt)
    return max(2, min(_MAX_ORDER_BUCKETS, -(-records // EVENTS_PER_BUCKET)))
