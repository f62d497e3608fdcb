"""Revocation: a too-late event that disproves an emitted trigger yields trigger_revoked, once."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import LateEvent, TouchpointEvent, Trigger, TriggerRevoked, TriggerSuppressed
from momentstream.patterns.dsl import parse_moments
from momentstream.runtime.kafka.processor import DictTable, StreamProcessor, Tick
from momentstream.runtime.replay.runner import DRAIN, ReplayRunner, replay_file
from momentstream.runtime.sources import write_events

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
MOMENTS = """
moments:
  - name: quiet_after_signup
    pattern:
      - {name: signup, where: {type: signup}}
      - {name: silence, absent: {type: login}, for: 1h}
  - name: post_purchase
    pattern:
      - {name: first, where: {type: purchase}}
      - {name: second, where: {type: purchase}, within: 30d}
    window:
      {anchor: second, opens_after: 19h, closes_after: 37h, cancel_if: {type: outreach}, used_if: {type: outreach}}
"""


def ev(n: int, kind: str, at: timedelta, customer: str = "c") -> TouchpointEvent:
    return TouchpointEvent(event_id=f"e{n}", customer_id=customer, type=kind, ts=T0 + at)


def engine() -> Engine:
    return Engine(parse_moments(MOMENTS), EngineConfig(allowed_lateness_ms=60_000))


def run(events: list[TouchpointEvent]) -> list[object]:
    runner = ReplayRunner(engine())
    return [o for e in events for o in runner.feed(e)]


def test_a_late_event_breaking_the_silence_revokes_the_match() -> None:
    outputs = run([ev(1, "signup", timedelta(0)), ev(2, "page_view", timedelta(hours=3)),
                   ev(3, "login", timedelta(minutes=30))])  # fmt: skip
    (match,) = [o for o in outputs if isinstance(o, Trigger)]
    revoked = [o for o in outputs if isinstance(o, TriggerRevoked)]
    assert [r.trigger_id for r in revoked] == [match.trigger_id]
    assert revoked[0].late_event_id == "e3"
    assert any(isinstance(o, LateEvent) for o in outputs)


def test_late_events_that_prove_nothing_revoke_nothing() -> None:
    outputs = run([ev(1, "signup", timedelta(0)), ev(2, "page_view", timedelta(hours=3)),
                   ev(3, "page_view", timedelta(minutes=30)),  # not a login
                   ev(4, "login", timedelta(hours=1, minutes=30))])  # after the silence completed  # fmt: skip
    assert len([o for o in outputs if isinstance(o, Trigger)]) == 1
    assert not [o for o in outputs if isinstance(o, TriggerRevoked)]


def test_a_trigger_is_revoked_once() -> None:
    outputs = run([ev(1, "signup", timedelta(0)), ev(2, "page_view", timedelta(hours=3)),
                   ev(3, "login", timedelta(minutes=30)), ev(4, "login", timedelta(minutes=40))])  # fmt: skip
    assert len([o for o in outputs if isinstance(o, TriggerRevoked)]) == 1


def test_a_late_cancel_if_before_the_window_opened_revokes_window_open() -> None:
    outputs = run([ev(1, "purchase", timedelta(days=-5)), ev(2, "purchase", timedelta(0)),
                   ev(3, "page_view", timedelta(hours=25)),  # the clock passes the opening (19 h)
                   ev(4, "outreach", timedelta(hours=10)),  # too late, but before the opening: revoke
                   ev(5, "outreach", timedelta(hours=20))])  # too late and after the opening: no  # fmt: skip
    opened = [o for o in outputs if isinstance(o, Trigger) and o.kind == "window_open"]
    revoked = [o for o in outputs if isinstance(o, TriggerRevoked)]
    assert len(opened) == 1
    assert [(r.trigger_id, r.late_event_id) for r in revoked] == [(opened[0].trigger_id, "e4")]


def test_revocable_triggers_survive_the_state_encoding_used_by_the_worker() -> None:
    """The worker stores state between records; a revocation must work across that."""
    processor = StreamProcessor(engine(), DictTable())
    outputs: list[object] = []
    for e in [ev(1, "signup", timedelta(0)), ev(2, "page_view", timedelta(hours=3))]:
        work = processor.on_event(0, b"c", e.model_dump_json().encode())
        processor.save(work)
        outputs += work.outputs
    processor.reset()  # forget the cache: the next record decodes the stored state
    work = processor.on_event(0, b"c", ev(3, "login", timedelta(minutes=30)).model_dump_json().encode())
    processor.save(work)
    (match,) = [o for o in outputs if isinstance(o, Trigger)]
    assert [o.trigger_id for o in work.outputs if isinstance(o, TriggerRevoked)] == [match.trigger_id]
    assert processor.on_tick(0, Tick(to_ms(T0 + timedelta(days=1)))).outputs == []


def test_a_holdout_triggers_revocation_goes_with_the_holdout_output(tmp_path: Path) -> None:
    """A CRM never saw a holdout trigger, so it must not get its revocation either."""
    moments = MOMENTS.replace("  - name: quiet_after_signup\n", "  - name: quiet_after_signup\n    holdout: 0.99\n")
    events = [ev(1, "signup", timedelta(0)), ev(2, "page_view", timedelta(hours=3)),
              ev(3, "login", timedelta(minutes=30))]  # fmt: skip
    source = tmp_path / "events.jsonl"
    with source.open("w") as handle:
        write_events(events, handle)
    actions, holdout = io.StringIO(), io.StringIO()
    engine = Engine(parse_moments(moments), EngineConfig(allowed_lateness_ms=60_000))
    replay_file(source, engine, actions, holdout_out=holdout, order="file", progress=False)
    assert actions.getvalue() == ""
    kept = [json.loads(line) for line in holdout.getvalue().splitlines()]
    assert [(d.get("output"), d["holdout"]) for d in kept] == [(None, True), ("trigger_revoked", True)]
    assert kept[1]["trigger_id"] == kept[0]["trigger_id"]


def test_a_revoked_window_opening_is_not_followed_by_its_expiry() -> None:
    """Before: after the revocation, `--until drain` still told the CRM the window expired."""

    runner = ReplayRunner(engine())
    outputs = list(runner.run([ev(1, "purchase", timedelta(days=-5)), ev(2, "purchase", timedelta(0)),
                               ev(3, "page_view", timedelta(hours=25)),
                               ev(4, "outreach", timedelta(hours=10))], until=DRAIN))  # fmt: skip
    kinds = [o.kind for o in outputs if isinstance(o, Trigger)]
    assert kinds == ["window_open"]
    assert [o.output for o in outputs if isinstance(o, TriggerRevoked)] == ["trigger_revoked"]
    [muted] = [o for o in outputs if isinstance(o, TriggerSuppressed)]
    assert (muted.kind, muted.reason) == ("window_expired", "opening_suppressed")
