"""Progress lines for long work, on standard error so standard output stays clean."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Reports ``done`` of ``total`` items at most every ``interval`` seconds.

    On a terminal it redraws one line; elsewhere (CI logs) it prints a line at a time.
    Quiet when ``enabled`` is False. ``detail``, when given, adds what explains the rate to each line
    (a scoring replay slows where labels come due, and says so rather than look like a leak).
    """

    def __init__(self, label: str, total: int | None = None, *, enabled: bool = True, interval: float = 1.0,
                 stream: TextIO | None = None, detail: Callable[[], str] | None = None) -> None:  # fmt: skip
        self.label = label
        self.detail = detail
        self.total = total
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.interval = interval if self.stream.isatty() else max(interval, 5.0)
        self._started = time.perf_counter()
        self._last = self._started
        self._shown = False

    def update(self, done: int) -> None:
        """Call often; prints only when the interval has passed."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < self.interval:
            return
        self._last = now
        self._show(done, now)

    def finish(self, done: int) -> None:
        """Print the last figure and end the line."""
        if self.enabled and self._shown:
            self._show(done, time.perf_counter())
            if self.stream.isatty():
                self.stream.write("\n")

    def _show(self, done: int, now: float) -> None:
        rate = done / max(now - self._started, 1e-9)
        share = f" ({100 * done / self.total:.0f}%)" if self.total else ""
        total = f"/{self.total:,}" if self.total else ""
        text = f"{self.label}: {done:,}{total}{share}, {rate:,.0f}/s"
        if self.detail is not None:
            text += f", {self.detail()}"
        if self.stream.isatty():
            self.stream.write("\r" + text.ljust(70))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._shown = True
