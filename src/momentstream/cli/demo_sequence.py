"""The demo's fifth part: a scheduled sequence, in the world that answers back.

The cart moment of the fourth part gets a playbook of three steps that come due one, three and six
days after its trigger, and ``stop_if`` a purchase. The world (:mod:`momentstream.sim.campaign`) answers
each step as it answers a contact, at half the first contact's effect, so the engine's own linked
outcomes show what each step adds, against the holdout customers whose steps were never sent.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TextIO

from momentstream.core.engine import Engine, EngineConfig
from momentstream.ops.textable import format_table
from momentstream.patterns.dsl import parse_moments
from momentstream.sim.campaign import CART_MOMENT, run_campaign
from momentstream.triggers.uplift import outcome_uplift

__all__ = ["SEQUENCE", "sequence_act"]

DAYS = 45
SEQUENCE = """    playbook:
      owner: growth
      channel: email
      steps:
        - {say: "Remind {customer_id} of the cart", at: 1d}
        - {say: Offer free shipping, at: 3d}
        - {say: Last call before the cart expires, at: 6d}
      stop_if: {type: purchase}
"""
"""The playbook the act adds to the cart moment (a moments file's lines, 4-space indent)."""


def sequence_act(customers: int, seed: int, out: Path, stream: TextIO) -> None:
    """Run the world with the sequence, write its outcome records, and print what each step did."""
    customers = max(200, min(customers // 4, 1_000))
    stream.write(f"5. A scheduled sequence: the same cart moment, {customers:,} customers over {DAYS} days, with a "
                 "playbook of three steps\n   (reminder at 1d, free shipping at 3d, last call at 6d) that stops "
                 "when the customer buys.\n\n")  # fmt: skip
    engine = Engine(parse_moments(CART_MOMENT.format(extra=SEQUENCE)), EngineConfig(allowed_lateness_ms=0))
    run = run_campaign(engine, customers=customers, days=DAYS, seed=seed)
    path = out / "sequence_outcomes.jsonl"
    path.write_text("".join(o.model_dump_json() + "\n" for o in run.outcomes))
    carts = [r for r in run.triggers if r.step is None]
    sent = Counter(r.step for r in run.triggers if r.step is not None and r.contacted)
    held = Counter(r.step for r in run.triggers if r.step is not None and r.holdout)
    stops = Counter(s.reason for s in run.stopped)
    stream.write(f"  {len(carts):,} cart triggers (treated and holdout) each started a sequence; steps sent: "
                 + ", ".join(f"step {k} {sent[k]:,}" for k in sorted(sent))
                 + f" (holdout: {sum(held.values()):,} steps recorded, none sent)\n"
                 f"  {stops['stop_if']:,} sequences stopped early by a purchase; wrote {path}\n\n")  # fmt: skip
    rows = [[u.moment, f"{u.treated.customers:,}", f"{u.treated.rate:.1%}", f"{u.holdout.customers:,}",
             f"{u.holdout.rate:.1%}", f"{u.difference:+.1%} [{u.low:+.1%}, {u.high:+.1%}]"]
            for u in outcome_uplift(run.outcomes)]  # fmt: skip
    table = format_table(["trigger or step", "treated", "converted", "control", "converted", "uplift [95%]"], rows)
    stream.write(f"  What each contact added, from the outcomes the engine linked (report uplift {path}):\n"
                 + "\n".join("  " + line for line in table.splitlines())
                 + "\n  A purchase is credited to the latest contact before it: a step's row counts the customers still"
                 "\n  without a purchase when it came due, against holdout customers at the same point of their"
                 "\n  (unsent) sequence, and includes what the earlier contacts still do.\n\n")  # fmt: skip
