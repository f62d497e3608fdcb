"""Does deciding by uplift contact fewer customers and gain more, against contacting everyone?

The closed-loop campaign world (:mod:`momentstream.sim.campaign`): customers who respond to
contact, do not, or are hurt by it, told apart only by what they do. The cart moment runs with
``decide: {by: uplift, value: 100, cost: 8}`` and a 20% holdout; the engine learns the uplift
model online from the outcomes it links to its own triggers. After a learning period, every
trigger is judged with the world's true effects (the world knows what contact does to each
customer), in one run:

* incremental purchases per contact and in total for always-contact, random contact at our
  volume, our uplift policy, and the best possible policy (contact where effect x value > cost);
* the uplift (Qini) curve of the online model's predictions at fire time against an offline
  two-model learner from scikit-uplift (logistic regressions) trained on the learning period's
  linked outcomes, both scored on a randomized trial the world draws over the evaluation triggers;
* next best action: a second run in which the moment names two actions, ``email`` (cost 1) and
  ``call`` (cost 10), whose effects differ by customer; the bandit's picks against one action for
  everyone, a random action, and the best action per customer.

    python benchmarks/uplift_policy.py [--customers 2000] [--days 120] [--learning-days 45]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklift.metrics import qini_auc_score, uplift_at_k
from sklift.models import TwoModels

from momentstream.core.engine import Engine, EngineConfig
from momentstream.ops.textable import format_table
from momentstream.patterns.dsl import parse_moments
from momentstream.sim.campaign import ACTION_EFFECTS, CART_MOMENT, SEGMENTS, TriggerRecord, run_campaign

VALUE, COST = 100.0, 8.0
ACTION_COSTS = {"email": 1.0, "call": 10.0}
DAY_MS = 86_400_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--learning-days", type=int, default=45, help="triggers before this are not judged")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="600 customers, 90 days (about 15 s)")
    args = parser.parse_args(argv)
    if args.quick:
        args.customers, args.days = 600, 90
    extra = f"    decide: {{by: uplift, value: {VALUE:g}, cost: {COST:g}}}\n"
    engine = Engine(parse_moments(CART_MOMENT.format(extra=extra)), EngineConfig(allowed_lateness_ms=0))
    started = time.perf_counter()
    run = run_campaign(engine, customers=args.customers, days=args.days, seed=args.seed)
    seconds = time.perf_counter() - started
    first = min(r.at_ms for r in run.triggers)
    cut = first + args.learning_days * DAY_MS
    learning = [r for r in run.triggers if r.at_ms < cut]
    judged = [r for r in run.triggers if r.at_ms >= cut and not r.holdout]
    print(f"campaign world: {args.customers:,} customers, {args.days} days, {run.events:,} events, "
          f"{len(run.triggers):,} triggers ({seconds:.0f} s, {run.events / seconds:,.0f} events/s); "
          f"judged: {len(judged):,} non-holdout triggers after day {args.learning_days}")  # fmt: skip
    print(_policy_table(judged, args.seed))
    print()
    print(_qini_table(learning, [r for r in run.triggers if r.at_ms >= cut], args.seed))
    print()
    print(_segment_table(judged))
    print()
    print(_actions_run(args))
    return 0


def _actions_run(args: argparse.Namespace) -> str:
    """The same world, every non-holdout trigger contacted, the bandit choosing email or call."""
    listed = ", ".join(f"{{name: {name}, cost: {cost:g}}}" for name, cost in ACTION_COSTS.items())
    text = CART_MOMENT.format(extra=f"    actions: [{listed}]\n").replace(
        "within: 7d}", f"within: 7d, value: {VALUE:g}}}"
    )
    engine = Engine(parse_moments(text), EngineConfig(allowed_lateness_ms=0))
    started = time.perf_counter()
    run = run_campaign(engine, customers=args.customers, days=args.days, seed=args.seed)
    seconds = time.perf_counter() - started
    cut = min(r.at_ms for r in run.triggers) + args.learning_days * DAY_MS
    judged = [r for r in run.triggers if r.at_ms >= cut and not r.holdout]
    rng = random.Random(args.seed + 2)

    def effect(r: TriggerRecord, action: str) -> float:
        return ACTION_EFFECTS[r.segment][action]

    def best(r: TriggerRecord) -> str:
        return max(ACTION_COSTS, key=lambda a: effect(r, a) * VALUE - ACTION_COSTS[a])

    policies = {
        "always email": lambda r: "email",
        "always call": lambda r: "call",
        "random action": lambda r: rng.choice(list(ACTION_COSTS)),
        "bandit (ours)": lambda r: r.action or "email",
        "best action per customer": best,
    }
    rows = []
    for name, pick in policies.items():
        chosen = [(r, pick(r)) for r in judged]
        gain = sum(effect(r, a) for r, a in chosen)
        net = gain * VALUE - sum(ACTION_COSTS[a] for _, a in chosen)
        calls = sum(a == "call" for _, a in chosen) / len(chosen)
        rows.append([name, f"{gain:,.1f}", f"{gain / len(chosen) * 100:.1f}", f"{calls:.0%}", f"{net:,.0f}"])
    picks = {s: sum(r.action == "call" for r in judged if r.segment == s) / max(sum(r.segment == s for r in judged), 1)
             for s in SEGMENTS}  # fmt: skip
    head = ["actions (every non-holdout trigger contacted)", "incremental purchases", "per 100", "calls", "net value"]
    return (
        f"next best action: {len(judged):,} judged triggers ({run.events:,} events, {seconds:.0f} s); the bandit "
        f"calls {', '.join(f'{s} {share:.0%}' for s, share in picks.items())}\n" + format_table(head, rows)
    )


def _gain(records: list[TriggerRecord]) -> float:
    return sum(r.effect for r in records)


def _policy_table(judged: list[TriggerRecord], seed: int) -> str:
    ours = [r for r in judged if r.contacted]
    rng = random.Random(seed)
    randomly = rng.sample(judged, len(ours))
    best = [r for r in judged if r.effect * VALUE > COST]
    always_rate = _gain(judged) / len(judged)
    rows = []
    for name, contacts in (("always contact", judged), ("random, our volume", randomly),
                           ("uplift policy (ours)", ours), ("best possible", best)):  # fmt: skip
        gain = _gain(contacts)
        per = gain / len(contacts) if contacts else float("nan")
        net = gain * VALUE - COST * len(contacts)
        rows.append([name, f"{len(contacts):,}", f"{len(contacts) / len(judged):.0%}", f"{gain:,.1f}",
                     f"{per * 100:.1f}", f"{per / always_rate:.2f}x", f"{net:,.0f}"])  # fmt: skip
    head = ["policy", "contacts", "of always", "incremental purchases", "per 100 contacts", "vs always",
            f"net value ({VALUE:g}/purchase, {COST:g}/contact)"]  # fmt: skip
    return format_table(head, rows)


def _features(records: list[TriggerRecord]) -> tuple[list[str], np.ndarray]:
    names = sorted({k for r in records if r.x for k in r.x})
    return names, np.array([[(r.x or {}).get(n, 0.0) for n in names] for r in records])


def _qini_table(learning: list[TriggerRecord], later: list[TriggerRecord], seed: int) -> str:
    """Online vs offline ranking on a randomized trial the world draws over the later triggers."""
    train = [r for r in learning if r.converted is not None and (r.contacted or r.holdout) and r.x is not None]
    names, x_train = _features(train)
    y_train = np.array([int(bool(r.converted)) for r in train])
    t_train = np.array([int(r.contacted) for r in train])
    offline = TwoModels(estimator_trmnt=LogisticRegression(max_iter=2000), estimator_ctrl=LogisticRegression(
        max_iter=2000), method="vanilla")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        offline.fit(x_train, y_train, t_train)
    trial = [r for r in later if r.x is not None and r.predicted is not None]
    x_trial = np.array([[(r.x or {}).get(n, 0.0) for n in names] for r in trial])
    rng = random.Random(seed + 1)
    treatment = np.array([rng.random() < 0.5 for _ in trial], dtype=int)
    outcome = np.array([int(rng.random() < SEGMENTS[r.segment].base + SEGMENTS[r.segment].effect * t)
                        for r, t in zip(trial, treatment, strict=True)])  # fmt: skip
    truth = np.array([r.effect for r in trial])
    predictions = {
        "online (engine, at fire time)": np.array([r.predicted for r in trial], dtype=float),
        f"offline scikit-uplift TwoModels ({len(train):,} learning-period outcomes)": offline.predict(x_trial),
        "true effect (the world's)": truth,
    }
    rows = []
    for name, scores in predictions.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            qini = qini_auc_score(outcome, scores, treatment)
            at30 = uplift_at_k(outcome, scores, treatment, strategy="overall", k=0.3)
        top = np.argsort(-scores, kind="mergesort")[: len(scores) * 3 // 10]
        rows.append([name, f"{qini:.4f}", f"{at30:+.3f}", f"{truth[top].mean() * 100:+.1f}"])
    head = ["ranking", "Qini AUC (trial)", "uplift@30% (trial)", "true effect of top 30% (per 100)"]
    return (f"randomized trial over {len(trial):,} later triggers (half contacted at random):\n"
            + format_table(head, rows))  # fmt: skip


def _segment_table(judged: list[TriggerRecord]) -> str:
    rows = []
    for segment in SEGMENTS.values():
        mine = [r for r in judged if r.segment == segment.name]
        predicted = [r.predicted for r in mine if r.predicted is not None]
        rows.append([segment.name, f"{segment.effect * 100:+.0f}", f"{len(mine):,}",
                     f"{sum(r.contacted for r in mine) / max(len(mine), 1):.0%}",
                     f"{np.mean(predicted) * 100:+.1f}" if predicted else "-"])  # fmt: skip
    return format_table(["segment (hidden)", "true effect per 100", "triggers", "contacted", "mean predicted"], rows)


if __name__ == "__main__":
    sys.exit(main())
