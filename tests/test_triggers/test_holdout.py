"""Holdout groups: deterministic membership, the configured share, and routing in the replay runner."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from momentstream.core.engine import Engine
from momentstream.core.schema import Trigger
from momentstream.data import bundled_moments_path
from momentstream.patterns.dsl import parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.runtime.replay.runner import replay_file
from momentstream.runtime.sources import write_events
from momentstream.sim.journeys import simulate
from momentstream.triggers.holdout import holdout_bucket, in_holdout

CUSTOMERS = [f"c-{i}" for i in range(20_000)]


def test_membership_is_a_function_of_salt_moment_and_customer() -> None:
    assert holdout_bucket("c-1", "m", "s") == holdout_bucket("c-1", "m", "s")
    assert holdout_bucket("c-1", "m", "s") != holdout_bucket("c-1", "m", "t")
    assert holdout_bucket("c-1", "m", "s") != holdout_bucket("c-1", "n", "s")
    assert not in_holdout("c-1", "m", 0.0, "s")


@pytest.mark.parametrize("share", [0.05, 0.1, 0.5])
def test_the_share_of_customers_held_out_is_the_configured_one(share: float) -> None:
    held = sum(in_holdout(c, "m", share, "2026q4") for c in CUSTOMERS) / len(CUSTOMERS)
    assert abs(held - share) < 4 * (share * (1 - share) / len(CUSTOMERS)) ** 0.5


def test_groups_of_two_moments_and_two_salts_are_independent() -> None:
    a = {c for c in CUSTOMERS if in_holdout(c, "a", 0.1, "s")}
    b = {c for c in CUSTOMERS if in_holdout(c, "b", 0.1, "s")}
    resalted = {c for c in CUSTOMERS if in_holdout(c, "a", 0.1, "t")}
    for other in (b, resalted):
        both = len(a & other) / len(CUSTOMERS)
        assert abs(both - 0.01) < 0.004  # 0.1 x 0.1 if independent


def _bundled_without_holdout() -> str:
    return re.sub(r"(?m)^ +holdout:.*\n", "", bundled_moments_path().read_text())


def _moments(holdout: str) -> str:
    return _bundled_without_holdout().replace("defaults:\n", f"defaults:\n  holdout: {holdout}\n", 1)


@pytest.mark.parametrize(
    ("holdout", "message"),
    [("1.0", "0 <= share < 1"), ("-0.1", "0 <= share < 1"), ("true", "0 <= share < 1"),
     ("{share: 0.1, pepper: x}", "unknown key")],
)  # fmt: skip
def test_bad_holdout_settings_are_refused(holdout: str, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        parse_moments(_moments(holdout))


def _replay(moments_text: str, events_path: Path) -> tuple[list[Trigger], list[Trigger]]:
    engine = Engine(parse_moments(moments_text))
    treated, held = io.StringIO(), io.StringIO()
    replay_file(events_path, engine, treated, holdout_out=held, progress=False)
    parse = Trigger.model_validate_json
    return [parse(line) for line in treated.getvalue().splitlines()], [
        parse(line) for line in held.getvalue().splitlines()
    ]


def test_replay_routes_holdout_triggers_apart_and_fires_the_same_ones(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    with events.open("w") as f:
        write_events(simulate(400, 60, 7).events, f)
    plain, nothing_held = _replay(_bundled_without_holdout(), events)
    treated, held = _replay(_moments('{share: 0.3, salt: "t"}'), events)
    assert not nothing_held
    assert held
    assert all(t.holdout for t in held)
    assert not any(t.holdout for t in treated)
    # The holdout changes where a trigger goes, never whether it fires or its id.
    assert sorted(t.trigger_id for t in treated + held) == sorted(t.trigger_id for t in plain)
    assert all(in_holdout(t.customer_id, t.moment, 0.3, "t") for t in held)
    customers = {t.customer_id for t in plain}
    assert 0.2 < len({t.customer_id for t in held}) / len(customers) < 0.5
