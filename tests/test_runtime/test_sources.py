"""Reading events: odd bytes, byte-order marks and oversized records cost one line each, with the reason."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from momentstream.cli.commands import main
from momentstream.core.engine import Engine
from momentstream.core.schema import MAX_EVENT_BYTES, TouchpointEvent
from momentstream.data import bundled_moments_path
from momentstream.patterns.dsl import load_moments
from momentstream.runtime.replay.runner import replay_file
from momentstream.runtime.sources import RAW_KEPT, Reject, parse_event, read_events
from momentstream.sim.journeys import simulate

GOOD = b'{"event_id":"e1","customer_id":"c1","type":"purchase","ts":"2026-01-01T00:00:00Z"}'


def test_a_non_utf8_byte_is_one_reject_with_its_line_number() -> None:
    rows = [GOOD, b'{"event_id":"e2","customer_id":"c\xff","type":"purchase","ts":"2026-01-01T00:00:00Z"}', GOOD]
    found = list(read_events(rows))
    assert [(n, type(x).__name__) for n, x in found] == [(1, "TouchpointEvent"), (2, "Reject"), (3, "TouchpointEvent")]
    reject = found[1][1]
    assert isinstance(reject, Reject)
    assert reject.reason == "invalid_json"
    assert "\\xff" in reject.raw  # kept, escaped, so the rejects file stays valid UTF-8 JSON


def test_a_byte_order_mark_on_the_first_line_is_ignored() -> None:
    [(_, event)] = list(read_events([b"\xef\xbb\xbf" + GOOD]))
    assert isinstance(event, TouchpointEvent)


def test_an_oversized_record_is_refused_and_kept_truncated_with_size_and_hash() -> None:
    huge = b"x" * 1_000_000
    refused = parse_event(huge)
    assert not isinstance(refused, TouchpointEvent)
    assert refused.reason == "too_large"
    [(_, reject)] = list(read_events([huge]))
    assert isinstance(reject, Reject)
    doc = reject.to_json()
    assert doc["size"] == 1_000_000
    assert doc["truncated"] is True
    assert doc["sha256"] == hashlib.sha256(huge).hexdigest()
    assert len(reject.raw) == RAW_KEPT


def test_a_record_at_the_size_limit_is_read() -> None:
    padding = MAX_EVENT_BYTES - len(GOOD) - len(',"text":""')
    line = GOOD[:-1] + b',"text":"' + b"a" * min(padding, 20_000) + b'"}'
    assert len(line) <= MAX_EVENT_BYTES
    assert isinstance(parse_event(line), TouchpointEvent)


def test_deeply_nested_json_is_a_reject_not_a_crash() -> None:
    nested = b'{"properties":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    refused = parse_event(nested)
    assert not isinstance(refused, TouchpointEvent)


def test_replay_with_a_bad_byte_writes_every_trigger_and_one_reject(tmp_path: Path) -> None:
    events = simulate(200, 60, 5).events
    lines = [e.model_dump_json(exclude_defaults=True).encode() for e in events]
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"\n".join(lines) + b"\n")
    dirty = tmp_path / "dirty.jsonl"
    middle = len(lines) // 2
    dirty.write_bytes(b"\n".join([*lines[:middle], b"\xc3\x28 broken", *lines[middle:]]) + b"\n")

    def run(path: Path) -> tuple[str, str]:
        out, rejects = io.StringIO(), io.StringIO()
        replay_file(path, Engine(load_moments(bundled_moments_path())), out, rejects_out=rejects, progress=False)
        return out.getvalue(), rejects.getvalue()

    clean_out, _ = run(clean)
    dirty_out, rejects = run(dirty)
    assert dirty_out == clean_out
    assert clean_out
    [reject] = [json.loads(line) for line in rejects.splitlines()]
    assert reject["line"] == middle + 1
    assert reject["reason"] == "invalid_json"


def test_replay_strict_exits_non_zero_on_rejects(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(GOOD + b"\n\xff\n")
    common = ["replay", str(path), "-o", str(tmp_path / "t.jsonl"), "--no-scoring", "-q"]
    assert main(common) == 0
    assert main([*common, "--strict"]) == 1
