"""The typical paths: each customer's first steps, counted for the top cohort and for everyone else.

A column per step (the first event type of a customer's early window, the next different one, and so
on), its few most common types as nodes and the rest pooled as ``other``; the links count the customers
who went from one node to the next. Both cohorts share the nodes, so their pictures compare. Steps
nearly every customer takes (a page view, a login: in 90% of early windows) would fill every column and
tell nothing: they are left out, and the report names them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from momentstream.journeys.records import PATH_STEPS, CustomerRecord

UBIQUITOUS = 0.9

__all__ = ["OTHER", "PathMap", "path_map"]

OTHER = "other"
NODES_PER_STEP = 6


@dataclass(slots=True)
class PathMap:
    """Nodes per step and the links between them, with customer counts per cohort (top, rest)."""

    columns: list[list[str]] = field(default_factory=list)
    nodes: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    links: dict[tuple[int, str, str], list[int]] = field(default_factory=dict)
    totals: list[int] = field(default_factory=lambda: [0, 0])
    left_out: list[str] = field(default_factory=list)
    """Steps nearly everyone takes early, left out of the paths."""


def path_map(records: Sequence[CustomerRecord], steps: int = PATH_STEPS, width: int = NODES_PER_STEP) -> PathMap:
    """Count the first ``steps`` steps of every customer's path, ``width`` named nodes per step at most."""
    found = PathMap()
    found.totals = [sum(r.top for r in records), sum(not r.top for r in records)]
    reach = Counter(t for r in records for t in set(r.path))
    found.left_out = sorted(t for t, n in reach.items() if n >= UBIQUITOUS * len(records))
    paths = [(r, _steps(r.path, frozenset(found.left_out), steps)) for r in records]
    for depth in range(steps):
        share: dict[str, float] = {}
        for r, path in paths:
            if len(path) > depth:
                total = found.totals[0 if r.top else 1]
                share[path[depth]] = share.get(path[depth], 0.0) + (1 / total if total else 0.0)
        named = sorted(share, key=lambda t: (-share[t], t))[:width]
        if len(share) > width:
            named.append(OTHER)
        found.columns.append(named)
    for r, path in paths:
        side = 0 if r.top else 1
        labels = [_label(found.columns[d], t) for d, t in enumerate(path)]
        for depth, label in enumerate(labels):
            found.nodes.setdefault((depth, label), [0, 0])[side] += 1
            if depth + 1 < len(labels):
                found.links.setdefault((depth, label, labels[depth + 1]), [0, 0])[side] += 1
    return found


def _steps(path: tuple[str, ...], skip: frozenset[str], steps: int) -> list[str]:
    """The path without the skipped steps, repeats in a row counted once, ``steps`` long at most."""
    kept: list[str] = []
    for kind in path:
        if kind not in skip and (not kept or kept[-1] != kind):
            kept.append(kind)
            if len(kept) == steps:
                break
    return kept


def _label(column: list[str], kind: str) -> str:
    return kind if kind in column else OTHER
