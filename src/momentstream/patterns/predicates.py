"""Predicates on event fields, compiled once from the ``where:`` mapping of a step.

A compiled :class:`Predicate` knows which event types it can ever accept, so the engine
indexes moments by event type and skips the ones an event cannot concern.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from momentstream.core.schema import TouchpointEvent
from momentstream.patterns.errors import PatternError
from momentstream.patterns.tone import ticket_tone

__all__ = ["CUSTOMER_TIMEZONE", "Predicate", "compile_predicate"]

CUSTOMER_TIMEZONE = "customer"
"""Timezone name meaning: the event's ``properties.timezone`` (IANA), else the offset of its ``ts``."""

EventTest = Callable[[TouchpointEvent], bool]

_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
_KEYS = {"type", "channel", "value", "properties", "day_of_week", "hour", "timezone", "not", "any_of", "tone"}


@dataclass(frozen=True, slots=True)
class Predicate:
    """A compiled test on one event.

    ``types`` is the set of event types the predicate can accept, or None when any type
    could match (the engine then evaluates it for every event).

    Examples
    --------
    >>> p = compile_predicate({"type": "purchase", "value": {"gte": 100}})
    >>> sorted(p.types)
    ['purchase']
    """

    test: EventTest
    types: frozenset[str] | None
    description: str

    def __call__(self, event: TouchpointEvent) -> bool:
        return self.test(event)


def compile_predicate(spec: Mapping[str, Any] | None, default_timezone: str = "UTC") -> Predicate:
    """Compile a ``where:`` mapping; raise :class:`PatternError` naming the bad field.

    Keys: ``type`` and ``channel`` (a name or a list), ``value`` (a number or comparisons
    ``{gte: 100}``), ``properties`` (per key: a value, a list of values, or comparisons, or
    ``{exists: true}``), ``day_of_week`` (``[mon, wed]``), ``hour`` (comparisons on 0–23),
    ``timezone`` (IANA name or ``customer``) for those two, ``tone`` (comparisons on the VADER compound
    score of the event's ``text``, -1 angry to 1 delighted; an event without text never matches), ``not``
    and ``any_of``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> p = compile_predicate({"type": "support_ticket", "day_of_week": ["mon"],
    ...                        "timezone": "Europe/Berlin"})
    >>> ev = TouchpointEvent(event_id="1", customer_id="c", type="support_ticket",
    ...                      ts=datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc))
    >>> p(ev)  # Sunday 23:30 UTC is Monday 00:30 in Berlin
    True
    """
    if spec is None:
        return Predicate(lambda _e: True, None, "any event")
    if not isinstance(spec, Mapping):
        raise PatternError(f"expected a mapping of field tests, got {type(spec).__name__}")
    unknown = set(spec) - _KEYS
    if unknown:
        raise PatternError(
            f"unknown key(s) {sorted(unknown)} (expected some of {sorted(_KEYS)})", field=sorted(unknown)[0]
        )
    tz_name = spec.get("timezone", default_timezone)
    tests: list[EventTest] = []
    described: list[str] = []
    types: frozenset[str] | None = None

    if "type" in spec:
        names = _names(spec["type"], "type")
        types = names
        tests.append(lambda e, names=names: e.type in names)  # type: ignore[misc]
        described.append(f"type in {sorted(names)}")
    if "channel" in spec:
        channels = _names(spec["channel"], "channel")
        tests.append(lambda e, channels=channels: e.channel in channels)  # type: ignore[misc]
        described.append(f"channel in {sorted(channels)}")
    if "value" in spec:
        value_test = _comparison(spec["value"], "value")
        tests.append(lambda e: e.value is not None and value_test(e.value))
        described.append(f"value {spec['value']}")
    if "tone" in spec:
        tone_test = _tone(spec["tone"])
        tests.append(lambda e: e.text is not None and tone_test(ticket_tone(e.text)))
        described.append(f"tone {spec['tone']}")
    if "properties" in spec:
        props = spec["properties"]
        if not isinstance(props, Mapping) or not props:
            raise PatternError("expected a non-empty mapping of property tests", field="properties")
        for key, cond in props.items():
            tests.append(_property_test(str(key), cond))
        described.append(f"properties {dict(props)}")
    if "day_of_week" in spec or "hour" in spec:
        zone = _zone(tz_name)
        if "day_of_week" in spec:
            days = _days(spec["day_of_week"])
            tests.append(lambda e, days=days: _local(e, zone).weekday() in days)  # type: ignore[misc]
            described.append(f"day_of_week {spec['day_of_week']}")
        if "hour" in spec:
            _check_hours(spec["hour"])
            hour_test = _comparison(spec["hour"], "hour")
            tests.append(lambda e: hour_test(_local(e, zone).hour))
            described.append(f"hour {spec['hour']}")
    elif "timezone" in spec:
        raise PatternError("timezone only applies with day_of_week or hour", field="timezone")
    if "not" in spec:
        try:
            inner = compile_predicate(spec["not"], tz_name)
        except PatternError as err:
            raise err.located(field_prefix="not") from None
        tests.append(lambda e: not inner(e))
        described.append(f"not ({inner.description})")
    if "any_of" in spec:
        alternatives = spec["any_of"]
        if not isinstance(alternatives, list) or not alternatives:
            raise PatternError("expected a non-empty list of alternatives", field="any_of")
        compiled = []
        for i, alt in enumerate(alternatives):
            try:
                compiled.append(compile_predicate(alt, tz_name))
            except PatternError as err:
                raise err.located(field_prefix=f"any_of[{i}]") from None
        tests.append(lambda e: any(p(e) for p in compiled))
        described.append("any of (" + "; ".join(p.description for p in compiled) + ")")
        alt_types = [p.types for p in compiled]
        if all(t is not None for t in alt_types):
            union = frozenset().union(*(t for t in alt_types if t is not None))
            types = union if types is None else types & union

    return Predicate(_all(tests), types, ", ".join(described) or "any event")


def _all(tests: list[EventTest]) -> EventTest:
    if not tests:
        return lambda _e: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda e: first(e) and second(e)
    return lambda e: all(t(e) for t in tests)


def _tone(raw: Any) -> Callable[[Any], bool]:
    """``tone: {lte: -0.5}``: comparisons only, on numbers from -1 to 1 (a bound outside could never match)."""
    if not isinstance(raw, Mapping) or not raw:
        raise PatternError("expected comparisons on the text's tone, e.g. {lte: -0.5} (from -1 to 1)", field="tone")
    for op, bound in raw.items():
        if isinstance(bound, bool) or not isinstance(bound, int | float) or not -1.0 <= bound <= 1.0:
            raise PatternError(f"a tone bound is a number from -1 (angry) to 1 (delighted), not {bound!r}",
                               field=f"tone.{op}")  # fmt: skip
    return _comparison(raw, "tone")


def _check_hours(raw: Any) -> None:
    """``hour: 25`` could never match: every hour bound must be a whole number from 0 to 23."""
    bounds = raw if isinstance(raw, list) else list(raw.values()) if isinstance(raw, Mapping) else [raw]
    for bound in bounds:
        if isinstance(bound, bool) or not isinstance(bound, int) or not 0 <= bound <= 23:
            raise PatternError(f"hours are whole numbers from 0 to 23, not {bound!r}", field="hour")


def _names(raw: Any, field: str) -> frozenset[str]:
    values = raw if isinstance(raw, list) else [raw]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise PatternError("expected a name or a list of names", field=field)
    return frozenset(values)


def _comparison(raw: Any, field: str) -> Callable[[Any], bool]:
    """``5`` → equals 5; ``[1, 2]`` → one of; ``{gte: 1, lt: 9}`` → all comparisons hold."""
    if isinstance(raw, bool) or raw is None:
        raise PatternError("expected a number, a list, or comparisons like {gte: 100}", field=field)
    if isinstance(raw, int | float | str):
        return lambda x: bool(x == raw)
    if isinstance(raw, list):
        allowed = frozenset(raw)
        return lambda x: x in allowed
    if isinstance(raw, Mapping):
        checks: list[tuple[Callable[[Any, Any], bool], Any]] = []
        for op, bound in raw.items():
            if op not in _COMPARATORS:
                raise PatternError(
                    f"unknown operator {op!r} (expected one of {sorted(_COMPARATORS)})", field=f"{field}.{op}"
                )
            if isinstance(bound, bool) or not isinstance(bound, int | float | str):
                raise PatternError("a comparison needs a number or a string", field=f"{field}.{op}")
            checks.append((_COMPARATORS[op], bound))
        if not checks:
            raise PatternError("expected at least one comparison", field=field)

        def compare(x: Any) -> bool:
            try:
                return all(fn(x, bound) for fn, bound in checks)
            except TypeError:
                return False

        return compare
    raise PatternError(f"cannot compare with a {type(raw).__name__}", field=field)


def _property_test(key: str, cond: Any) -> EventTest:
    field = f"properties.{key}"
    if isinstance(cond, Mapping) and set(cond) == {"exists"}:
        wanted = bool(cond["exists"])
        return lambda e: (key in e.properties) == wanted
    if isinstance(cond, bool) or cond is None:
        return lambda e: key in e.properties and e.properties[key] is cond
    compare = _comparison(cond, field)
    return lambda e: key in e.properties and e.properties[key] is not None and compare(e.properties[key])


def _days(raw: Any) -> frozenset[int]:
    values = raw if isinstance(raw, list) else [raw]
    days = set()
    for v in values:
        if not isinstance(v, str) or v.lower()[:3] not in _DAYS:
            raise PatternError(f"unknown day {v!r} (use mon, tue, wed, thu, fri, sat, sun)", field="day_of_week")
        days.add(_DAYS[v.lower()[:3]])
    return frozenset(days)


def _zone(name: Any) -> tzinfo | None:
    """None stands for the customer's own timezone, resolved per event."""
    if name == CUSTOMER_TIMEZONE:
        return None
    if not isinstance(name, str):
        raise PatternError("expected an IANA timezone name or 'customer'", field="timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PatternError(f"unknown timezone {name!r}", field="timezone") from None


def _local(event: TouchpointEvent, zone: tzinfo | None) -> datetime:
    if zone is not None:
        return event.ts.astimezone(zone)
    named = event.properties.get("timezone")
    if isinstance(named, str):
        try:
            return event.ts.astimezone(ZoneInfo(named))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    offset = event.ts.utcoffset() or timedelta(0)
    return event.ts.astimezone(timezone(offset))
