"""What producers send: the touchpoint event, its limits, and the event types the engine reserves.

The pydantic model is the contract with producers; the limits keep one hostile record from costing more
than itself (sizes, magnitudes, far dates).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "ALL_CHANNELS",
    "CONSENT_GRANTED",
    "CONSENT_TYPES",
    "CONSENT_WITHDRAWN",
    "EARLIEST_TS",
    "ERASURE_EVENT_TYPE",
    "FEEDBACK_EVENT_TYPE",
    "IDENTIFY_EVENT_TYPE",
    "LATEST_TS",
    "MAX_ABS_VALUE",
    "MAX_EVENT_BYTES",
    "MAX_PROPERTY_CHARS",
    "RELINKED_ALIAS",
    "SCHEMA_VERSION",
    "Identifier",
    "PropertyValue",
    "TouchpointEvent",
    "describe_error",
    "ms_to_datetime",
]


SCHEMA_VERSION = "1"


PropertyValue = str | int | float | bool | None


Identifier = Annotated[str, Field(min_length=1, max_length=200)]


MAX_EVENT_BYTES = 65_536


"""The largest event record (a JSON line, or a Kafka record value) the engine takes; larger ones are refused.
Held events live in the customer's state, which must stay far below the broker's 1 MB message limit."""


MAX_ABS_VALUE = 1e15


"""Largest magnitude of ``value``: a quadrillion (in any currency's minor unit) is no order; 1e308 is an attack."""


MAX_PROPERTY_CHARS = 2_048


"""Longest string property (and 64 characters for a property name)."""


_INT64 = 2**63


EARLIEST_TS = datetime(1900, 1, 1, tzinfo=UTC)


LATEST_TS = datetime(2200, 1, 1, tzinfo=UTC)


"""Event times outside [EARLIEST_TS, LATEST_TS) are refused: no touchpoint is that old or that new, and
times near year 10000 overflow when converted to UTC."""


@lru_cache(maxsize=1024)
def _is_zone(name: str) -> bool:
    """Whether ``name`` is an IANA timezone this machine knows (cached: events repeat a few zones)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def ms_to_datetime(ms: int) -> datetime:
    """Turn the engine's epoch milliseconds back into an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class TouchpointEvent(BaseModel):
    """One customer touchpoint, as producers put it on the touchpoints topic.

    Parameters
    ----------
    event_id
        Unique per event; repeats are dropped as duplicates.
    customer_id
        The key: all state and ordering is per customer.
    type
        What happened (``purchase``, ``support_ticket``, ``page_view`` …), lower snake case.
    channel
        Where it happened (``web``, ``email``, ``app``, ``phone`` …).
    ts
        Event time, with a timezone; the engine never uses arrival time.
    value
        Optional amount (order value, usage count, NPS score …).
    properties
        Flat key/value attributes that predicates can test.
    text
        Optional free text (ticket body); never logged.

    Examples
    --------
    >>> e = TouchpointEvent.model_validate_json(
    ...     '{"event_id": "e1", "customer_id": "c1", "type": "purchase",'
    ...     ' "ts": "2026-03-02T10:00:00+01:00", "value": 42.5}')
    >>> e.type, e.channel, e.ts.isoformat()
    ('purchase', 'unknown', '2026-03-02T10:00:00+01:00')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier
    customer_id: Identifier
    type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")]
    channel: Annotated[str, Field(min_length=1, max_length=64)] = "unknown"
    ts: AwareDatetime
    value: Annotated[float, Field(allow_inf_nan=False, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)] | None = None
    properties: dict[str, PropertyValue] = Field(default_factory=dict)
    text: Annotated[str, Field(max_length=20_000)] | None = None

    @field_validator("ts", mode="before")
    @classmethod
    def _not_a_bare_number(cls, value: object) -> object:
        # pydantic would read 1767225600 as seconds and 1767225600000 as milliseconds: a guess, refused here.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError("must be an ISO 8601 time with a timezone (e.g. 2026-03-02T10:00:00Z), not a number "
                             "(epoch seconds or milliseconds: --format csv or parquet with --epoch s|ms)")  # fmt: skip
        return value

    @field_validator("ts")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        # A far date is refused here, in both runtimes alike, instead of overflowing deep in the engine.
        try:
            utc = value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("is out of range") from None
        if not EARLIEST_TS <= utc < LATEST_TS:
            raise ValueError(f"must be from {EARLIEST_TS.year} to {LATEST_TS.year - 1} (UTC)")
        return value

    @field_validator("properties")
    @classmethod
    def _bounded_properties(cls, value: dict[str, PropertyValue]) -> dict[str, PropertyValue]:
        # Values reach msgpack (int64), the models (finite floats) and the state (bounded size).
        if len(value) > 64:
            raise ValueError("at most 64 properties per event")
        for name, item in value.items():
            if not name or len(name) > 64:
                raise ValueError("property names must have 1 to 64 characters")
            if isinstance(item, str) and len(item) > MAX_PROPERTY_CHARS:
                raise ValueError(f"{name}: at most {MAX_PROPERTY_CHARS} characters")
            if isinstance(item, int) and not isinstance(item, bool) and not -_INT64 <= item < _INT64:
                raise ValueError(f"{name}: integers must fit in 64 bits")
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"{name}: numbers must be finite")
        zone = value.get("timezone")
        if zone is not None and not (isinstance(zone, str) and _is_zone(zone)):
            raise ValueError("timezone: not an IANA timezone name (e.g. Europe/Berlin)")
        return value

    @model_validator(mode="after")
    def _identify_names_its_customer(self) -> TouchpointEvent:
        if self.type == IDENTIFY_EVENT_TYPE:
            canonical = self.properties.get("canonical_id")
            if not isinstance(canonical, str) or not 0 < len(canonical) <= 200:
                raise ValueError("an identify event names the customer it joins in properties.canonical_id "
                                 "(1 to 200 characters)")  # fmt: skip
        return self


FEEDBACK_EVENT_TYPE = "trigger_feedback"


"""A CRM's report on a trigger: ``properties: {trigger_id, decision: taken|declined, cost}`` (see
:mod:`momentstream.triggers.loop`). Keyed by the customer like any event; it is not customer activity."""


ERASURE_EVENT_TYPE = "erasure_request"


"""An event of this type erases its customer (right to erasure); send it keyed like any other event. Under
any id of a stitched customer it erases the customer and every alias."""


IDENTIFY_EVENT_TYPE = "identify"


"""Keyed by an alias id (a device, an email), ``properties.canonical_id`` names the customer it is: the
alias's state merges into that customer's, and its later events go there (see :mod:`momentstream.core.identity`)."""


CONSENT_WITHDRAWN = "consent_withdrawn"
CONSENT_GRANTED = "consent_granted"
CONSENT_TYPES = frozenset({CONSENT_WITHDRAWN, CONSENT_GRANTED})
"""Consent arrives as events of these two types, with a ``channel`` (see :mod:`momentstream.triggers.consent`)."""
ALL_CHANNELS = "all"
"""The channel of a consent event that means every channel."""

RELINKED_ALIAS = "relinked_alias"


"""Property of an identify event a re-linked id forwards to its new customer: that customer now has this alias
(so an erasure of the customer reaches it too)."""


_PLAIN = {
    "missing": "is required",
    "timezone_aware": "must carry a timezone (e.g. 2026-03-02T10:00:00Z or 2026-03-02T10:00:00+01:00)",
    "datetime_parsing": "is not an ISO 8601 time (e.g. 2026-03-02T10:00:00Z)",
    "datetime_from_date_parsing": "is not an ISO 8601 time (e.g. 2026-03-02T10:00:00Z)",
    "datetime_type": "must be an ISO 8601 time with a timezone (e.g. 2026-03-02T10:00:00Z)",
    "string_too_short": "must not be empty",
    "extra_forbidden": "is not a field of an event (event_id, customer_id, type, channel, ts, value, properties, "
    "text); put your own fields in properties",
}
"""pydantic's error types in words a producer can act on (the rest keep pydantic's message)."""

_PROPERTY_VALUE = "must be text, a number, true/false or null (not a list or an object: flatten it)"


def describe_error(err: ValidationError, whole: str = "(line)") -> str:
    """A one-line reason naming the fields, without echoing values (they may be PII or secrets).

    ``whole`` names what a check across fields refers to (a line of input, a settings document).

    >>> try:
    ...     TouchpointEvent.model_validate({"event_id": "e", "customer_id": "c", "type": "Order Completed",
    ...                                     "ts": "2026-01-01T00:00:00", "properties": {"tags": [1, 2]}})
    ... except ValidationError as err:
    ...     print(*describe_error(err).split("; "), sep=chr(10))
    type: must be lower snake case, starting with a letter (e.g. purchase, page_view)
    ts: must carry a timezone (e.g. 2026-03-02T10:00:00Z or 2026-03-02T10:00:00+01:00)
    properties.tags: must be text, a number, true/false or null (not a list or an object: flatten it)
    """
    parts: dict[str, str] = {}
    for item in err.errors(include_url=False, include_input=False):
        loc = [str(x) for x in item["loc"]]
        if len(loc) >= 3 and loc[0] == "properties" and item["type"].endswith("_type"):  # one per union member
            where, message = ".".join(loc[:2]), _PROPERTY_VALUE
        else:
            where = ".".join(loc) or whole
            message = _PLAIN.get(item["type"], item["msg"].removeprefix("Value error, "))
            if item["type"] == "string_pattern_mismatch":
                message = ("must be lower snake case, starting with a letter (e.g. purchase, page_view)"
                           if loc[-1:] == ["type"] else "has characters that are not allowed")  # fmt: skip
        parts.setdefault(where, f"{where}: {message}")
    return "; ".join(parts.values())
