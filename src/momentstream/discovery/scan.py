"""Run compiled moments over every customer of a history with the engine itself, in parallel.

Each bucket of the history is one job: its customers are fed, one at a time and in time
order, through an :class:`~momentstream.core.engine.Engine` built from the moments' specs (the
same code path as replay and the worker), then a final tick at the period's end fires what
is due. The first trigger per customer and moment is labelled with the outcome; customers a
moment does not fire for are labelled at their reference time. The history runs the buckets
(:meth:`~momentstream.discovery.history.History.each_bucket`): in worker processes on one machine,
on executors with Spark.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from momentstream.core.clock import to_ms
from momentstream.core.engine import Engine
from momentstream.core.schema import Trigger
from momentstream.discovery.curve import DelayCurve
from momentstream.discovery.history import CustomerHistory, History, customer_hash
from momentstream.discovery.outcome import SYSTEM_TYPES, Outcome, parse_where, reference_time
from momentstream.discovery.split import CustomerSplit
from momentstream.discovery.stats import wilson
from momentstream.discovery.timing import empty_curve
from momentstream.patterns.nfa import compile_moment
from momentstream.patterns.spec import EventStep, KOfNStep, MomentSpec

__all__ = ["MomentCounts", "Period", "ScanResult", "scan", "scan_customers", "without_windows"]

logger = logging.getLogger(__name__)
_SKETCH_SHARE = 8
"""One customer in this many is remembered per moment, to tell near-duplicate moments apart."""
_BEFORE_MS = 30 * 24 * 3_600_000
_MAX_FINAL_TICKS = 1_000
_MAX_ENGINES = 4_096


@dataclass(frozen=True, slots=True)
class Period:
    """Events with ``start_ms <= ts < end_ms``; outcome horizons must end by ``end_ms``."""

    start_ms: int
    end_ms: int


@dataclass(slots=True)
class MomentCounts:
    """Customers a moment fired for (``fired``, with a known outcome), those of them with the
    outcome, the other customers with a known outcome at rest, and how many of them had it."""

    fired: int = 0
    positive: int = 0
    rest: int = 0
    rest_positive: int = 0
    triggers: int = 0

    @property
    def rate(self) -> float:
        """Outcome rate after the moment fired."""
        return self.positive / self.fired if self.fired else 0.0

    @property
    def rest_rate(self) -> float:
        """Outcome rate of the customers it did not fire for."""
        return self.rest_positive / self.rest if self.rest else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95% interval of :attr:`rate`."""
        return wilson(self.positive, self.fired)

    def add(self, other: MomentCounts) -> None:
        """Merge another bucket's counts."""
        self.fired += other.fired
        self.positive += other.positive
        self.rest += other.rest
        self.rest_positive += other.rest_positive
        self.triggers += other.triggers


@dataclass(slots=True)
class ScanResult:
    """Everything a scan counted, merged over buckets."""

    counts: dict[str, MomentCounts] = field(default_factory=dict)
    curves: dict[str, DelayCurve] = field(default_factory=dict)
    sketches: dict[str, set[str]] = field(default_factory=dict)
    customers: int = 0
    labelled: int = 0
    positive: int = 0
    failures: int = 0

    def merge(self, other: ScanResult) -> None:
        """Add another bucket's result."""
        for name, counts in other.counts.items():
            self.counts.setdefault(name, MomentCounts()).add(counts)
        for name, curve in other.curves.items():
            if name in self.curves:
                self.curves[name].merge(curve)
            else:
                self.curves[name] = curve
        for name, sketch in other.sketches.items():
            self.sketches.setdefault(name, set()).update(sketch)
        self.customers += other.customers
        self.labelled += other.labelled
        self.positive += other.positive
        self.failures += other.failures

    @property
    def base_rate(self) -> float:
        """Outcome rate of all customers at their reference times."""
        return self.positive / self.labelled if self.labelled else 0.0


@dataclass(frozen=True, slots=True)
class _Job:
    specs: tuple[MomentSpec, ...]
    outcome: tuple[dict[str, Any], int, bool]
    intervention: dict[str, Any] | None
    period: Period
    anchors: tuple[tuple[str, str | None], ...]
    max_delay_ms: int
    randomised: dict[str, Any] | None
    held_out: CustomerSplit | None
    everyone: frozenset[str]


def scan(
    history: History,
    specs: Sequence[MomentSpec],
    outcome: Outcome,
    period: Period,
    *,
    intervention: dict[str, Any] | None = None,
    anchors: dict[str, str | None] | None = None,
    max_delay_ms: int = 3 * 86_400_000,
    randomised: dict[str, Any] | None = None,
    held_out: CustomerSplit | None = None,
    everyone: frozenset[str] = frozenset(),
    label: str = "counting with the engine",
    progress: bool = False,
    workers: int | None = None,
) -> ScanResult:
    """Run ``specs`` over every customer's events in ``period``; a delay curve (up to
    ``max_delay_ms``) for each of ``anchors`` (moment name -> anchor step, None for the completion).

    With ``randomised``, the curves keep only customers whose first intervention after the anchor
    matches it (sends whose timing was drawn at random), and those never reached.

    With ``held_out``, only the customers its search did not see are counted, except for the moments named
    in ``everyone`` (ones the search did not choose, such as a moment you already run).
    """
    job = _Job(tuple(specs), (outcome.where, outcome.within_ms, outcome.absent), intervention, period,
               tuple((anchors or {}).items()), max_delay_ms, randomised, held_out, everyone)  # fmt: skip
    total = ScanResult()
    for result in history.each_bucket(partial(scan_customers, job), period.start_ms, period.end_ms, label=label,
                                      progress=progress, workers=workers):  # fmt: skip
        total.merge(result)
    return total


def _first_triggers(engines: Sequence[Engine], events: Sequence[Any], customer_id: str,
                    until: int) -> dict[str, Trigger]:  # fmt: skip
    first: dict[str, Trigger] = {}
    for engine in engines:
        first.update(_first_of(engine, events, customer_id, until))
    return first


def _first_of(engine: Engine, events: Sequence[Any], customer_id: str, until: int) -> dict[str, Trigger]:
    state = engine.new_state(customer_id)
    first: dict[str, Trigger] = {}
    outputs = []
    for event in events:
        outputs.extend(engine.on_event(state, event).outputs)
    # As the replay runner's final tick: again while the customer has due work (a timer that fired
    # may defer a trigger past quiet hours, which is due again later in the same period).
    horizon = until + engine.config.allowed_lateness_ms + 1
    for _ in range(_MAX_FINAL_TICKS):
        outputs.extend(engine.on_tick(state, until, final=True).outputs)
        wakeup = engine.next_wakeup(state)
        if wakeup is None or wakeup > horizon:
            break
    for output in outputs:
        if isinstance(output, Trigger) and output.kind != "window_expired" and output.moment not in first:
            first[output.moment] = output
    return first


def scan_customers(job: _Job, customers: Iterable[CustomerHistory]) -> ScanResult:
    """One bucket's count: its customers (with events in the job's period, in any order) through the engines."""
    where, within, absent = job.outcome
    outcome = Outcome(where, parse_where(where, "outcome")[1], within, absent)
    reached: Callable[[Any], bool] | None = None
    if job.intervention is not None:
        reached = parse_where(job.intervention, "intervention")[1]
    randomised = parse_where(job.randomised, "randomised")[1] if job.randomised is not None else None
    engines = _Engines(job.specs)
    names = [s.name for s in job.specs]
    anchors = dict(job.anchors)
    end = job.period.end_ms
    result = ScanResult(counts={n: MomentCounts() for n in names},
                        curves={n: empty_curve(job.max_delay_ms) for n in anchors},
                        sketches={n: set() for n in names})  # fmt: skip
    everyone = [n for n in names if n in job.everyone]
    counted_for_everyone = frozenset(i for i, n in enumerate(names) if n in job.everyone)
    for customer in customers:
        searched = job.held_out is not None and job.held_out.searched(customer.customer_id)
        if searched and not everyone:
            continue
        events = customer.events
        times = [to_ms(e.ts) for e in events if e.type not in SYSTEM_TYPES]
        outcomes = outcome.times(events)
        reference = reference_time(customer.customer_id, times, within, end)
        rest = None if reference is None else outcome.label(outcomes, reference, end)
        if not searched:
            result.customers += 1
            if rest is not None:
                result.labelled += 1
                result.positive += rest
        try:
            among = counted_for_everyone if searched else None  # a searched customer counts for those alone
            first = _first_triggers(engines.for_types({e.type for e in events}, among), events,
                                    customer.customer_id, end - 1)  # fmt: skip
        except Exception as err:  # one customer's failure must not end the discovery
            result.failures += 1
            logger.warning("engine failed on a customer during discovery: %s", type(err).__name__)
            continue
        sketched = _sketched(customer.customer_id)
        sends = _sends(events, reached) if anchors and reached is not None else ([], [])
        for name in everyone if searched else names:
            counts = result.counts[name]
            trigger = first.get(name)
            if trigger is None:
                if rest is not None:
                    counts.rest += 1
                    counts.rest_positive += rest
                continue
            counts.triggers += 1
            at = to_ms(trigger.emitted_at)
            fired = outcome.label(outcomes, at, end)
            if fired is None:
                continue
            counts.fired += 1
            counts.positive += fired
            if sketched:
                result.sketches[name].add(customer.customer_id)
            if name in anchors:
                delay, first_send, before = _timing(trigger, anchors[name], times, sends, outcomes)
                if randomised is None or first_send is None or randomised(first_send):
                    result.curves[name].add(delay, fired, before)
    return result


def _sketched(customer_id: str) -> bool:
    return customer_hash(customer_id, digest_size=4) % _SKETCH_SHARE == 0


def _sends(events: Sequence[Any], reached: Callable[[Any], bool]) -> tuple[list[int], list[Any]]:
    """A customer's interventions: their times (sorted, as the events are) and the events."""
    chosen = [e for e in events if reached(e)]
    return [to_ms(e.ts) for e in chosen], chosen


def _timing(trigger: Trigger, anchor_step: str | None, times: list[int], sends: tuple[list[int], list[Any]],
            outcomes: list[int]) -> tuple[int | None, Any, tuple[float, float, float]]:  # fmt: skip
    """Delay from the anchor to the first intervention (None: none), that event, and behaviour before the anchor.

    ``times`` are the customer's behaviour times (bookkeeping types left out), ``sends`` its interventions.
    """
    completed = to_ms(trigger.emitted_at)
    steps = [to_ms(e.ts) for e in trigger.evidence if e.step == anchor_step]
    anchor = max(steps) if steps else completed
    send_times, send_events = sends
    i = bisect.bisect_right(send_times, anchor)
    delay, first = (send_times[i] - anchor, send_events[i]) if i < len(send_times) else (None, None)
    recent = bisect.bisect_left(times, anchor) - bisect.bisect_left(times, anchor - _BEFORE_MS)
    tenure_days = (anchor - times[0]) / 86_400_000 if times else 0.0
    outcomes_before = bisect.bisect_left(outcomes, anchor)
    return delay, first, (float(recent), tenure_days, float(outcomes_before))


class _Engines:
    """Engines over the subsets of moments a customer's event types can fire, built once each.

    A moment whose step needs an event type the customer never had cannot fire for them, so it
    need not see their events: most customers then run a handful of the candidates, not all.
    Moments under a contact cap compete with each other (as in production), so they always run
    together, in an engine of their own: the candidates, uncapped, neither take a capped moment's
    contacts nor are held back by its cap.
    """

    def __init__(self, specs: Sequence[MomentSpec]) -> None:
        self.moments = [compile_moment(s) for s in specs]
        self.needs = [_needed_types(s) for s in specs]
        self.capped = tuple(i for i, s in enumerate(specs) if s.contact_cap is not None)
        self.cache: dict[tuple[int, ...], Engine] = {}

    def for_types(self, types: set[str], among: frozenset[int] | None = None) -> list[Engine]:
        """The engines for a customer who had events of ``types``; with ``among``, only what those moments need
        (the capped ones keep their whole group: they compete)."""
        capped = self.capped if among is None or among.intersection(self.capped) else ()
        free = tuple(i for i, needs in enumerate(self.needs)
                     if i not in self.capped and (among is None or i in among)
                     and all(n & types for n in needs))  # fmt: skip
        return [self._engine(key) for key in (capped, free) if key]

    def _engine(self, key: tuple[int, ...]) -> Engine:
        engine = self.cache.get(key)
        if engine is None:
            if len(self.cache) >= _MAX_ENGINES:
                self.cache.clear()
            engine = self.cache[key] = Engine([self.moments[i] for i in key])
        return engine


def _needed_types(spec: MomentSpec) -> list[frozenset[str]]:
    """For each event or k-of-n step that names its types: one of these must occur for the moment to fire."""
    needs = []
    for step in spec.steps:
        if isinstance(step, EventStep) and step.min_times > 0 and isinstance(step.where, Mapping):
            kind = step.where.get("type")
            if isinstance(kind, str):
                needs.append(frozenset({kind}))
            elif isinstance(kind, list) and all(isinstance(k, str) for k in kind):
                needs.append(frozenset(kind))
        elif isinstance(step, KOfNStep):  # one indicator at least (each names its type)
            kinds = [w.get("type") if isinstance(w, Mapping) else None for _, w in step.indicators]
            if all(isinstance(k, str) for k in kinds):
                needs.append(frozenset(k for k in kinds if isinstance(k, str)))
    return needs


def without_windows(specs: Sequence[MomentSpec]) -> list[MomentSpec]:
    """The same patterns firing at completion: timing must see customers whose window was cancelled too."""
    return [replace(s, window=None) for s in specs]
