"""Does the churn score warn before the customer leaves, when usage gives nothing away?

A simulated subscription product (:mod:`momentstream.sim.subscriptions`): every customer uses it
at a steady rate until the renewal at which they leave, so "days since the last event" and
"events in the last 30 days" only notice a churner after the fact. The engine runs with its
default configuration (the bundled moments and objectives: churn = no purchase, usage or login
within 30 days, every default feature) and learns online from its own delayed labels. Printed:

* ROC AUC, at weekly cut-offs from day 60, of "leaves within the next 30 days" among customers
  still subscribed, for the churn score, the recency rule and the activity-count rule;
* at the precision of a "30 days without using the product" rule, when the score first flags each
  churner compared with the day the rule does, and how many it flags before they leave.

The rules count product activity (usage and logins), as a success team would: a renewal payment or
a look at an invoice is not a sign of life.

    python benchmarks/churn_lead.py [--customers 2000] [--days 180]
"""

from __future__ import annotations

import argparse
import bisect
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np

from momentstream.cli.demo import default_engine
from momentstream.core.clock import to_ms
from momentstream.models.scorer import Scorer
from momentstream.ops.textable import format_table
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.subscriptions import SubscriptionHistory, simulate_subscriptions

EVAL_FROM_DAY = 60
"""Scores before this are not judged: the model learns from labels that take 30 days to arrive."""
AHEAD_DAYS = 30
RULE_DAYS = 30
ACTIVITY = {"product_usage", "login"}
CORRECT_WITHIN_DAYS = 45
"""A flag is right if the customer has left, or leaves within this many days of it."""


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by ranks (ties share their average rank)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    positives = labels.sum()
    negatives = len(labels) - positives
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def daily_scores(history: SubscriptionHistory, days: int) -> tuple[dict[str, dict[int, float]], Scorer, float]:
    """Replay with the default engine; every day from EVAL_FROM_DAY, every customer's churn score."""
    engine = default_engine(None)
    assert engine.scorer is not None
    scorer = engine.scorer
    runner = ReplayRunner(engine)
    model = scorer.models["churn"]
    scores: dict[str, dict[int, float]] = defaultdict(dict)
    day = EVAL_FROM_DAY
    started = time.perf_counter()

    def score_day(d: int) -> None:
        at = to_ms(history.start + timedelta(days=d))
        runner.tick(at)
        for customer_id, state in runner.states.items():
            scores[customer_id][d] = model.score(scorer.features_for("churn", state, at))

    for event in history.events:
        while day < days and event.ts >= history.start + timedelta(days=day):
            score_day(day)
            day += 1
        runner.feed(event)
    while day < days:
        score_day(day)
        day += 1
    return scores, scorer, len(history.events) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    history = simulate_subscriptions(args.customers, args.days, args.seed)
    churners = {c: t for c, t in history.churned_at.items() if t is not None}
    print(f"{args.customers:,} subscribers over {args.days} days, {len(history.events):,} events; "
          f"{len(churners):,} leave at a renewal", file=sys.stderr)  # fmt: skip
    times: dict[str, list[datetime]] = defaultdict(list)
    for event in history.events:
        if event.type in ACTIVITY:
            times[event.customer_id].append(event.ts)
    scores, scorer, rate = daily_scores(history, args.days)

    def day_of(ts: datetime) -> float:
        return (ts - history.start).total_seconds() / 86_400

    # -- AUC at weekly cut-offs, among customers still subscribed --------------------------------
    rows: list[tuple[float, float, float, int]] = []  # our score, recency, -activity, label
    for d in range(EVAL_FROM_DAY, args.days - AHEAD_DAYS + 1, 7):
        at = history.start + timedelta(days=d)
        for customer_id, seen in times.items():
            gone = history.churned_at[customer_id]
            if (gone is not None and gone <= at) or d not in scores.get(customer_id, {}):
                continue
            before = bisect.bisect_left(seen, at)
            if before == 0:
                continue
            recency = (at - seen[before - 1]).total_seconds() / 86_400
            activity = before - bisect.bisect_left(seen, at - timedelta(days=30))
            label = int(gone is not None and gone <= at + timedelta(days=AHEAD_DAYS))
            rows.append((scores[customer_id][d], recency, -activity, label))
    table = np.array(rows)
    labels = table[:, 3].astype(int)
    print(format_table(
        ["who leaves within 30 days (weekly cut-offs)", "ROC AUC"],
        [["momentstream churn score (default configuration)", f"{auc(table[:, 0], labels):.3f}"],
         ["recency rule (days since the product was last used)", f"{auc(table[:, 1], labels):.3f}"],
         ["activity-count rule (fewer uses in 30 days)", f"{auc(table[:, 2], labels):.3f}"]],
    ))  # fmt: skip
    print(f"{len(rows):,} customer-weeks, {labels.mean():.1%} of them followed by leaving within 30 days\n")

    # -- lead time at the inactivity rule's precision -------------------------------------------
    judged = [c for c in times if c in scores and (history.churned_at[c] is None or
              EVAL_FROM_DAY < day_of(history.churned_at[c]) <= args.days - RULE_DAYS)]  # fmt: skip

    def right(customer_id: str, flag_day: int) -> bool:
        gone = history.churned_at[customer_id]
        return gone is not None and day_of(gone) <= flag_day + CORRECT_WITHIN_DAYS

    rule_flags: dict[str, int] = {}
    for customer_id in judged:
        seen = times[customer_id]
        for d in range(EVAL_FROM_DAY, args.days):
            before = bisect.bisect_left(seen, history.start + timedelta(days=d))
            if before and day_of(seen[before - 1]) <= d - RULE_DAYS:
                rule_flags[customer_id] = d
                break
    rule_precision = np.mean([right(c, d) for c, d in rule_flags.items()])

    def flags_at(threshold: float) -> dict[str, int]:
        found = {}
        for customer_id in judged:
            for d, s in sorted(scores[customer_id].items()):
                if s >= threshold:
                    found[customer_id] = d
                    break
        return found

    best: tuple[float, dict[str, int]] | None = None
    for threshold in np.quantile(np.concatenate([list(s.values()) for s in scores.values()]),
                                 np.linspace(0.5, 0.999, 60)):  # fmt: skip
        found = flags_at(float(threshold))
        if found and np.mean([right(c, d) for c, d in found.items()]) >= rule_precision:
            best = (float(threshold), found)
            break
    churned_judged = [c for c in judged if history.churned_at[c] is not None]

    def summary(name: str, found: dict[str, int]) -> list[str]:
        hits = [c for c, d in found.items() if right(c, d)]
        before = [c for c in hits if found[c] < day_of(churners[c])]
        return [name, f"{len(found):,}", f"{len(hits):,}", f"{len(hits) / max(len(found), 1):.3f}",
                f"{len(set(hits) & set(churned_judged)) / len(churned_judged):.1%}", f"{len(before):,}"]  # fmt: skip

    header = ["at the 30-day rule's precision", "flagged", "right", "precision", "churners caught",
              "caught before leaving"]  # fmt: skip
    lines = [summary(f"{RULE_DAYS} days without using the product", rule_flags)]
    if best is None:
        print(format_table(header, lines))
        print("the score reaches the rule's precision at no threshold")
    else:
        threshold, found = best
        lines.append(summary(f"momentstream churn score >= {threshold:.3f}", found))
        print(format_table(header, lines))
        both = [c for c in churned_judged if c in found and c in rule_flags and right(c, found[c])]
        leads = np.array([rule_flags[c] - found[c] for c in both])
        if len(leads):
            print(f"churners flagged by both: {len(both):,}; the score flags them a median {np.median(leads):.0f} "
                  f"days before the rule (mean {leads.mean():.1f}; {np.mean(leads > 0):.0%} earlier, "
                  f"{np.mean(leads < 0):.0%} later)")  # fmt: skip
    model = scorer.models["churn"]
    quality = model.quality()
    print(f"\nchurn model: {model.learned:,} labels, progressive AUC {quality[0]:.3f}, calibration error "
          f"{model.calibration_error():.3f}; replay with daily scoring {rate:,.0f} events/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
