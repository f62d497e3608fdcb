"""Predicates on event fields, timezones, and the errors they raise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from momentstream.core.schema import TouchpointEvent
from momentstream.patterns.errors import PatternError
from momentstream.patterns.predicates import compile_predicate


def ev(ts: datetime | None = None, **fields: Any) -> TouchpointEvent:
    base: dict[str, Any] = {"event_id": "e", "customer_id": "c", "type": "purchase", "channel": "web",
                            "ts": ts or datetime(2026, 3, 2, 12, tzinfo=UTC)}  # fmt: skip
    return TouchpointEvent(**{**base, **fields})


@pytest.mark.parametrize(
    ("where", "event", "expected"),
    [
        ({"type": "purchase"}, ev(), True),
        ({"type": ["refund", "purchase"]}, ev(), True),
        ({"type": "refund"}, ev(), False),
        ({"channel": "app"}, ev(), False),
        ({"value": {"gte": 100}}, ev(value=100.0), True),
        ({"value": {"gt": 100}}, ev(value=100.0), False),
        ({"value": {"gt": 1}}, ev(), False),  # no value never satisfies a comparison
        ({"value": 5}, ev(value=5.0), True),
        ({"properties": {"plan": "pro"}}, ev(properties={"plan": "pro"}), True),
        ({"properties": {"plan": ["pro", "team"]}}, ev(properties={"plan": "free"}), False),
        ({"properties": {"seats": {"gte": 10}}}, ev(properties={"seats": 12}), True),
        ({"properties": {"seats": {"gte": 10}}}, ev(properties={"seats": "many"}), False),
        ({"properties": {"plan": {"exists": True}}}, ev(), False),
        ({"properties": {"trial": True}}, ev(properties={"trial": True}), True),
        ({"not": {"type": "purchase"}}, ev(), False),
        ({"any_of": [{"type": "refund"}, {"channel": "web"}]}, ev(), True),
    ],
)
def test_field_tests(where: dict[str, Any], event: TouchpointEvent, expected: bool) -> None:
    assert compile_predicate(where)(event) is expected


def test_day_and_hour_in_a_configured_timezone() -> None:
    p = compile_predicate({"day_of_week": ["mon"], "hour": {"gte": 9, "lt": 17}, "timezone": "America/New_York"})
    monday_10_ny = datetime(2026, 3, 2, 15, tzinfo=UTC)  # 10:00 EST
    assert p(ev(monday_10_ny))
    assert not p(ev(monday_10_ny + timedelta(hours=8)))  # 18:00 EST


def test_customer_timezone_from_property_then_from_the_offset() -> None:
    p = compile_predicate({"hour": 9, "timezone": "customer"})
    nine_in_tokyo = datetime(2026, 3, 2, 0, tzinfo=UTC)
    assert p(ev(nine_in_tokyo, properties={"timezone": "Asia/Tokyo"}))
    assert not p(ev(nine_in_tokyo))  # no property: UTC offset of ts, 00:00
    assert p(ev(datetime(2026, 3, 2, 9, tzinfo=timezone(timedelta(hours=-5)))))


def test_dst_is_respected() -> None:
    p = compile_predicate({"hour": 9, "timezone": "Europe/Berlin"})
    assert p(ev(datetime(2026, 1, 5, 8, tzinfo=UTC)))  # CET, UTC+1
    assert p(ev(datetime(2026, 7, 6, 7, tzinfo=UTC)))  # CEST, UTC+2


def test_types_are_known_for_indexing() -> None:
    assert compile_predicate({"type": ["a", "b"]}).types == frozenset({"a", "b"})
    assert compile_predicate({"channel": "web"}).types is None
    assert compile_predicate({"any_of": [{"type": "a"}, {"type": "b"}]}).types == frozenset({"a", "b"})


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ({"typ": "a"}, "typ"),
        ({"value": {"gtt": 1}}, "value.gtt"),
        ({"day_of_week": ["funday"]}, "day_of_week"),
        ({"hour": 9, "timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "UTC"}, "timezone"),
        ({"not": {"value": {"lt": True}}}, "not.value.lt"),
        ({"any_of": []}, "any_of"),
    ],
)
def test_errors_name_the_field(where: dict[str, Any], field: str) -> None:
    with pytest.raises(PatternError) as info:
        compile_predicate(where)
    assert info.value.field == field


ANGRY = "This is the third time it broke. Useless, I want a refund now!"
HAPPY = "Thanks so much, the new dashboard is great and the team was wonderful."


def test_tone_matches_the_texts_of_angry_tickets_only() -> None:
    angry = compile_predicate({"type": "support_ticket", "tone": {"lte": -0.5}})
    assert angry(ev(type="support_ticket", text=ANGRY))
    assert not angry(ev(type="support_ticket", text=HAPPY))
    assert not angry(ev(type="support_ticket"))  # no text: no tone, never a match
    assert not angry(ev(type="support_ticket", text=""))  # an empty text is neutral
    assert angry.types == frozenset({"support_ticket"})
    long_text = (ANGRY + " ") * 300  # near the 20,000-character limit of an event's text
    assert angry(ev(type="support_ticket", text=long_text[:20_000]))
    odd = "\u202e\x00 ☠️ ¿¡ 𝕭𝖗𝖔𝖐𝖊𝖓 " * 50
    assert compile_predicate({"tone": {"gte": -1}})(ev(text=odd))  # every tone is within [-1, 1]


@pytest.mark.parametrize(
    ("tone", "field"),
    [
        (-0.5, "tone"),
        ({}, "tone"),
        ({"lte": -2}, "tone.lte"),
        ({"lte": "low"}, "tone.lte"),
        ({"lte": True}, "tone.lte"),
        ({"between": 0.1}, "tone.between"),
        ({"gt": float("nan")}, "tone.gt"),
    ],
)
def test_a_tone_test_that_could_never_work_is_refused(tone: Any, field: str) -> None:
    with pytest.raises(PatternError) as err:
        compile_predicate({"type": "support_ticket", "tone": tone})
    assert err.value.field == field
