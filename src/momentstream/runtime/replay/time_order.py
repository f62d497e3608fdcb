"""A history in event-time order with bounded memory: sorted runs spilled to disk, then merged.

``replay`` sorts a history by event time before it runs it. Sorted in memory, every event of the file was
a live pydantic object at once: 2,195,172 events peaked at 4.0 GB, four times the replay's own state. Here
valid events are taken in runs of at most ``run_events``; each run is sorted (by time, then by line, so
ties keep file order, as a stable sort would) and, once the input has outgrown one run, written to a
private temporary directory as JSON lines, the form a worker reads from Kafka. The runs are merged as
the replay consumes them, ``fan_in`` files at a time at most (more runs are first merged into one). A
history that fits in one run never touches the disk.

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 1, 5, tzinfo=UTC)
>>> events = [(TouchpointEvent(event_id=f"e{i}", customer_id="c", type="visit", ts=t0 + timedelta(hours=h)), i)
...           for i, h in enumerate([5, 1, 4, 1, 3, 2, 0])]
>>> with TimeOrder(run_events=2, fan_in=2) as ordered:
...     ordered.take(events)
...     print(ordered.total, ordered.runs_written, [event.event_id for event, _ in ordered])
7 6 ['e6', 'e1', 'e3', 'e5', 'e4', 'e2', 'e0']
"""

from __future__ import annotations

import heapq
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO

from momentstream.core.schema import TouchpointEvent

__all__ = ["FAN_IN", "RUN_EVENTS", "TimeOrder", "event_micros"]

RUN_EVENTS = 50_000
"""Events sorted in memory at once: about 65 MB of parsed events (1.3 KB each)."""
FAN_IN = 64
"""Run files merged at once: the open files a merge needs."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

Keyed = tuple[int, int, str]
"""(event time in µs, line number, the event as JSON): ordered by the first two, which are unique."""


def event_micros(event: TouchpointEvent) -> int:
    """Exact event time in microseconds (a float timestamp would round ties apart or together)."""
    return (event.ts - _EPOCH) // _MICROSECOND


class TimeOrder:
    """Takes ``(event, line number)`` pairs in file order and gives them back in event-time order.

    Use as a context manager: the spill directory goes when it closes. ``total`` and ``types`` count what
    :meth:`take` read, before the first event is given back.
    """

    def __init__(self, run_events: int | None = None, fan_in: int = FAN_IN, directory: Path | None = None) -> None:
        run_events = RUN_EVENTS if run_events is None else run_events
        if run_events < 1 or fan_in < 2:
            raise ValueError("a run holds at least one event and a merge takes at least two runs")
        self.run_events = run_events
        self.fan_in = fan_in
        self.total = 0
        self.types: Counter[str] = Counter()
        self.runs_written = 0
        """Run files written (merges included): 0 when the history fitted in memory."""
        self._directory = directory
        self._spill: tempfile.TemporaryDirectory[str] | None = None
        self._runs: list[Path] = []
        self._memory: list[tuple[int, int, TouchpointEvent]] = []

    def take(self, events: Iterable[tuple[TouchpointEvent, int]]) -> None:
        """Read every pair, spilling a sorted run each time ``run_events`` are held."""
        memory = self._memory
        for event, number in events:
            memory.append((event_micros(event), number, event))
            self.types[event.type] += 1
            self.total += 1
            if len(memory) >= self.run_events:
                self._write_run(memory)
                memory.clear()
        if self._runs and memory:
            self._write_run(memory)
            memory.clear()

    def __iter__(self) -> Iterator[tuple[TouchpointEvent, int]]:
        if not self._runs:
            self._memory.sort(key=lambda row: (row[0], row[1]))
            for _, number, event in self._memory:
                yield event, number
            return
        for _, number, line in _merged(self._runs):
            yield TouchpointEvent.model_validate_json(line), number

    def _write_run(self, rows: list[tuple[int, int, TouchpointEvent]]) -> None:
        rows.sort(key=lambda row: (row[0], row[1]))
        if len(self._runs) >= self.fan_in:  # keep the merge's open files bounded: fold the runs so far into one
            merging, self._runs = self._runs, []
            self._save(_merged(merging))
            for path in merging:
                path.unlink()
        self._save((micros, number, event.model_dump_json(exclude_defaults=True)) for micros, number, event in rows)

    def _save(self, rows: Iterable[Keyed]) -> None:
        if self._spill is None:
            self._spill = tempfile.TemporaryDirectory(prefix="momentstream-replay-", dir=self._directory)
        path = Path(self._spill.name) / f"run-{self.runs_written:06d}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            _write_rows(out, rows)
        self._runs.append(path)
        self.runs_written += 1

    def close(self) -> None:
        """Remove the spilled runs (they hold event payloads)."""
        self._memory.clear()
        self._runs = []
        if self._spill is not None:
            self._spill.cleanup()
            self._spill = None

    def __enter__(self) -> TimeOrder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _write_rows(out: IO[str], rows: Iterable[Keyed]) -> None:
    out.writelines(f"{micros} {number} {line}\n" for micros, number, line in rows)


def _merged(paths: list[Path]) -> Iterator[Keyed]:
    """The rows of sorted run files, merged in order; the files are closed when it ends or is dropped."""
    files = [path.open(encoding="utf-8") for path in paths]
    try:
        yield from heapq.merge(*(_read_run(f) for f in files))
    finally:
        for f in files:
            f.close()


def _read_run(source: IO[str]) -> Iterator[Keyed]:
    for text in source:
        micros, number, line = text.rstrip("\n").split(" ", 2)
        yield int(micros), int(number), line
