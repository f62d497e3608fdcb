"""Peak memory of ``momentstream replay`` on a long history: in time order (sorted runs on disk) and in file order.

A simulated history (the bundled journeys, ~44 events per customer over 120 days) is written to a JSON-lines
file and replayed by the command line in a child process, once per order, with the bundled moments and
objectives (scoring on). Printed per run: events, customers, seconds, events/s, peak resident memory, and
that peak less a replay of a 200-customer file (Python, the libraries and the models), per customer.

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
from pathlib import Path

from momentstream.ops.textable import format_table
from momentstream.sim.journeys import simulate


def write_history(path: Path, customers: int, seed: int = 7) -> int:
    """The simulated history as JSON lines, written a slice of customers at a time; returns the events."""
    written, step = 0, 5_000
    with path.open("w", encoding="utf-8") as out:
        for first in range(0, customers, step):
            events = simulate(min(step, customers - first), 120, seed + first, first_id=first).events
            out.writelines(event.model_dump_json(exclude_defaults=True) + "\n" for event in events)
            written += len(events)
    return written


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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="replay-memory-") as tmp:
        small, large = Path(tmp) / "small.jsonl", Path(tmp) / "history.jsonl"
        write_history(small, 200)
        print(f"writing {args.customers:,} customers' history ...", file=sys.stderr)
        events = write_history(large, args.customers)
        _, base = peak_replay(small, "time")
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
