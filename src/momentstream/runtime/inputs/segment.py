"""Segment-spec messages (Segment, RudderStack, and CDPs that speak the spec) as touchpoint events.

``track`` becomes an event of its name in snake case (``Order Completed`` -> ``order_completed``), ``page``
and ``screen`` become ``page_view`` and ``screen_view``, ``identify`` and ``alias`` become our ``identify``
(the anonymous id's history merges into the user's), ``group`` becomes ``group``. The customer is ``userId``,
else ``anonymousId``; the amount is the ``value``, ``revenue`` or ``total`` property. Traits are not kept:
they are mostly personal data (names, emails) that no moment needs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError

from momentstream.core.schema import IDENTIFY_EVENT_TYPE, MAX_EVENT_BYTES, TouchpointEvent, describe_error
from momentstream.runtime.inputs.naming import snake_case
from momentstream.runtime.sources import Refusal

__all__ = ["VALUE_PROPERTIES", "looks_like_segment", "parse_segment", "segment_event", "segment_key"]

VALUE_PROPERTIES = ("value", "revenue", "total")
"""Properties read as the event's amount, first found wins (Segment's e-commerce spec)."""

_TIME_FIELDS = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")
_NAMED = {"page": "page_view", "screen": "screen_view", "group": "group"}
_CALLS = frozenset({"track", "identify", "page", "screen", "alias", "group"})


def looks_like_segment(doc: object) -> bool:
    """Whether a decoded JSON line is a Segment message rather than one of our events.

    >>> looks_like_segment({"type": "track", "event": "Signed Up", "userId": "u1"})
    True
    >>> looks_like_segment({"type": "page", "customer_id": "c1", "event_id": "e1", "ts": "2026-01-01T00:00:00Z"})
    False
    """
    return (isinstance(doc, dict) and doc.get("type") in _CALLS and "customer_id" not in doc
            and any(k in doc for k in ("userId", "anonymousId", "messageId")))  # fmt: skip


def _text(doc: dict[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value)
    return None


def segment_key(doc: dict[str, Any]) -> str | None:
    """The customer a message is about: the id to key its Kafka record by."""
    call = doc.get("type")
    if call == "alias":
        return _text(doc, "previousId")
    if call == "identify" and _text(doc, "anonymousId") and _text(doc, "userId"):
        return _text(doc, "anonymousId")
    return _text(doc, "userId") or _text(doc, "anonymousId")


def segment_event(doc: dict[str, Any]) -> TouchpointEvent | Refusal:
    """One decoded Segment message as an event, or the reason it is refused (never raises).

    >>> e = segment_event({"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "m1",
    ...                    "timestamp": "2026-03-02T10:00:00.000Z", "properties": {"revenue": 42.5, "coupon": "X"}})
    >>> e.customer_id, e.type, e.value, e.properties
    ('u1', 'order_completed', 42.5, {'revenue': 42.5, 'coupon': 'X'})
    >>> i = segment_event({"type": "identify", "anonymousId": "a1", "userId": "u1", "messageId": "m2",
    ...                    "timestamp": "2026-03-02T10:00:00Z", "traits": {"email": "x@example.com"}})
    >>> i.customer_id, i.type, i.properties
    ('a1', 'identify', {'canonical_id': 'u1'})
    >>> segment_event({"type": "track", "userId": "u1", "timestamp": "2026-03-02T10:00:00Z"}).error
    'event: a track call needs the name of the event'
    """
    call = doc.get("type")
    if call not in _CALLS:
        return Refusal("invalid_event", f"type: a Segment call is one of {', '.join(sorted(_CALLS))}")
    customer = segment_key(doc)
    if customer is None:
        return Refusal("invalid_event", "userId/anonymousId: a message needs one of them")
    stamp = next((doc[name] for name in _TIME_FIELDS if doc.get(name) is not None), None)
    if stamp is None:
        return Refusal("invalid_event", "timestamp: a message needs its time (timestamp or originalTimestamp)")
    if not isinstance(stamp, str):
        return Refusal("invalid_event", "timestamp: must be an ISO 8601 time (e.g. 2026-03-02T10:00:00Z)")
    raw_properties = doc.get("properties")
    properties = _flat(raw_properties) if isinstance(raw_properties, dict) else {}
    if call == "track":
        kind = snake_case(str(doc.get("event") or ""))
        if not kind:
            return Refusal("invalid_event", "event: a track call needs the name of the event")
    elif call in ("identify", "alias"):
        kind = IDENTIFY_EVENT_TYPE
        properties = {"canonical_id": _text(doc, "userId") or customer}
    else:
        kind = _NAMED[str(call)]
        name = _text(doc, "name")
        if name is not None:
            properties.setdefault("name", name[:2048])
        group = _text(doc, "groupId")
        if group is not None:
            properties = {"group_id": group}
    value = next((properties[k] for k in VALUE_PROPERTIES if _is_number(properties.get(k))), None)
    event_id = (
        _text(doc, "messageId")
        or "seg-" + hashlib.sha1(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:20]
    )
    channel = _text(doc, "channel") or "unknown"
    try:
        return TouchpointEvent(event_id=event_id, customer_id=customer, type=kind, channel=channel,
                               ts=stamp, value=value, properties=properties)  # fmt: skip
    except ValidationError as err:
        return Refusal("invalid_event", describe_error(err, "(message)"))


def parse_segment(data: bytes) -> TouchpointEvent | Refusal:
    """One record's bytes (a Kafka value, a line) as a Segment message's event (never raises)."""
    if len(data) > MAX_EVENT_BYTES:
        return Refusal("too_large", f"record of {len(data):,} bytes is over the {MAX_EVENT_BYTES:,}-byte limit")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeError, RecursionError):
        return Refusal("invalid_json", "not a JSON object")
    if not isinstance(doc, dict):
        return Refusal("invalid_json", "not a JSON object")
    return segment_event(doc)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _flat(properties: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar properties, nested objects one level down as ``outer.inner``; lists (a cart's products) dropped."""
    flat: dict[str, Any] = {}
    for name, value in properties.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and not prefix:
            flat.update(_flat(value, f"{key}."))
        elif value is None or isinstance(value, (str, int, float, bool)):
            flat[key] = value
    return flat
