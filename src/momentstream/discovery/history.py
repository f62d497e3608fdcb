"""A customer history on disk, split by customer so each part fits in memory.

Discovery looks at one customer's whole story at a time, but the input is ordered by time
(or not at all) and may hold millions of events. :func:`load_history` streams the file
once, validates every line with the same schema the engine uses (refused lines go to the
rejects file with their reason, nothing is dropped silently) and spills each event into one
of N bucket files chosen by a hash of its customer id. A bucket is then read back whole,
grouped by customer and sorted by time: memory is bounded by the bucket size, not the input.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import IO, Any, TypeVar

import msgpack

from momentstream.core.clock import to_ms
from momentstream.core.schema import TouchpointEvent
from momentstream.runtime.inputs import InputFormat, estimated_rows, read_input
from momentstream.runtime.progress import Progress
from momentstream.runtime.sources import Reject

__all__ = [
    "BUCKET_BYTES",
    "EVENTS_PER_BUCKET",
    "MAX_EVENTS_PER_CUSTOMER",
    "STRAY_GAP_DAYS",
    "STRAY_SHARE",
    "CustomerHistory",
    "History",
    "add_figures",
    "bucket_count",
    "bulk_of",
    "count_event",
    "count_reject",
    "customer_hash",
    "customer_history",
    "event_row",
    "load_history",
    "read_bucket",
    "time_resolution",
]

R = TypeVar("R")
S = TypeVar("S")

BUCKET_BYTES = 24 * 1024 * 1024
"""Input bytes per bucket (about 100,000 events): one bucket is what discovery holds in memory."""
_MAX_BUCKETS = 512
_UNITS_MS = (86_400_000, 3_600_000, 60_000, 1_000, 1)
_DAY_MS = 86_400_000
MAX_EVENTS_PER_CUSTOMER = 50_000
"""Events kept per customer: more is a bot or a shared test id, not a customer's story."""
STRAY_GAP_DAYS = 60
"""A silence this long (in days) separates the bulk of a history from stray far-dated events."""
STRAY_SHARE = 0.001
"""Events beyond such a silence are stray if they are at most this share of all events."""


@dataclass(slots=True)
class CustomerHistory:
    """One customer's valid events in time order (duplicates by event id removed)."""

    customer_id: str
    events: list[TouchpointEvent]

    def times(self) -> list[int]:
        """Event times in epoch milliseconds, in order."""
        return [to_ms(e.ts) for e in self.events]


@dataclass(slots=True)
class History:
    """Where the bucket files are, and what the input held."""

    buckets: list[Path]
    events: int = 0
    rejected: int = 0
    customers: int = 0
    start_ms: int = 0
    end_ms: int = 0
    types: Counter[str] = field(default_factory=Counter)
    reject_reasons: Counter[str] = field(default_factory=Counter)
    days: Counter[int] = field(default_factory=Counter)
    """Events per UTC day (days since the epoch): small, and enough to see stray far dates."""
    over_cap_customers: int = 0
    """Customers with more than :data:`MAX_EVENTS_PER_CUSTOMER` events (bots, shared test ids)."""
    over_cap_events: int = 0
    """Their events beyond the cap, left out of discovery."""
    stray: int = 0
    """Valid events far before or after the bulk of the history, left out of discovery (see :func:`bulk_of`)."""
    resolution_ms: int = _DAY_MS
    """The finest unit the event times use (a day when every event is at midnight UTC, as in daily exports;
    a second, or a millisecond, for live data): no gap or silence finer than it means anything."""

    def customers_in(self, start_ms: int = -(2**62), end_ms: int = 2**62) -> Iterator[CustomerHistory]:
        """Every customer with events in the period, bucket by bucket (deterministic order)."""
        for bucket in self.buckets:
            yield from read_bucket(bucket, start_ms, end_ms)

    def order_key(self, customer_id: str) -> tuple[int, str]:
        """Where :meth:`customers_in` meets a customer (by bucket, then id): results gathered in another order are
        put back in this one, so every engine sees customers in the same order."""
        return customer_hash(customer_id) % max(1, len(self.buckets)), customer_id

    def each_bucket(self, work: Callable[[Iterator[CustomerHistory]], R], start_ms: int, end_ms: int, *,
                    label: str, progress: bool = False, workers: int | None = None) -> Iterator[R]:  # fmt: skip
        """``work`` over each bucket's customers with events in the period, the results in bucket order: buckets
        run in worker processes, so a two-core machine uses both cores (Spark's history runs them on its
        executors). ``work`` must pickle: a module-level function, or a partial of one."""
        jobs = [(work, bucket, start_ms, end_ms) for bucket in self.buckets]
        meter = Progress(f"{label} (buckets)", len(jobs), enabled=progress)
        processes = workers if workers is not None else min(2, os.cpu_count() or 1, len(jobs))
        if processes <= 1:
            results: Iterable[R] = map(_bucket_work, jobs)
            pool = None
        else:
            pool = ProcessPoolExecutor(processes, mp_context=get_context("fork"))
            results = pool.map(_bucket_work, jobs)
        try:
            for done, result in enumerate(results, start=1):
                yield result
                meter.update(done)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        meter.finish(len(jobs))

    def first_searched(self, searched: Callable[[str], bool], start_ms: int, end_ms: int, limit: int,
                       work: Callable[[CustomerHistory], S], *, progress: bool = False) -> list[S]:  # fmt: skip
        """``work`` on the first ``limit`` customers with events in the period that ``searched`` takes, in the
        order of :meth:`customers_in` (by bucket, then id): discovery's search sample."""
        out: list[S] = []
        meter = Progress("sampling customers", limit, enabled=progress)
        for customer in self.customers_in(start_ms, end_ms):
            if not searched(customer.customer_id):
                continue
            out.append(work(customer))
            meter.update(len(out))
            if len(out) >= limit:
                break
        meter.finish(len(out))
        return out


def _bucket_work(job: tuple[Callable[[Iterator[CustomerHistory]], R], Path, int, int]) -> R:
    work, bucket, start_ms, end_ms = job
    return work(read_bucket(bucket, start_ms, end_ms))


EVENTS_PER_BUCKET = 100_000
"""What :data:`BUCKET_BYTES` of JSON lines hold: a table (CSV, Parquet) is bucketed by its rows instead, so a
bucket holds as many events whatever the file they came from (CDNOW is 10.6 MB as JSON lines, 0.5 MB as Parquet)."""


def bucket_count(path: str | Path, fmt: InputFormat | None = None) -> int:
    """How many buckets a history is spilled into: about :data:`EVENTS_PER_BUCKET` events each (64 for stdin)."""
    if str(path) == "-":
        return 64
    rows = estimated_rows(path, fmt)
    size = Path(path).stat().st_size if rows is None else rows * BUCKET_BYTES // EVENTS_PER_BUCKET
    return max(2, min(_MAX_BUCKETS, -(-size // BUCKET_BYTES)))


def customer_hash(customer_id: str, digest_size: int = 8) -> int:
    """A stable hash of a customer id: the same on every run and machine (unlike ``hash``), so
    buckets, reference times and sketches are reproducible."""
    digest = hashlib.blake2b(customer_id.encode("utf-8", "surrogateescape"), digest_size=digest_size).digest()
    return int.from_bytes(digest, "big")


def _bucket_of(customer_id: str, n: int) -> int:
    return customer_hash(customer_id) % n


def event_row(event: TouchpointEvent) -> list[Any]:
    """An event as the compact row a bucket stores (and Spark's executors keep): its time in ms and zone offset."""
    offset = event.ts.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    return [event.customer_id, event.event_id, event.type, event.channel, to_ms(event.ts), seconds,
            event.value, event.properties, event.text]  # fmt: skip


_ZONES: dict[int, timezone] = {}


def _event(row: list[Any]) -> TouchpointEvent:
    customer_id, event_id, kind, channel, ts_ms, offset, value, properties, text = row
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES[offset] = timezone(timedelta(seconds=offset)) if offset else UTC
    ts = datetime.fromtimestamp(ts_ms / 1000, tz=zone)
    # Validated when it was read: construct without validating again.
    return TouchpointEvent.model_construct(event_id=event_id, customer_id=customer_id, type=kind, channel=channel,
                                           ts=ts, value=value, properties=properties, text=text)  # fmt: skip


def load_history(
    path: str | Path,
    workdir: Path,
    *,
    rejects: IO[str] | None = None,
    progress: bool = False,
    buckets: int | None = None,
    max_per_customer: int = MAX_EVENTS_PER_CUSTOMER,
    input_format: InputFormat | None = None,
) -> History:
    """Validate ``path`` (``-`` for stdin; read as ``input_format`` says) into customer buckets under ``workdir``.

    A customer's events beyond ``max_per_customer`` (in file order) are counted, not kept: one
    bot with millions of events must not hold a bucket's worth of memory on its own.
    """
    n = buckets or bucket_count(path, input_format)
    workdir.mkdir(parents=True, exist_ok=True)
    paths = [workdir / f"bucket-{i:03d}.msgpack" for i in range(n)]
    history = History(paths)
    per_customer: Counter[str] = Counter()
    files = [p.open("wb") for p in paths]
    packer = msgpack.Packer(use_bin_type=True)
    meter = Progress("reading events", enabled=progress)
    try:
        for number, item in read_input(path, input_format):
            if isinstance(item, Reject):
                count_reject(history, item, rejects)
                continue
            count_event(history, to_ms(item.ts), item.type)
            per_customer[item.customer_id] += 1
            if per_customer[item.customer_id] > max_per_customer:
                history.over_cap_events += 1  # a bot or a shared test id: counted, not held
                continue
            files[_bucket_of(item.customer_id, n)].write(packer.pack(event_row(item)))
            if number % 4096 == 0:
                meter.update(number)
        meter.finish(history.events + history.rejected)
    finally:
        for f in files:
            f.close()
    history.customers = len(per_customer)
    history.over_cap_customers = sum(1 for count in per_customer.values() if count > max_per_customer)
    history.start_ms, history.end_ms, history.stray = bulk_of(history.days)
    return history


def count_event(history: History, ts: int, kind: str) -> None:
    """Count one valid event (time in ms, type) in the history's figures: events, types, days, resolution."""
    history.events += 1
    history.types[kind] += 1
    history.days[ts // _DAY_MS] += 1
    if ts % history.resolution_ms:
        history.resolution_ms = time_resolution(ts)


def add_figures(history: History, part: History) -> None:
    """Add the figures :func:`count_event` counted in a part of the same input (a Spark partition's)."""
    history.events += part.events
    history.types.update(part.types)
    history.days.update(part.days)
    history.resolution_ms = min(history.resolution_ms, part.resolution_ms)


def time_resolution(ts: int) -> int:
    """The coarsest of a day, an hour, a minute, a second and a millisecond that ``ts`` is a whole multiple of.

    >>> day, hour = 86_400_000, 3_600_000
    >>> time_resolution(day * 3), time_resolution(day + 2 * hour), time_resolution(61_000), time_resolution(1)
    (86400000, 3600000, 1000, 1)
    """
    return next(unit for unit in _UNITS_MS if ts % unit == 0)


def bulk_of(days: Counter[int]) -> tuple[int, int, int]:
    """First and last event time (ms) of the bulk of the history, and how many events lie outside it.

    A handful of events dated far from the rest (a 2199 typo, a 1970 default) would stretch the
    history: every outcome horizon would seem observed, and customers would count as "no
    outcome" for years nobody saw. Clusters of days separated from the rest by more than
    :data:`STRAY_GAP_DAYS` and holding under :data:`STRAY_SHARE` of the events are left out.
    """
    if not days:
        return 0, 0, 0
    ordered = sorted(days)
    total = sum(days.values())
    limit = max(1, int(total * STRAY_SHARE))
    first, last = 0, len(ordered) - 1
    clusters = [i for i in range(1, len(ordered)) if ordered[i] - ordered[i - 1] > STRAY_GAP_DAYS]
    for cut in clusters:  # leading clusters
        if sum(days[d] for d in ordered[:cut]) <= limit:
            first = cut
    for cut in reversed(clusters):  # trailing clusters
        if cut > first and sum(days[d] for d in ordered[cut:]) <= limit:
            last = cut - 1
    kept = sum(days[d] for d in ordered[first : last + 1])
    return ordered[first] * _DAY_MS, (ordered[last] + 1) * _DAY_MS - 1, total - kept


def count_reject(history: History, item: Reject, rejects: IO[str] | None) -> None:
    history.rejected += 1
    history.reject_reasons[item.reason] += 1
    if rejects is not None:
        rejects.write(json.dumps(item.to_json()) + "\n")


def read_bucket(path: Path, start_ms: int = -(2**62), end_ms: int = 2**62) -> Iterator[CustomerHistory]:
    """The customers of one bucket with events in ``start_ms <= ts < end_ms``, sorted by id, each
    with events in time (then arrival) order."""
    grouped: dict[str, list[list[Any]]] = {}
    with path.open("rb") as f:
        for row in msgpack.Unpacker(f, raw=False, strict_map_key=False):
            if start_ms <= row[4] < end_ms:
                grouped.setdefault(row[0], []).append(row)
    for customer_id in sorted(grouped):
        yield customer_history(customer_id, grouped.pop(customer_id))


def customer_history(customer_id: str, rows: list[list[Any]]) -> CustomerHistory:
    """One customer from their stored rows in arrival order: sorted by time (stable: equal times keep arrival
    order), the first of each event id kept. Every engine that groups a history by customer builds it here."""
    rows.sort(key=lambda r: r[4])
    seen: set[str] = set()
    events = []
    for row in rows:
        if row[1] in seen:
            continue
        seen.add(row[1])
        events.append(_event(row))
    return CustomerHistory(customer_id, events)
