"""``journeys``: a history in; the value cohort, its paths, its early indicators and a moments file out.

1. Read and validate the history into customer buckets (discovery's reader: rejects with reasons).
2. One pass: each customer's value over their first days (:mod:`.cohort`) and early steps (:mod:`.records`).
3. The top share by value is the cohort; the customers who started first choose the indicators, the
   later ones test them (:mod:`.indicators`).
4. The best indicator that held is written as a moment, and the engine itself runs it over the later
   customers' first days: the lift it reports is what the moment does, not what a count said.
5. The paths of both cohorts as a picture (:mod:`.paths`, :mod:`.picture`), and ``report.json``.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from momentstream.core.clock import format_duration, to_ms
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import Trigger
from momentstream.discovery.history import CustomerHistory, History, load_history
from momentstream.discovery.moments_file import write_moments
from momentstream.discovery.outcome import parse_where
from momentstream.discovery.stats import wilson
from momentstream.journeys.cohort import ValueRule, top_threshold
from momentstream.journeys.indicators import Indicator, Tested, choose, split_by_start, verify
from momentstream.journeys.paths import path_map
from momentstream.journeys.picture import journey_html
from momentstream.journeys.records import CustomerRecord, Records, collect
from momentstream.patterns.builder import Moment
from momentstream.patterns.nfa import CompiledMoment, compile_moment
from momentstream.patterns.spec import MomentSpec
from momentstream.runtime.inputs import InputFormat

__all__ = ["JourneyError", "JourneyOptions", "run_journeys"]

_DAY_MS = 86_400_000
_EVER = (-(2**62), 2**62)


class JourneyError(ValueError):
    """The history cannot give a journey map (nobody ranked, nobody with value); the message says why."""


@dataclass(frozen=True, slots=True)
class JourneyOptions:
    """What ``momentstream journeys`` was asked."""

    events: str
    top: float
    by: ValueRule
    outcome: str = "purchase"
    early_ms: int = 30 * _DAY_MS
    ignore: frozenset[str] = frozenset()
    keep_outcome_events: bool = False
    html_out: Path | None = None
    moments_out: Path | None = None
    report_out: Path | None = None
    input_format: InputFormat | None = None
    progress: bool = False


def run_journeys(
    options: JourneyOptions, stream: TextIO, load: Callable[..., History] = load_history
) -> dict[str, Any]:
    """Run every stage, write the files asked for, print a summary on ``stream``; the report as a dict. ``load``
    reads the history (discovery's local loader, or Spark's, whose executors then run the per-customer work)."""
    where, _ = parse_where(options.outcome, "--outcome")
    with tempfile.TemporaryDirectory(prefix="momentstream-journeys-") as workdir:
        history = load(options.events, Path(workdir), progress=options.progress,
                       input_format=options.input_format)  # fmt: skip
        work = partial(_bucket_records, where, options.by, options.early_ms, history.end_ms, options.ignore,
                       options.keep_outcome_events)  # fmt: skip
        records = Records()
        for part in history.each_bucket(work, _EVER[0], _EVER[1], label="reading journeys", progress=options.progress):
            records.customers += part.customers
            records.censored += part.censored
        records.customers.sort(key=lambda r: history.order_key(r.customer_id))  # as the buckets meet them
        if not records.customers:
            raise JourneyError(f"no customer's first event is {options.by.describe().split()[-1]} before the history "
                               f"ends ({records.censored:,} started too late): give a shorter --by window")  # fmt: skip
        threshold = top_threshold([r.value for r in records.customers], options.top)
        if threshold == float("inf"):
            raise JourneyError(f"no ranked customer has any {options.by.measure} of {json.dumps(where)}: check "
                               "--outcome (and that the events carry a value, for 'value within')")  # fmt: skip
        for r in records.customers:
            r.top = r.value >= threshold
        earlier, later = split_by_start(records.customers)
        tested = verify(choose(earlier), later)
        best = next((t for t in tested if t.verified), None)
        moment = _moment(best.indicator, options.early_ms) if best is not None else None
        measured = _measure(moment, history, later, options.early_ms) if moment is not None else None
    report = _report(options, where, records.censored, records.customers, threshold, earlier, later, tested)
    if moment is not None and measured is not None:
        report["moment"] = {"name": moment.name, "file": str(options.moments_out or ""), **measured}
        if options.moments_out is not None:
            header = (f"Early indicator of entering the top {options.top:.0%} by {options.by.describe()} of "
                      f"{json.dumps(where)}, written by momentstream journeys.\nLift on later customers' first "
                      f"{format_duration(options.early_ms)}, run by the engine: {measured['lift']:.2f}.")  # fmt: skip
            write_moments(options.moments_out, [moment.spec], header)
    paths = path_map(records.customers)
    if options.html_out is not None:
        options.html_out.write_text(journey_html(report, paths), encoding="utf-8")
    if options.report_out is not None:
        options.report_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    stream.write(summary(report))
    return report


def _moment(indicator: Indicator, early_ms: int) -> CompiledMoment:
    """The indicator as a moment: its steps in order, the second within the early window of the first."""
    name = "early_" + "_then_".join(re.sub(r"[^a-z0-9_]", "_", s.lower()) for s in indicator.steps)
    built = Moment(name[:60], description=f"An early sign of a top customer: {indicator.describe()}.")
    built = built.begin("first", where={"type": indicator.steps[0]})
    if len(indicator.steps) > 1:
        built = built.followed_by("then", where={"type": indicator.steps[1]}, within=format_duration(early_ms))
    return built.compile()


def _bucket_records(where: dict[str, Any], rule: ValueRule, early_ms: int, end_ms: int, ignore: frozenset[str],
                    keep_outcome_events: bool, customers: Iterable[CustomerHistory]) -> Records:  # fmt: skip
    """One bucket's records (run where the bucket is: the outcome is parsed there, a parsed one need not pickle)."""
    predicate = parse_where(where, "--outcome")[1]
    return collect(customers, rule, predicate, early_ms, end_ms, ignore=ignore,
                   keep_outcome_events=keep_outcome_events)  # fmt: skip


def _measure(moment: CompiledMoment, history: History, later: list[CustomerRecord], early_ms: int) -> dict[str, Any]:
    """Run the moment through the engine over each later customer's early window: cohort entry if it fired."""
    who = {r.customer_id: (r.start_ms, r.top) for r in later}
    work = partial(_bucket_measure, moment.spec, who, early_ms)
    fired_top = fired = quiet_top = quiet = 0
    for part in history.each_bucket(work, _EVER[0], _EVER[1], label="running the early moment"):
        fired, fired_top, quiet, quiet_top = fired + part[0], fired_top + part[1], quiet + part[2], quiet_top + part[3]
    rate_fired = fired_top / fired if fired else 0.0
    rate_quiet = quiet_top / quiet if quiet else 0.0
    low, high = wilson(fired_top, fired)
    return {"fired": fired, "not_fired": quiet, "rate_fired": rate_fired, "rate_fired_low": low,
            "rate_fired_high": high, "rate_not_fired": rate_quiet,
            "lift": rate_fired / rate_quiet if rate_quiet else None}  # fmt: skip


def _bucket_measure(spec: MomentSpec, who: dict[str, tuple[int, bool]], early_ms: int,
                    customers: Iterable[CustomerHistory]) -> tuple[int, int, int, int]:  # fmt: skip
    """One bucket's (fired, of them in the cohort, not fired, of them in the cohort) among the later customers."""
    engine = Engine([compile_moment(spec)], EngineConfig(allowed_lateness_ms=0))
    fired_top = fired = quiet_top = quiet = 0
    for customer in customers:
        record = who.get(customer.customer_id)
        if record is None:
            continue
        start_ms, top = record
        state = engine.new_state(customer.customer_id)
        outputs = []
        for event in customer.events:
            if to_ms(event.ts) - start_ms > early_ms:
                break
            outputs += engine.on_event(state, event).outputs
        outputs += engine.on_tick(state, start_ms + early_ms, final=True).outputs
        if any(isinstance(o, Trigger) for o in outputs):
            fired, fired_top = fired + 1, fired_top + top
        else:
            quiet, quiet_top = quiet + 1, quiet_top + top
    return fired, fired_top, quiet, quiet_top


def _report(options: JourneyOptions, where: dict[str, Any], censored: int, records: list[CustomerRecord],
            threshold: float, earlier: list[CustomerRecord], later: list[CustomerRecord],
            tested: list[Tested]) -> dict[str, Any]:  # fmt: skip
    top = sum(r.top for r in records)
    return {
        "cohort": {"by": options.by.describe(), "outcome": json.dumps(where), "top_share": options.top,
                   "threshold": threshold, "ranked": len(records), "top": top, "censored": censored,
                   "early_days": options.early_ms / _DAY_MS},
        "split": {"search": len(earlier), "test": len(later), "search_top": sum(r.top for r in earlier),
                  "test_top": sum(r.top for r in later)},
        "indicators": [_indicator(t) for t in tested],
    }  # fmt: skip


def _indicator(t: Tested) -> dict[str, Any]:
    rate, low, high = t.rate_with()
    without, _, _ = t.rate_without()
    return {"steps": t.indicator.describe(), "verified": t.verified, "p_value": t.p_value, "q_value": t.q_value,
            "chosen_on": {"lift": t.chosen_on.lift, "customers_with": t.chosen_on.with_n},
            "later": {"rate_with": rate, "rate_with_low": low, "rate_with_high": high, "rate_without": without,
                      "lift": t.counts.lift, "customers_with": t.counts.with_n, "top_with": t.counts.with_top},
            "median_day_top": t.median_day_top, "median_day_rest": t.median_day_rest}  # fmt: skip


def summary(report: dict[str, Any]) -> str:
    """The report for a terminal."""
    cohort = report["cohort"]
    lines = [f"{cohort['ranked']:,} customers ranked by {cohort['by']} of {cohort['outcome']} "
             f"({cohort['censored']:,} started too late to rank); top {cohort['top_share']:.0%}: {cohort['top']:,} "
             f"customers, at least {cohort['threshold']:,.2f}",
             f"indicators chosen on {report['split']['search']:,} earlier customers, tested on "
             f"{report['split']['test']:,} later ones:"]  # fmt: skip
    for t in report["indicators"]:
        later = t["later"]
        lines.append(f"  {'✔' if t['verified'] else ' '} {t['steps']}: later lift {later['lift']:.2f} "
                     f"({later['rate_with']:.1%} of {later['customers_with']:,} vs {later['rate_without']:.1%}), "
                     f"q {t['q_value']:.2g}")  # fmt: skip
    if not report["indicators"]:
        lines.append(
            "  (no candidate: each early step was taken by 90% of customers or more, or by fewer than 5 top "
            "customers of the earlier half)"
        )
    moment = report.get("moment")
    if moment is not None:
        lift = "n/a" if moment["lift"] is None else f"{moment['lift']:.2f}"
        lines.append(f"moment {moment['name']}: run by the engine over the later customers' first "
                     f"{cohort['early_days']:g} days, {moment['rate_fired']:.1%} of the {moment['fired']:,} it fired "
                     f"for entered the cohort, {moment['rate_not_fired']:.1%} of the others (lift {lift})"
                     + (f"; {moment['file']}" if moment["file"] else "; --moments writes it"))  # fmt: skip
    else:
        lines.append("no indicator held on the later customers: no moment written")
    return "\n".join(lines) + "\n"
