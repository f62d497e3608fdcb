"""Shadow moments run, are scored and audited, and never reach a CRM or use up the contact policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import Output, ShadowTrigger, TouchpointEvent, Trigger
from momentstream.ops.metrics import WorkerMetrics
from momentstream.ops.settings import load_settings
from momentstream.patterns.dsl import parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.runtime.kafka.routing import precreate_series, route_output
from momentstream.runtime.replay.runner import ReplayRunner

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MOMENTS = """
policy: {max_triggers: 1, per: 7d}
moments:
  - name: after_ticket
    pattern:
      - {name: ticket, where: {type: support_ticket}}
      - {name: order, where: {type: purchase}}
  - name: after_ticket_v2
    mode: shadow
    compare_to: after_ticket
    pattern:
      - {name: ticket, where: {type: support_ticket}}
"""


def history(customers: int = 4) -> list[TouchpointEvent]:
    events = []
    for i in range(customers):
        events.append(TouchpointEvent(event_id=f"t{i}", customer_id=f"c{i}", type="support_ticket",
                                      ts=T0 + timedelta(hours=i)))  # fmt: skip
        if i % 2 == 0:
            events.append(TouchpointEvent(event_id=f"p{i}", customer_id=f"c{i}", type="purchase",
                                          ts=T0 + timedelta(hours=i, minutes=30)))  # fmt: skip
    return sorted(events, key=lambda e: e.ts)


def run(text: str = MOMENTS) -> list[Output]:
    engine = Engine(parse_moments(text), EngineConfig())
    return list(ReplayRunner(engine).run(history(), until=to_ms(T0 + timedelta(days=1))))


def test_shadow_triggers_are_audited_and_do_not_use_up_the_contact_cap() -> None:
    outputs = run()
    shadow = [o for o in outputs if isinstance(o, ShadowTrigger)]
    live = [o for o in outputs if isinstance(o, Trigger)]
    assert sorted(s.customer_id for s in shadow) == ["c0", "c1", "c2", "c3"]
    assert all(s.compare_to == "after_ticket" and s.trigger.moment == "after_ticket_v2" for s in shadow)
    # The shadow moment fired first for c0 and c2, yet the live moment still had the cap of 1 to itself.
    assert sorted(t.customer_id for t in live) == ["c0", "c2"]
    assert all(t.moment == "after_ticket" for t in live)
    without = [o for o in run(MOMENTS.split("  - name: after_ticket_v2", maxsplit=1)[0]) if isinstance(o, Trigger)]
    assert [t.trigger_id for t in without] == [t.trigger_id for t in live]  # the shadow changes nothing live


def test_shadow_triggers_are_counted_apart_and_go_to_the_audit_topic() -> None:
    engine = Engine(parse_moments(MOMENTS), EngineConfig())
    metrics = WorkerMetrics()
    precreate_series(metrics, engine)
    settings = load_settings(None, report_unknown=False)
    text = metrics.render().decode()
    assert 'momentstream_shadow_triggers_total{kind="match",moment="after_ticket_v2"} 0.0' in text
    assert 'moment="after_ticket_v2"' not in text.split("momentstream_shadow_triggers_total")[0]  # not a live moment
    record = next(o for o in run() if isinstance(o, ShadowTrigger))
    outgoing = route_output(record, settings, metrics, "momentstream/test")
    assert outgoing.topic == settings.audit_topic
    assert ("output", b"shadow_trigger") in outgoing.headers
    assert 'momentstream_shadow_triggers_total{kind="match",moment="after_ticket_v2"} 1.0' in metrics.render().decode()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (("compare_to: after_ticket", "compare_to: after_tiket"), "compare_to", "did you mean 'after_ticket'"),
        (("compare_to: after_ticket", "compare_to: after_ticket_v2"), "compare_to", "no live moment"),
        (("mode: shadow", "mode: dark"), "mode", "live or shadow"),
        (("    mode: shadow\n", ""), "compare_to", "mode: shadow"),
        (("compare_to: after_ticket", "compare_to: [after_ticket]"), "compare_to", "live moment"),
    ],
)
def test_a_shadow_moment_that_names_nothing_real_is_refused(change: tuple[str, str], field: str, words: str) -> None:
    with pytest.raises(PatternError) as err:
        parse_moments(MOMENTS.replace(*change))
    assert err.value.field == field
    assert words in str(err.value)


def test_report_shadow_compares_the_shadow_moment_with_the_live_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m.yaml").write_text(MOMENTS)
    events = tmp_path / "events.jsonl"
    events.write_text("".join(e.model_dump_json() + "\n" for e in history()))
    out, audit = tmp_path / "t.jsonl", tmp_path / "a.jsonl"
    assert main(["replay", str(events), "-c", str(tmp_path / "m.yaml"), "-o", str(out), "--audit", str(audit),
                 "--no-scoring", "--until", "2026-03-03T09:00:00Z"]) == 0  # fmt: skip
    assert "match (shadow: audit only)" in capsys.readouterr().err
    assert main(["report", "shadow", str(audit), str(out)]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("after_ticket_v2"))
    assert row.split()[1:9] == ["after_ticket", "4", "4", "2", "2", "2", "2", "0"]
    assert "+0.5 h" in row  # the shadow moment fires at the ticket, half an hour before the order
    assert main(["report", "shadow", str(out)]) == 2  # a triggers file is no audit file
    assert "no shadow_trigger records" in capsys.readouterr().err
