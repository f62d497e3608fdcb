"""``momentstream demo``: simulate journeys, discover the moments in them, run them, explain.

1. discover, from the first part of the history, the sequences that precede becoming a repeat
   buyer and when reaching out after them worked (:mod:`momentstream.cli.demo_discovery`);
2. run the discovered moments over the rest of the history;
3. run the bundled example moments over the same period, with the contact policy, holdouts and
   online scoring, and show what fired, how the post-purchase window found the seed scenario,
   and a few triggers with their evidence;
4. close the loop in a world that answers back: outcomes linked to triggers, live uplift, and
   contact decided by uplift (:mod:`momentstream.cli.demo_loop`);
5. the same world with a scheduled sequence of three steps, and what each step adds
   (:mod:`momentstream.cli.demo_sequence`);
6. a journey map of another history's best customers, whose early path was planted
   (:mod:`momentstream.cli.demo_journeys`).

Every input and output is written to files so the same run can be replayed by hand.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from momentstream.cli.demo_discovery import discovery_act, seeds_from
from momentstream.cli.demo_journeys import journeys_act
from momentstream.cli.demo_loop import loop_act
from momentstream.cli.demo_options import DemoOptions
from momentstream.cli.demo_sequence import sequence_act
from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import Trigger
from momentstream.data import bundled_moments_path
from momentstream.models.objectives import WARMING_UP, ObjectiveSet, bound_only, objectives_for
from momentstream.models.scorer import Scorer
from momentstream.ops.textable import format_table
from momentstream.patterns.dsl import load_moments
from momentstream.runtime.replay.runner import ReplayRunner, ReplaySummary, replay_file
from momentstream.runtime.sources import write_events
from momentstream.sim.journeys import VIP_WINDOW_HOURS, Simulation, Truth, simulate
from momentstream.triggers.contract import read_triggers

__all__ = ["DemoOptions", "run_demo"]


def run_demo(options: DemoOptions, engine: Engine, stream: TextIO) -> ReplaySummary:
    """Run the whole demo, printing the report to ``stream``; returns the replay summary."""
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    stream.write(f"momentstream demo: {options.customers:,} simulated customers over {options.days} days "
                 f"(seed {options.seed}), joining during the first {int(options.days * 0.8)} days\n")  # fmt: skip
    sim = simulate(options.customers, options.days, options.seed, joining_days=options.days * 0.8)
    events_path = out / "events.jsonl"
    with events_path.open("w") as f:
        write_events(sim.events, f)
    stream.write(f"  wrote {events_path} ({len(sim.events):,} events)\n\n")
    split_ms = to_ms(sim.events[0].ts) + int(options.days * options.discover_share) * 86_400_000
    split_ms -= split_ms % 86_400_000  # midnight UTC
    act = discovery_act(sim, split_ms, out, options.progress, stream)
    later = seeds_from(sim, split_ms)
    if engine.scorer is not None:
        stream.write(_warm_models(engine.scorer, sim, split_ms))
    stream.write("3. The bundled example moments (told, not discovered) with the contact policy, holdouts and online\n"
                 f"   scoring, over the same later period: momentstream replay {act.later_path}\n\n")  # fmt: skip
    triggers_path, audit_path = out / "triggers.jsonl", out / "audit.jsonl"
    holdout_path = out / "holdout.jsonl"
    with triggers_path.open("w") as t_out, audit_path.open("w") as a_out, holdout_path.open("w") as h_out:
        summary = replay_file(act.later_path, engine, t_out, audit_out=a_out, holdout_out=h_out,
                              progress=options.progress)  # fmt: skip
    treated = list(read_triggers(triggers_path.read_text().splitlines()))  # revocations are skipped
    held_out = list(read_triggers(holdout_path.read_text().splitlines()))
    triggers = treated + held_out
    audit = [json.loads(line) for line in audit_path.read_text().splitlines()]
    cancel_records = [r for r in audit if r.get("output") == "window_cancelled"]
    cancelled = Counter(r["moment"] for r in cancel_records)
    cancelled_seed_windows = {r["customer_id"] for r in cancel_records if r["moment"] == "post_purchase_window"}
    stream.write(
        f"  wrote {triggers_path}, {holdout_path}, {audit_path}\n"
        f"  replayed {summary.events:,} events in {summary.seconds:.1f} s "
        f"({summary.events / max(summary.seconds, 1e-9):,.0f} events/s), {summary.customers:,} customers, "
        f"{summary.rejected} rejected, {summary.late} late, {summary.duplicates} duplicates\n\n"
    )
    stream.write(_fired(engine, triggers, cancelled) + "\n\n")
    stream.write(_policy(engine, treated, held_out, audit) + "\n\n")
    stream.write(_seed_story(sim, later, triggers, cancelled_seed_windows) + "\n\n")
    stream.write(_examples(engine, triggers) + "\n")
    if engine.scorer is not None:
        stream.write("\n" + _scoring(engine, triggers) + "\n")
    stream.write(f"\nReplay it yourself: momentstream replay {act.later_path} -o {out / 'replayed.jsonl'}\n\n")
    loop_act(options.customers, options.seed, out, stream)
    sequence_act(options.customers, options.seed, out, stream)
    journeys_act(options.customers, options.seed, out, stream)
    return summary


def _warm_models(scorer: Scorer, sim: Simulation, split_ms: int) -> str:
    """Let the models learn from the history before the split first, as a worker that has been running
    would have: churn's label takes 60 days to be known, longer than the later period's first weeks."""
    warm = Scorer(replace(scorer.config, bindings={}))  # learning only: no moments to bind scores to
    runner = ReplayRunner(Engine([], scorer=warm))
    list(runner.run((e for e in sim.events if to_ms(e.ts) < split_ms), until=split_ms))
    scorer.restore(warm.snapshot())
    learned = ", ".join(f"{name} {model.learned:,}" for name, model in warm.models.items())
    return f"   The online models first learn from the history before the split (labels: {learned}).\n\n"


def _scoring(engine: Engine, triggers: list[Trigger]) -> str:
    """How each objective's model is doing, and how the triggers spread over tiers and owners."""
    assert engine.scorer is not None
    rows = []
    for name, model in engine.scorer.models.items():
        auc, log_loss = model.quality()
        rows.append([name, f"{model.learned:,}", f"{auc:.3f}", f"{log_loss:.3f}", model.drifts,
                     "yes" if model.drifting else "no"])  # fmt: skip
    models = format_table(["objective", "labels learned", "ROC AUC", "log loss", "drifts", "drifting now"], rows)
    tiers: Counter[tuple[str, str]] = Counter()
    for t in triggers:
        if t.score is not None and t.kind != "window_expired":
            tiers[(t.score.owner, t.score.tier or "no tier")] += 1
    tier_rows = [[owner, tier, n] for (owner, tier), n in sorted(tiers.items())]
    warm_up = engine.scorer.config.warm_up
    note = ""
    if any(tier == WARMING_UP for _, tier in tiers):
        note = (f"\nwarming_up: the model had fewer than {warm_up.min_labels:,} labels, or a progressive AUC below "
                f"{warm_up.min_auc}\n(churn's label is known 60 days after its prediction: no activity 30 to 60 days "
                "on) when the trigger fired; no tier, so no workflow acts on it automatically.")  # fmt: skip
    return ("Online models (progressive validation: each label scored before it is learned):\n" + models
            + "\n\nTriggers by owner and tier:\n" + format_table(["owner", "tier", "triggers"], tier_rows)
            + note)  # fmt: skip


def _policy(engine: Engine, treated: list[Trigger], held_out: list[Trigger], audit: list[dict[str, Any]]) -> str:
    """What the contact policy did: delivered, held out, deferred over quiet hours, suppressed and why."""
    deferred = Counter(r["moment"] for r in audit if r.get("output") == "trigger_deferred")
    suppressed: dict[str, Counter[str]] = defaultdict(Counter)
    for r in audit:
        if r.get("output") == "trigger_suppressed":
            suppressed[r["moment"]][r["reason"]] += 1
    acted = Counter(t.moment for t in treated if t.kind != "window_expired")
    holdout = Counter(t.moment for t in held_out if t.kind != "window_expired")
    rows = [[m.name, m.spec.priority, acted[m.name], holdout[m.name], deferred[m.name],
             ", ".join(f"{reason} {n}" for reason, n in sorted(suppressed[m.name].items())) or "-"]
            for m in engine.moments]  # fmt: skip
    table = format_table(["moment", "priority", "to the CRM", "holdout", "deferred", "suppressed (reason n)"], rows)
    return ("Contact policy (quiet hours on the customer's clock, caps, priorities; holdouts are not acted on;\n"
            "see audit.jsonl for every deferred or suppressed trigger)\n" + table)  # fmt: skip


def _fired(engine: Engine, triggers: list[Trigger], cancelled: Counter[str | None]) -> str:
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    customers: dict[str, set[str]] = defaultdict(set)
    for t in triggers:
        kinds[t.moment][t.kind] += 1
        customers[t.moment].add(t.customer_id)
    rows = []
    for m in engine.moments:
        k = kinds[m.name]
        acted = k["window_open"] + k["match"]
        rows.append([m.name, acted, k["window_expired"], cancelled[m.name], len(customers[m.name])])
    table = format_table(["moment", "fired (match/window open)", "expired unused", "cancelled", "customers"], rows)
    return "What fired\n" + table


def _seed_story(sim: Simulation, seed: set[str], triggers: list[Trigger], cancelled: set[str]) -> str:
    opened = {t.customer_id for t in triggers if t.moment == "post_purchase_window" and t.kind == "window_open"}
    if not seed:
        return "No seed-scenario customers in this simulation."
    low, high = VIP_WINDOW_HOURS
    inside: list[Truth] = []
    outside: list[Truth] = []
    for customer in seed:
        truth = sim.truth[customer]
        delay = truth.outreach_delay_h
        (inside if delay is not None and low <= delay <= high else outside).append(truth)

    def vip_rate(group: list[Truth]) -> str:
        vips = sum(1 for t in group if t.became_vip)
        return f"{100 * vips / len(group):.0f}%" if group else "-"

    found = len((opened | cancelled) & seed)
    table = format_table(
        ["legacy CRM outreach after the 2nd purchase", "customers", "became VIP"],
        [[f"inside {low:.0f}-{high:.0f} h", len(inside), vip_rate(inside)],
         ["outside the window", len(outside), vip_rate(outside)]],
    )  # fmt: skip
    return (
        "The post-purchase window (seed scenario: support on Monday, buy again Wednesday, then silence)\n"
        f"  {len(seed)} seed customers; the moment found {found} of them ({100 * found / len(seed):.0f}%): "
        f"{len(opened & seed)} windows opened, {len(cancelled & seed)} cancelled because the legacy CRM had\n"
        f"  already reached out before 19 h; it also opened {len(opened - seed)} windows for other customers.\n"
        "  Without momentstream the legacy CRM reached them at random times:\n" + table
    )


def _examples(engine: Engine, triggers: list[Trigger]) -> str:
    lines = ["Why they fired (one example per moment)"]
    for m in engine.moments:
        t = next((t for t in triggers if t.moment == m.name and t.kind in ("window_open", "match")), None)
        if t is None:
            continue
        when = t.emitted_at.strftime("%a %Y-%m-%d %H:%M")
        window = ""
        if t.window is not None:
            window = f", act by {t.window.closes_at.strftime('%a %Y-%m-%d %H:%M')}"
        lines.append(f"  {t.customer_id}  {t.moment} ({t.kind}) at {when}{window}  id {t.trigger_id[:12]}")
        if t.score is not None:
            why = "; ".join(f"{w.says} {w.points:+.0f} pts" for w in t.score.why) or "too few labels to say"
            lines.append(f"      {t.score.objective} {t.score.score:.2f} -> {t.score.tier or 'no tier'}, "
                         f"owner {t.score.owner}, model {t.score.model_version}; why: {why}")  # fmt: skip
            if t.score.value is not None:
                v = t.score.value
                spend = f"expected spend {v.amount:,.2f} over {v.horizon_days:g} days"
                lines.append(f"      {spend}, model {v.model_version}")
        types = {s.event_id: s.type for s in t.story}
        for e in t.evidence:
            kind = types.get(e.event_id, "")
            lines.append(f"      {e.step:<16} {kind:<20} {e.ts.strftime('%a %Y-%m-%d %H:%M')}")
    return "\n".join(lines)


def default_engine(
    moments: Path | None,
    lateness_ms: int | None = None,
    objectives: Path | None = None,
    scoring: bool = True,
    idle_ttl_ms: int | None = None,
    only_bound: bool = False,
) -> Engine:
    """The engine for the given moments (and objectives) files, or the bundled examples.

    ``only_bound`` keeps only the models some moment's triggers carry (none: no scorer at all), for a replay
    that has no other use for them.
    """
    config = EngineConfig(idle_ttl_ms=idle_ttl_ms)
    if lateness_ms is not None:
        config = replace(config, allowed_lateness_ms=lateness_ms)
    compiled = load_moments(moments or bundled_moments_path())
    chosen: ObjectiveSet | None = objectives_for(compiled, objectives) if scoring else None
    if chosen is not None and only_bound:
        chosen = bound_only(chosen)
    scorer = Scorer(chosen) if chosen is not None else None
    return Engine(compiled, config, scorer)
