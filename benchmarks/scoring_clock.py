"""The sampling clock on CDNOW: run lazily (a wake-up when a label is due) against a timer at every sample.

The moments ``discover`` writes for the public CDNOW log are replayed with the objective it writes beside
them (purchase within 90 days), once with the clock as it ran before (the customer's timer fires at every
sample, every 22.5 days, and at every label) and once as it runs now (the timer fires only when a label
is due; the samples of a silence are computed then, or at the customer's next event). Printed side by side
in one run:

* events/s per quarter of the history and overall, and the customers' timer wake-ups;
* the labels learned (count, positives, and whether the two runs learned the very same predictions with
  the same labels at the same times), the progressive AUC, and the holdout AUC of the model as it stood at
  three cut-offs (every customer scored then; truth: a purchase within the next 90 days);
* labels learned per event in each quarter: why neither run is flat on this history.

    python benchmarks/scoring_clock.py
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from momentstream.cli.demo import default_engine
from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine
from momentstream.core.schema import TouchpointEvent
from momentstream.models.binned_auc import BinnedAUC
from momentstream.models.scorer import RESCORE_OWNER, RESCORE_TIMER, Scorer
from momentstream.models.scoring_state import ScoringState
from momentstream.ops.textable import format_table
from momentstream.runtime.replay.runner import ReplayRunner
from own_data import READ, cdnow, discover_cdnow, timed_read

CUTS = [datetime(1997, 7, 1, tzinfo=UTC), datetime(1997, 10, 1, tzinfo=UTC), datetime(1998, 1, 1, tzinfo=UTC)]


class TimerAtEverySample(Scorer):
    """The clock as it ran before: the customer's timer fires at each of its runs, samples as well as labels."""

    def _wake(self, scoring: ScoringState, earliest: int) -> list[tuple[int, str, str, int]]:
        at = scoring.rescore_at
        if at is None or at == scoring.wake_at:
            scoring.wake_at = at
            return []
        scoring.wake_at = at
        return [(at, RESCORE_TIMER, RESCORE_OWNER, 0)]


class Run:
    """One scored replay: rates per quarter, wake-ups, the label log and the scores at the cut-offs."""

    def __init__(self, engine: Engine, events: list[TouchpointEvent]) -> None:
        scorer = engine.scorer
        assert scorer is not None
        scorer.label_log = []
        self.scorer = scorer
        self.name = next(iter(scorer.models))
        self.wakes = 0
        wake = scorer.on_rescore_timer

        def counted(state: object, fire_at: int) -> list[tuple[int, str, str, int]]:
            self.wakes += 1
            return wake(state, fire_at)  # type: ignore[arg-type]

        scorer.on_rescore_timer = counted  # type: ignore[method-assign,assignment]
        runner = ReplayRunner(engine)
        size = len(events) // 4
        self.cut_scores: dict[datetime, dict[str, float]] = {}
        self.labels_by_quarter = [0] * 4
        scoring_cuts = 0.0
        marks = [time.perf_counter()]
        cuts = iter(CUTS)
        cut = next(cuts, None)
        for i, event in enumerate(events, 1):
            if cut is not None and event.ts >= cut:
                started = time.perf_counter()
                self._score_everyone(runner, cut)
                scoring_cuts += time.perf_counter() - started
                cut = next(cuts, None)
            runner.feed(event)
            if i % size == 0 and len(marks) < 5:
                marks.append(time.perf_counter() - scoring_cuts)
                self.labels_by_quarter[len(marks) - 2] = len(scorer.label_log)
        runner.finish()
        self.rates = [size / (b - a) for a, b in itertools.pairwise(marks)]
        self.overall = 4 * size / (marks[-1] - marks[0])
        self.labels_by_quarter = [b - a for a, b in itertools.pairwise([0, *self.labels_by_quarter])]

    def _score_everyone(self, runner: ReplayRunner, cut: datetime) -> None:
        at = to_ms(cut)
        runner.tick(at)
        model = self.scorer.models[self.name]
        self.cut_scores[cut] = {c: model.score(self.scorer.features_for(self.name, s, at))
                                for c, s in runner.states.items()}  # fmt: skip

    def labels(self) -> list[tuple[str, int, int, int]]:
        return sorted((r.customer_id, r.predicted_at, r.labelled_at, r.label) for r in self.scorer.label_log or [])


def holdout_auc(scores: dict[str, float], bought: dict[str, list[datetime]], cut: datetime) -> float:
    auc = BinnedAUC()
    for customer, score in scores.items():
        auc.update(any(cut < t <= cut + timedelta(days=90) for t in bought[customer]), score)
    return auc.get()


def main() -> int:
    source = cdnow()
    events, _ = timed_read(source, READ)
    events.sort(key=lambda e: e.ts)
    bought: dict[str, list[datetime]] = {}
    for e in events:
        bought.setdefault(e.customer_id, []).append(e.ts)
    with tempfile.TemporaryDirectory() as folder:
        moments, objectives = discover_cdnow(source, Path(folder))
        runs = {}
        for label, clock in (("a timer at every sample (before)", TimerAtEverySample), ("lazy (now)", Scorer)):
            engine = default_engine(moments, None, objectives, True, only_bound=True)
            assert engine.scorer is not None
            engine = Engine(engine.moments, engine.config, clock(engine.scorer.config))
            runs[label] = Run(engine, events)
            print(f"  {label}: {runs[label].overall:,.0f} events/s", file=sys.stderr)
    header = ["clock", "Q1", "Q2", "Q3", "Q4", "overall", "wake-ups"]
    print("replay of the moments discover wrote for CDNOW, scored by the objective it wrote, events/s")
    print(format_table(header, [[label, *(f"{r:,.0f}" for r in run.rates), f"{run.overall:,.0f}", f"{run.wakes:,}"]
                                for label, run in runs.items()]))  # fmt: skip
    print("\nwhat the model learned")
    rows = []
    for label, run in runs.items():
        model = run.scorer.models[run.name]
        log = run.scorer.label_log or []
        aucs = [f"{holdout_auc(run.cut_scores[c], bought, c):.4f}" for c in CUTS]
        rows.append([label, f"{len(log):,}", f"{sum(r.label for r in log):,}", f"{model.quality()[0]:.4f}", *aucs])
    print(format_table(["clock", "labels", "positives", "progressive AUC",
                        *(f"holdout AUC {c.date()}" for c in CUTS)], rows))  # fmt: skip
    before, now = runs.values()
    same = before.labels() == now.labels()
    print(f"the same predictions, labels and learning times in both runs: {'yes' if same else 'NO'}")
    quarter = len(events) // 4
    print("\nlabels learned per event, by quarter of the history (the lazy run)")
    print(format_table(["Q1", "Q2", "Q3", "Q4"], [[f"{n / quarter:.1f}" for n in now.labels_by_quarter]]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
