"""The discovery report: ``report.json`` for machines, a terminal summary for people."""

from __future__ import annotations

import math
from typing import Any

from momentstream.core.clock import format_duration
from momentstream.core.schema import ms_to_datetime
from momentstream.discovery.backtest import BacktestRow
from momentstream.discovery.history import MAX_EVENTS_PER_CUSTOMER
from momentstream.discovery.run import DiscoverOptions, Discovery
from momentstream.discovery.stats import newcombe_difference, wilson
from momentstream.discovery.timing import TimingWindow
from momentstream.discovery.verify import Finding
from momentstream.ops.textable import format_table

__all__ = ["REPORT_VERSION", "report_json", "report_text"]

REPORT_VERSION = 1
_SHOWN = 10


_UNIT_NAMES = {86_400_000: "days", 3_600_000: "hours", 60_000: "minutes"}


def _num(x: float) -> float | None:
    """JSON has no infinity: an unbounded lift is written as null."""
    return None if math.isinf(x) or math.isnan(x) else round(x, 6)


def _day(ms: int) -> str:
    return ms_to_datetime(ms).isoformat().replace("+00:00", "Z")


def _finding(f: Finding, written_as: dict[str, str]) -> dict[str, Any]:
    low, high = f.interval
    return {
        "candidate": f.spec.name, "moment": written_as.get(f.spec.name), "sequence": f.description,
        "shape": "at_least" if f.candidate.at_least else "absence" if f.candidate.absent is not None else "sequence",
        "significant": f.significant,
        "fired": f.counts.fired, "triggers": f.counts.triggers, "outcomes": f.counts.positive,
        "rate": _num(f.rate), "rate_ci95": [_num(low), _num(high)], "rest": f.counts.rest,
        "rest_outcomes": f.counts.rest_positive, "rest_rate": _num(f.rest_rate), "lift": _num(f.lift),
        "difference": _num(f.rate - f.rest_rate), "p_value": f.p_value, "q_value": f.q_value,
    }  # fmt: skip


def _window(w: TimingWindow, d: Discovery, options: DiscoverOptions) -> dict[str, Any]:
    anchor = d.anchor
    doc: dict[str, Any] = {
        "moment": anchor.spec.name if anchor else None, "anchor_step": anchor.step if anchor else None,
        "opens_after": format_duration(w.opens_after_ms), "closes_after": format_duration(w.closes_after_ms),
        "opens_after_ms": w.opens_after_ms, "closes_after_ms": w.closes_after_ms,
        "inside": {"customers": w.inside[0], "outcomes": w.inside[1]},
        "outside": {"customers": w.outside[0], "outcomes": w.outside[1]},
        "not_reached": {"customers": w.unreached[0], "outcomes": w.unreached[1]},
        "difference": _num(w.difference), "difference_ci95": [_num(w.interval[0]), _num(w.interval[1])],
        "significant": w.significant, "p_value": w.p_value, "moments_timed": d.timed,
        "curve": [{"from_ms": b.start_ms, "to_ms": b.end_ms, "customers": b.customers, "outcomes": b.positive,
                   "rate": _num(b.rate), "rate_ci95": [_num(x) for x in b.interval]} for b in w.curve],
        "balance_before_anchor": [{"feature": name, "inside_mean": _num(a), "outside_mean": _num(b),
                                   "standardised_difference": _num(smd)} for name, a, b, smd in w.balance],
        "observational": options.randomised is None,
    }  # fmt: skip
    if d.window_backtest is not None:
        (n_in, x_in), (n_out, x_out) = d.window_backtest
        low, high = newcombe_difference(x_in, n_in, x_out, n_out) if n_in and n_out else (-1.0, 1.0)
        doc["backtest"] = {"inside": {"customers": n_in, "outcomes": x_in}, "outside": {"customers": n_out,
                           "outcomes": x_out}, "difference_ci95": [_num(low), _num(high)]}  # fmt: skip
    return doc


def _backtest_row(r: BacktestRow) -> dict[str, Any]:
    low, high = r.interval
    return {"moment": r.name, "kind": r.kind, "description": r.description, "triggers": r.counts.triggers,
            "fired": r.counts.fired, "outcomes": r.counts.positive, "rate": _num(r.rate),
            "rate_ci95": [_num(low), _num(high)], "base_rate": _num(r.base_rate), "lift": _num(r.lift)}  # fmt: skip


def report_json(d: Discovery, options: DiscoverOptions) -> dict[str, Any]:
    """Every figure of the run, for machines (``report.json``)."""
    h = d.history
    return {
        "report_version": REPORT_VERSION,
        "outcome": {"where": options.outcome.where, "within": format_duration(options.outcome.within_ms),
                    "absent": options.outcome.absent, "description": options.outcome.describe()},
        "intervention": options.intervention[0] if options.intervention else None,
        "history": {"events": h.events, "customers": h.customers, "rejected": h.rejected, "stray_dates": h.stray,
                    "over_cap_customers": h.over_cap_customers, "over_cap_events": h.over_cap_events,
                    "rejected_by_reason": dict(h.reject_reasons), "resolution_ms": h.resolution_ms,
                    "first_event": _day(h.start_ms) if h.events else None,
                    "last_event": _day(h.end_ms) if h.events else None, "event_types": dict(h.types.most_common())},
        "periods": {"discovery": [_day(d.train.start_ms), _day(d.train.end_ms)],
                    "backtest": [_day(d.test.start_ms), _day(d.test.end_ms)] if d.test else None},
        "search": {"sampled_customers": d.mined.sampled, "tokens": d.mined.tokens, "tried": d.mined.tried,
                   "counted_by_engine": len(d.findings), "tested": d.tested,
                   "tested_customers": d.tested_customers, "fdr_q": options.q, "base_rate": _num(d.base_rate),
                   "engine_failures": d.failures},
        "moments": [_finding(f, d.written_as) for f in d.findings],
        "written": [s.name for s in d.written],
        "protective": [d.written_as.get(f.spec.name, f.spec.name) for f in d.protective],
        "predictors": [f.description for f in d.predictors],
        "window": _window(d.window, d, options) if d.window else None,
        "randomised": options.randomised[0] if options.randomised else None,
        "backtest": [_backtest_row(r) for r in d.backtest],
        "seconds": d.seconds,
    }  # fmt: skip


def report_text(d: Discovery, options: DiscoverOptions) -> str:
    """The terminal summary: what was read, the best sequences, the window, the backtest."""
    h = d.history
    lines = [f"Read {h.events:,} events of {h.customers:,} customers ({h.rejected:,} rejected); "
             f"outcome: {options.outcome.describe()}; base rate {100 * d.base_rate:.1f}%."
             + (f"\n{h.stray:,} events dated far from the rest ({_day(h.start_ms)[:10]} to {_day(h.end_ms)[:10]}) "
                "were left out." if h.stray else "")
             + (f"\nEvent times are whole {_UNIT_NAMES[h.resolution_ms]}: no gap or silence finer than that is tried."
                if h.events and h.resolution_ms in _UNIT_NAMES else "")
             + (f"\n{h.over_cap_customers:,} customers with more than {MAX_EVENTS_PER_CUSTOMER:,} events (bots?): "
                f"their {h.over_cap_events:,} further events were left out." if h.over_cap_customers else ""),
             f"Tried {d.mined.tried:,} candidate moments (sequences, k-of-n sets, absences, thresholds) on "
             f"{d.mined.sampled:,} customers; the engine counted the best "
             f"{d.tested} on the {d.tested_customers:,} others (the search never saw them, so the tests are honest); "
             f"false discovery rate {options.q:g} over those {d.tested}.", ""]  # fmt: skip
    significant = [f for f in d.findings if f.significant]
    if not significant:
        lines.append("No moment moves the outcome rate significantly: nothing to write.")
    else:
        rows = []
        for f in significant[:_SHOWN]:
            low, high = f.interval
            rows.append([f.description, f.counts.fired, f"{100 * f.rate:.1f}% [{100 * low:.0f}-{100 * high:.0f}]",
                         f"{100 * f.rest_rate:.1f}%", f"{f.lift:.2f}x", f"{f.q_value:.1g}"])  # fmt: skip
        lines.append("Moments that move the outcome (engine counts, 95% Wilson interval, BH q):")
        lines.append(format_table(["moment", "fired", "rate", "others", "lift", "q"], rows))
    if d.window is not None and d.anchor is not None:
        lines += ["", _window_text(d, options.randomised is not None)]
    elif options.intervention is not None and significant:
        lines += ["", "No intervention window: too few customers reached after any moment (or no difference)."]
    if d.backtest:
        lines += ["", _backtest_text(d)]
    lines += _protective_text(d, options) + _predictor_text(d, options)
    if d.written:
        lines += ["", "Moments written (best first): " + ", ".join(s.name for s in d.written)]
    elif significant:
        lines += ["", "Nothing written: no significant sequence makes the outcome likelier."]
    return "\n".join(lines)


def _first_three(labels: list[str]) -> str:
    """``a, b, c and 4 more``: enough to recognise them in a line."""
    more = f" and {len(labels) - 3} more" if len(labels) > 3 else ""
    return ", ".join(labels[:3]) + more


def _predictor_text(d: Discovery, options: DiscoverOptions) -> list[str]:
    """Sequences that hold the outcome itself: named apart, never written."""
    if not d.predictors:
        return []
    names = _first_three([f.description for f in d.predictors])
    told = ("Written as moments, as --write-predictors asks: a trigger says who is on course, not when "
            "reaching out changes the course." if options.write_predictors
            else "Not written; --write-predictors writes them (for a history of outcome events only, such as "
                 "purchases).")  # fmt: skip
    return ["", f"{len(d.predictors)} sequence(s) are made only of events that may be the outcome itself "
                f"({names}): they predict it, they are no moment to act on. {told}"]  # fmt: skip


def _protective_text(d: Discovery, options: DiscoverOptions) -> list[str]:
    """Sequences after which the outcome is less likely: said, and written only when asked to."""
    if not d.protective:
        return []
    names = _first_three([f"{f.description} ({f.lift:.2f}x)" for f in d.protective])
    told = (
        " Written as shadow (watch) moments: they run and are audited, never sent."
        if options.write_protective
        else " Not written as moments to act on; --write-protective writes them as shadow (watch) moments."
    )
    return ["", f"{len(d.protective)} protective sequence(s): the outcome is less likely after {names}.{told}"]


def _window_text(d: Discovery, randomised: bool) -> str:
    w = d.window
    assert w is not None
    assert d.anchor is not None
    (n_in, x_in), (n_out, x_out) = w.inside, w.outside
    low, high = w.interval
    text = [f"Intervention window after {d.anchor.spec.name} (from step {d.anchor.step}): reach out "
            f"{w.label} after it.",
            f"  reached inside: {x_in}/{n_in} = {100 * x_in / max(n_in, 1):.0f}%; outside: {x_out}/{n_out} = "
            f"{100 * x_out / max(n_out, 1):.0f}%; difference {100 * w.difference:+.0f} points "
            f"(95% CI {100 * low:+.0f} to {100 * high:+.0f}); {w.unreached[0]} not reached.",
            f"  Permutation test of the search: p = {w.p_value:.3g} "
            f"({'significant' if w.significant else 'NOT significant'} after timing {d.timed} moment(s)).",
            ("  From randomly timed sends only: the difference is caused by the timing, within those sends. "
             if randomised else "  Observational: who was reached when was not random. ")
            + "Behaviour before the anchor, inside vs outside (standardised difference; |d| > 0.1 means the groups "
              "differed to begin with):"]  # fmt: skip
    for name, a, b, smd in w.balance:
        text.append(f"    {name}: {a:.1f} vs {b:.1f} (d = {smd:+.2f})")
    if d.window_backtest is not None and d.window_backtest[0][0] + d.window_backtest[1][0]:
        (n_in, x_in), (n_out, x_out) = d.window_backtest
        li, hi = wilson(x_in, n_in)
        text.append(
            f"  Later period: inside {x_in}/{n_in} = {100 * x_in / max(n_in, 1):.0f}% "
            f"[{100 * li:.0f}-{100 * hi:.0f}], outside {x_out}/{n_out} = {100 * x_out / max(n_out, 1):.0f}%."
        )
    return "\n".join(text)


def _backtest_text(d: Discovery) -> str:
    assert d.test is not None
    rows = []
    for r in d.backtest:
        low, high = r.interval
        rows.append([r.name, r.kind, r.counts.triggers, r.counts.fired,
                     f"{100 * r.rate:.1f}% [{100 * low:.0f}-{100 * high:.0f}]" if r.counts.fired else "-",
                     f"{r.lift:.2f}x" if r.counts.fired else "-"])  # fmt: skip
    return (f"Backtest on {_day(d.test.start_ms)[:10]} to {_day(d.test.end_ms)[:10]} (base rate "
            f"{100 * (d.backtest[0].base_rate if d.backtest else 0):.1f}%; fired = customers with a known outcome):\n"
            + format_table(["moment", "kind", "triggers", "fired", "outcome rate", "lift"], rows))  # fmt: skip
