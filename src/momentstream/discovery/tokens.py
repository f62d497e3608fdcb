"""The alphabet of discovered sequences: event types, optionally refined by channel or one property.

A token is ``(type, field, value)``: ``("purchase", "", None)`` is any purchase,
``("purchase", "channel", "app")`` a purchase in the app, ``("purchase", "order_number", 2)``
a second order. Tokens turn into ``where:`` mappings the moments file accepts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from momentstream.core.schema import TouchpointEvent

__all__ = [
    "AT_LEAST",
    "MAX_VALUE_CHARS",
    "Token",
    "event_numbers",
    "event_tokens",
    "slug",
    "threshold_token",
    "token_name",
    "token_where",
]

Token = tuple[str, str, Any]
AT_LEAST = ">="
"""A field ending in it is a threshold: ``("purchase", "value>=", 100)`` is a purchase of 100 or more."""
MAX_VALUE_CHARS = 40
"""Longer property values (ids, free text) are never refinements: they would not recur."""


def event_tokens(event: TouchpointEvent) -> Iterator[Token]:
    """Every token ``event`` carries: its type, its channel, and each short categorical property."""
    kind = event.type
    yield (kind, "", None)
    if event.channel != "unknown":
        yield (kind, "channel", event.channel)
    for key, value in event.properties.items():
        if isinstance(value, bool | int | str) and not isinstance(value, float) and len(str(value)) <= MAX_VALUE_CHARS:
            yield (kind, key, value)


def event_numbers(event: TouchpointEvent) -> Iterator[tuple[str, float]]:
    """The event's ``value`` and numeric properties (not flags): what a threshold can be set on."""
    if event.value is not None:
        yield "value", event.value
    for key, value in event.properties.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            yield key, float(value)


def token_where(token: Token) -> dict[str, Any]:
    """The ``where:`` mapping of a token.

    >>> token_where(("purchase", "order_number", 2))
    {'type': 'purchase', 'properties': {'order_number': 2}}
    """
    kind, field, value = token
    if not field:
        return {"type": kind}
    if field.endswith(AT_LEAST):
        name = field.removesuffix(AT_LEAST)
        return (
            {"type": kind, "value": {"gte": value}}
            if name == "value"
            else {"type": kind, "properties": {name: {"gte": value}}}
        )
    if field == "channel":
        return {"type": kind, "channel": value}
    return {"type": kind, "properties": {field: value}}


def token_name(token: Token) -> str:
    """A readable label: ``purchase``, ``purchase[channel=app]``, ``purchase[order_number=2]``."""
    kind, field, value = token
    if field.endswith(AT_LEAST):
        return f"{kind}[{field}{value:g}]"
    return kind if not field else f"{kind}[{field}={value}]"


def threshold_token(kind: str, field: str, threshold: float) -> Token:
    """The token of ``kind`` events whose ``field`` (``value`` or a property) is at least ``threshold``.

    >>> token_name(threshold_token("purchase", "value", 100.0))
    'purchase[value>=100]'
    >>> token_where(threshold_token("order", "order_number", 3))
    {'type': 'order', 'properties': {'order_number': {'gte': 3}}}
    """
    return (kind, f"{field}{AT_LEAST}", threshold)


_NOT_NAME = re.compile(r"[^a-z0-9]+")


def slug(text: str, limit: int = 40) -> str:
    """Lower snake case usable in a moment name (which must start with a letter)."""
    words = _NOT_NAME.sub("_", text.lower()).strip("_")[:limit].strip("_")
    return words if words and words[0].isalpha() else f"x_{words}".rstrip("_")
