"""The YAML loader and the builder: same moments, same checks, errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from momentstream.data import bundled_moments_path
from momentstream.patterns.dsl import Moment, load_moments, parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.triggers.contract import to_cloudevent
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
            "field 'pattern[1].at_least': at_least must be between 1 and the 1 indicators",
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


def one_moment(**extra: str) -> str:
    """A moments file with one moment; ``extra`` are YAML lines added to it (or, with key 'top', to the file)."""
    top = extra.pop("top", "")
    lines = "".join(f"    {k}: {v}\n" for k, v in extra.items())
    return (f"{top}\nmoments:\n  - name: m\n    pattern:\n      - {{name: a, where: {{type: signup}}}}\n"
            f"      - {{name: b, where: {{type: purchase}}}}\n{lines}")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (one_moment(objective="no_such_objective"), "objective", "objectives file"),
        (one_moment(channels="[emial]"), "channels", "did you mean 'email'"),
        (one_moment(top="version: 2"), "version", "version 1"),
        (one_moment(window="{anchor: a, opens_after: 0s, closes_after: 1h}").replace(
            "{name: b, where: {type: purchase}}", "{name: b, absent: {type: purchase}, for: 2h}"),
         "window.closes_after", "closed before it could open"),
        (YAML.replace("{name: support, where: {type: support_ticket}}",
                      "{name: support, where: {type: support_ticket, hour: 25}}"), "hour", "0 to 23"),
        (YAML.replace("{name: support, where: {type: support_ticket}}",
                      "{name: support, where: {type: support_ticket, hour: {gte: 9, lt: 24.5}}}"), "hour", "0 to 23"),
        (YAML.replace("within: 4d}", "within: 4d, times: 2, one_or_more: true}"), "times", "[2, null]"),
        (one_moment(owner="''"), "owner", "team"),
    ],
)  # fmt: skip
def test_impossible_or_ignored_definitions_are_refused_naming_the_field(text: str, field: str, words: str) -> None:
    with pytest.raises(PatternError) as caught:
        parse_moments(text, source="m.yaml")
    assert caught.value.field.endswith(field), caught.value
    assert words in str(caught.value)
    assert str(caught.value).startswith("m.yaml: ")


def test_declared_channels_and_open_ended_counts_are_accepted() -> None:
    [m] = parse_moments(one_moment(top="channels: [kakao]", channels="[kakao, email]"))
    assert m.spec.channels == ("kakao", "email")
    [m] = parse_moments(YAML.replace("within: 4d}", "within: 4d, times: [2, null]}"))
    assert (m.spec.steps[1].min_times, m.spec.steps[1].max_times) == (2, None)  # type: ignore[union-attr]


def test_a_moments_owner_reaches_the_trigger_and_the_crm_envelope_without_scoring() -> None:

    [m] = parse_moments(one_moment(owner="lifecycle_team"))
    [trigger] = triggers(run(m, [event("e1", "signup", 0), event("e2", "purchase", 5)]))
    assert trigger.owner == "lifecycle_team"
    assert to_cloudevent(trigger, "momentstream/test")["owner"] == "lifecycle_team"
    [plain] = parse_moments(one_moment())
    [unowned] = triggers(run(plain, [event("e1", "signup", 0), event("e2", "purchase", 5)]))
    assert to_cloudevent(unowned, "momentstream/test")["owner"] == "unassigned"
