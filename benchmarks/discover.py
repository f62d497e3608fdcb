"""Time and peak memory of ``momentstream discover`` on simulated histories of 1M and 10M events.

Writes each history to a temporary file in chunks (never all in memory), then runs the
command in a child process exactly as a user would, with the demo's question: which sequences
precede a third order within 30 days, and when did reaching out after them work? It watches
the resident memory of the child and its worker processes (summed over the process tree,
sampled every 0.2 s), and prints a table with the time of each stage (from report.json).

    python benchmarks/discover.py                    # 1M and 10M events (10M takes a while)
    python benchmarks/discover.py --sizes 200000     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from momentstream.ops.textable import format_table
from momentstream.runtime.sources import write_events
from momentstream.sim.journeys import simulate

DAYS = 150
CHUNK_CUSTOMERS = 5_000
OUTCOME = "{type: purchase, properties: {order_number: {gte: 3}}}"
SPLIT = "2026-04-05"  # 90 days after the simulator's start


def write_history(path: Path, events: int) -> tuple[int, int]:
    """Simulated journeys (customers joining over 120 days) until ``events``; returns (events, customers)."""
    written = customers = chunk = 0
    with path.open("w") as f:
        while written < events:
            sim = simulate(CHUNK_CUSTOMERS, DAYS, seed=1000 + chunk, joining_days=120, first_id=customers)
            written += write_events(sim.events, f)
            customers += CHUNK_CUSTOMERS
            chunk += 1
    return written, customers


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text().split()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = int(statm[1]) * page
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def watched(command: list[str]) -> tuple[float, int]:
    """Run ``command`` (output discarded); (seconds, peak resident bytes of its process tree, sampled every 0.2 s)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(child.pid))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    code = child.wait()
    done.set()
    watcher.join()
    if code != 0:
        raise SystemExit(f"{' '.join(command[:5])} ... exited {code}")
    return time.perf_counter() - started, peak


def run_discover(path: Path, workdir: Path) -> tuple[float, int, dict[str, object]]:
    """Run the command; returns (seconds, peak resident bytes of the process tree, report)."""
    report = workdir / "report.json"
    command = [sys.executable, "-m", "momentstream", "discover", str(path), "--outcome", OUTCOME, "--within", "30d",
               "--intervention", "outreach", "--split", SPLIT, "-o", str(workdir / "discovered.yaml"), "--report",
               str(report), "-q"]  # fmt: skip
    seconds, peak = watched(command)
    return seconds, peak, json.loads(report.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000], help="events per history")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="discover-bench-") as tmp:
            path = Path(tmp) / "events.jsonl"
            t0 = time.perf_counter()
            events, customers = write_history(path, size)
            generated = time.perf_counter() - t0
            print(f"{events:,} events of {customers:,} customers written in {generated:.0f} s "
                  f"({path.stat().st_size / 1e9:.2f} GB); discovering...", file=sys.stderr, flush=True)  # fmt: skip
            seconds, peak, report = run_discover(path, Path(tmp))
            stages = report["seconds"]
            assert isinstance(stages, dict)
            window = report.get("window") or {}
            assert isinstance(window, dict)
            found = f"{window.get('opens_after')}-{window.get('closes_after')}" if window else "none"
            stage_text = " ".join(f"{k} {v:.0f}" for k, v in stages.items())
            rows.append([f"{events:,}", f"{customers:,}", f"{seconds:.0f}", f"{events / seconds:,.0f}",
                         f"{peak / 2**20:,.0f}", stage_text, found])  # fmt: skip
    print(f"momentstream discover on {os.cpu_count()} cores (peak memory: resident, summed over the process tree)")
    print(format_table(["events", "customers", "seconds", "events/s", "peak MiB", "stage seconds", "window"], rows))


if __name__ == "__main__":
    main()
