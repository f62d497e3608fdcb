"""The example CRM subscriber on real trigger envelopes: dedup, version check, routing."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from momentstream.cli.demo import default_engine
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import TouchpointEvent, Trigger, TriggerOutcome, TriggerRevoked
from momentstream.patterns.dsl import parse_moments
from momentstream.runtime.replay.runner import ReplayRunner
from momentstream.sim.campaign import CART_MOMENT
from momentstream.sim.journeys import simulate
from momentstream.triggers.contract import encode

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "crm_subscriber.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crm_subscriber", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["crm_subscriber"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def crm() -> ModuleType:
    return load_example()


@pytest.fixture(scope="module")
def triggers() -> list[Trigger]:
    runner = ReplayRunner(default_engine(None))
    return [o for o in runner.run(simulate(120, 45, 5).events) if isinstance(o, Trigger)]


def test_redeliveries_are_dropped_and_every_trigger_is_routed_once(crm: ModuleType, triggers: list[Trigger]) -> None:
    values = [encode(t, "momentstream/test") for t in triggers]
    subscriber = crm.Subscriber()
    subscriber.run(values + values[: len(values) // 2])  # a restart redelivers the first half
    assert [a.trigger_id for _, a in subscriber.routed] == [t.trigger_id for t in triggers]
    assert subscriber.counts["duplicate"] == len(values) // 2
    assert not subscriber.parked


def test_routes_follow_owner_and_tier(crm: ModuleType, triggers: list[Trigger]) -> None:
    subscriber = crm.Subscriber()
    subscriber.run(encode(t, "s") for t in triggers)
    by_id = {t.trigger_id: t for t in triggers}
    assert subscriber.routed
    for name, action in subscriber.routed:
        score = by_id[action.trigger_id].score
        pair = (score.owner, score.tier) if score is not None else ("unassigned", None)
        assert name == (f"{pair[0]}/{pair[1]}" if pair in crm.ROUTES else crm.DEFAULT_ROUTE)
        assert action.customer_id == by_id[action.trigger_id].customer_id
        channels = by_id[action.trigger_id].channels
        assert action.channels == (tuple(channels) if channels is not None else None)
    assert any(action.channels for _, action in subscriber.routed)  # the bundled moments name channels


def test_unknown_versions_and_garbage_are_parked_with_a_reason(crm: ModuleType, triggers: list[Trigger]) -> None:
    future = json.loads(encode(triggers[0], "s"))
    future["type"] = "io.momentstream.trigger.v2"
    future["id"] = "from-the-future"
    subscriber = crm.Subscriber()
    subscriber.run([json.dumps(future).encode(), b"not json", b"[]", encode(triggers[1], "s")])
    assert [reason.split(" ")[0] for reason, _ in subscriber.parked] == ["unknown", "not", "not"]
    assert [a.trigger_id for _, a in subscriber.routed] == [triggers[1].trigger_id]


def test_fields_added_within_a_version_are_ignored(crm: ModuleType, triggers: list[Trigger]) -> None:
    envelope = json.loads(encode(triggers[0], "s"))
    envelope["newextension"] = "x"
    envelope["data"]["new_field"] = {"nested": True}
    action = crm.parse(json.dumps(envelope).encode())
    assert action.trigger_id == triggers[0].trigger_id


def test_recent_ids_forget_the_oldest_beyond_capacity(crm: ModuleType) -> None:
    seen = crm.RecentIds(capacity=2)
    assert [seen.first_time(i) for i in ("a", "b", "a", "c", "b", "a")] == [True, True, False, True, True, True]


def test_revocations_are_collected_not_routed(crm: ModuleType, triggers: list[Trigger]) -> None:
    t = triggers[0]
    revoked = TriggerRevoked(trigger_id=t.trigger_id, customer_id=t.customer_id, moment=t.moment, kind=t.kind,
                             reason="test", late_event_id="late-1", late_event_ts=t.emitted_at)  # fmt: skip
    subscriber = crm.Subscriber()
    subscriber.run([encode(t, "s"), encode(revoked, "s")])
    assert subscriber.revoked == [t.trigger_id]
    assert [a.trigger_id for _, a in subscriber.routed] == [t.trigger_id]
    assert not subscriber.parked


def test_the_subscribers_feedback_reaches_the_engine_and_links_to_the_trigger(crm: ModuleType) -> None:
    text = CART_MOMENT.format(extra="").replace("holdout: 0.2", "holdout: 0.0")
    engine = Engine(parse_moments(text), EngineConfig(allowed_lateness_ms=0))
    runner = ReplayRunner(engine)
    cart = TouchpointEvent(event_id="c1", customer_id="k1", type="cart_abandon", ts="2026-03-02T09:00:00Z")
    (trigger,) = [o for o in runner.feed(cart) if isinstance(o, Trigger)]
    sent: list[tuple[bytes, bytes]] = []
    subscriber = crm.Subscriber(report=lambda key, value: sent.append((key, value)))
    subscriber.run([encode(trigger, "s")])
    ((key, value),) = sent
    assert key == b"k1"
    feedback = TouchpointEvent.model_validate_json(value)
    outputs = runner.feed(feedback) + runner.finish(int(trigger.emitted_at.timestamp() * 1000) + 8 * 86_400_000)
    (outcome,) = [o for o in outputs if isinstance(o, TriggerOutcome)]
    assert (outcome.trigger_id, outcome.feedback) == (trigger.trigger_id, "taken")
