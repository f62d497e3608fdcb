"""Progress lines: a redrawn line on a terminal, with what explains the rate."""

from __future__ import annotations

import io

from momentstream.runtime.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_line_carries_the_count_the_share_the_rate_and_the_detail() -> None:
    screen = Terminal()
    meter = Progress("replay", 200, stream=screen, interval=0.0, detail=lambda: "at 1997-08-01, 1,234 labels learned")
    meter.update(50)
    meter.finish(200)
    lines = screen.getvalue().split("\r")
    assert lines[1].startswith("replay: 50/200 (25%), ")
    assert lines[-1].rstrip().endswith("/s, at 1997-08-01, 1,234 labels learned")


def test_off_a_terminal_a_line_at_most_every_five_seconds_and_none_when_disabled() -> None:
    log = io.StringIO()
    meter = Progress("replay", None, stream=log, interval=0.0)
    meter.update(10)  # within five seconds of the start: nothing yet
    assert log.getvalue() == ""
    quiet = Terminal()
    Progress("replay", 10, stream=quiet, interval=0.0, enabled=False).update(5)
    assert quiet.getvalue() == ""
