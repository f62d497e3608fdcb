"""Expected spend on the public CDNOW log: the bundled value objective beside BG/NBD + Gamma-Gamma.

The calibration purchases (before 1997-10-01, as in ``churn_quality.py``) are replayed as events
through the engine with the bundled ``value`` objective (expected spend over 90 days, a Poisson
regression learned online from delayed labels), unchanged. At the cut-off every customer is scored,
and the truth is what they spent in the next 90 days. The anchors are what an analyst fits offline
on the same calibration data with ``lifetimes``: BG/NBD (and Pareto/NBD) expected purchases over 90
days times Gamma-Gamma's expected order value, the usual customer-lifetime-value pair. Two naive
lines show what the figures mean: predicting 0 for everyone, and "the last 90 days repeat".

Mean absolute error favours predictions near the median, which is 0 for most customers (79% of
them spend nothing in a 90-day window), so the zero line is printed and the error is read with the
rank correlation (who is worth more) and the total (is the scale right) beside it.

    python benchmarks/value_cdnow.py
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
from lifetimes.utils import summary_data_from_transaction_data

from churn_quality import CUTOFF, calibration_events, load_cdnow
from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine
from momentstream.data import bundled_objectives_path
from momentstream.models.objectives import load_objectives
from momentstream.models.scorer import Scorer
from momentstream.ops.textable import format_table
from momentstream.runtime.replay.runner import ReplayRunner


def our_predictions(frame: pd.DataFrame) -> tuple[dict[str, float], str, float, int]:
    """Replay the calibration purchases with the bundled value objective; each customer's amount at the cut-off."""
    bundled = load_objectives(bundled_objectives_path())
    value = bundled.value_objective
    assert value is not None, "the bundled objectives have no value objective"
    scorer = Scorer(replace(bundled, objectives=(value,), bindings={}))
    runner = ReplayRunner(Engine([], scorer=scorer))
    events = calibration_events(frame)
    started = time.perf_counter()
    for event in events:
        runner.feed(event)
    cutoff = to_ms(CUTOFF)
    runner.finish(cutoff)
    rate = len(events) / (time.perf_counter() - started)
    model = scorer.models[value.name]
    amounts = {c: model.score(scorer.features_for(value.name, s, cutoff)) for c, s in runner.states.items()}
    return amounts, value.name, rate, model.learned


def btyd_spend(frame: pd.DataFrame, fitter: BetaGeoFitter | ParetoNBDFitter, days: int) -> dict[str, float]:
    """Expected purchases in ``days`` (``fitter``) x Gamma-Gamma's expected order value, fitted on the calibration
    period only (Gamma-Gamma on repeat buyers, as its authors fit it; first-time buyers get its population mean)."""
    calibration = frame[frame["ts"] < CUTOFF].copy()
    calibration["day"] = calibration["ts"].dt.tz_localize(None)
    summary = summary_data_from_transaction_data(calibration, "customer", "day", monetary_value_col="amount",
                                                 freq="D", observation_period_end=CUTOFF.replace(tzinfo=None)
                                                 - pd.Timedelta(days=1))  # fmt: skip
    fitter.fit(summary["frequency"], summary["recency"], summary["T"])
    expected = fitter.conditional_expected_number_of_purchases_up_to_time(
        days, summary["frequency"], summary["recency"], summary["T"]
    )
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    gamma = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"])
    order_value = gamma.conditional_expected_average_profit(summary["frequency"], summary["monetary_value"])
    spend = np.asarray(expected * order_value, dtype=float)
    return dict(zip(summary.index.astype(str), spend, strict=True))


def row(name: str, predicted: np.ndarray, truth: np.ndarray) -> list[str]:
    """MAE, RMSE, Spearman rank correlation and total of one prediction against the holdout spend."""
    error = predicted - truth
    spread = np.ptp(predicted) > 0
    rank = pd.Series(predicted).rank().corr(pd.Series(truth).rank()) if spread else math.nan
    return [name, f"{np.abs(error).mean():.2f}", f"{math.sqrt((error**2).mean()):.2f}",
            "n/a" if math.isnan(rank) else f"{rank:.3f}", f"{predicted.sum():,.0f}"]  # fmt: skip


def main() -> int:
    frame = load_cdnow()
    ours, objective, rate, learned = our_predictions(frame)
    days = 90
    end = CUTOFF + timedelta(days=days)
    holdout = frame[(frame["ts"] >= CUTOFF) & (frame["ts"] < end)].groupby("customer")["amount"].sum()
    cohort = sorted(ours)
    truth = np.array([holdout.get(c, 0.0) for c in cohort])
    print(f"CDNOW: {len(cohort):,} customers at {CUTOFF.date()}; {float((truth == 0).mean()):.1%} spend nothing in "
          f"the next {days} days, {truth.sum():,.0f} in all", file=sys.stderr)  # fmt: skip
    recent = frame[(frame["ts"] >= CUTOFF - timedelta(days=days)) & (frame["ts"] < CUTOFF)]
    last = recent.groupby("customer")["amount"].sum()
    bg = btyd_spend(frame, BetaGeoFitter(penalizer_coef=0.0), days)
    pareto = btyd_spend(frame, ParetoNBDFitter(penalizer_coef=0.0), days)
    predictions = {
        f"momentstream online, bundled '{objective}' objective (default)": np.array([ours[c] for c in cohort]),
        "BG/NBD x Gamma-Gamma (lifetimes, fitted offline)": np.array([bg[c] for c in cohort]),
        "Pareto/NBD x Gamma-Gamma (lifetimes, fitted offline)": np.array([pareto[c] for c in cohort]),
        "the last 90 days repeat": np.array([last.get(c, 0.0) for c in cohort]),
        "zero for everyone": np.zeros(len(cohort)),
    }
    print(format_table([f"spend in the {days} days after {CUTOFF.date()}", "MAE", "RMSE", "Spearman", "total"],
                       [row(name, p, truth) for name, p in predictions.items()]))  # fmt: skip
    print(f"actual total: {truth.sum():,.0f}; ours learned {learned:,} labels online, replay {rate:,.0f} events/s")
    mae = {name: float(np.abs(p - truth).mean()) for name, p in predictions.items()}
    ours_mae = next(iter(mae.values()))
    print(f"ratio value MAE ours/pareto-nbd-gamma-gamma: {ours_mae / mae[list(mae)[2]]:.2f}")
    print(f"ratio value MAE ours/gamma-gamma: {ours_mae / mae[list(mae)[1]]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
