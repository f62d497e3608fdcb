"""The features of a kept prediction, held compactly until its label comes due.

A customer keeps a prediction per objective and slice of its horizon, up to ninety days: as dicts they
were most of a scoring replay's memory (14 of 35 KB per customer on the simulated journeys: a dict of
twenty-five floats costs about 1.8 KB). Here the names are one tuple shared by every vector with the same
names, and the values a packed array of doubles (8 bytes each). The state's encoding is unchanged: a vector
encodes as the name-to-value map it stood for.

>>> x = KeptVector({"log_days_since_last_purchase": 1.5, "purchases_90d": 2.0})
>>> x.as_dict()
{'log_days_since_last_purchase': 1.5, 'purchases_90d': 2.0}
>>> KeptVector({"purchases_90d": 1.0, "log_days_since_last_purchase": 0.0}).names is x.names
False
>>> KeptVector({"log_days_since_last_purchase": 0.0, "purchases_90d": 1.0}).names is x.names
True
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping

__all__ = ["SHARED_NAME_SETS", "KeptVector"]

SHARED_NAME_SETS = 4_096
"""Distinct name tuples shared; past this (features named after event types nobody bounded), each vector
keeps its own, so hostile input costs memory per vector as before, not without bound in the cache."""
_names: dict[tuple[str, ...], tuple[str, ...]] = {}


class KeptVector:
    """Feature names (shared) and values (packed); read back with :meth:`as_dict`."""

    __slots__ = ("names", "values")

    def __init__(self, x: Mapping[str, float]) -> None:
        names = tuple(x)
        shared = _names.get(names)
        if shared is None and len(_names) < SHARED_NAME_SETS:
            shared = _names[names] = names
        self.names = shared or names
        self.values = array("d", list(x.values()))  # from a list: sized exactly, no spare room

    def as_dict(self) -> dict[str, float]:
        """The features as the models read them."""
        return dict(zip(self.names, self.values))  # noqa: B905 (equal lengths by construction; checked per call, it cost 4%)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeptVector) and self.names == other.names and self.values == other.values

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"KeptVector({self.as_dict()!r})"
