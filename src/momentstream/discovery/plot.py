"""One self-contained HTML file with the pictures of a discovery: no scripts, no downloads.

Three inline SVG charts: the outcome rate by delay to the first intervention (bins pooled until
each carries enough customers, with its 95% band and the chosen window shaded); the customers
reached inside the window against those reached at other times, as bars; and the moments' outcome
rates against everyone else's, with full labels (wrapped, and a tooltip with the figures), the
written moments marked and always shown. Plain SVG so it opens anywhere, mails well and diffs in
review; look at it in a browser with ``make pictures`` (headless Chromium screenshots).
"""

from __future__ import annotations

import html
import math
import textwrap

from momentstream.core.clock import format_duration
from momentstream.discovery.run import DiscoverOptions, Discovery
from momentstream.discovery.timing import Bin, TimingWindow
from momentstream.discovery.verify import Finding

__all__ = ["MIN_BIN_CUSTOMERS", "pooled", "report_html"]

_W, _H, _PAD = 800, 320, 56
MIN_BIN_CUSTOMERS = 30
"""A point of the delay curve stands for at least this many customers: fewer jump between 0% and 100%."""
_MAX_ROWS = 10
_WRAP = 46
_STYLE = """body{font:14px system-ui,sans-serif;margin:24px auto;color:#222;max-width:860px;padding:0 12px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:16px;margin-top:30px}.note{color:#555;font-size:13px}
.sub{color:#555;margin-top:0}svg{max-width:100%;height:auto}svg text{font:12px system-ui,sans-serif;fill:#333}
svg .axis{font-weight:600}.summary{background:#f6f6f6;padding:4px 12px;border-radius:4px}
.summary pre{font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}.summary pre.table{white-space:pre;
overflow-x:auto}"""
_BLUE, _ORANGE, _GREEN = "#246", "#c63", "#cfe8cf"


def pooled(curve: tuple[Bin, ...], min_customers: int = MIN_BIN_CUSTOMERS) -> list[Bin]:
    """Adjacent bins merged until each holds ``min_customers`` (the last one joins its neighbour if short).

    >>> bins = tuple(Bin(h * 3_600_000, (h + 1) * 3_600_000, 10, h % 2 * 10) for h in range(7))
    >>> [(b.customers, b.positive) for b in pooled(bins)]
    [(30, 10), (40, 20)]
    """
    out: list[Bin] = []
    start = customers = positive = 0
    open_bin = False
    for b in curve:
        if not open_bin:
            start, customers, positive, open_bin = b.start_ms, 0, 0, True
        customers += b.customers
        positive += b.positive
        if customers >= min_customers:
            out.append(Bin(start, b.end_ms, customers, positive))
            open_bin = False
    if open_bin and customers:
        if out:
            last = out.pop()
            out.append(Bin(last.start_ms, curve[-1].end_ms, last.customers + customers, last.positive + positive))
        else:
            out.append(Bin(start, curve[-1].end_ms, customers, positive))
    return out


def _nice_top(rate: float) -> float:
    """The y axis' top: the next 10% above the highest point (at least 10%)."""
    return min(1.0, max(0.1, math.ceil(rate * 10 + 1e-9) / 10))


def _x(value: float, top: float) -> float:
    return _PAD + (_W - 2 * _PAD) * (value / top if top else 0)


def _timing_svg(w: TimingWindow, anchor: str) -> str:
    top = w.curve[-1].end_ms if w.curve else 1
    bins = pooled(w.curve)
    y_top = _nice_top(max([b.interval[1] for b in bins] or [0.1]))

    def y(rate: float) -> float:
        return _H - _PAD + (1.5 * _PAD - _H) * rate / y_top

    parts = [f'<svg viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
             f'aria-label="outcome rate by delay to the first intervention">']  # fmt: skip
    x0, x1 = _x(w.opens_after_ms, top), _x(w.closes_after_ms, top)
    parts.append(f'<rect x="{x0:.1f}" y="{_PAD / 2}" width="{x1 - x0:.1f}" height="{_H - 1.5 * _PAD:.1f}" '
                 f'fill="{_GREEN}"><title>window {html.escape(w.label)}</title></rect>'
                 f'<text x="{x0 + 4:.1f}" y="{_PAD / 2 + 14}">window {html.escape(w.label)}</text>')  # fmt: skip
    for step in range(0, 11):
        rate = y_top * step / 10
        if step % 2 and y_top > 0.3:
            continue
        at = y(rate)
        parts.append(f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{at:.1f}" y2="{at:.1f}" stroke="#e4e4e4"/>'
                     f'<text x="{_PAD - 6}" y="{at + 4:.1f}" text-anchor="end">{100 * rate:.0f}%</text>')  # fmt: skip
    band_top, band_bottom, line = [], [], []
    for b in bins:
        mid = _x((b.start_ms + b.end_ms) / 2, top)
        low, high = b.interval
        band_top.append(f"{mid:.1f},{y(high):.1f}")
        band_bottom.append(f"{mid:.1f},{y(low):.1f}")
        line.append(f"{mid:.1f},{y(b.rate):.1f}")
    if line:
        parts.append(f'<polygon points="{" ".join(band_top + band_bottom[::-1])}" fill="#9ab" opacity="0.35"/>')
        parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="{_BLUE}" stroke-width="2"/>')
    for b in bins:
        mid = _x((b.start_ms + b.end_ms) / 2, top)
        tip = (f"{format_duration(b.start_ms)}-{format_duration(b.end_ms)}: {b.positive} of {b.customers} "
               f"customers ({100 * b.rate:.0f}%)")  # fmt: skip
        parts.append(f'<circle cx="{mid:.1f}" cy="{y(b.rate):.1f}" r="3.5" fill="{_BLUE}"><title>{tip}</title>'
                     "</circle>")  # fmt: skip
    for k in range(7):
        at = top * k / 6
        parts.append(f'<text x="{_x(at, top):.1f}" y="{_H - _PAD + 18}" text-anchor="middle">'
                     f"{format_duration(int(at))}</text>")  # fmt: skip
    parts.append(f'<text class="axis" x="{_W / 2}" y="{_H - 10}" text-anchor="middle">time from '
                 f"{html.escape(anchor)} to the first intervention</text>"
                 f'<text class="axis" transform="translate(14 {_H / 2}) rotate(-90)" text-anchor="middle">'
                 "customers with the outcome</text></svg>")  # fmt: skip
    return "".join(parts)


def _bars_svg(w: TimingWindow) -> str:
    """Inside the window, at other times, never reached: the comparison the window rests on, as bars."""
    (n_in, x_in), (n_out, x_out), (n_none, x_none) = w.inside, w.outside, w.unreached
    rows = [(f"reached inside {w.label}", n_in, x_in, _BLUE), ("reached at other times", n_out, x_out, _ORANGE)]
    if n_none:
        rows.append(("not reached", n_none, x_none, "#999"))
    left, height = 200, 44 + 40 * len(rows)
    rates = [x / n if n else 0.0 for _, n, x, _ in rows]
    top = _nice_top(max([*rates, 0.1]) * 1.15)

    def x(rate: float) -> float:
        return left + (_W - left - 150) * rate / top

    parts = [f'<svg viewBox="0 0 {_W} {height}" width="{_W}" height="{height}" role="img" '
             'aria-label="outcome rate inside and outside the window">']  # fmt: skip
    for i, ((label, n, hits, colour), rate) in enumerate(zip(rows, rates, strict=True)):
        top_y = 16 + 40 * i
        parts.append(f'<text x="{left - 8}" y="{top_y + 17}" text-anchor="end">{html.escape(label)}</text>'
                     f'<rect x="{left}" y="{top_y}" width="{x(rate) - left:.1f}" height="24" fill="{colour}">'
                     f"<title>{hits} of {n} customers</title></rect>"
                     f'<text x="{x(rate) + 6:.1f}" y="{top_y + 17}">'
                     f"{100 * rate:.0f}% ({hits:,} of {n:,})</text>")  # fmt: skip
    parts.append(f'<text class="axis" x="{left}" y="{height - 6}">customers with the outcome</text></svg>')
    return "".join(parts)


def _label(f: Finding, d: Discovery) -> str:
    """The moment in words, saying when it is no moment to act on."""
    if f in d.predictors:
        return f"predictor (made of the outcome): {f.description}"
    if f in d.protective:
        return f"protective: {f.description}"
    return f.description


def _rows(d: Discovery) -> list[Finding]:
    """The significant moments, best first, up to ten, with every written one (the headline) among them."""
    significant = [f for f in d.findings if f.significant]
    written = [f for f in significant if f.spec.name in d.written_as]
    rows = significant[:_MAX_ROWS]
    return rows + [f for f in written if f not in rows]


def _lifts_svg(d: Discovery) -> str:
    rows = _rows(d)
    labels = [textwrap.wrap(_label(f, d), _WRAP) or [""] for f in rows]
    heights = [max(34, 16 * len(lines) + 14) for lines in labels]
    height = 56 + sum(heights)
    left = 370
    top = _nice_top(max([f.interval[1] for f in rows] + [f.rest_rate for f in rows] + [0.1]))
    parts = [f'<svg viewBox="0 0 {_W} {height}" width="{_W}" height="{height}" role="img" '
             'aria-label="outcome rate after each moment">']  # fmt: skip

    def x(rate: float) -> float:
        return left + (_W - left - 60) * rate / top

    for step in range(0, 11, 2):
        rate = top * step / 10
        parts.append(f'<line x1="{x(rate):.1f}" x2="{x(rate):.1f}" y1="22" y2="{height - 34}" stroke="#eee"/>'
                     f'<text x="{x(rate):.1f}" y="16" text-anchor="middle">{100 * rate:.0f}%</text>')  # fmt: skip
    y0 = 26
    for f, lines, row_height in zip(rows, labels, heights, strict=True):
        written = d.written_as.get(f.spec.name)
        low, high = f.interval
        y = y0 + row_height / 2
        tip = html.escape(f"{_label(f, d)}\n{f.counts.positive:,} of {f.counts.fired:,} customers "
                          f"({100 * f.rate:.1f}%, 95% CI {100 * low:.1f}-{100 * high:.1f}%) vs "
                          f"{100 * f.rest_rate:.1f}% for the others; lift {f.lift:.2f}x, q={f.q_value:.2g}"
                          + (f"\nwritten as {written}" if written else ""))  # fmt: skip
        text_y = y - 8 * (len(lines) - 1) + 4
        spans = "".join(f'<tspan x="8" dy="{0 if i == 0 else 16}">{html.escape(line)}</tspan>'
                        for i, line in enumerate(lines))  # fmt: skip
        weight = ' font-weight="600"' if written else ""
        parts.append(f"<g><title>{tip}</title>"
                     f'<text x="8" y="{text_y:.1f}"{weight}>{spans}</text>'
                     + (f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{_BLUE}">&#9733;</text>'
                        if written else "")
                     + f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{_BLUE}" '
                     f'stroke-width="3"/><circle cx="{x(f.rate):.1f}" cy="{y:.1f}" r="5" fill="{_BLUE}"/>'
                     f'<circle cx="{x(f.rest_rate):.1f}" cy="{y:.1f}" r="4" fill="{_ORANGE}"/>'
                     f'<text x="{x(max(high, f.rest_rate)) + 8:.1f}" y="{y + 4:.1f}">'
                     f"{f.lift:.1f}x</text></g>")  # fmt: skip
        y0 += row_height
    parts.append(f'<text class="axis" x="{(left + _W - 60) / 2:.0f}" y="{height - 12}" text-anchor="middle">'
                 "customers with the outcome after the moment</text></svg>")  # fmt: skip
    return "".join(parts)


def _summary_html(summary: str) -> str:
    """The text summary by paragraph: tables keep their columns (scrolling sideways if wide), prose wraps."""
    blocks = []
    for block in summary.split("\n\n"):
        table = any(line.lstrip().startswith("---") for line in block.splitlines())
        attribute = ' class="table"' if table else ""
        blocks.append(f"<pre{attribute}>{html.escape(block)}</pre>")
    return "".join(blocks)


def report_html(d: Discovery, options: DiscoverOptions, summary: str) -> str:
    """The HTML page: a readable title, the timing charts (when a window was found), the moments, the summary."""
    outcome = html.escape(options.outcome.describe())
    body = [f"<h1>What comes before {outcome}</h1>",
            f'<p class="sub">momentstream discover, {d.tested_customers:,} customers tested</p>']  # fmt: skip
    if d.window is not None and d.anchor is not None:
        step = d.anchor.step or "the moment"
        found = d.finding_of(d.anchor.spec.name)
        what = html.escape(found.description if found is not None else d.anchor.spec.name)
        if d.window.significant:
            body.append(f"<h2>When to reach out after {html.escape(d.anchor.spec.name)}</h2><p>{what}</p>")
        else:
            body.append(f"<h2>No significant window: the strongest, after {html.escape(d.anchor.spec.name)}</h2>"
                        f"<p>Permutation p = {d.window.p_value:.2g}: it may be chance. {what}</p>")  # fmt: skip
        body.append(_timing_svg(d.window, step))
        body.append(f'<p class="note">Line and points: share of customers with the outcome among those first '
                    f"reached at that delay (each point pools at least {MIN_BIN_CUSTOMERS} customers; hover for "
                    "counts); band: 95% Wilson interval; green: the chosen window. Observational, see the balance "
                    "table in the summary.</p>")  # fmt: skip
        body.append(_bars_svg(d.window))
    significant = [f for f in d.findings if f.significant]
    if significant:
        body.append("<h2>Moments that move the outcome</h2>")
        body.append(_lifts_svg(d))
        body.append('<p class="note">Blue: outcome rate after the moment (95% interval); orange: everyone else. '
                    "&#9733; and bold: written to the moments file. Hover a row for its figures.</p>")  # fmt: skip
    body.append(f'<h2>Summary</h2><div class="summary">{_summary_html(summary)}</div>')
    return (f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>momentstream discover: {outcome}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n")  # fmt: skip
