"""What a new moments file keeps, resets and refuses, and the engine applying it in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.cli.demo import default_engine
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import TouchpointEvent, Trigger
from momentstream.models.objectives import ObjectivesError
from momentstream.patterns.dsl import parse_moments
from momentstream.patterns.rollout import fingerprint, plan_rollout, registry

BASE = """
moments:
  - name: m
    description: first words
    pattern:
      - {name: a, where: {type: ticket}}
      - {name: b, where: {type: purchase}, within: 2d}
"""


def spec(text: str = BASE):  # type: ignore[no-untyped-def]
    return parse_moments(text)[0].spec


@pytest.mark.parametrize(
    "change",
    [
        ("first words", "other words"),
        (
            "    pattern:",
            "    priority: 5\n    channels: [email]\n    holdout: 0.2\n"
            "    owner: sales\n    playbook: {steps: [call]}\n    pattern:",
        ),
    ],
)
def test_what_does_not_touch_matching_keeps_the_fingerprint(change: tuple[str, str]) -> None:
    assert fingerprint(spec(BASE.replace(*change))) == fingerprint(spec())


@pytest.mark.parametrize(
    "change",
    [
        ("type: purchase", "type: order"),
        ("within: 2d", "within: 3d"),
        ("    pattern:", "    skip: no_skip\n    pattern:"),
        ("    pattern:", "    max_partial_matches: 5\n    pattern:"),
        ("    pattern:", "    timezone: Europe/Paris\n    pattern:"),
        ("    pattern:", "    window: {opens_after: 1h, closes_after: 2h}\n    pattern:"),
        ("    pattern:", "    skip: {skip_to_last: a}\n    pattern:"),
        ("within: 2d}", "within: 2d, one_or_more: true, until: {type: refund}}"),
        ("within: 2d}", "within: 2d, one_or_more: true, combinations: true}"),
        ("      - {name: b", "      - {name: n, not_next: {type: refund}}\n      - {name: b"),
    ],
)
def test_what_changes_matching_changes_the_fingerprint(change: tuple[str, str]) -> None:
    changed = BASE.replace(*change)
    assert changed != BASE
    assert fingerprint(spec(changed)) != fingerprint(spec())


def test_greedy_changes_the_fingerprint() -> None:
    """(A greedy last step is refused, so the loop gets a step after it here.)"""
    loop = BASE.replace("within: 2d}", "within: 2d, one_or_more: true}\n      - {name: c, where: {type: refund}}")
    assert fingerprint(spec(loop.replace("one_or_more: true}", "one_or_more: true, greedy: true}"))) != fingerprint(
        spec(loop)
    )


@pytest.mark.parametrize(("optional", "same"), [("times: 1", True), ("times: 2", False)])
def test_optional_keeps_the_fingerprints_of_earlier_releases_unless_its_meaning_changed(
    optional: str, same: bool
) -> None:
    """`optional` with one event is written as before ([0, 1]); with two it now means none or two (a fix)."""
    old_form = BASE.replace("within: 2d}", f"within: 2d, times: {[0, int(optional[-1])]}}}")
    new_form = BASE.replace("within: 2d}", f"within: 2d, {optional}, optional: true}}")
    assert (fingerprint(spec(new_form)) == fingerprint(spec(old_form))) is same


def test_fingerprints_recorded_by_earlier_releases_stay_valid() -> None:
    """Deployments hold these in their models topic: a new release must compute the same values, or every
    worker would refuse to start after the upgrade. (Recorded before until/greedy/combinations/not_next.)"""
    assert fingerprint(spec()) == "016afd1c89408b38"
    bundled = {m.name: fingerprint(m.spec) for m in default_engine(None).moments}
    assert bundled == {"post_purchase_window": "d00e0d115aad764d", "silent_churn": "6b53bc8783652a60",
                       "expansion_signals": "e35cf91ae28bbabd", "advocacy_moment": "b51b2639b3738711"}  # fmt: skip


def test_the_plan_keeps_resets_adds_removes_and_refuses() -> None:
    old = registry(parse_moments(BASE + "  - name: gone\n    pattern: [{name: x, where: {type: x}}]\n"))
    bumped = BASE.replace("    description", "    version: 2\n    description").replace("2d", "5d")
    plan = plan_rollout(old, parse_moments(bumped + "  - name: fresh\n    pattern: [{name: x, where: {type: x}}]\n"))
    assert (plan.kept, plan.new_version, plan.added, plan.removed, plan.refused) == (
        [], [("m", 1, 2)], ["fresh"], ["gone"], [])  # fmt: skip
    refused = plan_rollout(old, parse_moments(BASE.replace("2d", "5d")))
    assert refused.refused == ["moment 'm' changed its pattern but kept version 1: give it version: 2"]
    assert plan_rollout(old, parse_moments(BASE)).kept == ["m"]


def test_check_against_the_running_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    running, changed = tmp_path / "running.yaml", tmp_path / "changed.yaml"
    running.write_text(BASE)
    changed.write_text(BASE.replace("2d", "5d"))
    assert main(["check", str(changed), "--against", str(running)]) == 2
    assert "refused: moment 'm' changed its pattern but kept version 1: give it version: 2" in capsys.readouterr().out
    changed.write_text(BASE.replace("2d", "5d").replace("    description", "    version: 2\n    description"))
    assert main(["check", str(changed), "--against", str(running)]) == 0
    assert "new version: m 1 -> 2" in capsys.readouterr().out


T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def ev(n: int, kind: str, hours: float) -> TouchpointEvent:
    return TouchpointEvent(event_id=f"e{n}", customer_id="c1", type=kind, ts=T0 + timedelta(hours=hours))


def test_replacing_moments_keeps_the_progress_of_unchanged_ones() -> None:
    engine = Engine(parse_moments(BASE), EngineConfig(allowed_lateness_ms=0))
    state = engine.new_state("c1")
    engine.on_event(state, ev(1, "ticket", 0))
    engine.replace_moments(parse_moments(BASE + "  - name: extra\n    pattern: [{name: x, where: {type: x}}]\n"))
    outputs = engine.on_event(state, ev(2, "purchase", 5)).outputs
    assert [t.moment for t in outputs if isinstance(t, Trigger)] == ["m"]  # the ticket before the reload counted
    engine.replace_moments(parse_moments(BASE.replace("    description", "    version: 2\n    description")))
    engine.on_event(state, ev(3, "purchase", 6))
    assert [o for o in engine.on_event(state, ev(4, "purchase", 7)).outputs if isinstance(o, Trigger)] == []


def test_a_replacement_that_breaks_an_objective_binding_changes_nothing() -> None:
    engine = default_engine(None)  # the bundled objectives bind the bundled moments by name
    before = engine.moments
    with pytest.raises(ObjectivesError):
        engine.replace_moments(parse_moments(BASE))
    assert engine.moments == before
    assert engine.on_event(engine.new_state("c1"), ev(1, "support_ticket", 0)) is not None  # still runs


def test_a_version_that_goes_down_is_refused() -> None:
    """2 -> 1 would bring back trigger ids the CRM already deduplicated (moment@1 with the same evidence)."""
    two = parse_moments(BASE.replace("    pattern:", "    version: 2\n    pattern:"))
    one = parse_moments(BASE.replace("type: purchase", "type: order"))
    plan = plan_rollout(registry(two), one)
    assert plan.refused == ["moment 'm' went back from version 2 to 1: a version only goes up; give it version: 3"]
    assert plan.new_version == []
    up = plan_rollout(registry(one), two)
    assert (up.refused, up.new_version) == ([], [("m", 1, 2)])


def test_check_against_refuses_a_downgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    running, lower = tmp_path / "running.yaml", tmp_path / "lower.yaml"
    running.write_text(BASE.replace("    pattern:", "    version: 2\n    pattern:"))
    lower.write_text(BASE)
    assert main(["check", str(lower), "--against", str(running)]) == 2
    assert "went back from version 2 to 1" in capsys.readouterr().out
