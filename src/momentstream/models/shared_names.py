"""Feature names shared by every kept prediction that has the same names.

A customer keeps a prediction per objective and slice of its horizon, up to ninety days, and most of them
have the same feature names: one tuple of names serves them all (see :mod:`.kept_predictions`).

>>> a = shared_names(("log_days_since_last_purchase", "purchases_90d"))
>>> shared_names(("log_days_since_last_purchase", "purchases_90d")) is a
True
>>> shared_names(("purchases_90d", "log_days_since_last_purchase")) is a
False
"""

from __future__ import annotations

__all__ = ["SHARED_NAME_SETS", "shared_names"]

SHARED_NAME_SETS = 4_096
"""Distinct name tuples shared; past this (features named after event types nobody bounded), each vector
keeps its own, so hostile input costs memory per vector as before, not without bound in the cache."""
_names: dict[tuple[str, ...], tuple[str, ...]] = {}


def shared_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """The one shared tuple equal to ``names`` (``names`` itself once the cache is full)."""
    shared = _names.get(names)
    if shared is None and len(_names) < SHARED_NAME_SETS:
        shared = _names[names] = names
    return shared or names
