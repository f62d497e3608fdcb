"""Contact policy at fire time: cooldown, frequency cap, quiet hours, priorities; windows kept whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from momentstream.core.clock import to_ms
from momentstream.core.engine import POLICY_REASONS, Engine, EngineConfig
from momentstream.core.schema import TouchpointEvent, Trigger, TriggerDeferred, TriggerRevoked, TriggerSuppressed
from momentstream.patterns.dsl import parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.runtime.kafka.processor import DictTable, StreamProcessor, Tick
from momentstream.runtime.replay.runner import DRAIN, ReplayRunner

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
    [("{max_triggers: 0, per: 7d}", "positive integer"), ("{max_triggers: 2}", "needs both max_triggers and per"),
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


# -- quiet hours -------------------------------------------------------------------------------
BERLIN_NIGHTS = """
policy: {quiet_hours: {from: "21:00", to: "08:00"}}
moments:
  - name: second_buy
    pattern:
      - {name: first, where: {type: purchase}}
      - {name: second, where: {type: purchase}, within: 1d}
    window: {anchor: second, opens_after: 12h, closes_after: CLOSES, used_if: {type: outreach}}
"""


def local_ev(n: int, kind: str, at: datetime, zone: str = "Europe/Berlin") -> TouchpointEvent:
    return TouchpointEvent(event_id=f"e{n}", customer_id="c", type=kind, ts=at, properties={"timezone": zone})


def drain(moments: str, events: list[TouchpointEvent]) -> list[object]:
    runner = ReplayRunner(Engine(parse_moments(moments), EngineConfig(allowed_lateness_ms=0)))
    return list(runner.run(events, until=DRAIN))


def triggers(outputs: list[object]) -> list[Trigger]:
    return [o for o in outputs if isinstance(o, Trigger)]


TWO_BUYS = [local_ev(1, "purchase", datetime(2026, 3, 2, 9, tzinfo=UTC)),
            local_ev(2, "purchase", datetime(2026, 3, 2, 10, tzinfo=UTC))]  # fmt: skip
# The window opens 12 h after 10:00 UTC: 22:00 UTC, 23:00 in Berlin, inside quiet hours until 07:00 UTC.


def test_a_window_opening_in_quiet_hours_is_delivered_when_they_end_with_the_same_id() -> None:
    outputs = drain(BERLIN_NIGHTS.replace("CLOSES", "30h"), TWO_BUYS)
    no_quiet_hours = BERLIN_NIGHTS.replace("CLOSES", "30h").replace(BERLIN_NIGHTS.splitlines()[1], "")
    plain = triggers(drain(no_quiet_hours, TWO_BUYS))
    deferred = [o for o in outputs if isinstance(o, TriggerDeferred)]
    assert [(d.at, d.until) for d in deferred] == [
        (datetime(2026, 3, 2, 22, tzinfo=UTC), datetime(2026, 3, 3, 7, tzinfo=UTC))
    ]
    opened = [t for t in triggers(outputs) if t.kind == "window_open"]
    assert [t.emitted_at for t in opened] == [datetime(2026, 3, 3, 7, tzinfo=UTC)]
    assert [t.emitted_at for t in plain if t.kind == "window_open"] == [datetime(2026, 3, 2, 22, tzinfo=UTC)]
    assert [t.trigger_id for t in triggers(outputs)] == [t.trigger_id for t in plain]  # open and expiry
    assert deferred[0].trigger_id == opened[0].trigger_id


def test_a_window_that_closes_before_quiet_hours_end_is_dropped_with_its_expiry() -> None:
    outputs = drain(BERLIN_NIGHTS.replace("CLOSES", "19h"), TWO_BUYS)  # closes 05:00 UTC, quiet until 07:00
    assert triggers(outputs) == []
    assert held(outputs) == [("second_buy", "quiet_hours"), ("second_buy", "opening_suppressed")]


def test_a_window_used_during_the_night_is_not_delivered_in_the_morning() -> None:
    night_call = local_ev(3, "outreach", datetime(2026, 3, 3, 5, tzinfo=UTC))
    outputs = drain(BERLIN_NIGHTS.replace("CLOSES", "30h"), [*TWO_BUYS, night_call])
    assert triggers(outputs) == []
    assert held(outputs) == [("second_buy", "window_used")]


NIGHTLY_MATCH = """
policy: {quiet_hours: {from: "22:00", to: "08:00"}}
moments:
  - name: bought
    pattern: [{name: b, where: {type: purchase}}]
  - name: in_app
    quiet_hours: off
    pattern: [{name: b, where: {type: purchase}}]
"""


@pytest.mark.parametrize(
    ("local_time", "zone", "delivered"),
    [
        # New York springs forward on 2026-03-08: 08:00 EDT is 12:00 UTC, a day earlier 08:00 EST was 13:00 UTC.
        (datetime(2026, 3, 7, 23, 0, tzinfo=ZoneInfo("America/New_York")), "America/New_York",
         datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        (datetime(2026, 3, 6, 23, 0, tzinfo=ZoneInfo("America/New_York")), "America/New_York",
         datetime(2026, 3, 7, 13, 0, tzinfo=UTC)),
        # No zone in the event: its offset is the customer's clock.
        (datetime(2026, 3, 7, 23, 30, tzinfo=timezone(timedelta(hours=9))), None,
         datetime(2026, 3, 7, 23, 0, tzinfo=UTC)),
        # Just before quiet hours: no wait.
        (datetime(2026, 3, 7, 21, 59, tzinfo=ZoneInfo("Europe/Berlin")), "Europe/Berlin",
         datetime(2026, 3, 7, 20, 59, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_a_match_in_quiet_hours_waits_for_eight_in_the_customers_own_timezone(
    local_time: datetime, zone: str | None, delivered: datetime
) -> None:
    event = TouchpointEvent(event_id="e1", customer_id="c", type="purchase", ts=local_time,
                            properties={"timezone": zone} if zone else {})  # fmt: skip
    fired_at = {t.moment: t.emitted_at for t in triggers(drain(NIGHTLY_MATCH, [event]))}
    assert fired_at == {"bought": delivered, "in_app": local_time}


def test_a_deferred_trigger_survives_the_workers_state_store() -> None:
    moments = BERLIN_NIGHTS.replace("CLOSES", "30h")
    processor = StreamProcessor(Engine(parse_moments(moments), EngineConfig(allowed_lateness_ms=0)), DictTable())
    outputs: list[object] = []
    records = [e.model_dump_json().encode() for e in TWO_BUYS]
    for value in records:
        processor.reset()
        work = processor.on_event(0, b"c", value)
        processor.save(work)
        outputs += work.outputs
    for hour in (23, 31, 41):  # ticks: past the opening, past the end of quiet hours, past the close
        processor.reset()  # a restart between ticks: the deferral lives only in the stored state
        work = processor.on_tick(0, Tick(to_ms(datetime(2026, 3, 2, tzinfo=UTC) + timedelta(hours=hour))))
        processor.save(work)
        outputs += work.outputs
    assert [(t.kind, t.emitted_at) for t in triggers(outputs)] == [
        ("window_open", datetime(2026, 3, 3, 7, tzinfo=UTC)),
        ("window_expired", datetime(2026, 3, 3, 16, tzinfo=UTC)),
    ]


# -- priorities when triggers compete for the cap -----------------------------------------------
COMPETING = """
policy: {max_triggers: 1, per: 7d}
moments:
  - name: newsletter
    priority: 1
    pattern: [{name: b, where: {type: purchase}}]
    window: {opens_after: 1h, closes_after: 3d, used_if: {type: outreach}}
  - name: save_the_account
    priority: 5
    pattern: [{name: t, where: {type: TRIGGER_TYPE}}]
"""


def test_triggers_of_one_instant_are_decided_in_priority_order_not_file_order() -> None:
    outputs = drain(COMPETING.replace("TRIGGER_TYPE", "purchase").replace("opens_after: 1h", "opens_after: 0s"),
                    [ev(1, "purchase", 0 * DAY)])  # fmt: skip
    assert fired(outputs) == [("save_the_account", "match", 0)]
    assert ("newsletter", "frequency_cap") in held(outputs)


def test_a_higher_priority_trigger_supersedes_an_open_unused_lower_priority_window() -> None:
    outputs = drain(COMPETING.replace("TRIGGER_TYPE", "cancel_request"),
                    [ev(1, "purchase", 0 * DAY), ev(2, "cancel_request", DAY)])  # fmt: skip
    sent = triggers(outputs)
    assert [(t.moment, t.kind) for t in sent] == [("newsletter", "window_open"), ("save_the_account", "match")]
    revoked = [o for o in outputs if isinstance(o, TriggerRevoked)]
    assert [(r.trigger_id, r.superseded_by, r.late_event_id) for r in revoked] == [
        (sent[0].trigger_id, sent[1].trigger_id, "e2")
    ]
    assert held(outputs) == [("newsletter", "opening_suppressed")]  # its expiry is not reported


def test_a_window_already_acted_on_is_not_superseded() -> None:
    outputs = drain(COMPETING.replace("TRIGGER_TYPE", "cancel_request"),
                    [ev(1, "purchase", 0 * DAY), ev(2, "outreach", DAY / 2), ev(3, "cancel_request", DAY)])  # fmt: skip
    assert fired(outputs) == [("newsletter", "window_open", 0)]
    assert held(outputs) == [("save_the_account", "frequency_cap")]
    assert not [o for o in outputs if isinstance(o, TriggerRevoked)]


def test_equal_priorities_never_supersede() -> None:
    outputs = drain(COMPETING.replace("TRIGGER_TYPE", "cancel_request").replace("priority: 5", "priority: 1"),
                    [ev(1, "purchase", 0 * DAY), ev(2, "cancel_request", DAY)])  # fmt: skip
    assert [name for name, _, _ in fired(outputs)] == ["newsletter", "newsletter"]  # its open, then its expiry
    assert held(outputs) == [("save_the_account", "frequency_cap")]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("quiet_hours", '{from: "21:00"}', "expected {from"), ("quiet_hours", '{from: "21:00", to: "25:00"}', "HH:MM"),
     ("quiet_hours", '{from: "21:00", to: "08:00", timezone: Mars/Base}', "unknown timezone"),
     ("priority", "high", "integer"), ("channels", "[email, all]", "not a channel"), ("channels", "email", "list")],
)  # fmt: skip
def test_bad_moment_policy_keys_are_refused_with_the_field(key: str, value: str, message: str) -> None:
    text = BUY.replace("    cooldown: 3d\n", f"    {key}: {value}\n")
    with pytest.raises(PatternError, match=message) as caught:
        parse_moments(text)
    assert key in str(caught.value)


def test_delivered_triggers_are_remembered_only_as_long_as_a_rule_can_count_them() -> None:
    purchases = [ev(n, "purchase", n * DAY) for n in range(10)]
    for moments, remembered in [(BUY.replace("    cooldown: 3d\n", ""), 0), (BUY, 3), (CAPPED, 7)]:
        engine = Engine(parse_moments(moments), EngineConfig(allowed_lateness_ms=0))
        state = engine.new_state("c")
        for e in purchases:
            engine.on_event(state, e)
        engine.on_tick(state, to_ms(T0 + 10 * DAY), final=True)
        assert len(state.contacts) <= remembered, moments
        assert all(to_ms(T0 + 9 * DAY) - c[0] < max(remembered, 1) * 86_400_000 for c in state.contacts)
