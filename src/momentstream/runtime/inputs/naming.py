"""Event names from other systems as our event types: lower snake case, so ``Order Completed``,
``orderCompleted`` and ``order-completed`` all become ``order_completed`` (Segment's own convention)."""

from __future__ import annotations

import re

__all__ = ["snake_case"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_OTHER = re.compile(r"[^a-z0-9.]+")


def snake_case(name: str) -> str:
    """``name`` in lower snake case; empty when nothing of it is a letter or digit.

    >>> [snake_case(n) for n in ["Order Completed", "orderCompleted", "HTMLPage viewed", "page-view", "  "]]
    ['order_completed', 'order_completed', 'html_page_viewed', 'page_view', '']
    """
    return _OTHER.sub("_", _CAMEL.sub("_", name.strip()).lower()).strip("_")
