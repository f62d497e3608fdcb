"""Expected spend: the bundled value objective beside BG/NBD + Gamma-Gamma, on CDNOW and on Pareto/NBD buyers.

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

The same comparison runs first on buyers drawn from the Pareto/NBD and Gamma-Gamma models with the
parameters published for CDNOW (:mod:`momentstream.sim.btyd`), where one more line is the ceiling:
expected spend under the generator's own parameters, which no real model knows.

    python benchmarks/value_quality.py [--customers 10000]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
from lifetimes.utils import summary_data_from_transaction_data

from churn_quality import CUTOFF, load_cdnow
from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine
from momentstream.core.schema import TouchpointEvent
from momentstream.data import bundled_objectives_path
from momentstream.models.objectives import load_objectives
from momentstream.models.scorer import Scorer
from momentstream.ops.textable import format_table
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.btyd import CDNOW_GAMMA_GAMMA, CDNOW_PARETO_NBD, simulate_btyd

DAYS = 90
"""The bundled value objective's horizon: spend is predicted, and judged, over the next 90 days."""


def purchases_before(frame: pd.DataFrame, cutoff: datetime) -> list[TouchpointEvent]:
    """The purchases before ``cutoff`` (columns customer, ts, amount), as events in time order."""
    seen = frame[frame["ts"] < cutoff].sort_values(["ts", "customer"], kind="stable")
    return [TouchpointEvent(event_id=f"{row.customer}-{i}", customer_id=row.customer, type="purchase", channel="web",
                            ts=row.ts.to_pydatetime(), value=float(row.amount))
            for i, row in enumerate(seen.itertuples())]  # fmt: skip


def our_predictions(frame: pd.DataFrame, cutoff: datetime,
                    features: tuple[str, ...] | None) -> tuple[dict[str, float], str, float, int]:  # fmt: skip
    """Replay the purchases before ``cutoff`` with the bundled value objective (other ``features``, if given); each
    customer's amount then."""
    bundled = load_objectives(bundled_objectives_path())
    value = bundled.value_objective
    assert value is not None, "the bundled objectives have no value objective"
    if features is not None:
        value = replace(value, features=features)
    scorer = Scorer(replace(bundled, objectives=(value,), bindings={}))
    runner = ReplayRunner(Engine([], scorer=scorer))
    events = purchases_before(frame, cutoff)
    started = time.perf_counter()
    for event in events:
        runner.feed(event)
    at = to_ms(cutoff)
    runner.finish(at)
    rate = len(events) / (time.perf_counter() - started)
    model = scorer.models[value.name]
    amounts = {c: model.score(scorer.features_for(value.name, s, at)) for c, s in runner.states.items()}
    return amounts, value.name, rate, model.learned


def calibration_summary(frame: pd.DataFrame, cutoff: datetime) -> pd.DataFrame:
    """``lifetimes``' frequency, recency, age and mean repeat spend per customer, from purchases before ``cutoff``."""
    calibration = frame[frame["ts"] < cutoff].copy()
    calibration["day"] = calibration["ts"].dt.tz_localize(None)
    end = cutoff.replace(tzinfo=None) - pd.Timedelta(days=1)
    return summary_data_from_transaction_data(calibration, "customer", "day", monetary_value_col="amount", freq="D",
                                              observation_period_end=end)  # fmt: skip


def btyd_spend(summary: pd.DataFrame, fitter: BetaGeoFitter | ParetoNBDFitter,
               gamma: GammaGammaFitter | None = None) -> dict[str, float]:  # fmt: skip
    """Expected purchases in :data:`DAYS` (``fitter``) x Gamma-Gamma's expected order value. Both are fitted on the
    summary unless given fitted (Gamma-Gamma on repeat buyers, as its authors fit it; first-time buyers get its
    population mean)."""
    if not hasattr(fitter, "params_"):
        fitter.fit(summary["frequency"], summary["recency"], summary["T"])
    expected = fitter.conditional_expected_number_of_purchases_up_to_time(
        DAYS, summary["frequency"], summary["recency"], summary["T"]
    )
    if gamma is None:
        repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        gamma = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"])
    order_value = gamma.conditional_expected_average_profit(summary["frequency"], summary["monetary_value"])
    spend = np.asarray(expected * order_value, dtype=float)
    return dict(zip(summary.index.astype(str), spend, strict=True))


def generator_spend(summary: pd.DataFrame) -> dict[str, float]:
    """The ceiling on generated buyers: expected spend under the generator's own Pareto/NBD and Gamma-Gamma
    parameters (per day; the generator draws weekly rates), which no real model knows."""
    pareto = ParetoNBDFitter()
    pn = CDNOW_PARETO_NBD
    pareto.params_ = pd.Series({"r": pn["r"], "alpha": pn["alpha"] * 7, "s": pn["s"], "beta": pn["beta"] * 7})
    gamma = GammaGammaFitter()
    gg = CDNOW_GAMMA_GAMMA
    gamma.params_ = pd.Series({"p": gg["p"], "q": gg["q"], "v": gg["gamma"]})  # lifetimes names gamma v
    return btyd_spend(summary, pareto, gamma)


def row(name: str, predicted: np.ndarray, truth: np.ndarray) -> list[str]:
    """MAE, RMSE, Spearman rank correlation and total of one prediction against the holdout spend."""
    error = predicted - truth
    spread = np.ptp(predicted) > 0
    rank = pd.Series(predicted).rank().corr(pd.Series(truth).rank()) if spread else math.nan
    return [name, f"{np.abs(error).mean():.2f}", f"{math.sqrt((error**2).mean()):.2f}",
            "n/a" if math.isnan(rank) else f"{rank:.3f}", f"{predicted.sum():,.0f}"]  # fmt: skip


def compare(
    title: str, frame: pd.DataFrame, cutoff: datetime, ceiling: bool, features: tuple[str, ...] | None
) -> float:
    """Print the table for one history; returns MAE ours / BG/NBD x Gamma-Gamma."""
    ours, objective, rate, learned = our_predictions(frame, cutoff, features)
    holdout = frame[(frame["ts"] >= cutoff) & (frame["ts"] < cutoff + timedelta(days=DAYS))]
    spent = holdout.groupby("customer")["amount"].sum()
    cohort = sorted(ours)
    truth = np.array([spent.get(c, 0.0) for c in cohort])
    recent = frame[(frame["ts"] >= cutoff - timedelta(days=DAYS)) & (frame["ts"] < cutoff)]
    last = recent.groupby("customer")["amount"].sum()
    summary = calibration_summary(frame, cutoff)
    bg = btyd_spend(summary, BetaGeoFitter(penalizer_coef=0.0))
    pareto = btyd_spend(summary, ParetoNBDFitter(penalizer_coef=0.0))
    predictions = {
        f"momentstream online, bundled '{objective}' objective "
        + ("(default)" if features is None else "(--features)"): np.array([ours[c] for c in cohort]),
        "BG/NBD x Gamma-Gamma (lifetimes, fitted offline)": np.array([bg[c] for c in cohort]),
        "Pareto/NBD x Gamma-Gamma (lifetimes, fitted offline)": np.array([pareto[c] for c in cohort]),
        f"the last {DAYS} days repeat": np.array([last.get(c, 0.0) for c in cohort]),
        "zero for everyone": np.zeros(len(cohort)),
    }
    if ceiling:
        truth_model = generator_spend(summary)
        predictions["generator's own parameters (ceiling)"] = np.array([truth_model[c] for c in cohort])
    print(f"\n{title}: {len(cohort):,} customers at {cutoff.date()}; {float((truth == 0).mean()):.1%} spend nothing "
          f"in the next {DAYS} days, {truth.sum():,.0f} in all")  # fmt: skip
    print(format_table([f"spend in the {DAYS} days after {cutoff.date()}", "MAE", "RMSE", "Spearman", "total"],
                       [row(name, p, truth) for name, p in predictions.items()]))  # fmt: skip
    mae = [float(np.abs(p - truth).mean()) for p in predictions.values()]
    print(f"ours learned {learned:,} labels online, replay {rate:,.0f} events/s; MAE ours / Pareto/NBD x Gamma-Gamma "
          f"{mae[0] / mae[2]:.2f}")  # fmt: skip
    return mae[0] / mae[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=10_000, help="generated Pareto/NBD buyers (default 10000)")
    parser.add_argument("--features", help="the value model's features instead of the bundled ones, comma-separated "
                        "names or patterns (e.g. 'log_monetary_*,log_purchases_*'); the ratio lines then are not the "
                        "default's")  # fmt: skip
    args = parser.parse_args()
    features = tuple(args.features.split(",")) if args.features else None
    history = simulate_btyd(args.customers, 540, seed=7)
    generated = pd.DataFrame({"customer": [e.customer_id for e in history.events], "ts": [e.ts for e in history.events],
                              "amount": [float(e.value or 0.0) for e in history.events]})  # fmt: skip
    generated["ts"] = pd.to_datetime(generated["ts"], utc=True)
    btyd_ratio = compare("Pareto/NBD buyers (sim.btyd, CDNOW's published parameters)", generated,
                         history.start + timedelta(days=450), ceiling=True, features=features)  # fmt: skip
    print(f"ratio value MAE ours/gamma-gamma on the generated buyers: {btyd_ratio:.2f}")
    cdnow_ratio = compare("CDNOW (lifetimes)", load_cdnow(), CUTOFF, ceiling=False, features=features)
    print(f"ratio value MAE ours/gamma-gamma: {cdnow_ratio:.2f}", file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
