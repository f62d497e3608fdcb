"""Idle eviction: customers silent for idle_ttl with nothing pending are forgotten, in replay and in the worker."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from momentstream.cli.demo import default_engine
from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import TouchpointEvent, Trigger
from momentstream.patterns.dsl import parse_moments
from momentstream.runtime.kafka.processor import DictTable, StreamProcessor, Tick
from momentstream.runtime.replay.runner import DRAIN, ReplayRunner
from momentstream.sim.journeys import simulate

DAY = 86_400_000
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def ev(n: int, kind: str, day: float, customer: str = "c", channel: str = "unknown") -> TouchpointEvent:
    return TouchpointEvent(event_id=f"e{n}", customer_id=customer, type=kind, ts=T0 + timedelta(days=day),
                           channel=channel)  # fmt: skip


def test_eviction_frees_idle_customers_and_fires_the_same_triggers() -> None:
    events = simulate(400, 120, 8).events
    plain = ReplayRunner(default_engine(None, scoring=False))
    lean = ReplayRunner(default_engine(None, scoring=False, idle_ttl_ms=30 * DAY))
    expected = per_customer(plain.run(events, until=DRAIN))
    got = per_customer(lean.run(events, until=DRAIN))
    assert got == expected  # (customers are ticked in another order: only each one's order is kept)
    assert sum(len(ids) for ids in got.values()) > 100
    assert lean.evicted >= len(plain.states)  # everyone went quiet by the end of the drain
    assert not lean.states


def per_customer(outputs: Iterable[object]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for o in outputs:
        if isinstance(o, Trigger):
            found[o.customer_id].append(o.trigger_id)
    return dict(found)


WINDOWED = """
moments:
  - name: second_buy
    pattern:
      - {name: first, where: {type: purchase}}
      - {name: second, where: {type: purchase}, within: 30d}
    window: {anchor: second, opens_after: 20d, closes_after: 40d}
"""


def lean_runner() -> ReplayRunner:
    return ReplayRunner(Engine(parse_moments(WINDOWED), EngineConfig(allowed_lateness_ms=0, idle_ttl_ms=10 * DAY)))


def test_a_customer_with_a_pending_window_is_kept_until_it_closes() -> None:
    runner = lean_runner()
    for e in [ev(1, "purchase", 0), ev(2, "purchase", 1), ev(3, "page_view", 0, customer="other")]:
        runner.feed(e)
    runner.tick(to_ms(T0) + 30 * DAY)  # silent for 29 days, but the window (day 21 to 41) is pending
    assert "c" in runner.states
    assert "other" not in runner.states
    outputs = runner.tick(to_ms(T0) + 60 * DAY)
    assert [o.kind for o in outputs if isinstance(o, Trigger)] == ["window_expired"]
    assert "c" not in runner.states  # nothing pending any more, and silent for longer than the TTL


def test_consent_records_keep_a_customer_for_ever() -> None:
    runner = lean_runner()
    runner.feed(ev(1, "consent_withdrawn", 0, channel="all"))
    runner.tick(to_ms(T0) + 365 * DAY)
    assert runner.states["c"].consent


def test_a_customer_back_after_eviction_starts_afresh() -> None:
    runner = lean_runner()
    runner.feed(ev(1, "purchase", 0))  # a partial match (a second purchase within 30 days completes it)
    runner.tick(to_ms(T0) + 20 * DAY)
    assert "c" not in runner.states  # silent past the 10-day TTL: the partial match went with it
    outputs = runner.feed(ev(2, "purchase", 25))
    assert not [o for o in outputs if isinstance(o, Trigger)]
    assert [s[0] for s in runner.states["c"].story] == ["e2"]


def test_the_worker_deletes_an_evicted_customer_from_its_table() -> None:
    table = DictTable()
    engine = Engine(parse_moments(WINDOWED), EngineConfig(allowed_lateness_ms=0, idle_ttl_ms=10 * DAY))
    processor = StreamProcessor(engine, table)
    for e in [ev(1, "page_view", 0, customer="a"), ev(2, "page_view", 5, customer="b")]:
        work = processor.on_event(0, e.customer_id.encode(), e.model_dump_json().encode())
        processor.save(work)
    assert processor.customers_tracked() == 2
    processor.reset()  # a restart: the idle timers live in the stored states
    work = processor.on_tick(0, Tick(to_ms(T0) + 12 * DAY))
    processor.save(work)
    assert work.evicted == 1
    assert b"a" not in table
    assert b"b" in table
    assert processor.customers_tracked() == 1
