"""Issue 31's spike: how fast the core's hot loop runs as Python, compiled by mypyc, and in Rust.

One design of the replay core's per-event work (``compiled_core/hotloop.py``) is run four ways on the
core harness's stream (``core.py``: 10 moments of four shapes, 60 event types, Zipf-like mix):

* ``python``: the re-laid hot loop as plain CPython;
* ``mypyc``: the same file compiled unchanged by mypyc (a C compiler, no other toolchain);
* ``rust``: the same algorithm in Rust through PyO3 (``compiled_core/rust``), called once per event;
* ``rust, batched``: the Rust loop given the whole stream in one call (what a topic batch would cost).

Beside them runs the real engine (``Engine`` + ``ReplayRunner``) on the same events, for scale. The
three hot loops must report the same outputs and checksum, or the run fails. The engine has more to do
(stories, zones, trigger records, budgets) and its counts are not compared.

Rounds interleave every variant, and each figure is the median of its rounds, timed with process time:
these machines have two noisy cores, so read the ratios, not the absolute figures.

    python benchmarks/compiled_core_spike.py              # 100k events, 10k customers, 3 rounds
    python benchmarks/compiled_core_spike.py --events 300000 --rounds 5

Needs cargo (Rust) and a C compiler; the first run builds the Rust crate (about 40 s, with a download
of pyo3 from crates.io) into ``.cache/compiled_core`` (the repository's ignored build directory).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from core import TYPES, make_events, moment_set
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import TouchpointEvent
from momentstream.ops.textable import format_table
from momentstream.patterns.nfa import CompiledMoment
from momentstream.runtime.replay.runner import ReplayRunner

HERE = Path(__file__).resolve().parent
CRATE = HERE / "compiled_core" / "rust"
BUILD = HERE.parent / ".cache" / "compiled_core"
WITHIN = {0: 3 * 86_400_000, 1: 5 * 86_400_000, 2: 7 * 86_400_000, 3: 2 * 86_400_000}

Moment = tuple[int, int, int, int, int, int]
Columns = tuple[list[int], list[int], list[int], list[float], list[int]]


def spike_moments(count: int) -> list[Moment]:
    """``core.moment_set(count)`` as integer tuples: shape, event types a b c d, within (ms)."""
    moments = []
    for i in range(count):
        a, b, c, d = ((i * 4 + k) % len(TYPES) for k in range(4))
        moments.append((i % 4, a, b, c, d, WITHIN[i % 4]))
    return moments


def build_rust() -> ModuleType:
    """``cargo build --release`` of the crate, loaded as the module ``hotloop_rs``."""
    if shutil.which("cargo") is None:
        raise SystemExit("cargo is not on PATH: install Rust (rustup) to run the spike's Rust column")
    target = BUILD / "target"
    env = {**os.environ, "PYO3_PYTHON": sys.executable, "CARGO_TARGET_DIR": str(target)}
    print("building the Rust hot loop (cargo build --release) ...", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(CRATE / "Cargo.toml")],
                   check=True, env=env)  # fmt: skip
    out = BUILD / "rust"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(target / "release" / "libhotloop_rs.so", out / "hotloop_rs.so")
    return _load(out, "hotloop_rs")


def build_mypyc() -> ModuleType:
    """The Python hot loop compiled by mypyc, as the module ``hotloop_c`` (same source, another name)."""
    out = BUILD / "mypyc"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copy(HERE / "compiled_core" / "hotloop.py", out / "hotloop_c.py")
    print("compiling the Python hot loop with mypyc ...", file=sys.stderr)
    mypyc = Path(sys.executable).with_name("mypyc")
    subprocess.run([str(mypyc), "hotloop_c.py"], check=True, cwd=out, capture_output=True)
    (out / "hotloop_c.py").unlink()  # import the extension, not the source beside it
    return _load(out, "hotloop_c")


def _load(folder: Path, name: str) -> ModuleType:
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))


def columns(events: int, customers: int) -> tuple[list[TouchpointEvent], Columns]:
    """The harness stream as engine events and as integer columns for the hot loops."""
    stream = make_events(customers, events)
    kinds = {t: i for i, t in enumerate(TYPES)}
    cols: Columns = ([], [], [], [], [])
    for i, event in enumerate(stream):
        cols[0].append(int(event.customer_id[1:]))
        cols[1].append(kinds[event.type])
        cols[2].append(int(event.ts.timestamp() * 1000))
        cols[3].append(event.value if event.value is not None else 0.0)
        cols[4].append(i)
    return stream, cols


def run_loop(module: ModuleType, moments: list[Moment], cols: Columns, lateness: int, batched: bool) -> tuple:
    """Feed the stream to one hot loop; (seconds of process time, outputs, checksum, late)."""
    loop = module.HotLoop(moments, lateness)
    started = time.process_time()
    if batched:
        loop.feed_many(*cols)
    else:
        feed = loop.feed
        for customer, kind, ts, value, event_id in zip(*cols, strict=True):
            feed(customer, kind, ts, value, event_id)
    loop.finish()
    return time.process_time() - started, loop.outputs, loop.checksum, loop.late


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events in the stream (default 100000)")
    parser.add_argument("--customers", type=int, default=10_000, help="customers (default 10000)")
    parser.add_argument("--moments", type=int, default=10, help="moments, four shapes in turn (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per variant (default 3)")
    parser.add_argument("--lateness", type=int, default=60_000, help="allowed lateness in ms (default 60000)")
    args = parser.parse_args()

    python = _load(HERE / "compiled_core", "hotloop")
    compiled, rust = build_mypyc(), build_rust()
    stream, cols = columns(args.events, args.customers)
    moments = spike_moments(args.moments)
    engine_moments = moment_set(args.moments)

    variants: dict[str, Callable[[], tuple]] = {
        "engine (ReplayRunner)": lambda: _engine(engine_moments, stream, args.lateness),
        "hot loop, python": lambda: run_loop(python, moments, cols, args.lateness, False),
        "hot loop, mypyc": lambda: run_loop(compiled, moments, cols, args.lateness, False),
        "hot loop, rust": lambda: run_loop(rust, moments, cols, args.lateness, False),
        "hot loop, rust, batched": lambda: run_loop(rust, moments, cols, args.lateness, True),
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    results: dict[str, tuple] = {}
    for round_ in range(args.rounds):
        for name, run in variants.items():
            elapsed, *result = run()
            seconds[name].append(elapsed)
            results[name] = tuple(result)
        print(f"  round {round_ + 1}/{args.rounds} done", file=sys.stderr)

    loops = {name: result for name, result in results.items() if name.startswith("hot loop")}
    if len(set(loops.values())) != 1:
        raise SystemExit(f"the hot loops disagree: {loops}")
    median = {name: statistics.median(times) for name, times in seconds.items()}
    base = median["hot loop, python"]
    rows = [
        [name, f"{args.events / median[name]:,.0f}", f"{median[name] * 1e6 / args.events:.2f}",
         f"{base / median[name]:.2f}", f"{median['engine (ReplayRunner)'] / median[name]:.2f}"]
        for name in variants
    ]  # fmt: skip
    outputs, _, late = next(iter(loops.values()))
    engine_outputs = results["engine (ReplayRunner)"][0]
    print(f"{args.events:,} events, {args.customers:,} customers, {args.moments} moments, allowed lateness "
          f"{args.lateness} ms; median of {args.rounds} interleaved rounds (process time)")  # fmt: skip
    print(f"hot loops agree: {outputs:,} outputs, {late:,} late; engine outputs: {engine_outputs:,}")
    print(format_table(["variant", "events/s", "µs/event", "× python loop", "× engine"], rows))
    return 0


def _engine(moments: list[CompiledMoment], stream: list[TouchpointEvent], lateness: int) -> tuple[float, int]:
    """The real replay core on the same events: (seconds of process time, outputs)."""
    runner = ReplayRunner(Engine(moments, EngineConfig(allowed_lateness_ms=lateness)))
    started = time.process_time()
    outputs = 0
    for event in stream:
        outputs += len(runner.feed(event))
    outputs += len(runner.finish())
    return time.process_time() - started, outputs


if __name__ == "__main__":
    sys.exit(main())
