"""Your own history, end to end: the public CDNOW log read from its published text file, discovered, replayed.

Prints, side by side in one run (compare the ratios; these machines are noisy):

* reading 69,659 rows by column mapping (CSV, blanks as delimiter) against the same events as JSON lines;
* replay of the bundled example moments, none of which can fire on purchases only: with the models kept
  (what replay did before) and as replay now runs it (no models once it has said no moment can fire);
* replay of the moments ``discover`` writes for CDNOW, without and with the model that scores them,
  with events/s per quarter of the history (the scoring run should stay flat);
* the start of ``momentstream --help`` against importing every command's run function (what it did before).

    python benchmarks/own_data.py
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from momentstream.cli.commands import build_parser
from momentstream.cli.demo import default_engine
from momentstream.cli.input_options import input_format
from momentstream.core.schema import TouchpointEvent
from momentstream.ops.textable import format_table
from momentstream.runtime.inputs import read_input
from momentstream.runtime.sources import read_events, write_events
from replay_scoring import timed_quarters

READ = ["--format", "csv", "--delimiter", "whitespace", "--type", "purchase", "--map", "ts=date,value=dollar_value",
        "--ts-format", "%Y%m%d", "--tz", "UTC"]  # fmt: skip


def cdnow() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None, "pip install lifetimes (in the dev extra)"
    assert spec.origin is not None
    return Path(spec.origin).parent / "datasets" / "CDNOW_master.txt"


def discover_cdnow(source: Path, folder: Path) -> tuple[Path, Path]:
    """The moments ``discover`` writes for CDNOW (purchase within 90 days) and the objectives written beside them."""
    moments = folder / "discovered.yaml"
    subprocess.run([sys.executable, "-m", "momentstream", "discover", str(source), *READ, "--outcome", "purchase",
                    "--within", "90d", "--split", "1998-01-01", "--write-predictors", "-o", str(moments), "-q"],
                   check=True, capture_output=True)  # fmt: skip
    return moments, moments.with_name("discovered.objectives.yaml")


def timed_read(path: Path, args: list[str]) -> tuple[list[TouchpointEvent], float]:
    fmt = input_format(build_parser().parse_args(["profile", str(path), *args]))
    started = time.perf_counter()
    events = [item for _, item in read_input(path, fmt) if isinstance(item, TouchpointEvent)]
    return events, time.perf_counter() - started


def replay(events: list[TouchpointEvent], moments: Path | None, objectives: Path | None, scoring: bool,
           drop_models: bool = False) -> tuple[list[float], float]:  # fmt: skip
    """(events/s per quarter, events/s overall) of an event-time replay."""
    engine = default_engine(moments, None, objectives, scoring, only_bound=True)
    if drop_models:
        engine.drop_models()
    return timed_quarters(engine, sorted(events, key=lambda e: e.ts))


def startup(code: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    source = cdnow()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        events, csv_s = timed_read(source, READ)
        jsonl = work / "cdnow.jsonl"
        with jsonl.open("w") as out:
            write_events(events, out)
        started = time.perf_counter()
        with jsonl.open("rb") as lines:
            again = [item for _, item in read_events(lines) if isinstance(item, TouchpointEvent)]
        jsonl_s = time.perf_counter() - started
        assert len(again) == len(events)
        print(format_table(["read", "events", "seconds", "events/s"], [
            ["CSV by column mapping", f"{len(events):,}", f"{csv_s:.1f}", f"{len(events) / csv_s:,.0f}"],
            ["the same as JSON lines", f"{len(again):,}", f"{jsonl_s:.1f}", f"{len(again) / jsonl_s:,.0f}"],
        ]), flush=True)  # fmt: skip

        _, kept = replay(events, None, None, scoring=True)
        _, dropped = replay(events, None, None, scoring=True, drop_models=True)
        print("\nbundled example moments (none can fire on purchases only)")
        print(format_table(["replay", "events/s"], [["models kept (before)", f"{kept:,.0f}"],
                                                     ["no models once none can fire (now)", f"{dropped:,.0f}"],
                                                     ["ratio", f"{dropped / kept:.1f}x"]]), flush=True)  # fmt: skip

        moments, objectives = discover_cdnow(source, work)
        rows = []
        for label, scoring in (("no scoring", False), ("scoring (the objective discover wrote)", True)):
            rates, overall = replay(events, moments, objectives, scoring)
            rows.append([label, *(f"{r:,.0f}" for r in rates), f"{overall:,.0f}"])
        print("\nmoments discover wrote for CDNOW (5 purchase patterns), events/s")
        print(format_table(["replay", "Q1", "Q2", "Q3", "Q4", "overall"], rows), flush=True)

    before = startup("import momentstream.cli.commands, momentstream.cli.runners, momentstream.cli.replay; "
                     "import momentstream.core.engine")  # fmt: skip
    now = startup("from momentstream.cli.commands import build_parser; build_parser().format_help()")
    print("\nstart of `momentstream --help` (median of 5)")
    print(format_table(["imports", "seconds"], [["every command's run function (before)", f"{before:.2f}"],
                                                 ["the parser only (now)", f"{now:.2f}"]]))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
