"""The scorer: features, scores, delayed labels and trigger scores for the engine.

Per customer it keeps (inside :class:`CustomerState`, so it is durable with it) the running
features, a short score history per objective, and a few *pending predictions*: the features
and time of a score, waiting for its outcome.

Predictions are kept at regular times while a customer is tracked (every slice of the horizon
from their first event, through up to two horizons of silence, then at milestones of a growing
silence), never at events: at an event every recency feature is 0, so a model trained there would
see recency as a constant and could not learn what silence means; and scores are asked for at any
time (a cut-off, a moment's trigger), which regular samples match.

An outcome event within the window decides a prediction's label; the label is learned when
the label delay ends, whatever it is, by the customer's one timer (see :meth:`Scorer.on_rescore_timer`:
it fires only when a label is due, and the sampling clock catches up then). Learning known outcomes
at once while silence labels wait would teach from a biased mix (the recent returners, not yet the
recent leavers). A model therefore only ever learns a label after it became known, and each at the
same delay.
The models themselves are shared by all customers of a runtime.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import Any

from momentstream.core.schema import ExpectedSpend, Signals, TouchpointEvent
from momentstream.core.state import CustomerState
from momentstream.models.action_bandit import ActionBandit
from momentstream.models.features import DAY_MS, DEFAULT_FEATURES, FeatureSelector, anomaly_of
from momentstream.models.kept_predictions import KeptRow, Vector
from momentstream.models.objectives import WARMING_UP, Objective, ObjectivesError, ObjectiveSet
from momentstream.models.online import ObjectiveModel
from momentstream.models.reason_groups import group_reasons
from momentstream.models.score_conditions import failed_condition
from momentstream.models.score_records import LabelRecord, TriggerScore
from momentstream.models.scoring_state import HISTORY, ScoringState
from momentstream.models.snapshot_codec import (
    SNAPSHOT_FORMAT,
    Refusal,
    SharedModel,
    SnapshotRefusedError,
    decode_snapshot,
    encode_snapshot,
)
from momentstream.models.uplift import UpliftModel
from momentstream.patterns.nfa import CompiledMoment

__all__ = [
    "LABEL_TIMER",
    "RESCORE_OWNER",
    "RESCORE_TIMER",
    "SNAPSHOT_FORMAT",
    "LabelRecord",
    "PoisonedModelError",
    "Refusal",
    "Scorer",
    "ScoringState",
    "TriggerScore",
    "anomaly_of",
]

LABEL_TIMER = "label"
"""Timer kind of a label horizon; the timer's moment field is ``~<objective>``."""
RESCORE_TIMER = "rescore"
"""Timer kind of a silent-period prediction; its moment field is :data:`RESCORE_OWNER`."""
RESCORE_OWNER = "~rescore"

logger = logging.getLogger(__name__)


class PoisonedModelError(ValueError):
    """A model holds NaN or infinite weights: it is neither published nor loaded."""


class Scorer:
    """Runs the objectives' models over customers' events for the :class:`Engine`."""

    def __init__(self, objectives: ObjectiveSet, keep_label_log: bool = False) -> None:
        self.models: dict[str, ObjectiveModel] = {}
        self.label_log: list[LabelRecord] | None = [] if keep_label_log else None
        self.silence_limit_ms: int | None = None
        """No sample after this much silence (the engine sets its idle TTL here, so customers can be forgotten)."""
        self.uplift_models: dict[str, UpliftModel] = {}
        """Per moment that decides by uplift (:mod:`momentstream.triggers.loop`); shared, snapshotted like models."""
        self.bandits: dict[str, ActionBandit] = {}
        """Per moment with actions."""
        self.snapshot_key: bytes | None = None
        """Signs (and checks) the snapshot entries of models that are not plain data (the worker's
        ``model_snapshot_key``); without one those models are left out of snapshots."""
        self.refusals: dict[str, int] = {}
        """Snapshots and snapshot entries refused by :meth:`restore`, by reason."""
        self._unsigned_warned: set[str] = set()
        self._configure(objectives)

    def replace_objectives(self, objectives: ObjectiveSet) -> list[str]:
        """Run these objectives from now on (a live reload); returns what changed, one line each.

        An objective that stays keeps its learned model; a new one starts a fresh model; a removed one's
        model and waiting predictions are let go. Changing what an objective learns from (its outcome,
        horizon, features, estimator …) under the same name is refused with :class:`ObjectivesError` before
        anything changes: the model would mix two meanings. Give it a new name to start afresh.
        """
        before = self._by_name
        changed = [o.name for o in objectives.objectives
                   if o.name in before and o.learning_key() != before[o.name].learning_key()]  # fmt: skip
        if changed:
            raise ObjectivesError(f"objective {changed[0]!r} changed what its model learns from (outcome, horizon, "
                                  "features or model settings): give it a new name to train a new model",
                                  moment=changed[0])  # fmt: skip
        names = {o.name for o in objectives.objectives}
        lines = [f"{n}: new model" for n in sorted(names - set(before))]
        lines += [f"{n}: removed" for n in sorted(set(before) - names)]
        if objectives.bindings != self.config.bindings or objectives.tiers != self.config.tiers:
            lines.append("tiers or moment bindings changed")
        self._configure(objectives)
        return lines

    def _configure(self, objectives: ObjectiveSet) -> None:
        self.config = objectives
        self.models = {
            o.name: self.models.get(o.name)
            or ObjectiveModel(o.name, o.learning_rate, o.optimizer, o.l2, o.estimator, o.average_ms)
            for o in objectives.objectives
        }
        self._by_name = {o.name: o for o in objectives.objectives}
        selectors: dict[tuple[str, ...], FeatureSelector] = {}  # objectives with the same features share one
        self._select: dict[str, FeatureSelector] = {}
        for o in objectives.objectives:
            patterns = o.features or DEFAULT_FEATURES
            self._select[o.name] = selectors.setdefault(patterns, FeatureSelector(patterns))
        self._rise_objectives = sorted({b.objective for b in objectives.bindings.values() if b.rise is not None})
        self._sample_step = min((o.sample_every_ms for o in objectives.objectives), default=DAY_MS)
        """The customer's sampling clock: the shortest slice of any objective's horizon."""
        self._longest = max((o.label_delay_ms for o in objectives.objectives), default=DAY_MS)
        self._shortest_delay = min((o.label_delay_ms for o in objectives.objectives), default=DAY_MS)
        self._default_select = selectors.setdefault(DEFAULT_FEATURES, FeatureSelector(DEFAULT_FEATURES))

    def add_loop_models(self, moments: tuple[CompiledMoment, ...]) -> None:
        """Models for the moments that decide by uplift or choose actions (kept if already there)."""
        for m in moments:
            loop = m.spec.loop
            if loop.decide is not None and m.name not in self.uplift_models:
                self.uplift_models[m.name] = UpliftModel(m.name)
            names = [a.name for a in loop.actions]
            bandit = self.bandits.get(m.name)
            if names and (bandit is None or bandit.actions != names):
                self.bandits[m.name] = ActionBandit(m.name, names, {a.name: a.cost for a in loop.actions}, loop.value)

    def loop_features(self, moment: str, state: CustomerState, now_ms: int) -> dict[str, float]:
        """The features a moment's uplift model and bandit see: its objective's, else the default features."""
        every = self.scoring(state).features.vector(now_ms)
        binding = self.config.bindings.get(moment)
        return self._features_of(binding.objective, every) if binding is not None else self._default_select(every)

    # -- engine hooks ----------------------------------------------------------------------
    def observe(self, state: CustomerState, event: TouchpointEvent, ts: int) -> list[tuple[int, str, str, int]]:
        """Label, update features and score for one event; returns the rescore timer to schedule, if it moved."""
        scoring = self.scoring(state)
        self._run_clock(state.customer_id, scoring, ts, inclusive=False)  # samples of the silence this event ends
        self._resolve_silence(state.customer_id, scoring, ts - 1, ts)
        for objective in self.config.objectives:
            if objective.outcome(event):
                self._resolve(scoring, objective, ts, objective.label_for_outcome(), event.value)
        scoring.features.update(event, ts)
        self._remember_scores(scoring, ts)
        if self.config.objectives and (scoring.rescore_at is None or scoring.rescore_at > ts + self._sample_step):
            # a new customer, or one back from a long silence (whose next milestone may be months away):
            # the regular clock starts again from this event
            scoring.rescore_at = ts + self._sample_step
        return self._wake(scoring, ts)

    def on_rescore_timer(self, state: CustomerState, fire_at: int) -> list[tuple[int, str, str, int]]:
        """A label may be due: run the customer's sampling clock up to now; returns the next timer.

        The clock keeps predictions every :attr:`_sample_step` from the customer's first event,
        whether they were active or not, until two label delays of silence. After that, at silence
        milestones (3, 4.5, 6.75 … label delays), so a model also learns what a long silence means
        at a cost of a few samples per customer; and it learns each kept prediction's label at its
        label delay. With an idle TTL (:attr:`silence_limit_ms`) no sample is taken once the
        customer has been silent that long, so when the last label is known no timer is left and
        the customer can be forgotten.

        The clock runs lazily. Features do not change between events, so a prediction kept during
        a silence is the same whether computed on time or later; the customer's one timer fires
        only when a label can be due (:meth:`_wake`), and the clock catches up then, or at the
        customer's next event, whichever is first. Every prediction, label and learning time is
        what a timer at every sample gave; a silent customer costs a wake-up per label, not one per
        sample as well.
        """
        scoring = self.scoring(state)
        expected = scoring.rescore_at if scoring.wake_at is None else scoring.wake_at
        if expected is not None and expected != fire_at:
            return []  # replaced by a newer timer
        scoring.wake_at = None
        self._run_clock(state.customer_id, scoring, fire_at, inclusive=True)
        self._resolve_silence(state.customer_id, scoring, fire_at, fire_at)
        return self._wake(scoring, fire_at + 1)

    def _run_clock(self, customer_id: str, scoring: ScoringState, until: int, inclusive: bool) -> None:
        """Every run of the sampling clock due before ``until`` (or at it, if ``inclusive``), in order."""
        while (at := scoring.rescore_at) is not None and (at < until or (inclusive and at == until)):
            self._tick(customer_id, scoring, at)

    def _tick(self, customer_id: str, scoring: ScoringState, now: int) -> None:
        """One run of the sampling clock at ``now``: learn the labels due, keep predictions, set its next run."""
        scoring.rescore_at = None
        self._resolve_silence(customer_id, scoring, now, now)
        last = scoring.features.last_ms
        if last is None:
            return
        step, longest, limit = self._sample_step, self._longest, self.silence_limit_ms
        silent_for = now - last
        sampled = max(scoring.kept_at.values(), default=last) - last
        due = silent_for < 2 * longest + step or silent_for >= _milestone_after(sampled, longest)
        if due and (limit is None or silent_for < limit):
            self._keep_predictions(scoring, now)
        runs = _first_deadlines(scoring)
        next_sample = now + step if silent_for < 2 * longest else last + _milestone_after(silent_for, longest)
        if limit is None or next_sample - last < limit:
            runs.append(next_sample)
        if runs:
            scoring.rescore_at = max(min(runs), now + 1)

    def _wake(self, scoring: ScoringState, earliest: int) -> list[tuple[int, str, str, int]]:
        """The customer's timer, at the first time a label can be due (a new one only if that moved)."""
        due = _first_deadlines(scoring)
        if scoring.rescore_at is not None:  # predictions the clock will keep are due one label delay later
            due.append(scoring.rescore_at + self._shortest_delay)
        if not due:
            scoring.wake_at = None
            return []
        wake = max(min(due), earliest)
        if wake == scoring.wake_at:
            return []
        scoring.wake_at = wake
        return [(wake, RESCORE_TIMER, RESCORE_OWNER, 0)]

    def _remember_scores(self, scoring: ScoringState, now: int) -> None:
        """At an event, score the objectives a ``rise`` condition watches, for their score history."""
        if not self._rise_objectives:
            return
        every = scoring.features.vector(now)
        for name in self._rise_objectives:
            p = self.models[name].score(self._features_of(name, every))
            if not math.isnan(p):
                scoring.history.setdefault(name, deque(maxlen=HISTORY)).append((now, p))

    def _keep_predictions(self, scoring: ScoringState, now: int) -> None:
        """Keep a prediction as of ``now`` for each objective whose slice of the horizon has none yet."""
        every: dict[str, float] | None = None
        chosen: dict[int, tuple[dict[str, float], Vector]] = {}  # by selector: the same features, stored once
        kept = scoring.pending
        for objective in self.config.objectives:
            last_kept = scoring.kept_at.get(objective.name)
            if last_kept is not None and now - last_kept < objective.sample_every_ms:
                continue  # one kept prediction per slice of the horizon is enough to learn from
            every = scoring.features.vector(now) if every is None else every
            scoring.next_ref += 1
            scoring.kept_at[objective.name] = now
            select = self._select[objective.name]
            x, vector = chosen.get(id(select)) or (select(every), None)
            vector = kept.add(objective.name, scoring.next_ref, now, now + objective.label_delay_ms, x, vector)
            chosen[id(select)] = (x, vector)
            if kept.count(objective.name) > objective.pending_cap:
                kept.drop_oldest(objective.name)

    def _resolve_silence(self, customer_id: str, scoring: ScoringState, now: int, learned_at: int) -> None:
        """Kept predictions whose label delay ended by ``now`` are learned, oldest first: the outcome's label if
        one came, else the silence label.

        Every label is learned at its deadline, even one known earlier. Learning outcomes at once while
        silence labels wait would teach from a biased mix: at any moment, the recent returners but not
        yet the recent leavers. On CDNOW that taught "long silence, will come back" (validation AUC
        0.39, while days since the last purchase alone gave 0.72).
        """
        for name, due in scoring.pending.take_all_due(now):
            objective = self._by_name.get(name)
            if objective is not None:
                silence = objective.label_for_silence()
                for pending in due:
                    label = silence if pending.label is None else pending.label
                    self._learn(customer_id, objective, pending, learned_at, label)

    def on_label_timer(self, state: CustomerState, moment: str, ref: int, fire_at: int) -> None:
        """A horizon passed with no outcome: the kept prediction gets the silence label (the timers of
        states stored before labels were resolved in batches)."""
        objective = self._by_name.get(moment.removeprefix("~"))
        if objective is None:
            return
        pending = self.scoring(state).pending.take_ref(objective.name, ref, fire_at)
        if pending is not None:
            label = objective.label_for_silence() if pending.label is None else pending.label
            self._learn(state.customer_id, objective, pending, fire_at, label)

    def trigger_score(self, state: CustomerState, moment: str, now_ms: int) -> TriggerScore | None:
        """The score a trigger of ``moment`` carries (None if the moment has no objective)."""
        binding = self.config.bindings.get(moment)
        if binding is None:
            return None
        objective = self._by_name[binding.objective]
        model = self.models[objective.name]
        scoring = self.scoring(state)
        every = scoring.features.vector(now_ms)
        x = self._features_of(objective.name, every)
        p = model.score(x)
        if math.isnan(p):
            return None  # counted in model.skipped; the trigger goes out without a score rather than not at all
        warm = self.config.warm_up.warm(model.learned, model.quality()[0])
        value = self._expected_value(every)
        condition = failed_condition(binding, p, warm, scoring.history.get(objective.name, ()), every, now_ms,
                                     None if value is None or not value.warm else value.amount)  # fmt: skip
        tier = self.config.tier_for(p, lowered=1 if model.drifting else 0)
        if not warm:
            tier = WARMING_UP
        pushes = model.contributions(x)
        why = tuple(group_reasons(pushes, p, every))
        return TriggerScore(objective.name, round(p, 4), model.version, tier, objective.owner,
                            model.reasons(x, contributions=pushes), not condition, condition, why, value)  # fmt: skip

    def signals(self, state: CustomerState, now_ms: int) -> Signals:
        """What every trigger carries whether or not its moment is bound: the anomaly and the expected spend."""
        every = self.scoring(state).features.vector(now_ms)
        silence, burst = every.get("silence_anomaly", 0.0), every.get("burst_anomaly", 0.0)
        return Signals(anomaly=round(anomaly_of(every), 2), silence=round(silence, 2), burst=round(burst, 2),
                       value=self._expected_value(every))  # fmt: skip

    def _expected_value(self, every: dict[str, float]) -> ExpectedSpend | None:
        """The value objective's expected spend for these features (None: no value objective, or no amount)."""
        objective = self.config.value_objective
        if objective is None:
            return None
        model = self.models[objective.name]
        amount = model.score(self._features_of(objective.name, every))
        if math.isnan(amount):
            return None
        warm = self.config.warm_up.warm(model.learned, model.quality()[0])
        days = objective.horizon_ms / DAY_MS
        return ExpectedSpend(objective=objective.name, amount=round(amount, 2), horizon_days=days,
                             model_version=model.version, warm=warm)  # fmt: skip

    def scores_now(self, state: CustomerState, now_ms: int) -> dict[str, dict[str, Any]]:
        """Each objective's score for this customer at ``now_ms``, its tier and top reasons (a value objective's:
        the expected spend, and the factors that multiply it most), for a person reading the customer's story.
        Read only: nothing is learned, kept or scheduled."""
        every = self.scoring(state).features.vector(now_ms)
        found = {}
        for name, model in self.models.items():
            x = self._features_of(name, every)
            p = model.score(x)
            if math.isnan(p):
                continue
            pushes = model.contributions(x)
            if model.predicts_value:  # an amount: each reason multiplies it (a log link)
                found[name] = {"value": round(p, 2), "reasons": [{"feature": r.feature, "times": _times(r.contribution)}
                                                                 for r in pushes[:3]]}  # fmt: skip
                continue
            reasons = [{"feature": r.feature, "points": round(r.points, 1)}
                       for r in model.reasons(x, contributions=pushes)]  # fmt: skip
            why = [{"reason": g.reason, "says": g.says, "points": round(g.points, 1)}
                   for g in group_reasons(pushes, p, every)]  # fmt: skip
            found[name] = {"score": round(p, 4), "tier": self.config.tier_for(p, lowered=1 if model.drifting else 0),
                           "why": why, "reasons": reasons}  # fmt: skip
        return found

    def features_for(self, objective: str, state: CustomerState, now_ms: int) -> dict[str, float]:
        """The feature vector ``objective``'s model sees for this customer at ``now_ms``."""
        return self._features_of(objective, self.scoring(state).features.vector(now_ms))

    def _features_of(self, objective: str, every: dict[str, float]) -> dict[str, float]:
        """The features this objective's model uses (its ``model.features``, else :data:`DEFAULT_FEATURES`)."""
        return self._select[objective](every)

    # -- state -----------------------------------------------------------------------------
    @staticmethod
    def scoring(state: CustomerState) -> ScoringState:
        """The customer's scoring data, decoded on first use after a state was read back."""
        if isinstance(state.scoring, ScoringState):
            return state.scoring
        scoring = ScoringState() if state.scoring is None else ScoringState.from_list(state.scoring)
        state.scoring = scoring
        return scoring

    @staticmethod
    def _resolve(scoring: ScoringState, objective: Objective, ts: int, label: int, amount: float | None) -> None:
        """An outcome at ``ts`` decides the label of the predictions it falls in the window of (a value
        objective's adds its amount to theirs)."""
        adds = (amount or 0.0) if objective.kind == "value" else None
        scoring.pending.label_window(objective.name, ts, objective.outcome_after_ms, label, adds)

    def _learn(self, customer_id: str, objective: Objective, pending: KeptRow, now: int, label: float) -> None:
        self.models[objective.name].learn(pending.x, label, now)
        if self.label_log is not None:
            self.label_log.append(LabelRecord(customer_id, objective.name, pending.at_ms, now, label))

    # -- snapshots -------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The models, versioned, as data (see :mod:`momentstream.models.snapshot_codec`).

        Models that are not plain data are signed with :attr:`snapshot_key`, or left out without one
        (they start fresh after a restart). Raises :class:`PoisonedModelError` rather than write a model
        with non-finite weights.
        """
        shared = self._shared_models()
        poisoned = sorted(name for name, model in shared.items() if not model.is_finite())
        if poisoned:
            raise PoisonedModelError(f"models with non-finite weights are not published: {', '.join(poisoned)}")
        data, omitted = encode_snapshot(shared, self.snapshot_key)
        for name in sorted(set(omitted) - self._unsigned_warned):
            self._unsigned_warned.add(name)
            logger.warning("model %s is not plain data and no model_snapshot_key is set: it is left out of "
                           "snapshots and starts fresh after a restart", name)  # fmt: skip
        return data

    def restore(self, data: bytes) -> list[Refusal]:
        """Load :meth:`snapshot` bytes; objectives not in the snapshot keep fresh models.

        A snapshot that cannot be read, or of the pickled format 1, raises :class:`SnapshotRefusedError` (a
        ``ValueError``). Each model that is not loaded keeps a fresh model and is returned with its reason;
        every refusal is also counted in :attr:`refusals` for the workers' metric.
        """
        try:
            loaded, refused = decode_snapshot(data, self._shared_models(), self.snapshot_key)
        except SnapshotRefusedError as err:
            self.refusals[err.reason] = self.refusals.get(err.reason, 0) + 1
            raise
        for name, model in loaded.items():
            self._put(name, model)
        for refusal in refused:
            logger.error("model %s of the snapshot refused (%s): it starts fresh", refusal.name, refusal.reason)
            self.refusals[refusal.reason] = self.refusals.get(refusal.reason, 0) + 1
        return refused

    def _shared_models(self) -> dict[str, SharedModel]:
        """Every model shared by the customers, by its snapshot name (loop models prefixed ``~``)."""
        shared: dict[str, SharedModel] = dict(self.models)
        shared.update({f"~uplift:{name}": model for name, model in self.uplift_models.items()})
        shared.update({f"~actions:{name}": bandit for name, bandit in self.bandits.items()})
        return shared

    def _put(self, name: str, model: SharedModel) -> None:
        if isinstance(model, UpliftModel):
            self.uplift_models[name.removeprefix("~uplift:")] = model
        elif isinstance(model, ActionBandit):
            self.bandits[name.removeprefix("~actions:")] = model
        else:
            self.models[name] = model


def _times(log_factor: float) -> float:
    """A value reason's push as a factor on the amount (2.0: it doubles the expected spend).

    >>> _times(math.log(2.0)), _times(-800.0)
    (2.0, 0.0)
    """
    return round(math.exp(min(log_factor, 50.0)), 2)


def _first_deadlines(scoring: ScoringState) -> list[int]:
    """The first label deadline of the kept predictions, if any (a list, for the callers to add to)."""
    first = scoring.pending.next_deadline()
    return [] if first is None else [first]


def _milestone_after(silent_ms: int, horizon_ms: int) -> int:
    """The first silence milestone (2, 3, 4.5 … horizons) later than ``silent_ms``.

    >>> [_milestone_after(s, 10) for s in (0, 19, 20, 29, 30, 100)]
    [20, 20, 30, 30, 45, 150]
    """
    milestone = max(2 * horizon_ms, 2)  # grows by half of itself, so at least 2
    while milestone <= silent_ms:
        milestone = milestone * 3 // 2
    return milestone
