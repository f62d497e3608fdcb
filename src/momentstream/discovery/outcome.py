"""What counts as the outcome, and whether a customer reached it within the horizon after a time.

The outcome is a ``where:`` expression as in moments (``purchase``, or
``{type: purchase, value: {gte: 100}}``), checked by the engine's own predicate compiler.
A label at time t looks at (t, t + horizon]; when that interval runs past the end of the
history the label is unknown (censored) and the customer is left out, never counted as a no.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml

from momentstream.core.clock import format_duration, to_ms
from momentstream.core.schema import ERASURE_EVENT_TYPE, TouchpointEvent
from momentstream.discovery.history import customer_hash
from momentstream.discovery.tokens import Token
from momentstream.patterns.errors import PatternError
from momentstream.patterns.predicates import Predicate, compile_predicate
from momentstream.triggers.consent import CONSENT_TYPES

__all__ = ["SYSTEM_TYPES", "Outcome", "check_occurs", "parse_where", "reference_time"]

_SOME_TIME = datetime(2026, 1, 1, tzinfo=UTC)

_TYPE = re.compile(r"^[a-z][a-z0-9_.-]*$")
SYSTEM_TYPES = frozenset(CONSENT_TYPES | {ERASURE_EVENT_TYPE})
"""Event types that are bookkeeping, not behaviour: never a step, never silence-breaking."""


def check_occurs(predicate: Predicate, types: Mapping[str, int], option: str) -> None:
    """Refuse an outcome or intervention whose event types never occur: a typo, or another
    company's names, would otherwise give an empty search that looks like "nothing found"."""
    if predicate.types is None or predicate.types & set(types):
        return
    wanted = sorted(predicate.types)
    close = sorted({m for t in wanted for m in difflib.get_close_matches(t, list(types), n=2, cutoff=0.6)})
    common = ", ".join(t for t, _ in sorted(types.items(), key=lambda kv: -kv[1])[:8])
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise PatternError(f"{option}: no event of type {' or '.join(wanted)} in the history{hint} "
                       f"(most common types: {common or 'none'})")  # fmt: skip


def parse_where(text: str | Mapping[str, Any], option: str) -> tuple[dict[str, Any], Predicate]:
    """``purchase``, ``purchase,refund`` or a YAML/JSON mapping, compiled with the moments' predicates.

    >>> parse_where("{type: purchase, value: {gte: 100}}", "--outcome")[0]
    {'type': 'purchase', 'value': {'gte': 100}}
    >>> parse_where("purchase", "--outcome")[0]
    {'type': 'purchase'}
    """
    where: Any
    if isinstance(text, Mapping):
        where = dict(text)
    else:
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                where = yaml.safe_load(stripped)
            except yaml.YAMLError as err:
                raise PatternError(f"{option}: not a valid YAML mapping: {err}") from None
        else:
            names = [n.strip() for n in stripped.split(",") if n.strip()]
            if not names or not all(_TYPE.match(n) for n in names):
                raise PatternError(f"{option}: expected event types (lower case, e.g. purchase or purchase,upgrade) "
                                   "or a mapping such as '{type: purchase}'")  # fmt: skip
            where = {"type": names[0] if len(names) == 1 else names}
    if not isinstance(where, dict) or not where:
        raise PatternError(f"{option}: expected an event type or a mapping such as '{{type: purchase}}'")
    try:
        return where, compile_predicate(where)
    except PatternError as err:
        raise PatternError(f"{option}: {err}") from None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The outcome to predict: matching events within ``within_ms`` after a time (or none, if ``absent``)."""

    where: dict[str, Any]
    predicate: Predicate
    within_ms: int
    absent: bool = False

    def times(self, events: Sequence[TouchpointEvent]) -> list[int]:
        """The times of a customer's outcome events, in order."""
        return [to_ms(e.ts) for e in events if self.predicate(e)]

    def label(self, times: Sequence[int], at: int, end_ms: int) -> bool | None:
        """Outcome within (at, at + within]? None when the history ends before the horizon does."""
        if at + self.within_ms > end_ms:
            return None
        i = bisect.bisect_right(times, at)
        happened = i < len(times) and times[i] <= at + self.within_ms
        return not happened if self.absent else happened

    def could_be(self, token: Token) -> bool:
        """Whether an event of ``token`` could itself be the outcome (a sequence holding it predicts, not causes).

        A token refined by a property the outcome rules out is not (a second order, for a third-order outcome);
        a bare type the outcome names is, whatever else the outcome asks of it.

        >>> third = Outcome(*parse_where("{type: purchase, properties: {order_number: {gte: 3}}}", "o"), 86_400_000)
        >>> third.could_be(("purchase", "", None)), third.could_be(("purchase", "order_number", 2))
        (True, False)
        >>> third.could_be(("purchase", "order_number", 3)), third.could_be(("support_ticket", "", None))
        (True, False)
        >>> third.could_be(("purchase", "channel", "app"))  # a third order may come through the app
        True
        """
        kind, field, value = token
        named = self.where.get("type")
        types = {named} if isinstance(named, str) else set(named) if isinstance(named, list) else None
        if types is not None and kind not in types:
            return False
        asked = {*(self.where.get("properties") or {}), *(["channel"] if "channel" in self.where else [])}
        if field not in asked:  # refined by something the outcome does not ask about: as good as the bare type
            field, value = "", None
        if not field and types is not None:
            return True
        properties = {field: value} if field and field != "channel" else {}
        channel = value if field == "channel" else "unknown"
        event = TouchpointEvent(event_id="t", customer_id="t", type=kind, ts=_SOME_TIME, channel=channel,
                                properties=properties)  # fmt: skip
        return bool(self.predicate(event))

    def describe(self) -> str:
        """For report headers: ``no purchase within 30d`` or ``purchase within 30d``."""
        what = _describe_where(self.where)
        return f"{'no ' if self.absent else ''}{what} within {format_duration(self.within_ms)}"


_SIGNS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}


def _describe_where(where: Mapping[str, Any]) -> str:
    """In words where it is simple (``purchase with order_number ≥ 3, via app``), else the YAML as given.

    >>> _describe_where({"type": "purchase", "properties": {"order_number": {"gte": 3}}, "channel": "app"})
    'purchase with order_number ≥ 3, via app'
    >>> _describe_where({"type": ["a", "b"], "value": {"gte": 100, "lt": 500}})
    'a or b with value ≥ 100 and < 500'
    """
    kind = where.get("type")
    simple = set(where) <= {"type", "properties", "value", "channel"}
    conditions = dict(where.get("properties") or {})
    if "value" in where:
        conditions["value"] = where["value"]
    if simple and isinstance(kind, str | list) and all(_describe_test(v) is not None for v in conditions.values()):
        text = kind if isinstance(kind, str) else " or ".join(map(str, kind))
        if conditions:
            text += " with " + ", ".join(f"{k} {_describe_test(v)}" for k, v in conditions.items())
        if "channel" in where:
            channel = where["channel"]
            text += ", via " + (channel if isinstance(channel, str) else " or ".join(map(str, channel)))
        return text
    return yaml.safe_dump(dict(where), default_flow_style=True, width=10_000).strip()


def _describe_test(test: Any) -> str | None:
    if isinstance(test, Mapping):
        if not test or set(test) - set(_SIGNS):
            return None
        return " and ".join(f"{_SIGNS[op]} {value}" for op, value in test.items())
    if isinstance(test, list):
        return "in " + ", ".join(map(str, test))
    return f"= {test}"


def reference_time(customer_id: str, times: Sequence[int], within_ms: int, end_ms: int) -> int | None:
    """The time a customer that did not fire is compared at: one of its own event times.

    Chosen by a hash of the id among the events whose horizon fits in the history, so the
    choice is random with respect to behaviour yet the same on every run.
    """
    last_allowed = end_ms - within_ms
    usable = bisect.bisect_right(times, last_allowed)
    if usable == 0:
        return None
    return times[customer_hash(customer_id) % usable]
