"""Consent per channel: consent events and suppression lists remove customers from channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.core.engine import Engine, EngineConfig
from momentstream.core.schema import LateEvent, TouchpointEvent, Trigger, TriggerSuppressed
from momentstream.patterns.dsl import parse_moments
from momentstream.runtime.replay.runner import DRAIN, ReplayRunner
from momentstream.runtime.sources import read_events
from momentstream.triggers.consent import Consent, allowed_channels, apply_consent, contactable, read_customer_list

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)
MOMENTS = """
moments:
  - name: win_back
    channels: [email, sms]
    pattern: [{name: b, where: {type: purchase}}]
  - name: any_channel
    pattern: [{name: b, where: {type: purchase}}]
"""


def ev(n: int, kind: str, at: timedelta, channel: str = "unknown") -> TouchpointEvent:
    return TouchpointEvent(event_id=f"e{n}", customer_id="c", type=kind, ts=T0 + at, channel=channel)


def run(events: list[TouchpointEvent], lateness_ms: int = 0) -> list[object]:
    runner = ReplayRunner(Engine(parse_moments(MOMENTS), EngineConfig(allowed_lateness_ms=lateness_ms)))
    return list(runner.run(events, until=DRAIN))


def outcome(outputs: list[object]) -> list[tuple[str, str]]:
    """(moment, channels or the suppression reason) in order."""
    rows = []
    for o in outputs:
        if isinstance(o, Trigger):
            rows.append((o.moment, ",".join(o.channels) if o.channels is not None else "any"))
        elif isinstance(o, TriggerSuppressed):
            rows.append((o.moment, o.reason))
    return rows


def test_a_withdrawn_channel_is_removed_from_the_trigger() -> None:
    outputs = run([ev(1, "consent_withdrawn", 0 * HOUR, "email"), ev(2, "purchase", HOUR)])
    assert outcome(outputs) == [("win_back", "sms"), ("any_channel", "any")]


def test_withdrawing_every_channel_suppresses_every_moment_until_one_is_granted_back() -> None:
    outputs = run([ev(1, "consent_withdrawn", 0 * HOUR, "all"), ev(2, "purchase", HOUR),
                   ev(3, "consent_granted", 2 * HOUR, "sms"), ev(4, "purchase", 3 * HOUR)])  # fmt: skip
    assert outcome(outputs) == [("win_back", "no_consent"), ("any_channel", "no_consent"),
                                ("win_back", "sms"), ("any_channel", "any")]  # fmt: skip


def test_a_moment_whose_channels_are_all_withdrawn_is_suppressed_but_others_are_not() -> None:
    outputs = run([ev(1, "consent_withdrawn", 0 * HOUR, "email"), ev(2, "consent_withdrawn", 0 * HOUR, "sms"),
                   ev(3, "purchase", HOUR)])  # fmt: skip
    assert outcome(outputs) == [("win_back", "no_consent"), ("any_channel", "any")]


def test_a_withdrawal_later_than_the_allowed_lateness_is_still_honoured() -> None:
    events = [ev(1, "page_view", 5 * HOUR), ev(4, "page_view", 6 * HOUR), ev(2, "consent_withdrawn", 0 * HOUR, "all"),
              ev(3, "purchase", 7 * HOUR)]  # fmt: skip
    outputs = run(events, lateness_ms=60_000)
    assert [o.event.event_id for o in outputs if isinstance(o, LateEvent)] == ["e2"]  # reported late ...
    assert outcome(outputs) == [("win_back", "no_consent"), ("any_channel", "no_consent")]  # ... and obeyed


def test_an_older_consent_event_does_not_override_a_newer_one_whatever_the_arrival_order() -> None:
    events = [ev(1, "consent_withdrawn", 2 * HOUR, "email"), ev(2, "consent_granted", 1 * HOUR, "email"),
              ev(3, "purchase", 3 * HOUR)]  # fmt: skip
    assert outcome(run(events, lateness_ms=10 * 3_600_000)) == [("win_back", "sms"), ("any_channel", "any")]


def test_consent_rules_unit() -> None:
    consent: Consent = {}
    assert contactable(consent)
    assert allowed_channels(consent, ("email",)) == ["email"]
    assert apply_consent(consent, False, "all", 10)
    assert apply_consent(consent, True, "push", 20)
    assert allowed_channels(consent, ("email", "push")) == ["push"]
    assert contactable(consent)
    assert apply_consent(consent, True, "unknown", 30)  # an event without a channel speaks for all
    assert consent == {"all": (True, 30)}
    assert not apply_consent(consent, False, "email", 5)


def test_the_suppress_command_turns_a_list_into_consent_events(tmp_path: Path) -> None:
    directory = tmp_path
    (directory / "list.csv").write_text("customer_id,reason\nc1,complaint\n# a comment\n\nc2,\nc1,twice\n")
    out = directory / "consent.jsonl"
    code = main(["suppress", str(directory / "list.csv"), "-o", str(out), "--channel", "email",
                 "--at", "2026-03-02T08:00:00Z"])  # fmt: skip
    assert code == 0
    events = [e for _, e in read_events(out.read_text().splitlines())]
    assert [(e.customer_id, e.type, e.channel) for e in events if isinstance(e, TouchpointEvent)] == [
        ("c1", "consent_withdrawn", "email"), ("c2", "consent_withdrawn", "email")]  # fmt: skip
    again = directory / "again.jsonl"
    main(["suppress", str(directory / "list.csv"), "-o", str(again), "--channel", "email",
          "--at", "2026-03-02T08:00:00Z"])  # fmt: skip
    assert again.read_text() == out.read_text()  # same ids: sending the list twice is deduplicated
    customer = [e for e in events if isinstance(e, TouchpointEvent) and e.customer_id == "c1"]
    purchase = TouchpointEvent(event_id="p", customer_id="c1", type="purchase", ts=T0)
    runner = ReplayRunner(Engine(parse_moments(MOMENTS), EngineConfig(allowed_lateness_ms=0)))
    outputs = list(runner.run([*customer, purchase], until=DRAIN))
    assert outcome(outputs) == [("win_back", "sms"), ("any_channel", "any")]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xef\xbb\xbfcustomer_id,name\r\nc1,A\r\n", ["c1"]),  # a BOM made the header a customer id
        (b'"acme, inc",x\n"quoted ""id""",y\n', ["acme, inc", 'quoted "id"']),  # "acme, inc" became "acme"
        (b"c1\r\nc2\r\n\r\n# note\r\n", ["c1", "c2"]),
        (b"Customer_ID\nc1\n", ["c1"]),
        (b"c1\ncustomer_id\n", ["c1", "customer_id"]),  # only a first row is a header
    ],
)
def test_suppression_lists_are_read_as_csv(data: bytes, expected: list[str]) -> None:
    assert read_customer_list(data) == expected


def test_suppress_reads_a_bom_quoted_crlf_file_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(b'\xef\xbb\xbfcustomer_id,reason\r\n"acme, inc",complaint\r\n')
    out = tmp_path / "consent.jsonl"
    assert main(["suppress", str(path), "-o", str(out), "--at", "2026-03-02T08:00:00Z"]) == 0
    events = [e for _, e in read_events(out.read_text().splitlines()) if isinstance(e, TouchpointEvent)]
    assert [e.customer_id for e in events] == ["acme, inc"]


def test_a_non_utf8_list_is_refused_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(b"caf\xe9\n")
    assert main(["suppress", str(path)]) == 2
    assert "not a UTF-8 list" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "args", "expected"),
    [
        (b"ann@x.com;Ann\nbob@y.com;Bob\n", [], ["ann@x.com", "bob@y.com"]),  # a ; export: the delimiter is sniffed
        (b"ann@x.com\tAnn\nbob@y.com\tBob\n", [], ["ann@x.com", "bob@y.com"]),
        (b"Name;Email\nAnn;ann@x.com\nBob;bob@y.com\n", ["--id-column", "Email"], ["ann@x.com", "bob@y.com"]),
        (b"first name,E-Mail\nAnn,ann@x.com\n", ["--id-column", "e_mail"], ["ann@x.com"]),
        (b"ann@x.com;Ann\n", ["--delimiter", ";"], ["ann@x.com"]),
    ],
)
def test_suppression_exports_of_other_shapes_yield_the_ids(
    tmp_path: Path, content: bytes, args: list[str], expected: list[str]
) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    out = tmp_path / "consent.jsonl"
    assert main(["suppress", str(path), "-o", str(out), "--channel", "email", *args]) == 0
    events = [e for _, e in read_events(out.read_text().splitlines()) if isinstance(e, TouchpointEvent)]
    assert [e.customer_id for e in events] == expected


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"Email\nann@x.com\n", [], "looks like a header ('Email')"),  # a header would become a customer
        (b"user_id,name\nu1,Ann\n", [], "--id-column 'user_id'"),
        (b"ann@x.com|Ann;x\nbob@y.com|Bob;y\n", ["--delimiter", ";"], "holds '|'"),
        (b"ann@x.com;Ann\n", ["--delimiter", ","], "pass --delimiter ';'"),
        (b"Name;Email\nAnn;ann@x.com\n", ["--id-column", "phone"], "no column 'phone'"),
        (b"c1\n", ["--channel", "emial"], "did you mean email?"),  # a typo suppressed nothing
        (b"c1\n", ["--channel", "carrier_pigeon"], "unknown channel 'carrier_pigeon'"),
    ],
)
def test_suppression_traps_that_leave_people_contactable_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, args: list[str], message: str
) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    out = tmp_path / "consent.jsonl"
    channel = [] if "--channel" in args else ["--channel", "email"]
    assert main(["suppress", str(path), "-o", str(out), *channel, *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() or out.read_text() == ""


def test_a_channel_the_moments_file_declares_is_accepted(tmp_path: Path) -> None:
    moments = tmp_path / "moments.yaml"
    moments.write_text("channels: [kakao]\nmoments:\n  - name: nudge\n    channels: [kakao]\n"
                       "    pattern: [{name: b, where: {type: purchase}}]\n")  # fmt: skip
    path = tmp_path / "list.csv"
    path.write_bytes(b"c1\n")
    out = tmp_path / "consent.jsonl"
    assert main(["suppress", str(path), "-o", str(out), "--channel", "kakao", "-c", str(moments)]) == 0
    assert main(["suppress", str(path), "-o", str(out), "--channel", "kakao"]) == 2
