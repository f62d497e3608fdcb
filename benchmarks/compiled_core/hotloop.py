"""The engine's hot loop, re-laid for a compiler: the spike behind issue 31's choice of a compiled core.

Not the engine. The same work per event as the replay core (dedup, a late check, a per-customer buffer
released by the watermark, a timer heap, four moments of the core harness's four shapes, the replay
clock's wake-up heap), over integer event types and fixed-layout state, so that one design can be
measured three ways: as plain Python, compiled unchanged by mypyc, and as Rust through PyO3
(``rust/src/lib.rs``, the same algorithm line for line). ``benchmarks/compiled_core_spike.py`` runs all
three on one stream and checks that their outputs agree.

Moment shapes (``kind``, then the event types ``a b c d``):

0. ``a`` followed by ``b`` within ``within``; each ``a`` completes once.
1. ``a`` twice, then no ``a`` or ``b`` for ``within`` (an absence timer).
2. at least two distinct of ``a b c`` within ``within``.
3. ``a`` with value >= 50 followed by ``b`` within ``within``, then a window opening 19 h later and
   closing 37 h later, cancelled by ``d``.
"""

from __future__ import annotations

import heapq
from typing import Final, final

EXPIRE: Final = 0
ABSENCE: Final = 1
OPEN: Final = 2
CLOSE: Final = 3
NEVER: Final = -(2**62)
HOUR: Final = 3_600_000
MODULUS: Final = (1 << 61) - 1


@final
class MomentState:
    """One moment's progress for one customer: starts of partial matches, a counter, an armed timer tag."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.count = 0
        self.armed = 0
        self.last: list[int] = [NEVER, NEVER, NEVER]


@final
class Customer:
    """One customer's state: buffer and timers as heaps of tuples, dedup as a set."""

    def __init__(self, moments: int) -> None:
        self.buffer: list[tuple[int, int, int, float]] = []
        self.timers: list[tuple[int, int, int, int, int]] = []
        self.ids: set[int] = set()
        self.frontier = NEVER
        self.max_seen = NEVER
        self.watermark = NEVER
        self.wakeup = NEVER
        self.moments = [MomentState() for _ in range(moments)]


@final
class HotLoop:
    """Feed events in arrival order; ``finish`` ends the input. ``outputs`` and ``checksum`` compare runs."""

    def __init__(self, moments: list[tuple[int, int, int, int, int, int]], lateness: int) -> None:
        self.moments = moments
        self.lateness = lateness
        self.customers: dict[int, Customer] = {}
        self.wakeups: list[tuple[int, int]] = []
        self.now = NEVER
        self.seq = 0
        self.tag = 0
        self.outputs = 0
        self.late = 0
        self.duplicates = 0
        self.checksum = 0

    def feed(self, customer: int, kind: int, ts: int, value: float, event_id: int) -> None:
        state = self.customers.get(customer)
        if state is None:
            state = self.customers[customer] = Customer(len(self.moments))
        if event_id in state.ids:
            self.duplicates += 1
            return
        state.ids.add(event_id)
        if ts < state.frontier:
            self.late += 1
            return
        self.seq += 1
        heapq.heappush(state.buffer, (ts, self.seq, kind, value))
        state.max_seen = max(state.max_seen, ts)
        self._advance(customer, state, state.max_seen - self.lateness, False)
        self._rearm(customer, state)
        self.now = max(self.now, ts)
        self._fire_due()

    def finish(self) -> None:
        for customer in sorted(self.customers):
            self._advance(customer, self.customers[customer], 2**62, True)

    def _fire_due(self) -> None:
        wakeups = self.wakeups
        while wakeups and wakeups[0][0] <= self.now:
            at, customer = heapq.heappop(wakeups)
            state = self.customers[customer]
            if state.wakeup != at:
                continue  # moved since it was pushed
            state.wakeup = NEVER
            self._advance(customer, state, self.now - self.lateness, False)
            self._rearm(customer, state)

    def _rearm(self, customer: int, state: Customer) -> None:
        wakeup = NEVER
        if state.buffer:
            wakeup = state.buffer[0][0] + self.lateness
        if state.timers:
            due = state.timers[0][0] + self.lateness + 1
            wakeup = due if wakeup == NEVER else min(wakeup, due)
        if wakeup not in (NEVER, state.wakeup):
            state.wakeup = wakeup
            heapq.heappush(self.wakeups, (wakeup, customer))

    def _advance(self, customer: int, state: Customer, watermark: int, inclusive: bool) -> None:
        if watermark > state.watermark:
            state.watermark = watermark
        else:
            watermark = state.watermark
        buffer, timers = state.buffer, state.timers
        while True:
            event_due = bool(buffer) and buffer[0][0] <= watermark
            timer_due = bool(timers) and (timers[0][0] <= watermark if inclusive else timers[0][0] < watermark)
            if event_due and (not timer_due or buffer[0][0] <= timers[0][0]):
                ts, _, kind, value = heapq.heappop(buffer)
                state.frontier = max(state.frontier, ts)
                self._event(customer, state, kind, ts, value)
            elif timer_due:
                fire_at, _, moment, timer_kind, ref = heapq.heappop(timers)
                state.frontier = max(state.frontier, fire_at)
                self._timer(customer, state, moment, timer_kind, ref, fire_at)
            else:
                return

    def _schedule(self, state: Customer, fire_at: int, moment: int, kind: int, ref: int) -> None:
        self.seq += 1
        heapq.heappush(state.timers, (fire_at, self.seq, moment, kind, ref))

    def _emit(self, customer: int, moment: int, kind: int, at: int) -> None:
        self.outputs += 1
        self.checksum = (self.checksum * 1_000_003 + customer * 131 + moment * 17 + kind * 3 + at) % MODULUS

    def _event(self, customer: int, state: Customer, kind: int, ts: int, value: float) -> None:
        for index, (shape, a, b, c, d, within) in enumerate(self.moments):
            ms = state.moments[index]
            if shape in {0, 3}:
                if kind == b and ms.starts:
                    live = [s for s in ms.starts if s >= ts - within]
                    ms.starts = []
                    for _ in live:
                        if shape == 0:
                            self._emit(customer, index, 0, ts)
                        else:
                            self.tag += 1
                            ms.armed = self.tag
                            self._schedule(state, ts + 19 * HOUR, index, OPEN, ms.armed)
                            self._schedule(state, ts + 37 * HOUR, index, CLOSE, ms.armed)
                if shape == 3 and kind == d and ms.armed:
                    ms.armed = 0
                    self._emit(customer, index, 3, ts)
                if kind == a and (shape == 0 or value >= 50):
                    ms.starts.append(ts)
                    self._schedule(state, ts + within, index, EXPIRE, 0)
            elif shape == 1:
                if ms.armed and (kind in (a, b)):
                    ms.armed = 0
                if kind == a:
                    ms.count += 1
                    if ms.count >= 2:
                        ms.count = 0
                        self.tag += 1
                        ms.armed = self.tag
                        self._schedule(state, ts + within, index, ABSENCE, ms.armed)
            elif kind in (a, b, c):
                slot = 0 if kind == a else 1 if kind == b else 2
                ms.last[slot] = ts
                seen = 0
                for at in ms.last:
                    if at >= ts - within:
                        seen += 1
                if seen >= 2:
                    self._emit(customer, index, 0, ts)
                    ms.last = [NEVER, NEVER, NEVER]

    def _timer(self, customer: int, state: Customer, moment: int, kind: int, ref: int, fire_at: int) -> None:
        ms = state.moments[moment]
        if kind == EXPIRE:
            within = self.moments[moment][5]
            ms.starts = [s for s in ms.starts if s + within > fire_at]
        elif ms.armed == ref:
            if kind == ABSENCE:
                ms.armed = 0
                self._emit(customer, moment, 1, fire_at)
            elif kind == OPEN:
                self._emit(customer, moment, 2, fire_at)
            else:
                ms.armed = 0
                self._emit(customer, moment, 4, fire_at)
