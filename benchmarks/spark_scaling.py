"""Discovery and replay at 1M and 10M events: the local engine against Spark in local mode, side by side.

Writes each simulated history once (benchmarks/discover.py's generator), then runs, as a user would and in
child processes, ``discover`` (with the backtest) and ``replay`` (no models: a Spark backfill runs none) with
``--engine local`` and ``--engine spark --spark-master local[2]``. For each it prints wall time, events per
second, the peak resident memory of the whole process tree (Spark's JVM and its Python workers included) and
discover's stage seconds; then Spark's time as a ratio of the local engine's, and whether the two engines gave
the same report (every figure but the seconds) and the same triggers.

    python benchmarks/spark_scaling.py                   # 1M and 10M events (10M takes about an hour here)
    python benchmarks/spark_scaling.py --sizes 200000    # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from discover import OUTCOME, SPLIT, watched, write_history
from momentstream.ops.textable import format_table

MASTER = "local[2]"


def _engine(engine: str) -> list[str]:
    return ["--engine", "spark", "--spark-master", MASTER] if engine == "spark" else []


def discover(path: Path, out: Path, engine: str) -> tuple[float, int, dict[str, object]]:
    report = out / f"report-{engine}.json"
    command = [sys.executable, "-m", "momentstream", "discover", str(path), "--outcome", OUTCOME, "--within", "30d",
               "--intervention", "outreach", "--split", SPLIT, "-o", str(out / f"discovered-{engine}.yaml"),
               "--report", str(report), "-q", *_engine(engine)]  # fmt: skip
    seconds, peak = watched(command)
    return seconds, peak, json.loads(report.read_text())


def replay(path: Path, out: Path, engine: str) -> tuple[float, int, list[str]]:
    target = out / f"replay-{engine}"
    command = [sys.executable, "-m", "momentstream", "replay", str(path), "--no-scoring", "-q", *_engine(engine)]
    if engine == "spark":
        command += ["-o", str(target)]
    else:
        target.mkdir()
        command += ["-o", str(target / "triggers.jsonl"), "--holdout", str(target / "holdout.jsonl")]
    seconds, peak = watched(command)
    files = [*target.glob("triggers/part-*"), *target.glob("holdout/part-*"), *target.glob("*.jsonl")]
    return seconds, peak, sorted(line for f in files for line in f.read_text().splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000], help="events per history")
    parser.add_argument("--jobs", nargs="+", choices=["discover", "replay"], default=["discover", "replay"],
                        help="what to run on both engines (default both)")  # fmt: skip
    args = parser.parse_args()
    rows, ratios = [], []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="spark-bench-") as tmp:
            out = Path(tmp)
            path = out / "events.jsonl"
            events, customers = write_history(path, size)
            print(f"{events:,} events of {customers:,} customers ({path.stat().st_size / 1e9:.2f} GB)", file=sys.stderr,
                  flush=True)  # fmt: skip
            figures: dict[str, dict[str, object]] = {}
            triggers: dict[str, list[str]] = {}
            timing: dict[tuple[str, str], float] = {}
            for job in args.jobs:  # one job on both engines, then the next: each pair side by side
                for engine in ("local", "spark"):
                    if job == "discover":
                        seconds, peak, report = discover(path, out, engine)
                        stages = report.pop("seconds")
                        assert isinstance(stages, dict)
                        figures[engine] = report
                        stage_text = " ".join(f"{k} {v:.0f}" for k, v in stages.items())
                    else:
                        seconds, peak, triggers[engine] = replay(path, out, engine)
                        stage_text = ""
                    timing[(job, engine)] = seconds
                    rows.append([f"{events:,}", job, engine, f"{seconds:,.0f}", f"{events / seconds:,.0f}",
                                 f"{peak / 2**20:,.0f}", stage_text])  # fmt: skip
                    print(rows[-1], file=sys.stderr, flush=True)
            same = {
                "discover": figures.get("local") == figures.get("spark"),
                "replay": triggers.get("local") == triggers.get("spark"),
            }
            for job in args.jobs:
                ratios.append([f"{events:,}", job, f"{timing[(job, 'spark')] / timing[(job, 'local')]:.2f}",
                               "yes" if same[job] else "NO"])  # fmt: skip
    print(f"local engine vs Spark {MASTER} on {os.cpu_count()} cores (peak memory: resident, whole process tree)")
    print(format_table(["events", "job", "engine", "seconds", "events/s", "peak MiB", "stage seconds"], rows))
    print()
    print(format_table(["events", "job", "spark / local time", "same results"], ratios))


if __name__ == "__main__":
    main()
