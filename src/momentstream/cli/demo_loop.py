"""The demo's fourth part: closing the loop in a world that answers back.

The campaign world (:mod:`momentstream.sim.campaign`) runs against a cart moment that links each
trigger to its outcome, keeps a 20% holdout, and decides by uplift. It prints what the engine
decided, the live uplift it measured from its own linked outcomes, and, because the world knows
each customer's true response to contact, what deciding by uplift gained over contacting everyone.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TextIO

from momentstream.core.engine import Engine, EngineConfig
from momentstream.ops.textable import format_table
from momentstream.patterns.dsl import parse_moments
from momentstream.sim.campaign import CART_MOMENT, SEGMENTS, TriggerRecord, run_campaign
from momentstream.triggers.uplift import outcome_uplift, uplift_over_time
from momentstream.triggers.uplift_plot import uplift_svg

__all__ = ["loop_act"]

VALUE, COST = 100, 8
DAYS, LEARNING_DAYS = 90, 45
DECIDE = f"    decide: {{by: uplift, value: {VALUE}, cost: {COST}}}\n"


def loop_act(customers: int, seed: int, out: Path, stream: TextIO) -> None:
    """Run the world, write its outcome records and picture, and print what happened."""
    customers = max(200, min(customers // 4, 1_000))
    stream.write(f"4. Closing the loop: {customers:,} customers over {DAYS} days who answer back. A cart moment with\n"
                 f"   outcome: purchase within 7d, a 20% holdout and decide: {{by: uplift, value: {VALUE}, cost: "
                 f"{COST}}}.\n   Hidden from the engine, what contact does to a purchase within a week:\n   "
                 + ", ".join(f"{s.name} ({s.share:.0%}) {s.effect * 100:+.0f} pts" for s in SEGMENTS.values())
                 + ".\n\n")  # fmt: skip
    engine = Engine(parse_moments(CART_MOMENT.format(extra=DECIDE)), EngineConfig(allowed_lateness_ms=0))
    run = run_campaign(engine, customers=customers, days=DAYS, seed=seed)
    outcomes_path, picture = out / "loop_outcomes.jsonl", out / "uplift.svg"
    outcomes_path.write_text("".join(o.model_dump_json() + "\n" for o in run.outcomes))
    picture.write_text(uplift_svg(uplift_over_time(run.outcomes)))
    decisions = Counter(r.decision for r in run.triggers)
    stream.write(f"  {len(run.triggers):,} triggers: " + ", ".join(f"{n:,} {d}" for d, n in decisions.most_common())
                 + f"\n  wrote {outcomes_path} (one trigger_outcome per trigger) and {picture}\n\n")  # fmt: skip
    rows = [[u.moment, f"{u.treated.customers:,}", f"{u.treated.rate:.1%}", f"{u.holdout.customers:,}",
             f"{u.holdout.rate:.1%}", f"{u.difference:+.1%} [{u.low:+.1%}, {u.high:+.1%}]"]
            for u in outcome_uplift(run.outcomes)]  # fmt: skip
    stream.write("  Live uplift, from the outcomes the engine linked (momentstream report uplift "
                 f"{outcomes_path}):\n" + _indent(format_table(["moment", "treated", "rate", "control", "rate",
                                                              "uplift [95%]"], rows)) + "\n\n")  # fmt: skip
    first = min((r.at_ms for r in run.triggers), default=0)
    judged = [r for r in run.triggers if r.at_ms >= first + LEARNING_DAYS * 86_400_000 and not r.holdout]
    if judged:
        stream.write(_judged(judged) + "\n")


def _judged(judged: list[TriggerRecord]) -> str:
    ours = [r for r in judged if r.contacted]
    always = sum(r.effect for r in judged)
    gained = sum(r.effect for r in ours)
    rows = [["always contact", f"{len(judged):,}", f"{always:,.1f}", f"{always / len(judged) * 100:.1f}"],
            ["decide by uplift", f"{len(ours):,}", f"{gained:,.1f}",
             f"{gained / len(ours) * 100:.1f}" if ours else "-"]]  # fmt: skip
    shares = []
    for name in SEGMENTS:
        mine = [r for r in judged if r.segment == name]
        shares.append(f"{name} {sum(r.contacted for r in mine) / max(len(mine), 1):.0%}")
    contacted = ", ".join(shares)
    return (f"  After day {LEARNING_DAYS}, judged with the world's true effects (what the engine cannot see):\n"
            + _indent(format_table(["policy", "contacts", "incremental purchases", "per 100 contacts"], rows))
            + f"\n  contacted by segment: {contacted}\n")  # fmt: skip


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
