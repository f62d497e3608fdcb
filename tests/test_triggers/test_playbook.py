"""A moment's playbook reaches the CRM filled in from the trigger; a typo in it is refused at load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from momentstream.cli.demo import default_engine
from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import ExpectedSpend, Score, TouchpointEvent, Trigger, Why
from momentstream.data import bundled_moments_path, bundled_objectives_path
from momentstream.models.objectives import parse_objectives
from momentstream.models.scorer import Scorer
from momentstream.patterns.dsl import parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.journeys import simulate
from momentstream.triggers.playbook import render_playbook

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MOMENT = """
moments:
  - name: rescue
    pattern:
      - {name: ticket, where: {type: support_ticket}}
      - {name: order, where: {type: purchase}, within: 2d}
    window: {anchor: order, opens_after: 1h, closes_after: 5h}
{playbook}
"""
PLAYBOOK = """    playbook:
      owner: success
      channel: phone
      steps: ["Call {customer_id} before {window.closes_at}", "Mention order {step.order.event_id}"]
      talking_points: "Ticket {step.ticket.at}; {step.ticket.count} ticket(s); score {score}; {{literal}}; {reason.1}"
"""


def events(customer: str = "c-1") -> list[TouchpointEvent]:
    def ev(i: int, kind: str, hours: float) -> TouchpointEvent:
        return TouchpointEvent(event_id=f"{kind}-{i}", customer_id=customer, type=kind, ts=T0 + timedelta(hours=hours))

    return [ev(1, "support_ticket", 0), ev(2, "purchase", 10)]


def fire(playbook: str, customer: str = "c-1") -> list[Trigger]:
    engine = Engine(parse_moments(MOMENT.replace("{playbook}", playbook)), EngineConfig())
    return [
        o
        for o in ReplayRunner(engine).run(events(customer), until=to_ms(T0 + timedelta(days=1)))
        if isinstance(o, Trigger)
    ]


def test_the_playbook_is_filled_from_the_triggers_evidence_and_window() -> None:
    opened = next(t for t in fire(PLAYBOOK) if t.kind == "window_open")
    assert opened.playbook is not None
    assert opened.playbook.owner == "success"
    assert opened.playbook.channel == "phone"
    assert opened.playbook.steps == ["Call c-1 before 2026-03-03 00:00 UTC", "Mention order purchase-2"]
    assert opened.playbook.talking_points == "Ticket 2026-03-02 09:00 UTC; 1 ticket(s); score n/a; {literal}; n/a"
    expired = [t for t in fire(PLAYBOOK) if t.kind == "window_expired"]
    assert expired
    for t in expired:  # the owner closes what the opening asked for
        assert t.playbook is not None
        assert (t.playbook.owner, t.playbook.steps[0]) == ("success", opened.playbook.steps[0])


def test_the_playbook_changes_neither_the_trigger_id_nor_a_moment_without_one() -> None:
    with_book = [t.trigger_id for t in fire(PLAYBOOK)]
    without = fire("")
    assert with_book == [t.trigger_id for t in without]
    assert all(t.playbook is None for t in without)


def test_a_customer_id_with_braces_is_shown_as_it_is_never_expanded() -> None:
    odd = "c-{window.opens_at}-{{x}}"
    opened = next(t for t in fire(PLAYBOOK, customer=odd) if t.kind == "window_open")
    assert opened.playbook is not None
    assert opened.playbook.steps[0] == f"Call {odd} before 2026-03-03 00:00 UTC"


def test_a_playbook_can_quote_the_score_and_its_reasons(tmp_path: Path) -> None:
    scored = (
        bundled_moments_path()
        .read_text()
        .replace(
            "reach out\n        before {window.closes_at}.", "churn score {score} ({tier}); first reason: {reason.1}."
        )
    )
    assert "{score}" in scored
    path = tmp_path / "moments.yaml"
    path.write_text(scored)
    engine = default_engine(path)  # the bundled objectives score this moment (churn)
    found = [o for o in ReplayRunner(engine).run(simulate(300, 60, 7).events)
             if isinstance(o, Trigger) and o.moment == "post_purchase_window" and o.kind == "window_open"]  # fmt: skip
    assert found
    for trigger in found:
        assert trigger.playbook is not None
        assert trigger.score is not None
        assert f"churn score {trigger.score.score:.2f} ({trigger.score.tier})" in trigger.playbook.talking_points
        assert "{" not in trigger.playbook.talking_points + "".join(trigger.playbook.steps)


def test_a_playbooks_reasons_are_the_scores_reasons_in_words() -> None:
    opened = next(t for t in fire("    playbook: {talking_points: '{reason.1}; {reason.2}; {reason.3}'}\n")
                  if t.kind == "window_open")  # fmt: skip
    why = [Why(reason="silence", says="silent 12 days, usually every 2 days", points=23.4, contribution=0.9,
               features=["log_days_since_last_event"]),
           Why(reason="purchases", says="no purchase in the last month", points=-4.6, contribution=-0.2,
               features=["log_purchases_30d"])]  # fmt: skip
    spend = ExpectedSpend(objective="value", amount=1234.5, horizon_days=90, model_version="value@40", warm=True)
    score = Score(objective="churn", score=0.7, model_version="churn@900", tier="automated_workflow", owner="cs",
                  why=why, value=spend)  # fmt: skip
    spec = parse_moments(MOMENT.replace("{playbook}", "    playbook: {talking_points: '{reason.1}; {reason.2}; "
                                        "{reason.3}; worth {value}'}\n"))[0].spec.playbook  # fmt: skip
    assert spec is not None
    book = render_playbook(spec, opened.model_copy(update={"score": score}))
    assert book.talking_points == ("silent 12 days, usually every 2 days (+23 points); no purchase in the last "
                                   "month (-5 points); n/a; worth 1,234.50 over 90 days")  # fmt: skip
    unvalued = render_playbook(spec, opened.model_copy(update={"score": score.model_copy(update={"value": None})}))
    assert unvalued.talking_points.endswith("worth n/a")


@pytest.mark.parametrize(
    ("playbook", "field", "words"),
    [
        ("    playbook: call them\n", "playbook", "mapping"),
        ("    playbook: {}\n", "playbook", "mapping"),
        ("    playbook: {script: hi}\n", "playbook", "mapping"),
        ("    playbook: {talking_points: '{step.tickt.at}'}\n", "playbook.talking_points", "{step.ticket.at}"),
        ("    playbook: {talking_points: '{score'}\n", "playbook.talking_points", "unmatched brace"),
        ("    playbook: {talking_points: 'a } b'}\n", "playbook.talking_points", "unmatched brace"),
        ("    playbook: {talking_points: '{__class__}'}\n", "playbook.talking_points", "unknown placeholder"),
        ("    playbook: {talking_points: '{step.ticket.at.__globals__}'}\n", "playbook.talking_points", "unknown"),
        ("    playbook: {steps: [ok, '{reason.9}']}\n", "playbook.steps[1]", "unknown placeholder"),
        ("    playbook: {steps: call}\n", "playbook.steps", "list"),
        ("    playbook: {steps: ['']}\n", "playbook.steps[0]", "instruction"),
        ("    playbook: {steps: [" + ", ".join(["x"] * 21) + "]}\n", "playbook.steps", "20"),
        ("    playbook: {steps: ['" + "x" * 501 + "']}\n", "playbook.steps[0]", "500"),
        ("    playbook: {talking_points: '" + "x" * 4001 + "'}\n", "playbook.talking_points", "4000"),
        ("    playbook: {talking_points: 12}\n", "playbook.talking_points", "text"),
        ("    playbook: {owner: ''}\n", "playbook.owner", "name"),
        ("    playbook: {channel: phnoe}\n", "playbook.channel", "did you mean 'phone'"),
    ],
)
def test_a_playbook_that_would_confuse_a_person_is_refused(playbook: str, field: str, words: str) -> None:
    with pytest.raises(PatternError) as err:
        parse_moments(MOMENT.replace("{playbook}", playbook))
    assert err.value.field == field
    assert words in str(err.value)


def test_every_documented_placeholder_is_accepted() -> None:
    names = ["customer_id", "moment", "kind", "emitted_at", "window.opens_at", "window.closes_at", "score", "tier",
             "objective", "reason.1", "reason.2", "reason.3", "indicators", "action", "channel", "value",
             "anomaly", "step.ticket.at", "step.order.event_id", "step.order.count"]  # fmt: skip
    text = " ".join("{" + n + "}" for n in names)
    triggers = fire(f"    playbook: {{talking_points: '{text}'}}\n")
    book: Any = next(t for t in triggers if t.kind == "window_open").playbook
    assert book.talking_points.split(" ")[:3] == ["c-1", "rescue", "window_open"]


def test_a_playbook_quotes_the_anomaly_when_the_worker_scores_and_says_n_a_when_not() -> None:
    book = "    playbook: {talking_points: 'unusual by {anomaly}; spend {value}'}\n"
    plain = next(t for t in fire(book) if t.kind == "window_open")
    assert plain.playbook is not None
    assert plain.playbook.talking_points == "unusual by n/a; spend n/a"
    unbound = yaml.safe_load(bundled_objectives_path().read_text().partition("\nmoments:")[0])
    scorer = Scorer(parse_objectives(unbound))  # the bundled objectives (churn, value, ...), bound to no moment
    engine = Engine(parse_moments(MOMENT.replace("{playbook}", book)), EngineConfig(), scorer=scorer)
    scored = next(o for o in ReplayRunner(engine).run(events(), until=to_ms(T0 + timedelta(days=1)))
                  if isinstance(o, Trigger) and o.kind == "window_open")  # fmt: skip
    assert scored.signals is not None
    assert scored.signals.value is not None
    spend = f"{scored.signals.value.amount:,.2f} over {scored.signals.value.horizon_days:g} days"
    assert scored.playbook is not None
    assert scored.playbook.talking_points == f"unusual by {scored.signals.anomaly:.1f}; spend {spend}"
