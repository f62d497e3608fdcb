"""Contact policy at fire time: per-moment cooldown, a frequency cap across moments, windows kept whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from momentstream.engine import POLICY_REASONS, Engine, EngineConfig
from momentstream.patterns.dsl import parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.runtime.processor import DictTable, StreamProcessor
from momentstream.runtime.replay import ReplayRunner
from momentstream.schema import TouchpointEvent, Trigger, TriggerSuppressed

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def ev(n: int, kind: str, at: timedelta) -> TouchpointEvent:
    return TouchpointEvent(event_id=f"e{n}", customer_id="c", type=kind, ts=T0 + at)


def run(moments: str, events: list[TouchpointEvent]) -> list[object]:
    runner = ReplayRunner(Engine(parse_moments(moments), EngineConfig(allowed_lateness_ms=0)))
    return list(runner.run(events, until=None))


def fired(outputs: list[object]) -> list[tuple[str, str, int]]:
    return [(o.moment, o.kind, (o.emitted_at - T0).days) for o in outputs if isinstance(o, Trigger)]


def held(outputs: list[object]) -> list[tuple[str, str]]:
    return [(o.moment, o.reason) for o in outputs if isinstance(o, TriggerSuppressed)]


BUY = """
moments:
  - name: bought
    cooldown: 3d
    pattern: [{name: b, where: {type: purchase}}]
"""


def test_a_cooldown_holds_back_the_same_moment_for_a_while() -> None:
    outputs = run(BUY, [ev(1, "purchase", 0 * DAY), ev(2, "purchase", 1 * DAY), ev(3, "purchase", 4 * DAY)])
    assert fired(outputs) == [("bought", "match", 0), ("bought", "match", 4)]
    assert held(outputs) == [("bought", "cooldown")]


CAPPED = """
policy: {max_triggers: 2, per: 7d}
moments:
  - name: bought
    pattern: [{name: b, where: {type: purchase}}]
  - name: logged_in
    pattern: [{name: l, where: {type: login}}]
"""


def test_the_frequency_cap_counts_triggers_of_all_moments() -> None:
    events = [ev(1, "purchase", 0 * DAY), ev(2, "login", 1 * DAY), ev(3, "purchase", 2 * DAY), ev(4, "login", 8 * DAY)]
    outputs = run(CAPPED, events)
    assert fired(outputs) == [("bought", "match", 0), ("logged_in", "match", 1), ("logged_in", "match", 8)]
    assert held(outputs) == [("bought", "frequency_cap")]


WINDOWED = """
moments:
  - name: second_buy
    cooldown: 10d
    pattern:
      - {name: first, where: {type: purchase}}
      - {name: second, where: {type: purchase}, within: 1d}
    window: {anchor: second, opens_after: 1h, closes_after: 2h, used_if: {type: outreach}}
"""


def test_a_window_whose_opening_was_held_back_does_not_expire_either() -> None:
    minute = timedelta(minutes=1)
    events = [ev(1, "purchase", 0 * DAY), ev(2, "purchase", minute), ev(3, "page_view", DAY),
              ev(4, "purchase", 2 * DAY), ev(5, "purchase", 2 * DAY + minute), ev(6, "page_view", 3 * DAY)]  # fmt: skip
    outputs = run(WINDOWED, events)
    assert fired(outputs) == [("second_buy", "window_open", 0), ("second_buy", "window_expired", 0)]
    assert held(outputs) == [("second_buy", "cooldown"), ("second_buy", "opening_suppressed")]
    assert {reason for _, reason in held(outputs)} <= set(POLICY_REASONS)


@pytest.mark.parametrize(
    ("policy", "message"),
    [("{max_triggers: 0, per: 7d}", "positive integer"), ("{max_triggers: 2}", "expected {max_triggers"),
     ("{max_triggers: 2, per: 7d, by: x}", "expected {max_triggers"), ("{max_triggers: 2, per: soon}", "per")],
)  # fmt: skip
def test_bad_policies_are_refused_with_the_field(policy: str, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        parse_moments(CAPPED.replace("{max_triggers: 2, per: 7d}", policy))


def test_the_worker_remembers_contacts_across_its_state_store() -> None:
    processor = StreamProcessor(Engine(parse_moments(BUY), EngineConfig(allowed_lateness_ms=0)), DictTable())
    outputs: list[object] = []
    for e in [ev(1, "purchase", 0 * DAY), ev(2, "purchase", 1 * DAY)]:
        processor.reset()  # every record decodes the stored state, as after a restart
        work = processor.on_event(0, b"c", e.model_dump_json().encode())
        processor.save(work)
        outputs += work.outputs
    assert fired(outputs) == [("bought", "match", 0)]
    assert held(outputs) == [("bought", "cooldown")]
