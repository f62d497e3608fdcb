"""One self-contained HTML file with the pictures of a discovery: no scripts, no downloads.

Two inline SVG charts: the outcome rate by delay to the first intervention, with its 95%
band and the chosen window shaded; and the top sequences' outcome rates against the rate of
everyone else, with intervals. Plain SVG so it opens anywhere, mails well and diffs in review.
"""

from __future__ import annotations

import html

from momentstream.core.clock import format_duration
from momentstream.discovery.run import DiscoverOptions, Discovery
from momentstream.discovery.timing import TimingWindow
from momentstream.discovery.verify import Finding

__all__ = ["report_html"]

_W, _H, _PAD = 760, 300, 48
_STYLE = """body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:820px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}.note{color:#555}
svg text{font:11px system-ui,sans-serif;fill:#333}"""


def _x(value: float, top: float) -> float:
    return _PAD + (_W - 2 * _PAD) * (value / top if top else 0)


def _y(rate: float) -> float:
    return _H - _PAD + (2 * _PAD - _H) * rate


def _timing_svg(w: TimingWindow) -> str:
    top = w.curve[-1].end_ms if w.curve else 1
    parts = [f'<svg width="{_W}" height="{_H}" role="img" aria-label="outcome rate by delay">']
    x0, x1 = _x(w.opens_after_ms, top), _x(w.closes_after_ms, top)
    parts.append(f'<rect x="{x0:.1f}" y="{_PAD / 2}" width="{x1 - x0:.1f}" height="{_H - 1.5 * _PAD:.1f}" '
                 f'fill="#cfe8cf"/><text x="{x0 + 4:.1f}" y="{_PAD / 2 + 12}">window {html.escape(w.label)}'
                 "</text>")  # fmt: skip
    band_top, band_bottom, line = [], [], []
    for b in w.curve:
        if not b.customers:
            continue
        mid = _x((b.start_ms + b.end_ms) / 2, top)
        low, high = b.interval
        band_top.append(f"{mid:.1f},{_y(high):.1f}")
        band_bottom.append(f"{mid:.1f},{_y(low):.1f}")
        line.append(f"{mid:.1f},{_y(b.rate):.1f}")
    if line:
        parts.append(f'<polygon points="{" ".join(band_top + band_bottom[::-1])}" fill="#9ab" opacity="0.35"/>')
        parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#246" stroke-width="2"/>')
    for tick in range(0, 101, 25):
        y = _y(tick / 100)
        parts.append(f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="4" y="{y + 4:.1f}">{tick}%</text>')  # fmt: skip
    for k in range(7):
        at = top * k / 6
        parts.append(f'<text x="{_x(at, top) - 12:.1f}" y="{_H - _PAD + 16}">{format_duration(int(at))}</text>')
    parts.append(f'<text x="{_W / 2 - 120}" y="{_H - 8}">delay from the anchor to the first intervention</text>')
    parts.append("</svg>")
    return "".join(parts)


def _lifts_svg(findings: list[Finding]) -> str:
    rows = findings[:10]
    height = 40 + 34 * len(rows)
    left = 330
    parts = [f'<svg width="{_W}" height="{height}" role="img" aria-label="outcome rate per sequence">']

    def x(rate: float) -> float:
        return left + (_W - left - 20) * rate

    for i, f in enumerate(rows):
        y = 30 + 34 * i
        low, high = f.interval
        label = html.escape(f.description if len(f.description) <= 52 else f.description[:51] + "…")
        parts.append(f'<text x="4" y="{y + 4}">{label}</text>'
                     f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y}" y2="{y}" stroke="#246" stroke-width="3"/>'
                     f'<circle cx="{x(f.rate):.1f}" cy="{y}" r="5" fill="#246"/>'
                     f'<circle cx="{x(f.rest_rate):.1f}" cy="{y}" r="4" fill="#c63"/>'
                     f'<text x="{x(max(high, f.rest_rate)) + 8:.1f}" y="{y + 4}">{f.lift:.1f}x</text>')  # fmt: skip
    for tick in range(0, 101, 25):
        parts.append(f'<text x="{x(tick / 100) - 8:.1f}" y="14">{tick}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def report_html(d: Discovery, options: DiscoverOptions, summary: str) -> str:
    """The HTML page: the summary as text, the timing chart (when a window was found), the sequences."""
    body = [f"<h1>momentstream discover: {html.escape(options.outcome.describe())}</h1>"]
    if d.window is not None and d.anchor is not None:
        body.append(f"<h2>When to reach out after {html.escape(d.anchor.spec.name)}</h2>")
        body.append(_timing_svg(d.window))
        body.append('<p class="note">Line: outcome rate of customers first reached at that delay; band: 95% '
                    "Wilson interval; green: the chosen window. Observational, see the balance table in the "
                    "summary.</p>")  # fmt: skip
    significant = [f for f in d.findings if f.significant]
    if significant:
        body.append("<h2>Sequences that move the outcome</h2>")
        body.append(_lifts_svg(significant))
        body.append('<p class="note">Blue: outcome rate after the sequence (95% interval); orange: everyone else.'
                    "</p>")  # fmt: skip
    body.append(f"<h2>Summary</h2><pre>{html.escape(summary)}</pre>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>momentstream discover</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n")  # fmt: skip
