"""The demo's first act: discover the moment and its window from history, then run what was found.

Nothing here knows the simulator's constants: discovery sees only the events of the earlier
period, and the truth (who was a seed customer, when the legacy CRM reached them) is read
only afterwards, to show how close the discovered window came.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from momentstream.core.clock import parse_duration, to_ms
from momentstream.core.engine import Engine
from momentstream.core.schema import Trigger, ms_to_datetime
from momentstream.discovery.moments_file import write_moments
from momentstream.discovery.outcome import Outcome, parse_where
from momentstream.discovery.plot import report_html
from momentstream.discovery.report import report_json, report_text
from momentstream.discovery.run import DiscoverOptions, Discovery, discover
from momentstream.ops.textable import format_table
from momentstream.patterns.dsl import load_moments
from momentstream.runtime.replay.runner import replay_file
from momentstream.runtime.sources import write_events
from momentstream.sim.journeys import VIP_WINDOW_HOURS, Simulation
from momentstream.triggers.contract import read_triggers

__all__ = ["DEMO_OUTCOME", "DiscoveryAct", "discovery_act", "seeds_from"]

DEMO_OUTCOME = "{type: purchase, properties: {order_number: {gte: 3}}}"
"""Becoming a repeat buyer: a third order within the horizon."""
_WITHIN = "30d"
_INTERVENTION = "outreach"
_HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class DiscoveryAct:
    """What the first act produced: the discovery, the moments file and the later events file."""

    discovery: Discovery
    moments_path: Path | None
    later_path: Path


def discovery_act(sim: Simulation, split_ms: int, out: Path, progress: bool, stream: TextIO) -> DiscoveryAct:
    """Discover on the events before ``split_ms``; replay the discovered moments over the rest."""
    events_path = out / "events.jsonl"
    split_day = _date(split_ms)
    stream.write(f"1. Discover, from the history before {split_day} only:\n"
                 f"   momentstream discover {events_path} --outcome '{DEMO_OUTCOME}' --within {_WITHIN} \\\n"
                 f"       --intervention {_INTERVENTION} --split {split_day} -o {out / 'discovered.yaml'} \\\n"
                 f"       --report {out / 'discovery.json'} --plot {out / 'discovery.html'}\n\n")  # fmt: skip
    where, predicate = parse_where(DEMO_OUTCOME, "--outcome")
    options = DiscoverOptions(Outcome(where, predicate, parse_duration(_WITHIN)),
                              intervention=parse_where(_INTERVENTION, "--intervention"), split_ms=split_ms,
                              progress=progress)  # fmt: skip
    found = discover(events_path, options)
    summary = report_text(found, options)
    stream.write(_indent(summary) + "\n\n")
    (out / "discovery.json").write_text(json.dumps(report_json(found, options), indent=2) + "\n")
    (out / "discovery.html").write_text(report_html(found, options, summary), encoding="utf-8")
    moments_path = None
    if found.written:
        moments_path = out / "discovered.yaml"
        write_moments(moments_path, found.written, "Discovered by `momentstream demo` from the simulated history")
    stream.write(_indent(_truth(found)) + "\n\n")
    later_path = out / "events_later.jsonl"
    with later_path.open("w") as f:
        write_events((e for e in sim.events if to_ms(e.ts) >= split_ms), f)
    if moments_path is not None:
        stream.write(f"2. Act: the discovered moments run through the engine over the events from {split_day}:\n"
                     f"   momentstream replay {later_path} -c {moments_path} -o {out / 'discovered_triggers.jsonl'}"
                     "\n\n")  # fmt: skip
        stream.write(_indent(_act(sim, found, moments_path, later_path, out, split_ms)) + "\n\n")
    return DiscoveryAct(found, moments_path, later_path)


def _truth(found: Discovery) -> str:
    low, high = VIP_WINDOW_HOURS
    lines = [
        "What the simulator planted (discovery never saw this): seed customers open a support ticket,",
        "buy a second time two days later, then go quiet; a legacy CRM reaches them at a random delay,",
        f"and those reached {low:.0f}-{high:.0f} h after the second purchase mostly become repeat buyers.",
    ]
    w = found.window
    if w is not None and w.significant and found.anchor is not None:
        lines.append(f"Discovered: {found.anchor.spec.name}, reach out {w.opens_after_ms / _HOUR_MS:g} h to "
                     f"{w.closes_after_ms / _HOUR_MS:g} h after {found.anchor.step} "
                     f"(planted: {low:.0f} h to {high:.0f} h).")  # fmt: skip
    else:
        lines.append("Discovered no significant window in this history (try more customers: --customers).")
    return "\n".join(lines)


def _act(sim: Simulation, found: Discovery, moments_path: Path, later: Path, out: Path, split_ms: int) -> str:
    moments = load_moments(moments_path)
    triggers_out = io.StringIO()
    replay_file(later, Engine(moments), triggers_out, progress=False)
    (out / "discovered_triggers.jsonl").write_text(triggers_out.getvalue())
    triggers = list(read_triggers(triggers_out.getvalue().splitlines()))
    rows = []
    for m in moments:
        mine = [t for t in triggers if t.moment == m.name and t.kind != "window_expired"]
        rows.append([m.name, len(mine), len({t.customer_id for t in mine})])
    text = [format_table(["moment", "triggers", "customers"], rows)]
    timed = moments[0] if moments and moments[0].window is not None else None
    if timed is not None:
        text.append("")
        text.append(_seed_check(sim, timed.name, triggers, split_ms))
    return "\n".join(text)


def _seed_check(sim: Simulation, name: str, triggers: list[Trigger], split_ms: int) -> str:
    """Of the seed customers whose story happened in the later period: how many the window moment found."""
    later_seeds = seeds_from(sim, split_ms)
    opened = {t.customer_id for t in triggers if t.moment == name and t.kind == "window_open"}
    if not later_seeds:
        return "No seed customers in the later period."
    found = len(opened & later_seeds)
    return (f"{name} opened windows for {found} of the {len(later_seeds)} seed customers of the\n"
            f"later period ({100 * found / len(later_seeds):.0f}%; for most others the legacy CRM reached out before "
            f"the window opened,\nwhich cancels it) and for {len(opened - later_seeds)} other customers.")  # fmt: skip


def seeds_from(sim: Simulation, split_ms: int) -> set[str]:
    """Seed customers whose support ticket (the start of their story) came at or after ``split_ms``."""
    support: dict[str, int] = {}
    for e in sim.events:
        if e.type == "support_ticket" and e.customer_id not in support:
            support[e.customer_id] = to_ms(e.ts)
    return {c for c, t in sim.truth.items() if t.archetype == "seed" and support.get(c, -1) >= split_ms}


def _date(ms: int) -> str:
    return ms_to_datetime(ms).date().isoformat()


def _indent(text: str) -> str:
    return "\n".join(f"   {line}" if line else "" for line in text.splitlines())
