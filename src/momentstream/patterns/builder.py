"""Build a moment in Python, step by step; :meth:`Moment.compile` runs the checks the YAML loader runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from momentstream.core.clock import parse_duration
from momentstream.patterns.errors import PatternError
from momentstream.patterns.nfa import CompiledMoment, compile_moment
from momentstream.patterns.spec import (
    AbsentStep,
    Contiguity,
    EventStep,
    KOfNStep,
    MomentSpec,
    SkipStrategy,
    Step,
    WindowSpec,
)

__all__ = ["Moment"]


class Moment:
    """Build a moment in Python; the same checks as the YAML loader run at :meth:`compile`.

    Examples
    --------
    >>> m = (Moment("post_purchase", description="act in the 19-37 h window")
    ...      .begin("support", where={"type": "support_ticket"})
    ...      .followed_by("second_purchase", where={"type": "purchase"}, within="3d")
    ...      .not_followed_by("silence", where={"type": ["purchase", "page_view"]}, for_="18h")
    ...      .window(opens_after="19h", closes_after="37h", anchor="second_purchase",
    ...              cancel_if={"type": "outreach"})
    ...      .compile())
    >>> m.name, [g.name for g in m.groups], m.end_absence_ms
    ('post_purchase', ['support', 'second_purchase'], 64800000)
    """

    def __init__(
        self, name: str, version: int = 1, description: str = "", timezone: str = "UTC", owner: str | None = None
    ) -> None:
        self._spec = MomentSpec(name=name, steps=(), version=version, description=description, timezone=timezone,
                                owner=owner)  # fmt: skip

    def _add(self, step: Step) -> Moment:
        self._spec = replace(self._spec, steps=(*self._spec.steps, step))
        return self

    def _event(self, name: str, where: Any, contiguity: Contiguity, within: str | None,
               after: str | None = None) -> Moment:  # fmt: skip
        within_ms = None if within is None else parse_duration(within)
        after_ms = None if after is None else parse_duration(after)
        return self._add(EventStep(name, where, contiguity, within_ms=within_ms, after_ms=after_ms))

    def begin(self, name: str, where: Any = None) -> Moment:
        """The first step."""
        return self._event(name, where, "followed_by", None)

    def next(self, name: str, where: Any = None, within: str | None = None, after: str | None = None) -> Moment:
        """A step whose first event must be the very next event (strict contiguity)."""
        return self._event(name, where, "next", within, after)

    def followed_by(self, name: str, where: Any = None, within: str | None = None, after: str | None = None) -> Moment:
        """A step matched by the first later event that satisfies ``where`` (no sooner than ``after``)."""
        return self._event(name, where, "followed_by", within, after)

    def followed_by_any(
        self, name: str, where: Any = None, within: str | None = None, after: str | None = None
    ) -> Moment:
        """A step matched by any later event that satisfies ``where`` (every combination)."""
        return self._event(name, where, "followed_by_any", within, after)

    def at_least(self, k: int, of: Mapping[str, Any], within: str, name: str = "indicators") -> Moment:
        """At least ``k`` distinct indicators within ``within``: the customer's (first step) or those after the
        previous step (later); one per moment."""
        return self._add(KOfNStep(name, k, tuple(of.items()), parse_duration(within)))

    def not_followed_by(self, name: str, where: Any, for_: str | None = None) -> Moment:
        """No ``where`` event before the next step, or for ``for_`` at the end of the pattern."""
        return self._add(AbsentStep(name, where, None if for_ is None else parse_duration(for_)))

    def not_next(self, name: str, where: Any) -> Moment:
        """The very next event after the previous step may not satisfy ``where`` (Flink's notNext)."""
        return self._add(AbsentStep(name, where, immediately=True))

    def _loop_option(self, what: str, **change: Any) -> Moment:
        steps = self._spec.steps
        if not steps or not isinstance(steps[-1], EventStep):
            raise PatternError(f"{what} needs an event step before it", moment=self._spec.name)
        self._spec = replace(self._spec, steps=(*steps[:-1], replace(steps[-1], **change)))
        return self

    def until(self, where: Any) -> Moment:
        """The last (looping) step takes no event from the first one satisfying ``where`` on."""
        return self._loop_option("until", until=where)

    def greedy(self) -> Moment:
        """The last (repeating) step takes every event it can before the match moves on."""
        return self._loop_option("greedy", greedy=True)

    def allow_combinations(self) -> Moment:
        """Repeats of the last step may skip matching events: every combination (Flink's allowCombinations)."""
        return self._loop_option("allow_combinations", combinations=True)

    def _quantify(self, min_times: int, max_times: int | None, consecutive: bool | None = None) -> Moment:
        steps = self._spec.steps
        if not steps or not isinstance(steps[-1], EventStep):
            raise PatternError("a quantifier needs an event step before it", moment=self._spec.name)
        last = steps[-1]
        last = replace(last, min_times=min_times, max_times=max_times,
                       consecutive=last.consecutive if consecutive is None else consecutive)  # fmt: skip
        self._spec = replace(self._spec, steps=(*steps[:-1], last))
        return self

    def times(self, low: int, high: int | None = None) -> Moment:
        """The last step matches exactly ``low`` events, or ``low`` to ``high``."""
        return self._quantify(low, low if high is None else high)

    def one_or_more(self) -> Moment:
        """The last step matches one or more events."""
        last = self._spec.steps[-1] if self._spec.steps else None
        low = last.min_times if isinstance(last, EventStep) else 1
        return self._quantify(low, None)

    def optional(self) -> Moment:
        """The last step may match no event; taken, it keeps its count (``times(2).optional()``: none or two)."""
        steps = self._spec.steps
        last = steps[-1] if steps else None
        if not isinstance(last, EventStep):
            raise PatternError("optional needs an event step before it", moment=self._spec.name)
        if last.min_times <= 1:
            return self._quantify(0, last.max_times)
        self._spec = replace(self._spec, steps=(*steps[:-1], replace(last, optional=True)))
        return self

    def consecutive(self) -> Moment:
        """Repeats of the last step must be adjacent events."""
        last = self._spec.steps[-1] if self._spec.steps else None
        if not isinstance(last, EventStep):
            raise PatternError("consecutive needs an event step before it", moment=self._spec.name)
        return self._quantify(last.min_times, last.max_times, True)

    def within(self, duration: str) -> Moment:
        """The whole match (first to last matched event) must fit in ``duration``."""
        self._spec = replace(self._spec, within_ms=parse_duration(duration))
        return self

    def window(self, opens_after: str, closes_after: str, anchor: str | None = None,
               cancel_if: Any = None, used_if: Any = None) -> Moment:  # fmt: skip
        """Emit a window that opens and closes relative to the match (or its ``anchor`` step)."""
        spec = WindowSpec(parse_duration(opens_after), parse_duration(closes_after), anchor, cancel_if, used_if)
        self._spec = replace(self._spec, window=spec)
        return self

    def skip(self, strategy: SkipStrategy, step: str | None = None) -> Moment:
        """After-match skip strategy (``skip_past_last_event`` by default); ``skip_to_first`` and
        ``skip_to_last`` name the ``step``."""
        self._spec = replace(self._spec, skip=strategy, skip_step=step)
        return self

    def max_partial_matches(self, cap: int) -> Moment:
        """Bound the partial matches kept per customer; the oldest are dropped first."""
        self._spec = replace(self._spec, max_partial_matches=cap)
        return self

    def spec(self) -> MomentSpec:
        """The declarative spec built so far."""
        return self._spec

    def compile(self) -> CompiledMoment:
        """Validate and compile; raises :class:`PatternError` naming the field."""
        return compile_moment(self._spec)
