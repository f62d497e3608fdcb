"""The journey map as one self-contained HTML file: two path diagrams side by side, and the indicators.

Plain inline SVG, no scripts and no downloads, like discovery's report page (it opens anywhere and mails
well). Each panel draws one cohort's paths as shares of that cohort, so the top customers' flow and
everyone else's compare at a glance even though one group is twenty times the other.
"""

from __future__ import annotations

import html
from typing import Any

from momentstream.journeys.paths import PathMap

__all__ = ["journey_html", "sankey_svg"]

_W, _H = 560, 380
_NODE_W, _GAP, _TOP, _LEFT = 12, 10, 34, 10
_COLOURS = ("#1f5fa8", "#7a8594")


def sankey_svg(paths: PathMap, side: int, title: str) -> str:
    """One cohort's paths (``side`` 0: top, 1: the rest) as an SVG flow diagram, in shares of that cohort."""
    total = paths.totals[side] or 1
    colour = _COLOURS[side]
    steps = len(paths.columns)
    span = (_W - 2 * _LEFT - 130) / max(1, steps - 1)
    usable = _H - _TOP - 20 - _GAP * max((len(c) for c in paths.columns), default=1)
    boxes: dict[tuple[int, str], tuple[float, float, float]] = {}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" '
             f'role="img" aria-label="{html.escape(title)}">',
             f'<text x="{_LEFT}" y="18" font-size="14" font-weight="600">{html.escape(title)}</text>']  # fmt: skip
    for depth, column in enumerate(paths.columns):
        x, y = _LEFT + depth * span, float(_TOP)
        parts.append(f'<text x="{x:.1f}" y="{_TOP - 4}" font-size="10" fill="#555">step {depth + 1}</text>')
        for label in column:
            share = paths.nodes.get((depth, label), [0, 0])[side] / total
            height = max(1.5, share * usable)
            boxes[(depth, label)] = (x, y, height)
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{_NODE_W}" height="{height:.1f}" fill="{colour}">'
                         f"<title>{html.escape(label)}: {share:.0%} of the cohort</title></rect>")  # fmt: skip
            if share >= 0.02:
                parts.append(f'<text x="{x + _NODE_W + 3:.1f}" y="{y + min(height, 24) / 2 + 4:.1f}" font-size="10">'
                             f"{html.escape(label)} {share:.0%}</text>")  # fmt: skip
            y += height + _GAP
    out_used: dict[tuple[int, str], float] = {}
    in_used: dict[tuple[int, str], float] = {}
    order = {key: i for i, key in enumerate(boxes)}  # top to bottom, so bands leave and enter without crossing
    ranked = sorted(paths.links.items(), key=lambda item: (order.get((item[0][0], item[0][1]), 0),
                                                          order.get((item[0][0] + 1, item[0][2]), 0)))  # fmt: skip
    for (depth, a, b), counts in ranked:
        share = counts[side] / total
        if share <= 0 or (depth, a) not in boxes or (depth + 1, b) not in boxes:
            continue
        x0, y0, _ = boxes[(depth, a)]
        x1, y1, _ = boxes[(depth + 1, b)]
        width = share * usable
        s0, s1 = y0 + out_used.get((depth, a), 0.0), y1 + in_used.get((depth + 1, b), 0.0)
        out_used[(depth, a)] = out_used.get((depth, a), 0.0) + width
        in_used[(depth + 1, b)] = in_used.get((depth + 1, b), 0.0) + width
        left, right = x0 + _NODE_W, x1
        mid = (left + right) / 2
        parts.append(f'<path d="M{left:.1f},{s0:.1f} C{mid:.1f},{s0:.1f} {mid:.1f},{s1:.1f} {right:.1f},{s1:.1f} '
                     f"L{right:.1f},{s1 + width:.1f} C{mid:.1f},{s1 + width:.1f} {mid:.1f},{s0 + width:.1f} "
                     f'{left:.1f},{s0 + width:.1f} Z" fill="{colour}" fill-opacity="0.28">'
                     f"<title>{html.escape(a)} → {html.escape(b)}: {share:.0%}</title></path>")  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def journey_html(report: dict[str, Any], paths: PathMap) -> str:
    """The whole page: what the cohort is, the two path diagrams, the tested indicators, the written moment."""
    cohort = report["cohort"]
    rows = []
    for t in report["indicators"]:
        mark = "✔" if t["verified"] else ""
        rows.append(
            f"<tr><td>{html.escape(t['steps'])}</td><td>{t['chosen_on']['lift']:.2f}</td>"
            f"<td>{t['later']['rate_with']:.1%} [{t['later']['rate_with_low']:.1%}, {t['later']['rate_with_high']:.1%}]"
            f"</td><td>{t['later']['rate_without']:.1%}</td><td>{t['later']['lift']:.2f}</td>"
            f"<td>{t['later']['customers_with']:,}</td><td>{t['p_value']:.2g}</td><td>{t['q_value']:.2g}</td>"
            f"<td>{_day(t['median_day_top'])}</td><td>{_day(t['median_day_rest'])}</td><td>{mark}</td></tr>"
        )
    moment = report.get("moment")
    moment_html = "<p>No indicator held on the later customers: no moment was written.</p>"
    if moment:
        where = f" ({html.escape(moment['file'])})" if moment["file"] else " (pass --moments to write it)"
        lift = "n/a" if moment["lift"] is None else f"{moment['lift']:.2f}"
        moment_html = (
            f"<p>Written as the moment <code>{html.escape(moment['name'])}</code>{where}. Run by the engine over "
            f"the later customers' first {cohort['early_days']:g} days, it fired for {moment['fired']:,}: "
            f"{moment['rate_fired']:.1%} of them entered the cohort, against {moment['rate_not_fired']:.1%} of the "
            f"{moment['not_fired']:,} it did not fire for (lift {lift}).</p>"
        )
    style = ("body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1180px}"
             "table{border-collapse:collapse;font-size:13px}td,th{padding:4px 8px;border-bottom:1px solid #ddd;"
             "text-align:right}td:first-child,th:first-child{text-align:left}.panels{display:flex;gap:24px;"
             "flex-wrap:wrap}p.note{color:#555;font-size:13px}")  # fmt: skip
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Journey map: {html.escape(cohort['by'])}"
        f"</title><style>{style}</style></head><body>"
        f"<h1>How the top {cohort['top_share']:.0%} by {html.escape(cohort['by'])} got there</h1>"
        f"<p>{cohort['ranked']:,} customers ranked by {html.escape(cohort['by'])} of {html.escape(cohort['outcome'])}"
        f" from their first event; {cohort['top']:,} in the top cohort (at least {cohort['threshold']:,.2f}). "
        f"{cohort['censored']:,} started too late to have had the time and are left out. The diagrams show the "
        f"first steps of each customer's first {cohort['early_days']:g} days, as shares of their own cohort"
        + (
            f" (left out, as nearly everyone takes them: {html.escape(', '.join(paths.left_out))})"
            if paths.left_out
            else ""
        )
        + ".</p>"
        f'<div class="panels">{sankey_svg(paths, 0, "Top cohort")}'
        f"{sankey_svg(paths, 1, 'Everyone else')}</div>"
        "<h2>Early indicators</h2>"
        f"<p class=note>Chosen on the {report['split']['search']:,} customers who started first; counted on the "
        f"{report['split']['test']:,} who started later, which the choice never saw. Rates are of entering the "
        "top cohort, with 95% intervals; q is Benjamini-Hochberg over the candidates tested; ✔ holds at q &lt; "
        "0.05 with a lift above 1.</p>"
        "<table><tr><th>in the first days</th><th>lift, chosen</th><th>later: rate with</th><th>without</th>"
        "<th>lift</th><th>customers with</th><th>p</th><th>q</th><th>median day, top</th><th>rest</th><th></th>"
        f"</tr>{''.join(rows)}</table>{moment_html}</body></html>"
    )


def _day(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"
