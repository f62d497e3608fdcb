"""Delayed labels (never from the future), tiers and owners, conditions, drift, snapshots."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from momentstream.cli.demo import default_engine
from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import TouchpointEvent, Trigger, TriggerSuppressed
from momentstream.core.state import CustomerState
from momentstream.data import bundled_moments_path, bundled_objectives_path
from momentstream.models.objectives import WARMING_UP, ObjectivesError, load_objectives, parse_objectives
from momentstream.models.online import RECOVERY_SAMPLES
from momentstream.models.scorer import Scorer
from momentstream.patterns.dsl import load_moments
from momentstream.patterns.errors import PatternError
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.journeys import simulate


@pytest.fixture(scope="module")
def journeys() -> list[TouchpointEvent]:
    return simulate(200, 120, 4).events


def scored_run(events: list[TouchpointEvent], objectives: object = None) -> tuple[Scorer, list[object]]:
    scorer = Scorer(objectives or load_objectives(bundled_objectives_path()), keep_label_log=True)  # type: ignore[arg-type]
    engine = Engine(load_moments(bundled_moments_path()), scorer=scorer)
    outputs = list(ReplayRunner(engine).run(events, until=2**62))
    return scorer, outputs


def test_every_label_is_learned_once_it_became_known_and_is_right(journeys: list[TouchpointEvent]) -> None:
    """An independent check from the raw events: the label, and that it is learned when its delay ends."""
    scorer, _ = scored_run(journeys)
    objectives = {o.name: o for o in load_objectives(bundled_objectives_path()).objectives}
    by_customer: dict[str, list[TouchpointEvent]] = defaultdict(list)
    for e in journeys:
        by_customer[e.customer_id].append(e)
    assert scorer.label_log
    for record in scorer.label_log:
        objective = objectives[record.objective]
        deadline = record.predicted_at + objective.outcome_after_ms + objective.horizon_ms
        counted_from = record.predicted_at + objective.outcome_after_ms
        outcomes = [e for e in by_customer[record.customer_id]
                    if objective.outcome(e) and counted_from < to_ms(e.ts) <= deadline]  # fmt: skip
        if objective.kind == "value":  # what the customer spent within the window
            assert record.label == pytest.approx(sum(e.value or 0.0 for e in outcomes))
        else:
            assert record.label == (objective.label_for_outcome() if outcomes else objective.label_for_silence())
        # Outcome or silence, learned when its delay ends, not before: known outcomes are not learned earlier,
        # or the model would learn the returners before the leavers; and not later either, silent or not.
        assert record.labelled_at == deadline
        assert record.labelled_at > record.predicted_at  # never from the future


def test_outcomes_and_silences_are_learned_at_the_same_delay_after_their_prediction() -> None:
    """CDNOW's lesson: with outcomes learned at once, a model saw long-silent customers who came back months
    before it saw those who did not, and learned that a long silence means loyalty."""
    scorer = Scorer(parse_objectives(CHURN_30D), keep_label_log=True)
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    events = [TouchpointEvent(event_id=f"{c}{d}", customer_id=c, type="login", ts=t0 + timedelta(days=d))
              for c, d in (("back", 0), ("gone", 0), ("back", 10))]  # fmt: skip
    list(ReplayRunner(Engine([], scorer=scorer)).run(events, until=to_ms(t0 + timedelta(days=60))))
    first = {r.customer_id: r for r in reversed(scorer.label_log or [])}
    assert first["back"].label == 0
    assert first["gone"].label == 1
    assert first["back"].labelled_at - first["back"].predicted_at >= 30 * 86_400_000
    assert first["gone"].labelled_at - first["gone"].predicted_at >= 30 * 86_400_000


def test_every_kept_prediction_is_labelled_once_its_horizon_ends(journeys: list[TouchpointEvent]) -> None:
    """Silent customers too: after their rescoring ends, their last predictions still learn silence."""
    scorer = Scorer(load_objectives(bundled_objectives_path()), keep_label_log=True)
    runner = ReplayRunner(Engine(load_moments(bundled_moments_path()), scorer=scorer))
    list(runner.run(journeys, until=2**62))
    assert scorer.label_log
    assert runner.states  # nobody evicted (no idle TTL): their scoring state can be inspected
    assert sum(len(Scorer.scoring(state).pending) for state in runner.states.values()) == 0  # all labelled
    assert len(scorer.label_log) == sum(state.scoring.next_ref for state in runner.states.values())  # type: ignore[union-attr]


def test_a_customer_who_goes_silent_for_good_teaches_the_churn_model_silence() -> None:
    t0 = 1_700_000_000_000
    scorer = Scorer(load_objectives(bundled_objectives_path()), keep_label_log=True)
    runner = ReplayRunner(Engine(load_moments(bundled_moments_path()), scorer=scorer))
    event = TouchpointEvent(event_id="e1", customer_id="gone", type="purchase", value=10.0,
                            ts=datetime.fromtimestamp(t0 / 1000, tz=UTC))  # fmt: skip
    list(runner.run([event], until=t0 + 400 * 86_400_000))
    churn = [r for r in scorer.label_log or [] if r.objective == "churn"]
    assert len(churn) >= 8  # one kept prediction per slice of the horizon, for two horizons of silence
    assert {r.label for r in churn} == {1}  # silence means churn
    assert Scorer.scoring(runner.states["gone"]).pending.count("churn") == 0


def test_models_learn_something_real(journeys: list[TouchpointEvent]) -> None:
    scorer, _ = scored_run(journeys)
    churn = scorer.models["churn"]
    assert churn.learned > 1000
    assert churn.quality()[0] > 0.75  # progressive validation: scored before learning each label


def test_triggers_carry_score_tier_owner_and_reasons(journeys: list[TouchpointEvent]) -> None:
    _, outputs = scored_run(journeys)
    triggers = [o for o in outputs if isinstance(o, Trigger)]
    owners = {"post_purchase_window": "customer_success", "silent_churn": "customer_success",
              "expansion_signals": "sales", "advocacy_moment": "marketing"}  # fmt: skip
    assert triggers
    for t in triggers:
        assert t.score is not None
        assert t.score.owner == owners[t.moment]
        assert 0 <= t.score.score <= 1
        assert t.score.model_version.startswith(t.score.objective + "@")
        expected_tier = load_objectives(bundled_objectives_path()).tier_for(t.score.score)
        lowered = t.score.tier != expected_tier and t.score.score >= 0.5  # drift lowers a band
        assert t.score.tier in (expected_tier, WARMING_UP) or lowered
    assert any(t.score and t.score.reasons for t in triggers)


def test_a_model_without_enough_labels_or_ranking_gives_no_tier_but_warming_up(
    journeys: list[TouchpointEvent],
) -> None:
    """Every trigger's tier follows the warm-up rule, checked against the model as it was at that trigger."""
    _, outputs = scored_run(journeys)
    scored = [t.score for t in outputs if isinstance(t, Trigger) and t.score is not None]
    warm_up = load_objectives(bundled_objectives_path()).warm_up
    assert (warm_up.min_labels, warm_up.min_auc) == (500, 0.6)
    early = [s for s in scored if int(s.model_version.split("@")[1]) < warm_up.min_labels]
    assert early  # the first triggers come from models with few labels ...
    assert all(s.tier == WARMING_UP for s in early)  # ... and none of them gets a band
    assert any(s.tier not in (WARMING_UP, None) for s in scored)  # later, warm models do


@pytest.mark.parametrize(
    ("learned", "auc", "rule", "warm"),
    [(499, 0.9, {}, False), (500, 0.9, {}, True), (10_000, 0.55, {}, False), (10_000, math.nan, {}, False),
     (10_000, math.nan, {"min_auc": 0}, True), (0, math.nan, {"min_labels": 0, "min_auc": 0}, True)],
)  # fmt: skip
def test_warm_up_rule(learned: int, auc: float, rule: dict[str, float], warm: bool) -> None:
    doc = {"objectives": [], "warm_up": rule}
    assert parse_objectives(doc).warm_up.warm(learned, auc) is warm


@pytest.mark.parametrize(
    ("warm_up", "field"),
    [({"min_label": 5}, "warm_up"), ({"min_labels": -1}, "warm_up.min_labels"),
     ({"min_labels": 2.5}, "warm_up.min_labels"), ({"min_auc": 1.5}, "warm_up.min_auc"),
     ({"min_auc": "high"}, "warm_up.min_auc"), ([], "warm_up")],
)  # fmt: skip
def test_a_bad_warm_up_is_refused_with_its_field(warm_up: object, field: str) -> None:
    with pytest.raises(ObjectivesError) as refused:
        parse_objectives({"objectives": [], "warm_up": warm_up})
    assert refused.value.field == field


def test_no_band_may_be_called_warming_up() -> None:
    with pytest.raises(ObjectivesError, match="reserved"):
        parse_objectives({"objectives": [], "tiers": [{"name": WARMING_UP, "min": 0.5}]})


def test_tier_bands() -> None:
    s = load_objectives(bundled_objectives_path())
    assert [s.tier_for(p) for p in (0.95, 0.9, 0.89, 0.7, 0.69, 0.5, 0.49)] == [
        "human_intervention", "human_intervention", "automated_workflow", "automated_workflow",
        "monitor_only", "monitor_only", None]  # fmt: skip
    assert s.tier_for(0.95, lowered=1) == "automated_workflow"
    assert s.tier_for(0.55, lowered=1) is None


def test_a_score_condition_suppresses_and_audits(journeys: list[TouchpointEvent]) -> None:
    doc = {"objectives": [{"name": "churn", "owner": "cs", "outcome": {"type": "purchase"},
                           "outcome_means": "negative", "horizon": "30d"}],
           "moments": {"silent_churn": {"objective": "churn", "min_score": 1.0}},
           "warm_up": {"min_labels": 0, "min_auc": 0}}  # warm from the start: its condition applies  # fmt: skip
    _, outputs = scored_run(journeys, parse_objectives(doc))
    suppressed = [o for o in outputs if isinstance(o, TriggerSuppressed)]
    assert suppressed
    assert all(o.moment == "silent_churn" and "score" in o.reason for o in suppressed)
    assert not [
        o for o in outputs if isinstance(o, Trigger) and o.moment == "silent_churn" and o.kind != "window_expired"
    ]


@pytest.mark.parametrize("condition", [{"min_score": 1.0}, {"rise": 0.99}])
def test_a_warming_up_model_cannot_suppress_a_moment(
    journeys: list[TouchpointEvent], condition: dict[str, float]
) -> None:
    """A score that has not earned a tier says nothing: the trigger goes out with tier warming_up."""
    doc = {"objectives": [{"name": "churn", "owner": "cs", "outcome": {"type": "purchase"},
                           "outcome_means": "negative", "horizon": "30d"}],
           "moments": {"silent_churn": {"objective": "churn", **condition}},
           "warm_up": {"min_labels": 10**9}}  # never warm in this run  # fmt: skip
    _, outputs = scored_run(journeys, parse_objectives(doc))
    fired = [o for o in outputs if isinstance(o, Trigger) and o.moment == "silent_churn" and o.kind != "window_expired"]
    assert fired
    assert all(t.score is not None and t.score.tier == WARMING_UP for t in fired)
    assert not [o for o in outputs if isinstance(o, TriggerSuppressed) and o.moment == "silent_churn"]


def test_drift_lowers_the_tier_until_the_model_recovers() -> None:
    scorer = Scorer(load_objectives(bundled_objectives_path()))
    model = scorer.models["churn"]
    for _ in range(300):
        model.learn({"a": 1.0}, 1)
    for _ in range(300):  # the world flips: an alarm within these labels
        model.learn({"a": 1.0}, 0)
        if model.drifts:
            break
    assert model.drifts >= 1
    assert model.drifting
    for _ in range(RECOVERY_SAMPLES + 50):
        model.learn({"a": 1.0}, 0)
    assert not model.drifting or model.drifts > 1


def test_snapshot_and_restore_keep_the_models(journeys: list[TouchpointEvent]) -> None:
    scorer, _ = scored_run(journeys[: len(journeys) // 2])
    blob = scorer.snapshot()
    fresh = Scorer(load_objectives(bundled_objectives_path()))
    fresh.restore(blob)
    x = {"days_since_last_event": 20.0, "events_30d": 1.0, "gap_ratio": 5.0}
    for name, model in scorer.models.items():
        assert fresh.models[name].score(x) == model.score(x)
        assert fresh.models[name].version == model.version
    with pytest.raises(ValueError, match="format"):
        fresh.restore(b"\x93\x03\x90\x80")


def test_scoring_state_survives_the_state_encoding(journeys: list[TouchpointEvent]) -> None:
    engine = default_engine(None)
    state = engine.new_state(journeys[0].customer_id)
    for e in [e for e in journeys if e.customer_id == journeys[0].customer_id][:10]:
        engine.on_event(state, e)
    engine.on_tick(state, to_ms(journeys[-1].ts), final=True)
    again = CustomerState.from_bytes(state.to_bytes())
    assert Scorer.scoring(again).to_list() == Scorer.scoring(state).to_list()


def test_an_outcome_at_every_event_keeps_one_prediction_per_slice_not_per_event() -> None:
    """Churn's outcome is any purchase: an early label must not free the slice for the next event."""
    scorer = Scorer(load_objectives(bundled_objectives_path()), keep_label_log=True)
    engine = Engine(load_moments(bundled_moments_path()), scorer=scorer)
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    daily = [TouchpointEvent(event_id=f"e{d}", customer_id="c", type="purchase", value=5.0, ts=t0 + timedelta(days=d))
             for d in range(30)]  # fmt: skip
    list(ReplayRunner(engine).run(daily, until=to_ms(t0 + timedelta(days=29 + 60))))
    month = to_ms(t0 + timedelta(days=30))
    churn = [r for r in scorer.label_log or [] if r.objective == "churn" and r.predicted_at < month]
    slice_days = 30 / load_objectives(bundled_objectives_path()).objectives[0].max_pending
    assert churn
    assert len(churn) <= 30 / slice_days + 1
    assert all(b.predicted_at - a.predicted_at >= slice_days * 86_400_000 for a, b in itertools.pairwise(churn))


def test_a_bad_objectives_file_names_the_field() -> None:
    with pytest.raises(PatternError, match=r"objectives\[0\]\.horizon"):
        parse_objectives({"objectives": [{"name": "x", "owner": "y", "outcome": {"type": "a"}}]})
    with pytest.raises(PatternError, match=r"moments\.m\.objective"):
        parse_objectives({"objectives": [], "moments": {"m": {"objective": "nope"}}})


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adagrad", "rmsprop"])
def test_each_optimizer_learns_a_separable_rule(optimizer: str) -> None:
    doc = {"objectives": [{"name": "churn", "owner": "cs", "outcome": {"type": "purchase"}, "horizon": "30d",
                           "model": {"optimizer": optimizer, "learning_rate": 0.05}}]}  # fmt: skip
    model = Scorer(parse_objectives(doc)).models["churn"]
    for _ in range(300):
        model.learn({"silence": 40.0}, 1)
        model.learn({"silence": 1.0}, 0)
    assert model.score({"silence": 50.0}) > 0.8
    assert model.score({"silence": 0.0}) < 0.2


def test_an_unknown_optimizer_is_refused() -> None:
    with pytest.raises(PatternError, match="optimizer"):
        parse_objectives({"objectives": [{"name": "x", "owner": "y", "outcome": {"type": "a"}, "horizon": "1d",
                                          "model": {"optimizer": "newton"}}]})  # fmt: skip


def test_an_objective_uses_only_its_configured_features(journeys: list[TouchpointEvent]) -> None:
    doc = load_objectives(bundled_objectives_path())
    churn = doc.objectives[0]
    patterns = ("log_days_since_last_purchase", "purchases_*", "monetary_*")
    narrowed = type(doc)((replace(churn, features=patterns), *doc.objectives[1:]), doc.tiers, doc.bindings)
    scorer, outputs = scored_run(journeys, narrowed)
    allowed = {"log_days_since_last_purchase"} | {f"{k}_{h}" for k in ("purchases", "monetary")
                                                  for h in ("7d", "30d", "90d")}  # fmt: skip
    churn_model = scorer.models["churn"]
    assert set(churn_model.pipeline.counts) == allowed  # it never saw another feature
    reasons = [r.feature for o in outputs if isinstance(o, Trigger) and o.score and o.score.objective == "churn"
               for r in o.score.reasons]  # fmt: skip
    assert reasons
    assert set(reasons) <= allowed
    assert len(scorer.models["expansion"].pipeline.counts) > len(allowed)  # others see all


def test_a_feature_pattern_that_matches_nothing_is_refused_with_the_list() -> None:
    with pytest.raises(
        PatternError, match=r"field 'objectives\[0\]\.model\.features': 'purchase_count' matches no feature"
    ):
        parse_objectives({"objectives": [{"name": "x", "owner": "y", "outcome": {"type": "a"}, "horizon": "1d",
                                          "model": {"features": ["purchase_count"]}}]})  # fmt: skip


def test_a_bad_model_setting_is_reported_once_with_its_own_field() -> None:
    with pytest.raises(PatternError) as caught:
        parse_objectives({"objectives": [{"name": "x", "owner": "y", "outcome": {"type": "a"}, "horizon": "1d",
                                          "outcome_means": "maybe"}]})  # fmt: skip
    assert str(caught.value).count("field") == 1
    assert "objectives[0].outcome_means" in str(caught.value)


CHURN_30D = {"objectives": [{"name": "churn", "owner": "cs", "outcome": {"type": "login"}, "outcome_means": "negative",
                             "horizon": "30d"}]}  # fmt: skip


def churn_samples(days: list[float], until_day: float) -> list[int]:
    """When a 30-day churn objective kept predictions for one customer with events on ``days``."""
    scorer = Scorer(parse_objectives(CHURN_30D), keep_label_log=True)
    engine = Engine([], scorer=scorer)
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    events = [TouchpointEvent(event_id=f"e{i}", customer_id="c", type="login", ts=t0 + timedelta(days=d))
              for i, d in enumerate(days)]  # fmt: skip
    list(ReplayRunner(engine).run(events, until=to_ms(t0 + timedelta(days=until_day))))
    return sorted((r.predicted_at - to_ms(t0)) // 3_600_000 for r in scorer.label_log or [] if r.objective == "churn")


def test_a_silent_customer_is_woken_only_when_a_label_is_due() -> None:
    """The sampling clock runs lazily: a prediction kept during a silence is computed when its label is due (the
    features cannot have changed), so the customer's timer fires once per label time, not at every sample too."""
    scorer = Scorer(parse_objectives(CHURN_30D), keep_label_log=True)
    engine = Engine([], scorer=scorer)
    runner = ReplayRunner(engine)
    woken: list[int] = []
    on_timer = scorer.on_rescore_timer

    def counting(state: CustomerState, fire_at: int) -> list[tuple[int, str, str, int]]:
        woken.append(fire_at)
        return on_timer(state, fire_at)

    scorer.on_rescore_timer = counting  # type: ignore[method-assign]
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    runner.feed(TouchpointEvent(event_id="e1", customer_id="gone", type="login", ts=t0))
    runner.tick(to_ms(t0 + timedelta(hours=1)))  # past the allowed lateness: the event has run
    first_label = to_ms(t0 + timedelta(days=7.5 + 30))
    assert runner.states["gone"].timers.peek() == first_label  # not the first sample, 7.5 days on
    runner.tick(first_label)
    assert Scorer.scoring(runner.states["gone"]).pending.count("churn") == 0  # nothing kept before a label is due
    woken.clear()
    runner.finish(to_ms(t0 + timedelta(days=400)))
    labelled = sorted({r.labelled_at for r in scorer.label_log or []})
    assert len(scorer.label_log or []) >= 10  # every slice of two horizons of silence, then milestones
    assert woken == labelled  # a wake-up at each label's time, and none without a label to learn


def test_predictions_are_kept_on_the_customers_own_clock_then_at_silence_milestones_never_at_events() -> None:
    """Every 7.5 days (30-day horizon / 4) from the first event whatever the customer does, while silent
    for up to two horizons; then at 3, 4.5 horizons of silence. None at an event, where recency is 0."""
    hours = churn_samples([0, 0.2, 3, 3.1, 11, 25], until_day=200)
    regular = [k * 180 for k in range(1, 13) if k * 7.5 - 25 < 60 + 7.5]  # 7.5 days = 180 h
    milestones = [(25 + m) * 24 for m in (90, 135)]  # the next, 202.5 days, would be labelled after day 200
    assert hours == regular + milestones


def test_a_customer_back_from_a_long_silence_is_sampled_on_a_fresh_clock_from_their_return() -> None:
    """Their next milestone was months away; waiting for it would leave a returning customer unsampled."""
    hours = churn_samples([0, 400], until_day=460)
    after_return = [h for h in hours if h > 400 * 24]
    assert after_return[:3] == [400 * 24 + k * 180 for k in (1, 2, 3)]
    assert len(hours) == len(set(hours))  # the stale milestone timer neither samples again nor forks the clock


def test_with_outcome_after_an_outcome_counts_only_in_the_later_window() -> None:
    """Churn as "no login 30 to 60 days from now": a customer active for 20 more days, then gone, is a churner
    for a prediction today; one who logs in on day 45 is not."""
    objectives = {"objectives": [{**CHURN_30D["objectives"][0], "outcome_after": "30d"}]}  # type: ignore[index]
    scorer = Scorer(parse_objectives(objectives), keep_label_log=True)
    engine = Engine([], scorer=scorer)
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    days = {"leaves": [0, 5, 10, 15, 20], "stays": [0, 5, 10, 15, 20, 45]}
    events = sorted((TouchpointEvent(event_id=f"{c}{d}", customer_id=c, type="login", ts=t0 + timedelta(days=d))
                     for c, ds in days.items() for d in ds), key=lambda e: e.ts)  # fmt: skip
    runner = ReplayRunner(engine)
    list(runner.run(events, until=to_ms(t0 + timedelta(days=400))))
    first = {c: next(r for r in scorer.label_log or [] if r.customer_id == c) for c in days}
    at = to_ms(t0 + timedelta(days=7.5))
    assert first["leaves"].predicted_at == first["stays"].predicted_at == at
    assert first["leaves"].label == 1
    assert first["leaves"].labelled_at >= at + 60 * 86_400_000
    assert first["stays"].label == 0
    assert first["stays"].labelled_at >= at + 60 * 86_400_000  # known at day 45, learned at its deadline
    assert sum(len(Scorer.scoring(state).pending) for state in runner.states.values()) == 0


@pytest.mark.parametrize("after", ["0d", "-3d", "400d", "soon", True])
def test_a_bad_outcome_after_is_refused_with_its_field(after: object) -> None:
    objectives = {"objectives": [{**CHURN_30D["objectives"][0], "outcome_after": after}]}  # type: ignore[index]
    with pytest.raises(PatternError, match=r"objectives\[0\]\.outcome_after"):
        parse_objectives(objectives)


def test_an_anomaly_condition_lets_through_only_customers_unusual_for_themselves(
    journeys: list[TouchpointEvent],
) -> None:
    doc = {"objectives": [{"name": "churn", "owner": "cs", "outcome": {"type": "purchase"},
                           "outcome_means": "negative", "horizon": "30d"}],
           "moments": {"silent_churn": {"objective": "churn", "min_anomaly": 2.5}}}  # fmt: skip
    _, outputs = scored_run(journeys, parse_objectives(doc))
    suppressed = [o for o in outputs if isinstance(o, TriggerSuppressed) and o.moment == "silent_churn"]
    fired = [o for o in outputs if isinstance(o, Trigger) and o.moment == "silent_churn" and o.kind != "window_expired"]
    assert suppressed
    assert all("anomaly" in o.reason for o in suppressed)
    assert fired  # some silences are unusual for the customer, and those still fire


@pytest.mark.parametrize("bad", [-1, 11, "high", True])
def test_a_bad_min_anomaly_is_refused_with_its_field(bad: object) -> None:
    doc = {"objectives": [CHURN_30D["objectives"][0]], "moments": {"m": {"objective": "churn", "min_anomaly": bad}}}  # type: ignore[index]
    with pytest.raises(PatternError, match=r"moments\.m\.min_anomaly"):
        parse_objectives(doc)


def test_with_an_idle_ttl_sampling_stops_at_it_and_the_customer_is_forgotten_once_their_labels_are_known() -> None:
    """Milestone samples would otherwise keep a timer, and the customer, forever."""
    scorer = Scorer(parse_objectives(CHURN_30D), keep_label_log=True)
    runner = ReplayRunner(Engine([], EngineConfig(idle_ttl_ms=20 * 86_400_000), scorer=scorer))
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    gone = TouchpointEvent(event_id="e1", customer_id="gone", type="login", ts=t0)
    list(runner.run([gone], until=to_ms(t0 + timedelta(days=400))))
    assert "gone" not in runner.states
    assert [(r.predicted_at - to_ms(t0)) // 3_600_000 for r in scorer.label_log or []] == [180, 360]
    assert {r.label for r in scorer.label_log or []} == {1}


def test_a_customer_back_after_three_centuries_catches_up_in_a_few_runs_of_the_clock() -> None:
    """The clock catches up lazily at the customer's next event: past two horizons of silence it runs at growing
    milestones, so the farthest event an event may have (ts runs 1900-2199) costs a few dozen runs, not one
    per slice of three centuries."""
    scorer = Scorer(parse_objectives(CHURN_30D), keep_label_log=True)
    runner = ReplayRunner(Engine([], scorer=scorer), max_skew_ms=None)
    t0 = datetime(1901, 1, 5, tzinfo=UTC)
    far = datetime(2199, 6, 1, tzinfo=UTC)
    runs: list[int] = []
    tick = scorer._tick

    def counting(customer_id: str, scoring: object, now: int) -> None:
        runs.append(now)
        tick(customer_id, scoring, now)  # type: ignore[arg-type]

    scorer._tick = counting  # type: ignore[method-assign]
    events = [TouchpointEvent(event_id=f"e{i}", customer_id="c", type="login", ts=ts) for i, ts in enumerate((t0, far))]
    list(runner.run(events, until=to_ms(far + timedelta(days=90))))
    labels = scorer.label_log or []
    assert len(runs) < 200
    assert runs == sorted(runs)
    assert {r.label for r in labels if r.predicted_at < to_ms(far)} == {1}  # three centuries of silence are churn
    assert any(r.predicted_at > to_ms(far) for r in labels)  # and a fresh clock after the return


def value_doc(binding: dict[str, object]) -> dict[str, object]:
    return {"objectives": [{"name": "churn", "owner": "cs", "outcome": {"type": "purchase"},
                            "outcome_means": "negative", "horizon": "30d"},
                           {"name": "spend", "owner": "am", "kind": "value", "outcome": {"type": "purchase"},
                            "horizon": "30d"}],
            "moments": {"silent_churn": {"objective": "churn", **binding}},
            "warm_up": {"min_labels": 0, "min_auc": 0}}  # fmt: skip


def test_every_trigger_carries_the_expected_spend_and_min_value_keeps_the_valuable(
    journeys: list[TouchpointEvent],
) -> None:
    _, outputs = scored_run(journeys, parse_objectives(value_doc({})))
    fired = [o for o in outputs if isinstance(o, Trigger) and o.moment == "silent_churn" and o.kind != "window_expired"]
    values = [t.score.value for t in fired if t.score is not None and t.score.value is not None]
    assert len(values) == len(fired) > 10
    assert all(v.objective == "spend" and v.horizon_days == 30 and v.amount >= 0 for v in values)
    amounts = sorted(v.amount for v in values)
    assert amounts[0] < amounts[-1]  # it tells customers apart
    bar = amounts[len(amounts) // 2]
    _, gated = scored_run(journeys, parse_objectives(value_doc({"min_value": bar})))
    kept = [o for o in gated if isinstance(o, Trigger) and o.moment == "silent_churn" and o.kind != "window_expired"]
    refused = [o for o in gated if isinstance(o, TriggerSuppressed) and o.moment == "silent_churn"]
    assert kept
    assert refused
    assert all(t.score is not None and t.score.value is not None and t.score.value.amount >= bar for t in kept)
    assert all("expected value" in o.reason for o in refused)
    assert len(kept) + len(refused) == len(fired)
