"""Quiet hours in local wall-clock time: daylight saving, gaps, overlaps and fixed offsets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from momentstream.patterns.quiet_hours import QuietHours, parse_clock_time, zone_named

NIGHT = QuietHours(start=21 * 60, end=8 * 60)
BERLIN = zone_named("Europe/Berlin")
NEW_YORK = zone_named("America/New_York")


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def utc(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC)


@pytest.mark.parametrize(
    ("utc_time", "quiet"),
    [
        (datetime(2026, 1, 15, 19, 59, tzinfo=UTC), False),  # 20:59 CET
        (datetime(2026, 1, 15, 20, 0, tzinfo=UTC), True),  # 21:00 CET
        (datetime(2026, 1, 16, 6, 59, tzinfo=UTC), True),  # 07:59 CET
        (datetime(2026, 1, 16, 7, 0, tzinfo=UTC), False),  # 08:00 CET
        (datetime(2026, 7, 15, 18, 59, tzinfo=UTC), False),  # 20:59 CEST
        (datetime(2026, 7, 15, 19, 0, tzinfo=UTC), True),  # 21:00 CEST
        (datetime(2026, 7, 16, 5, 59, tzinfo=UTC), True),  # 07:59 CEST
        (datetime(2026, 7, 16, 6, 0, tzinfo=UTC), False),  # 08:00 CEST
    ],
)
def test_the_span_follows_the_local_clock_in_winter_and_summer(utc_time: datetime, quiet: bool) -> None:
    assert NIGHT.is_quiet(ms(utc_time), BERLIN) is quiet


def test_a_night_that_loses_an_hour_ends_at_eight_local_time() -> None:
    # Berlin springs forward on 2026-03-29 at 02:00 -> 03:00: 08:00 CEST is 06:00 UTC, not 07:00.
    at = ms(datetime(2026, 3, 28, 22, 0, tzinfo=UTC))  # 23:00 CET
    assert utc(NIGHT.next_allowed(at, BERLIN)) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)


def test_a_night_that_gains_an_hour_ends_at_eight_local_time() -> None:
    # New York falls back on 2026-11-01 at 02:00 -> 01:00: 08:00 EST is 13:00 UTC.
    at = ms(datetime(2026, 11, 1, 2, 0, tzinfo=UTC))  # 22:00 EDT on Oct 31
    assert utc(NIGHT.next_allowed(at, NEW_YORK)) == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_an_end_inside_the_spring_forward_gap_ends_at_the_jump() -> None:
    quiet = QuietHours(start=21 * 60, end=2 * 60 + 30)  # 02:30 does not exist on 2026-03-29 in Berlin
    at = ms(datetime(2026, 3, 29, 0, 10, tzinfo=UTC))  # 01:10 CET
    assert utc(quiet.next_allowed(at, BERLIN)) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST


def test_an_end_inside_the_fall_back_overlap_ends_at_its_first_occurrence() -> None:
    quiet = QuietHours(start=21 * 60, end=2 * 60 + 30)  # 02:30 happens twice on 2026-10-25 in Berlin
    first = ms(datetime(2026, 10, 24, 23, 10, tzinfo=UTC))  # 01:10 CEST
    assert utc(quiet.next_allowed(first, BERLIN)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    # The clock goes back to 02:00: by wall time it is quiet again until the second 02:30.
    second = ms(datetime(2026, 10, 25, 1, 10, tzinfo=UTC))  # 02:10 CET
    assert quiet.is_quiet(second, BERLIN)
    assert utc(quiet.next_allowed(second, BERLIN)) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET


def test_a_span_inside_one_day_and_a_fixed_offset_zone() -> None:
    lunch = QuietHours(start=12 * 60, end=13 * 60)
    kolkata = zone_named("+05:30")
    at = ms(datetime(2026, 5, 1, 6, 45, tzinfo=UTC))  # 12:15 at +05:30
    assert utc(lunch.next_allowed(at, kolkata)) == datetime(2026, 5, 1, 7, 30, tzinfo=UTC)
    assert lunch.next_allowed(at + 3_600_000, kolkata) == at + 3_600_000  # 13:15: not quiet, no wait


def test_next_allowed_is_the_first_instant_outside_the_span_property() -> None:
    """For random instants, spans and zones: the answer is allowed and every minute before it is quiet."""
    rng = random.Random(11)
    zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Tehran", "America/Santiago", "+09:30"]
    start_2026 = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(300):
        zone = zone_named(rng.choice(zones))
        start, end = rng.sample(range(0, 1440, 15), 2)
        quiet = QuietHours(start, end)
        at = ms(start_2026 + timedelta(minutes=rng.randrange(365 * 1440)))
        allowed = quiet.next_allowed(at, zone)
        assert allowed >= at
        assert not quiet.is_quiet(allowed, zone)
        for probe in range(at, allowed, 60_000):
            assert quiet.is_quiet(probe, zone), (start, end, utc(at), utc(probe))


@pytest.mark.parametrize("text", ["24:00", "8", "08:60", 800, None])
def test_bad_clock_times_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock_time(text)


def test_an_empty_span_is_refused() -> None:
    with pytest.raises(ValueError, match="two different"):
        QuietHours(480, 480)


def test_an_unknown_customer_zone_falls_back_to_utc() -> None:
    assert zone_named("Mars/Olympus") is UTC
    assert NIGHT.zone(None, "Europe/Berlin") is BERLIN
    assert QuietHours(1, 2, "America/New_York").zone("Europe/Berlin") is NEW_YORK
