"""The demo's sixth part: how the best customers got there, on a history with a planted path.

A second simulator (:mod:`momentstream.sim.best_customers`) plants the path: reading a guide, then
succeeding with a feature, in the first 14 days, makes a customer buy four times as often. ``journeys``
is not told: it ranks customers by their spend over their first 120 days, draws the top 5%'s paths
beside everyone else's, and tests the early steps that tell them apart on later customers.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TextIO

from momentstream.journeys.cohort import parse_by
from momentstream.journeys.run import JourneyOptions, run_journeys
from momentstream.runtime.sources import write_events
from momentstream.sim.best_customers import best_customer_history

__all__ = ["journeys_act"]


def journeys_act(customers: int, seed: int, out: Path, stream: TextIO) -> None:
    """Simulate, map, and print what the map found against what was planted."""
    customers = max(800, min(customers // 3, 2_000))
    path = out / "best_customers.jsonl"
    with path.open("w", encoding="utf-8") as f:
        write_events(best_customer_history(customers=customers, days=330, seed=seed), f)
    stream.write(f"6. How the best customers got there: {customers:,} other customers, whose spend follows a path "
                 "planted in their\n   first 14 days (a guide read, then a feature success). momentstream journeys "
                 f"{path} --top 5% --by 'value within 120d'\n\n")  # fmt: skip
    options = JourneyOptions(events=str(path), top=0.05, by=parse_by("value within 120d"),
                             ignore=frozenset({"login", "email_open"}), html_out=out / "journeys.html",
                             moments_out=out / "early_indicator.yaml", report_out=out / "journeys.json")  # fmt: skip
    summary = io.StringIO()
    report = run_journeys(options, summary)
    stream.write("".join(f"  {line}\n" for line in summary.getvalue().splitlines()))
    held = [t["steps"] for t in report["indicators"] if t["verified"]]
    stream.write(f"  planted: education_view, then feature_success; the map's best that held: "
                 f"{held[0] if held else 'none'}\n")  # fmt: skip
    stream.write(f"  wrote {options.html_out} (the paths of both cohorts) and {options.moments_out}\n\n")
