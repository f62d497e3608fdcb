"""The YAML loader and the builder: same moments, same checks, errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from momentstream.patterns.dsl import Moment, load_moments, parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.resources import bundled_moments_path
from tests.helpers import event, hours, run, triggers

YAML = """
moments:
  - name: post_purchase
    pattern:
      - {name: support, where: {type: support_ticket}}
      - {name: second_purchase, where: {type: purchase}, within: 4d}
      - {name: silence, absent: {type: [purchase, page_view]}, for: 18h}
    window: {anchor: second_purchase, opens_after: 19h, closes_after: 37h, cancel_if: {type: outreach}}
"""


def test_yaml_and_builder_compile_to_the_same_behaviour() -> None:
    [from_yaml] = parse_moments(YAML)
    from_builder = (
        Moment("post_purchase").begin("support", where={"type": "support_ticket"})
        .followed_by("second_purchase", where={"type": "purchase"}, within="4d")
        .not_followed_by("silence", where={"type": ["purchase", "page_view"]}, for_="18h")
        .window(opens_after="19h", closes_after="37h", anchor="second_purchase", cancel_if={"type": "outreach"})
        .compile()
    )  # fmt: skip
    stream = [event("s", "support_ticket", 0), event("p", "purchase", hours(30)),
              event("x", "heartbeat", hours(80), customer="other")]  # fmt: skip
    a, b = triggers(run(from_yaml, stream)), triggers(run(from_builder, stream))
    assert [t.trigger_id for t in a] == [t.trigger_id for t in b]
    assert [t.kind for t in a] == ["window_open", "window_expired"]


def test_bundled_moments_load() -> None:
    names = [m.name for m in load_moments(bundled_moments_path())]
    assert names == ["post_purchase_window", "silent_churn", "expansion_signals", "advocacy_moment"]


def broken(step_yaml: str, extra: str = "") -> str:
    return f"moments:\n  - name: broken\n{extra}    pattern:\n{step_yaml}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (broken("      - {where: {type: a}, within: 4 days}\n"), "field 'pattern[0].within': not a duration"),
        (broken("      - {where: {type: a}, contiguity: soon}\n"), "field 'pattern[0].contiguity'"),
        (broken("      - {where: {type: a}, times: 0}\n"), "field 'pattern[0].times'"),
        (
            broken("      - {absent: {type: a}}\n"),
            "field 'pattern[0]': a pattern cannot start with an absence",
        ),
        (broken("      - {where: {type: a}}\n      - {absent: {type: b}}\n"), "field 'pattern[1].for'"),
        (
            broken("      - {where: {type: a}}\n      - {at_least: 2, of: {x: {type: x}}, within: 1d}\n"),
            "k-of-n indicators must be the first step",
        ),
        (broken("      - {at_least: 3, of: {x: {type: x}, y: {type: y}}, within: 1d}\n"), "at_least"),
        (broken("      - {where: {type: a, value: {above: 3}}}\n"), "field 'pattern[0].where.value.above'"),
        (
            broken("      - {name: a, where: {type: a}}\n", "    window: {opens_after: 2h, closes_after: 1h}\n"),
            "field 'window.closes_after'",
        ),
        (
            broken("      - {name: a, where: {type: a}}\n", "    window: {closes_after: 1h, anchor: b}\n"),
            "field 'window.anchor': no step named 'b'",
        ),
        (broken("      - {name: a, where: {type: a}}\n      - {name: a, where: {type: b}}\n"), "used twice"),
        (broken("      - {where: {type: a}, optional: true}\n"), "at least one step must be mandatory"),
        ("moments:\n  - name: Bad-Name\n    pattern: [{where: {type: a}}]\n", "field 'name'"),
        ("moments: []\n", "defines no moments"),
        ("moments: [\n", "not valid YAML"),
    ],
)
def test_config_errors_name_file_moment_and_field(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "moments.yaml"
    path.write_text(text)
    with pytest.raises(PatternError) as info:
        load_moments(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_error_names_the_moment() -> None:
    with pytest.raises(PatternError) as info:
        parse_moments(broken("      - {where: {type: a}, within: soon}\n"), source="m.yaml")
    assert info.value.moment == "broken"
    assert str(info.value).startswith("m.yaml: moment 'broken': field 'pattern[0].within'")


def test_missing_file_is_a_pattern_error() -> None:
    with pytest.raises(PatternError, match="cannot read moments file"):
        load_moments("/nonexistent/moments.yaml")


def test_duplicate_moment_names_are_rejected() -> None:
    one = "  - name: same\n    pattern: [{where: {type: a}}]\n"
    with pytest.raises(PatternError, match="already defined"):
        parse_moments("moments:\n" + one + one)
