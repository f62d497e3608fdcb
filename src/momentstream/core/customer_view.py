"""One customer's living story, as a person needs it before acting on a trigger.

:func:`customer_view` turns a stored :class:`~momentstream.core.state.CustomerState` into a plain document:
the recent events, each moment's partial matches (which step, since when, on which events), pending
absences and windows, the latest scores, consent per channel, recent contacts, triggers held over quiet
hours and triggers waiting for their outcome. :func:`render_view` prints it for a terminal. Pure: the
worker's ``/customers/<id>`` page and ``momentstream inspect`` share both.
"""

from __future__ import annotations

from typing import Any

from momentstream.core.engine import Engine
from momentstream.core.schema import ms_to_datetime
from momentstream.core.state import NEVER, CustomerState, EvidenceRow, MomentState
from momentstream.patterns.nfa import CompiledMoment
from momentstream.triggers.emit import indicator_names
from momentstream.triggers.sequences import SEQUENCE_OWNER

__all__ = ["customer_view", "render_view"]


def _iso(ms: int | None) -> str | None:
    if ms is None or ms <= NEVER:
        return None
    return ms_to_datetime(ms).isoformat().replace("+00:00", "Z")


def customer_view(engine: Engine, state: CustomerState) -> dict[str, Any]:
    """The customer's state as JSON-ready data (event ids, types and times; no event payloads).

    >>> from momentstream.cli.demo import default_engine
    >>> view = customer_view(default_engine(None), CustomerState("c-1"))
    >>> view["customer_id"], view["story"], view["consent"]
    ('c-1', [], 'every channel (no consent records)')
    """
    compiled = {m.name: m for m in engine.moments}
    moments = {}
    for name, moment_state in sorted(state.moments.items()):
        described = _moment(moment_state, compiled.get(name))
        if any(described[k] for k in ("partial_matches", "absences_pending", "windows")):
            moments[name] = described
    return {
        "customer_id": state.customer_id,
        "alias_of": state.alias_of,
        "aliases": list(state.aliases),
        "merges_waiting": len(state.merging),
        "clock": _iso(state.watermark),
        "newest_event": _iso(state.max_seen),
        "zone": state.zone,
        "story": [
            {"at": _iso(ts), "type": kind, "channel": channel, "event_id": event_id}
            for event_id, kind, channel, ts in state.story
        ],
        "events_held": len(state.buffer),
        "moments": moments,
        "scores": _scores(engine, state),
        "signals": _signals(engine, state),
        "preferences": {name: {"stated": value, "since": _iso(at)} for name, (value, at) in state.preferences.items()},
        "consent": {
            channel: {"granted": granted, "since": _iso(at)} for channel, (granted, at) in sorted(state.consent.items())
        }
        or "every channel (no consent records)",
        "contacts": [
            {
                "at": _iso(at),
                "moment": moment,
                "trigger_id": trigger_id,
                "window_opened": _iso(opens) if opens >= 0 else None,
            }
            for at, moment, trigger_id, opens in state.contacts
        ],
        "sequences": _sequences(engine, state),
        "held_for_quiet_hours": [
            {"moment": d.moment, "kind": d.kind, "fired_at": _iso(d.fired_at)} for d in state.deferred.values()
        ],
        "awaiting_outcome": [
            {
                "trigger_id": o.trigger_id,
                "moment": o.moment,
                "sent": _iso(o.at_ms),
                "until": _iso(o.deadline_ms),
                "group": "control" if o.holdout else "treated",
                "feedback": o.feedback,
                "converted": o.outcome_event_id is not None,
            }
            for o in sorted(state.open_triggers.values(), key=lambda o: o.at_ms)
        ],
        "next_timer": _iso(state.timers.peek()),
    }


def _step_name(m: CompiledMoment | None, group: int) -> str:
    """A step's name; its index when the moment is no longer configured (or the index is out of range)."""
    return m.groups[group].name if m is not None and 0 <= group < len(m.groups) else str(group)


def _evidence(rows: tuple[EvidenceRow, ...], m: CompiledMoment | None) -> list[dict[str, Any]]:
    found = []
    for row in rows:
        doc: dict[str, Any] = {"step": _step_name(m, row[2]), "event_id": row[0], "at": _iso(row[1])}
        names = indicator_names(m, row[4]) if m is not None and len(row) > 4 else None
        if names is not None:
            doc["indicators"] = names
        found.append(doc)
    return found


def _moment(moment_state: MomentState, m: CompiledMoment | None) -> dict[str, Any]:
    partials = []
    kofn = m.kofn if m is not None else None
    for partial in moment_state.partials:
        if partial.dead:
            continue
        doc: dict[str, Any] = {
            "at_step": _step_name(m, partial.group),
            "step": partial.group + 1,
            "of": len(m.groups) if m is not None else 0,
            "since": _iso(partial.start_ts),
            "last_event": _iso(partial.last_ts),
            "evidence": _evidence(partial.evidence, m),
        }
        if partial.seen and kofn is not None:  # a later k-of-n step: the indicators met so far
            doc["indicators_seen"] = [kofn.names[i] for i, *_ in partial.seen if 0 <= i < len(kofn.names)]
        partials.append(doc)
    return {
        "version": moment_state.version,
        "partial_matches": partials,
        "absences_pending": [
            {"completes_at": _iso(p.deadline), "evidence": _evidence(p.evidence, m)}
            for p in sorted(moment_state.pending.values(), key=lambda p: p.deadline)
        ],
        "windows": [
            {
                "opens_at": _iso(w.opens_at),
                "closes_at": _iso(w.closes_at),
                "status": "used" if w.used else "open" if w.is_open else "waiting",
                "evidence": _evidence(w.evidence, m),
            }
            for w in sorted(moment_state.windows.values(), key=lambda w: w.opens_at)
        ],
    }


def _scores(engine: Engine, state: CustomerState) -> dict[str, dict[str, Any]]:
    """Scores as of the customer's newest event (features decay with time; the clock may be far ahead)."""
    if engine.scorer is None or state.scoring is None or state.max_seen <= NEVER:
        return {}
    at = state.max_seen
    return {name: {**doc, "at": _iso(at)} for name, doc in engine.scorer.scores_now(state, at).items()}


def _sequences(engine: Engine, state: CustomerState) -> list[dict[str, Any]]:
    """Playbook sequences under way: which trigger started each, the steps sent, and when the next is due."""
    due = {t.ref: t.fire_at for t in state.timers.entries if t.moment == SEQUENCE_OWNER}
    compiled = {m.name: m for m in engine.moments}
    found = []
    for ref, sequence in sorted(state.sequences.items()):
        m = compiled.get(sequence.parent.moment)
        of = len(m.spec.playbook.timed) if m is not None and m.spec.playbook is not None else None
        found.append({"moment": sequence.parent.moment, "trigger_id": sequence.trigger_id,
                      "steps_sent": sequence.sent, "next_step": sequence.next_step + 1, "of": of,
                      "next_due": _iso(due[ref]) if ref in due else None})  # fmt: skip
    return found


def _signals(engine: Engine, state: CustomerState) -> dict[str, Any] | None:
    """The anomaly (and expected spend) a trigger would carry now, as of the customer's newest event."""
    if engine.scorer is None or state.scoring is None or state.max_seen <= NEVER:
        return None
    signals = engine.scorer.signals(state, state.max_seen)
    return {**signals.model_dump(exclude_none=True), "at": _iso(state.max_seen)}


def render_view(view: dict[str, Any]) -> str:
    """The view as text for a terminal: newest events last, one line per fact.

    >>> print(render_view({"customer_id": "c-1", "clock": None, "zone": None, "story": [], "moments": {},
    ...                    "scores": {}, "consent": "every channel", "contacts": [], "held_for_quiet_hours": [],
    ...                    "awaiting_outcome": [], "partition": 3}))
    customer c-1 (partition 3)
    story: no events kept
    moments: nothing in progress
    scores: none yet
    consent: every channel
    """
    where = ", ".join(f"{k} {view[k]}" for k in ("partition", "clock", "zone") if view.get(k) is not None)
    lines = [f"customer {view['customer_id']}" + (f" ({where})" if where else "")]
    if view.get("alias_of"):
        lines.append(f"an alias of {view['alias_of']}: its events go there (look that customer up)")
    if view.get("aliases"):
        lines.append(f"aliases merged in: {', '.join(view['aliases'])}")
    if view.get("merges_waiting"):
        lines.append(f"alias states waiting for their identify time: {view['merges_waiting']}")
    story = view["story"]
    lines.append("story (newest last):" if story else "story: no events kept")
    lines += [f"  {e['at']}  {e['type']:<22} {e['channel']:<10} {e['event_id']}" for e in story]
    lines.append("moments:" if view["moments"] else "moments: nothing in progress")
    for name, moment in view["moments"].items():
        lines.append(f"  {name} (version {moment['version']})")
        for p in moment["partial_matches"]:
            seen = ", ".join(f"{e['step']} {e['event_id']}" for e in p["evidence"])
            where = f"step {p['step']} of {p['of']} ({p['at_step']})"
            lines.append(f"    partial match: reached {where} since {p['since']}; {seen}")
            if p.get("indicators_seen"):
                lines.append(f"      indicators met so far: {', '.join(p['indicators_seen'])}")
        lines += [f"    absence pending: completes at {a['completes_at']}" for a in moment["absences_pending"]]
        lines += [f"    window {w['status']}: {w['opens_at']} to {w['closes_at']}" for w in moment["windows"]]
    scores = view["scores"]
    lines.append("scores:" if scores else "scores: none yet")
    for name, score in scores.items():
        if "value" in score:  # a value objective: an amount, and what multiplies it
            times = "; ".join(f"{r['feature']} x{r['times']}" for r in score["reasons"])
            lines.append(f"  {name} expected spend {score['value']:,.2f}" + (f"; reasons: {times}" if times else ""))
            continue
        why = "; ".join(f"{w['says']} {w['points']:+}" for w in score.get("why", []))
        tier = f" ({score['tier']})" if score.get("tier") else " (below every tier)"
        lines.append(f"  {name} {score['score']}{tier}" + (f"; reasons: {why}" if why else ""))
    lines += [f"stated {name}: {p['stated']} (since {p['since']})" for name, p in view.get("preferences", {}).items()]
    signals = view.get("signals")
    if signals:
        lines.append(f"signals: anomaly {signals['anomaly']} (silence {signals['silence']}, burst {signals['burst']}:"
                     " standard deviations of their own rhythm)")  # fmt: skip
    consent = view["consent"]
    if isinstance(consent, dict):
        consent = ", ".join(
            f"{c} {'granted' if v['granted'] else 'withdrawn'} since {v['since']}" for c, v in consent.items()
        )
    lines.append(f"consent: {consent}")
    lines += [f"contacted: {c['at']} {c['moment']} (trigger {c['trigger_id']})" for c in view["contacts"]]
    lines += [f"sequence: {q['moment']} step {q['next_step']} of {q['of']} due {q['next_due']} "
              f"({q['steps_sent']} sent; started by trigger {q['trigger_id']})"
              for q in view.get("sequences", [])]  # fmt: skip
    lines += [
        f"held for quiet hours: {d['moment']} {d['kind']} fired {d['fired_at']}" for d in view["held_for_quiet_hours"]
    ]
    lines += [
        f"awaiting outcome: trigger {o['trigger_id']} ({o['moment']}, {o['group']}) until {o['until']}"
        + (f", feedback {o['feedback']}" if o["feedback"] else "")
        for o in view["awaiting_outcome"]
    ]
    return "\n".join(lines)
