"""Signals: every trigger of a scoring worker says how unusual the customer is for themselves, bound or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from momentstream.core.engine import Engine
from momentstream.core.schema import TouchpointEvent, Trigger
from momentstream.models.features import anomaly_of
from momentstream.models.objectives import parse_objectives
from momentstream.models.scorer import Scorer
from momentstream.patterns.dsl import parse_moments
from momentstream.runtime.replay.runner import ReplayRunner

T0 = datetime(2026, 2, 2, 9, tzinfo=UTC)
MOMENTS = """
version: 1
moments:
  - name: gone_quiet
    version: 1
    pattern:
      - name: seen
        where: {type: login}
      - name: quiet
        absent: {type: [login, purchase]}
        for: 7d
  - name: double_order
    version: 1
    pattern:
      - name: first
        where: {type: purchase}
      - name: second
        where: {type: purchase}
        within: 2h
"""
CHURN = {"name": "churn", "owner": "cs", "outcome": {"type": "login"}, "outcome_means": "negative", "horizon": "30d"}
SPEND = {"name": "spend", "owner": "am", "kind": "value", "outcome": {"type": "purchase"}, "horizon": "90d"}


def daily_logins(customer: str, days: int) -> list[TouchpointEvent]:
    """A steady rhythm: one login a day at 09:00."""
    return [TouchpointEvent(event_id=f"{customer}-l{d}", customer_id=customer, type="login", ts=T0 + timedelta(days=d))
            for d in range(days)]  # fmt: skip


def triggers(events: list[TouchpointEvent], scorer: Scorer | None) -> list[Trigger]:
    engine = Engine(parse_moments(MOMENTS), scorer=scorer)
    return [o for o in ReplayRunner(engine).run(events, until=2**62) if isinstance(o, Trigger)]


def orders_after_a_rhythm(customer: str) -> list[TouchpointEvent]:
    """Twelve daily logins, then two orders five minutes apart: a burst against that rhythm."""
    last = T0 + timedelta(days=11, minutes=5)
    orders = [TouchpointEvent(event_id=f"{customer}-o{i}", customer_id=customer, type="purchase", value=40.0,
                              ts=last + timedelta(minutes=5 * i)) for i in range(2)]  # fmt: skip
    return daily_logins(customer, 12) + orders


def test_a_silence_unusual_for_the_customer_shows_in_the_trigger_that_fires_on_it() -> None:
    scorer = Scorer(parse_objectives({"objectives": [CHURN], "moments": {"gone_quiet": {"objective": "churn"}}}))
    fired = triggers(daily_logins("steady", 12), scorer)
    quiet = [t for t in fired if t.moment == "gone_quiet"]
    assert len(quiet) == 1  # only after the last login does a week pass
    signals = quiet[0].signals
    assert signals is not None
    assert quiet[0].score is not None  # bound: a score, and the signals beside it
    assert signals.silence > 3  # a week of silence from someone seen every day
    assert signals.anomaly == signals.silence
    assert signals.burst <= 0  # their last gap was their usual day


def test_a_burst_shows_on_an_unbound_moments_trigger_and_no_scoring_means_no_signals() -> None:
    events = orders_after_a_rhythm("busy")
    unbound = Scorer(parse_objectives({"objectives": [CHURN]}))
    burst = next(t for t in triggers(events, unbound) if t.moment == "double_order")
    assert burst.score is None  # not bound to an objective
    assert burst.signals is not None
    assert burst.signals.burst > 2  # five minutes between events, from someone seen once a day (2.25 on a log scale)
    assert burst.signals.anomaly == burst.signals.burst
    assert burst.signals.value is None  # no value objective configured
    plain = next(t for t in triggers(events, None) if t.moment == "double_order")
    assert plain.signals is None
    assert plain.trigger_id == burst.trigger_id  # signals never change the trigger's identity


def test_a_value_objective_puts_the_expected_spend_in_every_triggers_signals() -> None:
    scorer = Scorer(parse_objectives({"objectives": [CHURN, SPEND]}))
    fired = triggers(orders_after_a_rhythm("buyer"), scorer)
    assert fired
    for trigger in fired:
        assert trigger.signals is not None
        assert trigger.signals.value is not None
        assert trigger.signals.value.objective == "spend"


def test_a_customer_without_a_rhythm_yet_is_not_called_unusual() -> None:
    few = daily_logins("new", 3)  # two gaps: no rhythm to differ from
    scorer = Scorer(parse_objectives({"objectives": [CHURN]}))
    quiet = next(t for t in triggers(few, scorer) if t.moment == "gone_quiet")
    assert quiet.signals is not None
    assert quiet.signals.anomaly == 0.0
    assert anomaly_of({}) == 0.0
