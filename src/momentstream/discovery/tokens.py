"""The alphabet of discovered sequences: event types, optionally refined by channel or one property.

A token is ``(type, field, value)``: ``("purchase", "", None)`` is any purchase,
``("purchase", "channel", "app")`` a purchase in the app, ``("purchase", "order_number", 2)``
a second order. Tokens turn into ``where:`` mappings the moments file accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from momentstream.core.schema import TouchpointEvent

__all__ = ["MAX_VALUE_CHARS", "Token", "event_tokens", "slug", "token_name", "token_where"]

Token = tuple[str, str, Any]
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


def token_where(token: Token) -> dict[str, Any]:
    """The ``where:`` mapping of a token.

    >>> token_where(("purchase", "order_number", 2))
    {'type': 'purchase', 'properties': {'order_number': 2}}
    """
    kind, field, value = token
    if not field:
        return {"type": kind}
    if field == "channel":
        return {"type": kind, "channel": value}
    return {"type": kind, "properties": {field: value}}


def token_name(token: Token) -> str:
    """A readable label: ``purchase``, ``purchase[channel=app]``, ``purchase[order_number=2]``."""
    kind, field, value = token
    return kind if not field else f"{kind}[{field}={value}]"


_NOT_NAME = re.compile(r"[^a-z0-9]+")


def slug(text: str, limit: int = 40) -> str:
    """Lower snake case usable in a moment name (which must start with a letter)."""
    words = _NOT_NAME.sub("_", text.lower()).strip("_")[:limit].strip("_")
    return words if words and words[0].isalpha() else f"x_{words}".rstrip("_")
