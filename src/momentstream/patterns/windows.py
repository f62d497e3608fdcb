"""Intervention windows: created by a match, opened and closed by timers, cancelled by events.

A window opens ``opens_after`` past its anchor (the anchor step's last matched event, or the
match's completion) and closes ``closes_after`` past it. A ``cancel_if`` event before it opens
cancels it; a ``used_if`` event while open marks it used. A window that closes unused is
reported as expired, so the CRM can close the task it opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from momentstream.core.state import MomentState, WindowState
from momentstream.patterns.nfa import CompiledMoment, CompiledWindow, Completion

__all__ = ["MAX_WINDOWS", "WindowEvent", "close_or_open", "create_window", "on_event"]

MAX_WINDOWS = 16
"""Windows kept per customer and moment; the oldest pending one is cancelled beyond this."""

WindowEventKind = Literal["open", "expired", "cancelled"]


@dataclass(frozen=True, slots=True)
class WindowEvent:
    """Something that happened to a window, at an event time, with a reason when cancelled."""

    kind: WindowEventKind
    window: WindowState
    at: int
    reason: str = ""


def create_window(
    m: CompiledMoment, ms: MomentState, done: Completion
) -> tuple[list[WindowEvent], list[tuple[int, str, int]]]:
    """Turn a completed match into a window; returns events (it may open at once) and timers."""
    rule = m.window
    assert rule is not None
    anchor = _anchor_time(rule, done)
    opens_at = anchor + rule.opens_after_ms
    closes_at = anchor + rule.closes_after_ms
    ref = ms.new_ref()
    window = WindowState(ref, opens_at, closes_at, done.completed_at, done.evidence)
    if closes_at <= done.completed_at:
        return [WindowEvent("cancelled", window, done.completed_at, "closed before the match completed")], []
    if ms.last_cancel >= anchor:  # cancels are recorded from processed events, so never after completion
        return [WindowEvent("cancelled", window, done.completed_at, "cancel event before the window opened")], []
    events: list[WindowEvent] = []
    if len(ms.windows) >= MAX_WINDOWS:
        oldest = min(ms.windows.values(), key=lambda w: w.ref)
        del ms.windows[oldest.ref]
        events.append(WindowEvent("cancelled", oldest, done.completed_at, "too many windows for this customer"))
    ms.windows[ref] = window
    if opens_at <= done.completed_at:
        window.is_open = True
        events.append(WindowEvent("open", window, done.completed_at))
        return events, [(closes_at, "window_close", ref)]
    return events, [(opens_at, "window_open", ref)]


def on_event(m: CompiledMoment, ms: MomentState, mask: int, ts: int) -> list[WindowEvent]:
    """Apply an event to the customer's windows: cancel pending ones, mark open ones used.

    While a match is in progress the latest cancel event is remembered, so a window created
    later (say at the end of a trailing absence) is cancelled by an outreach that came after
    its anchor but before the window existed.
    """
    rule = m.window
    if rule is None or not mask & (rule.cancel_bits | rule.used_bits):
        return []
    if mask & rule.cancel_bits and (ms.partials or ms.pending):
        ms.last_cancel = ts  # a window this match in progress creates later may already be cancelled
    events = []
    for ref, window in list(ms.windows.items()):
        if not window.is_open and mask & rule.cancel_bits:
            del ms.windows[ref]
            events.append(WindowEvent("cancelled", window, ts, "cancel event before the window opened"))
        elif window.is_open and mask & rule.used_bits:
            window.used = True
    return events


def close_or_open(
    ms: MomentState, kind: str, ref: int, at: int
) -> tuple[list[WindowEvent], list[tuple[int, str, int]]]:
    """A window timer fired: open the window (and schedule its close) or close it."""
    window = ms.windows.get(ref)
    if window is None:
        return [], []
    if kind == "window_open":
        window.is_open = True
        return [WindowEvent("open", window, at)], [(window.closes_at, "window_close", ref)]
    del ms.windows[ref]
    if window.used:
        return [], []
    return [WindowEvent("expired", window, at)], []


def _anchor_time(rule: CompiledWindow, done: Completion) -> int:
    if rule.anchor_group is None:
        return done.completed_at
    times = [row[1] for row in done.evidence if row[2] == rule.anchor_group]
    return max(times) if times else done.completed_at
