"""Churn scores on buyers whose dropout nobody here designed: the Pareto/NBD generative model.

:mod:`momentstream.sim.btyd` draws purchases with the parameters Fader, Hardie and Lee published
for CDNOW, and knows each customer's dropout day, which no event shows. The engine replays them
with its default configuration (bundled moments and objectives, learning online from its own
delayed labels). At monthly cut-offs every customer seen so far is judged on "gone within 30
days" (dropped out before the cut-off + 30 days). Printed, side by side:

* ROC AUC at each cut-off of the churn score, the recency rule (days since the last purchase) and
  the activity rule (fewer purchases in the last 90 days), and whether the model had earned a tier;
* the same scores judged on what the engine itself can observe and learns from (no purchase 30-60
  days after the cut-off): a dropout shows only as the silence after it;
* at the precision of a "no purchase for 60 days" rule (weekly checks), how many churners each
  flags, and how many days after the dropout it flags them;
* how far a customer's score moves from one day to the next when they did nothing: in all, and the
  part that is only the model learning (yesterday's features scored by today's model).

    python benchmarks/churn_btyd.py [--customers 20000] [--days 540] [--seed 7]
"""

from __future__ import annotations

import argparse
import bisect
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from lifetimes import ParetoNBDFitter

from churn_quality import auc
from momentstream.cli.demo import default_engine
from momentstream.core.clock import to_ms
from momentstream.models.explain import log_odds
from momentstream.models.scorer import Scorer
from momentstream.ops.textable import format_table
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.btyd import CDNOW_PARETO_NBD, BtydHistory, simulate_btyd

AHEAD_DAYS = 30
FIRST_CUTOFF_DAY = 90
CUTOFF_EVERY_DAYS = 30
RULE_DAYS = 60
CHECK_EVERY_DAYS = 7
OBSERVED_FROM_DAYS, OBSERVED_TO_DAYS = 30, 60
"""The bundled churn objective's label window: no activity 30-60 days after the score."""
STABILITY_SAMPLE = 1000
"""Customers whose scores are also taken every day, for the day-to-day changes."""


class Run:
    """One replay with scores taken at weekly checks (everyone) and daily (a sample)."""

    def __init__(self, history: BtydHistory, objectives: Path | None = None) -> None:
        engine = default_engine(None, objectives=objectives)
        assert engine.scorer is not None
        self.scorer: Scorer = engine.scorer
        self.runner = ReplayRunner(engine)
        self.model = self.scorer.models["churn"]
        self.history = history
        self.weekly: dict[int, dict[str, float]] = {}
        self.warm: dict[int, bool] = {}
        self.total_moves: list[float] = []
        self.model_moves: list[float] = []
        ids = sorted(history.acquired_day)
        self.sample = set(ids[:: max(len(ids) // STABILITY_SAMPLE, 1)])
        self._yesterday: dict[str, tuple[dict[str, float], float, int]] = {}

    def replay(self) -> float:
        """Feed every event, stopping at each day's end to score; returns events per second."""
        day, started = 1, time.perf_counter()
        for event in self.history.events:
            while self.history.day_of(event.ts) >= day:
                self._score_day(day)
                day += 1
            self.runner.feed(event)
        while day <= self.history.days:
            self._score_day(day)
            day += 1
        return len(self.history.events) / (time.perf_counter() - started)

    def _score_day(self, day: int) -> None:
        at = to_ms(self.history.start + timedelta(days=day))
        self.runner.tick(at)
        weekly = day % CHECK_EVERY_DAYS == 0
        if weekly:
            self.weekly[day] = {}
            self.warm[day] = self.scorer.config.warm_up.warm(self.model.learned, self.model.quality()[0])
        for customer_id, state in self.runner.states.items():
            if not weekly and customer_id not in self.sample:
                continue
            x = self.scorer.features_for("churn", state, at)
            p = self.model.score(x)
            if weekly:
                self.weekly[day][customer_id] = p
            if customer_id in self.sample:
                self._moved(customer_id, x, p, day)

    def _moved(self, customer_id: str, x: dict[str, float], p: float, day: int) -> None:
        last = self.scorer.scoring(self.runner.states[customer_id]).features.last_ms
        before = self._yesterday.get(customer_id)
        stamp = last or 0
        if before is not None and before[2] == stamp and day >= FIRST_CUTOFF_DAY:  # no event since yesterday
            old_x, old_p, _ = before
            self.total_moves.append(abs(log_odds(p) - log_odds(old_p)))
            self.model_moves.append(abs(log_odds(self.model.score(old_x)) - log_odds(old_p)))
        self._yesterday[customer_id] = (x, p, stamp)


def purchase_days(history: BtydHistory) -> dict[str, list[float]]:
    """Each customer's purchase days, in order."""
    days: dict[str, list[float]] = defaultdict(list)
    for event in history.events:
        days[event.customer_id].append(history.day_of(event.ts))
    return days


def true_model_gone(bought: dict[str, list[float]], seen: list[str], day: int) -> np.ndarray:
    """1 - P(alive) under Pareto/NBD with the generator's own parameters: the best any score can rank, since
    every purchase was drawn from exactly this model (no real score knows the parameters)."""
    fitter = ParetoNBDFitter()
    fitter.params_ = pd.Series(
        {
            "r": CDNOW_PARETO_NBD["r"],
            "alpha": CDNOW_PARETO_NBD["alpha"] * 7,
            "s": CDNOW_PARETO_NBD["s"],
            "beta": CDNOW_PARETO_NBD["beta"] * 7,
        }
    )  # per day
    before = [bought[c][: bisect.bisect_left(bought[c], day)] for c in seen]
    frequency = np.array([len(b) - 1 for b in before], dtype=float)
    recency = np.array([b[-1] - b[0] for b in before])
    age = np.array([day - b[0] for b in before])
    return 1.0 - np.asarray(fitter.conditional_probability_alive(frequency, recency, age), dtype=float)


def judged(run: Run, bought: dict[str, list[float]], label: Callable[[str, int], bool],
           ahead: int) -> Iterator[tuple[int, list[str], np.ndarray, list[float]]]:  # fmt: skip
    """At each monthly cut-off whose truth is known (``ahead`` days later): the customers seen, their labels, and
    the ROC AUC on them of our score, the recency rule, the activity rule and the true-parameter ceiling."""
    for day in range(FIRST_CUTOFF_DAY, run.history.days - ahead + 1, CUTOFF_EVERY_DAYS):
        check = day - day % CHECK_EVERY_DAYS
        scores = run.weekly.get(check, {})
        seen = [c for c in scores if bought[c][0] < check]
        labels = np.array([int(label(c, check)) for c in seen])
        if len(set(labels)) < 2:
            continue
        ours = np.array([scores[c] for c in seen])
        recency = np.array([check - bought[c][bisect.bisect_left(bought[c], check) - 1] for c in seen])
        activity = np.array([-_count_between(bought[c], check - 90, check) for c in seen])
        ceiling = true_model_gone(bought, seen, check)
        yield check, seen, labels, [auc(score, labels) for score in (ours, recency, activity, ceiling)]


def cutoff_table(run: Run, bought: dict[str, list[float]]) -> list[list[str]]:
    """AUC of score, recency and activity at each monthly cut-off, judged on dropout within 30 days."""
    dropout = run.history.dropout_day
    return [[str(check), f"{len(seen):,}", f"{labels.mean():.1%}", "yes" if run.warm[check] else "no",
             *(f"{a:.3f}" for a in aucs)]
            for check, seen, labels, aucs in judged(run, bought, lambda c, d: dropout[c] < d + AHEAD_DAYS,
                                                    AHEAD_DAYS)]  # fmt: skip


def observable_table(run: Run, bought: dict[str, list[float]]) -> list[list[str]]:
    """The same scores judged on what the engine can see and learns from: no purchase 30-60 days after the
    cut-off (the bundled churn label). A dropout is never observed, only the silence that follows it."""

    def silent(customer_id: str, day: int) -> bool:
        return _count_between(bought[customer_id], day + OBSERVED_FROM_DAYS, day + OBSERVED_TO_DAYS) == 0

    return [[str(check), f"{labels.mean():.1%}", *(f"{a:.3f}" for a in aucs)]
            for check, _, labels, aucs in judged(run, bought, silent, OBSERVED_TO_DAYS)]  # fmt: skip


def _count_between(days: list[float], low: float, high: float) -> int:
    return bisect.bisect_left(days, high) - bisect.bisect_left(days, low)


def first_flags(run: Run, bought: dict[str, list[float]], flagged: Callable[[str, int], bool]) -> dict[str, int]:
    """The first weekly check at which each customer is flagged (from the first cut-off on)."""
    found: dict[str, int] = {}
    for day in sorted(run.weekly):
        if day < FIRST_CUTOFF_DAY or day > run.history.days - AHEAD_DAYS:
            continue
        for customer_id in run.weekly[day]:
            if customer_id not in found and bought[customer_id][0] < day and flagged(customer_id, day):
                found[customer_id] = day
    return found


def lead_table(run: Run, bought: dict[str, list[float]]) -> tuple[list[list[str]], str]:
    """At the 60-day rule's precision: flagged, right, churners caught and days after dropout, rule vs score."""
    dropout = run.history.dropout_day

    def right(customer_id: str, day: int) -> bool:
        return dropout[customer_id] < day + AHEAD_DAYS

    def silent(customer_id: str, day: int) -> bool:
        return day - bought[customer_id][bisect.bisect_left(bought[customer_id], day) - 1] >= RULE_DAYS

    rule = first_flags(run, bought, silent)
    precision = float(np.mean([right(c, d) for c, d in rule.items()]))
    everything = np.concatenate([list(s.values()) for d, s in run.weekly.items() if d >= FIRST_CUTOFF_DAY])
    chosen: tuple[float, dict[str, int]] | None = None
    for threshold in np.quantile(everything, np.linspace(0.3, 0.995, 80)):
        found = first_flags(run, bought, lambda c, d, t=float(threshold): run.weekly[d][c] >= t)
        if found and np.mean([right(c, d) for c, d in found.items()]) >= precision:
            chosen = (float(threshold), found)
            break
    churners = [c for c, t in dropout.items() if FIRST_CUTOFF_DAY <= t <= run.history.days - AHEAD_DAYS]

    def line(name: str, found: dict[str, int]) -> list[str]:
        hits = [c for c, d in found.items() if right(c, d)]
        caught = [c for c in churners if c in found and right(c, found[c])]
        after = [found[c] - dropout[c] for c in caught]
        return [name, f"{len(found):,}", f"{len(hits) / max(len(found), 1):.3f}",
                f"{len(caught) / max(len(churners), 1):.1%}", f"{np.median(after):.0f}" if after else "-"]  # fmt: skip

    rows = [line(f"{RULE_DAYS} days without a purchase", rule)]
    if chosen is None:
        return rows, "the score reaches the rule's precision at no threshold"
    threshold, found = chosen
    rows.append(line(f"churn score >= {threshold:.3f}", found))
    both = [c for c in churners if c in found and c in rule and right(c, found[c])]
    leads = np.array([rule[c] - found[c] for c in both])
    summary = (f"churners flagged by both: {len(both):,}; the score flags them a median {np.median(leads):.0f} days "
               f"before the rule ({np.mean(leads > 0):.0%} earlier, {np.mean(leads < 0):.0%} later)"
               if len(leads) else "no churner is flagged by both")  # fmt: skip
    return rows, summary


def spread_line(name: str, moves: list[float]) -> list[str]:
    """Percentiles of absolute day-to-day changes in log-odds."""
    if not moves:
        return [name, "0", "-", "-", "-", "-"]
    q = np.quantile(np.array(moves), [0.5, 0.9, 0.99])
    return [name, f"{len(moves):,}", *(f"{v:.3f}" for v in q), f"{max(moves):.3f}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=540)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--objectives", type=Path, help="an objectives file (default: the bundled one)")
    args = parser.parse_args()
    history = simulate_btyd(args.customers, args.days, args.seed)
    gone = sum(1 for t in history.dropout_day.values() if t < args.days)
    print(f"Pareto/NBD (CDNOW parameters): {args.customers:,} customers, {len(history.events):,} purchases over "
          f"{args.days} days; {gone:,} drop out within it", file=sys.stderr)  # fmt: skip
    run = Run(history, args.objectives)
    rate = run.replay()
    bought = purchase_days(history)
    print(format_table(["cut-off day", "customers", "gone within 30 days", "model warm", "default (ROC AUC)",
                        "recency rule", "activity rule (90 days)", "Pareto/NBD, true parameters (ceiling)"],
                       cutoff_table(run, bought)))  # fmt: skip
    print("\njudged on what the engine observes and learns from: no purchase 30-60 days after the cut-off")
    print(format_table(["cut-off day", "no purchase 30-60 days on", "default (ROC AUC)", "recency rule",
                        "activity rule (90 days)", "Pareto/NBD 1 - P(alive), true parameters"],
                       observable_table(run, bought)))  # fmt: skip
    rows, summary = lead_table(run, bought)
    print(format_table([f"at the {RULE_DAYS}-day rule's precision", "flagged", "precision", "churners caught",
                        "median days after dropout"], rows))  # fmt: skip
    print(summary)
    print(format_table(["|day-to-day change| in log-odds, no event", "pairs", "median", "p90", "p99", "max"],
                       [spread_line("score", run.total_moves),
                        spread_line("model only (same features, next day's model)", run.model_moves)]))  # fmt: skip
    quality = run.model.quality()
    print(f"churn model: {run.model.learned:,} labels, progressive AUC {quality[0]:.3f}; replay with daily "
          f"scoring {rate:,.0f} events/s")  # fmt: skip
    return 0 if not math.isnan(quality[0]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
