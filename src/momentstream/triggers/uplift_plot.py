"""A picture of uplift over time: per moment, the running treated-minus-control rate with its 95% band.

Plain SVG (no scripts, no downloads), one panel per moment, so it opens anywhere and mails well.
The band narrows as outcome windows close; a band that stays across the zero line means the
moment has not shown an effect yet.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from momentstream.triggers.uplift import Uplift

__all__ = ["uplift_svg"]

_W, _PANEL, _PAD = 760, 220, 48


def _day(t: int) -> str:
    return datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d")


def uplift_svg(series: dict[str, list[tuple[int, Uplift]]]) -> str:
    """The SVG document for :func:`~momentstream.triggers.uplift.uplift_over_time`'s series.

    >>> from momentstream.triggers.uplift import uplift_of
    >>> points = [(0, uplift_of("cart", 100, 30, 50, 5)), (86_400_000, uplift_of("cart", 200, 60, 90, 9))]
    >>> svg = uplift_svg({"cart": points})
    >>> svg.startswith("<svg") and "cart" in svg and svg.count("<polygon") == 1
    True
    """
    panels = [(moment, points) for moment, points in series.items() if points]
    height = max(len(panels), 1) * _PANEL + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{height}" role="img" '
             'aria-label="uplift over time" style="font:11px system-ui,sans-serif">']  # fmt: skip
    if not panels:
        parts.append('<text x="10" y="20">no moment has outcomes of both treated and control triggers yet</text>')
    for index, (moment, points) in enumerate(panels):
        parts.append(_panel(moment, points, index * _PANEL))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _panel(moment: str, points: list[tuple[int, Uplift]], top: int) -> str:
    t0, t1 = points[0][0], points[-1][0]
    low = min(*(u.low for _, u in points), 0.0)
    high = max(*(u.high for _, u in points), 0.0)
    span = (high - low) or 1.0

    def x(t: int) -> float:
        return _PAD + (_W - 2 * _PAD) * ((t - t0) / (t1 - t0) if t1 > t0 else 1.0)

    def y(v: float) -> float:
        return top + _PANEL - _PAD + (2 * _PAD - _PANEL) * (v - low) / span

    band = [f"{x(t):.1f},{y(u.high):.1f}" for t, u in points]
    band += [f"{x(t):.1f},{y(u.low):.1f}" for t, u in reversed(points)]
    line = " ".join(f"{x(t):.1f},{y(u.difference):.1f}" for t, u in points)
    last = points[-1][1]
    title = (f"{html.escape(moment)}: uplift {last.difference:+.1%} [{last.low:+.1%}, {last.high:+.1%}], "
             f"{last.treated.customers:,} treated / {last.holdout.customers:,} control triggers")  # fmt: skip
    return "\n".join([
        f'<text x="{_PAD}" y="{top + 16}" font-weight="bold">{title}</text>',
        f'<polygon points="{" ".join(band)}" fill="#cfe0f5"/>',
        f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#888" stroke-dasharray="4 3"/>',
        f'<polyline points="{line}" fill="none" stroke="#1f5fa8" stroke-width="2"/>',
        f'<text x="{_PAD - 4}" y="{y(high):.1f}" text-anchor="end">{high:+.0%}</text>',
        f'<text x="{_PAD - 4}" y="{y(low):.1f}" text-anchor="end">{low:+.0%}</text>',
        f'<text x="{_PAD}" y="{top + _PANEL - _PAD + 16}">{_day(t0)}</text>',
        f'<text x="{_W - _PAD}" y="{top + _PANEL - _PAD + 16}" text-anchor="end">{_day(t1)} (outcome windows closed)'
        "</text>",
    ])  # fmt: skip
