"""Peak memory of ``momentstream replay`` on a long history: in time order (sorted runs on disk) and in file order.

A simulated history (the bundled journeys, ~44 events per customer over 120 days) is written to a JSON-lines
file in time order, as an export would be, and replayed by the command line in a child process, once per
order, with the bundled moments and objectives (scoring on). Printed per run: events, customers, seconds,
events/s, peak resident memory, and that peak less a replay of a 200-customer file (Python, the libraries
and the models), per customer.

    python benchmarks/replay_memory.py                   # 50,000 customers, about 2.2M events
    python benchmarks/replay_memory.py --customers 5000  # a quick look
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from momentstream.core.schema import TouchpointEvent
from momentstream.ops.textable import format_table
from momentstream.runtime.replay.time_order import TimeOrder
from momentstream.sim.journeys import simulate


def write_history(path: Path, customers: int, seed: int = 7) -> int:
    """The simulated history as JSON lines in time order, as an export would be; returns the events.

    Customers are simulated a slice at a time and the slices merged by time on disk (the replay's own
    :class:`TimeOrder`), so writing it takes no more memory than replaying it.
    """
    step = 5_000

    def slices() -> Iterator[tuple[TouchpointEvent, int]]:
        number = 0
        for first in range(0, customers, step):
            for event in simulate(min(step, customers - first), 120, seed + first, first_id=first).events:
                number += 1
                yield event, number

    with TimeOrder(directory=path.parent) as ordered, path.open("w", encoding="utf-8") as out:
        ordered.take(slices())
        out.writelines(event.model_dump_json(exclude_defaults=True) + "\n" for event, _ in ordered)
        return ordered.total


def peak_replay(path: Path, order: str, source: Path | None = None) -> tuple[float, int]:
    """(seconds, peak resident bytes) of one ``momentstream replay`` child process (of ``source``'s code)."""
    env = dict(os.environ, PYTHONPATH=str(source)) if source is not None else None
    command = [sys.executable, "-m", "momentstream", "replay", str(path), "-o", os.devnull, "--order", order,
               "--quiet"]  # fmt: skip
    with tempfile.TemporaryFile("w+") as errors:  # the replay's summary, shown only if it fails
        started = time.perf_counter()
        child = subprocess.Popen(command, stderr=errors, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise SystemExit(f"replay failed: {' '.join(command)}\n{errors.read()}")
    return seconds, usage.ru_maxrss * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--against", type=Path, metavar="SRC",
                        help="also replay with the momentstream package under SRC (e.g. an older checkout's src),\n"
                             "side by side in the same run")  # fmt: skip
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # the history, written in a child process
    args = parser.parse_args()
    if args.write:
        print(write_history(args.write, args.customers))
        return 0
    with tempfile.TemporaryDirectory(prefix="replay-memory-") as tmp:
        small, large = Path(tmp) / "small.jsonl", Path(tmp) / "history.jsonl"
        write_history(small, 200)
        _, base = peak_replay(small, "time")
        # A child's peak counts the pages it was forked with: the history is simulated in a child of its own,
        # so this process stays small and every replay's peak is its own.
        print(f"writing {args.customers:,} customers' history ...", file=sys.stderr)
        written = subprocess.run([sys.executable, __file__, "--customers", str(args.customers), "--write", str(large)],
                                 check=True, capture_output=True, text=True)  # fmt: skip
        events = int(written.stdout)
        rows = []
        for code, order in [(None, "time"), (None, "file"), *([(args.against, "time")] if args.against else [])]:
            print(f"replaying {events:,} events in {order} order ...", file=sys.stderr)
            seconds, peak = peak_replay(large, order, code)
            name = order if code is None else f"{order} ({code})"
            rows.append([name, f"{events:,}", f"{args.customers:,}", f"{seconds:.0f}", f"{events / seconds:,.0f}",
                         f"{peak / 2**20:,.0f}", f"{(peak - base) / args.customers / 1024:.1f}"])  # fmt: skip
    print(f"replay with the bundled moments and objectives; a 200-customer replay peaks at {base / 2**20:,.0f} MB")
    print(format_table(["order", "events", "customers", "seconds", "events/s", "peak RSS (MB)",
                        "KB per customer above a small replay"], rows))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
