"""What scraping /metrics in a loop costs a worker draining a backlog, side by side.

One worker (batched runtime, no scoring) drains the same simulated backlog on a fresh deployment,
alternately with nothing scraping it and with a thread fetching ``/metrics`` as fast as it answers
(a misconfigured or hostile scraper). The worker renders the page at most once a second, so the
loop should cost little. Prints events/s of each run and the median ratio.

    python benchmarks/scrape_load.py            # 1,500 customers, 60 days, 3 rounds
    python benchmarks/scrape_load.py --quick    # 500 customers, 2 rounds
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from momentstream.devtools.broker import dev_broker
from momentstream.devtools.cluster import Deployment, WorkerProcess
from momentstream.ops.textable import format_table
from momentstream.runtime.kafka.admin import consumer_lag
from momentstream.sim.journeys import simulate


def drain(bootstrap: str, lines: list[bytes], work: Path, scrape: bool) -> tuple[float, int]:
    """(events/s, scrapes answered) for one worker draining ``lines``."""
    deployment = Deployment(bootstrap, partitions=4, extra_env={"MOMENTSTREAM_SCORING": "false"})
    deployment.create_topics()
    deployment.produce(lines)
    worker = WorkerProcess(deployment, work, "scrape" if scrape else "quiet")
    stop = threading.Event()
    scrapes = [0]

    def scraper() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(worker.url("/metrics"), timeout=5) as response:
                    response.read()
                scrapes[0] += 1
            except OSError:
                time.sleep(0.01)

    try:
        worker.wait_ready()
        thread = threading.Thread(target=scraper, daemon=True)
        if scrape:
            thread.start()
        started = time.perf_counter()
        settings = deployment.settings()
        while any(consumer_lag(settings).values()):
            time.sleep(0.2)
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        worker.kill()
    return len(lines) / seconds, scrapes[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 customers, 2 rounds")
    args = parser.parse_args(argv)
    customers, rounds = (500, 2) if args.quick else (1500, 3)
    events = sorted(simulate(customers, 60, 4).events, key=lambda e: e.ts)
    lines = [e.model_dump_json(exclude_defaults=True).encode() for e in events]
    rates: dict[bool, list[float]] = {False: [], True: []}
    answered: list[int] = []
    with dev_broker() as broker, tempfile.TemporaryDirectory() as tmp:
        print(f"{len(lines):,} events, broker {broker.bootstrap} ({broker.source}), {rounds} rounds", file=sys.stderr)
        for _ in range(rounds):
            for scrape in (False, True):
                rate, scrapes = drain(broker.bootstrap, lines, Path(tmp), scrape)
                rates[scrape].append(rate)
                if scrape:
                    answered.append(scrapes)
    quiet, loud = statistics.median(rates[False]), statistics.median(rates[True])
    rows = [["nobody", f"{quiet:,.0f}", "-"],
            ["a loop on /metrics", f"{loud:,.0f}", f"{statistics.median(answered):,.0f} scrapes answered"]]  # fmt: skip
    print(format_table(["scraping", "events/s (median)", ""], rows))
    print(f"ratio with the scrape loop: {loud / quiet:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
