"""Fuzzing both runtimes: arbitrary bytes, arbitrary JSON and mutated events (extreme numbers, huge and
odd strings, far dates, nested properties) never raise out, every refused record is kept with a reason,
and the good records around them give exactly the triggers of a clean run, with scoring on.

Mutants that are valid events belong to fresh customers and are never slightly ahead of the stream:
such an event is a legitimate event and does move time (within ``max_skew``); far-ahead ones are refused.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
import zlib
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from momentstream.cli.demo import default_engine
from momentstream.core.identity import MERGE_MAGIC, IdentityError, MergeRecord, decode_merge
from momentstream.core.schema import TouchpointEvent, Trigger
from momentstream.core.state import CustomerState
from momentstream.runtime.kafka.processor import DictTable, StreamProcessor, Tick
from momentstream.runtime.replay.runner import replay_file
from momentstream.runtime.sources import Reject, read_events
from momentstream.sim.journeys import simulate

PARTITIONS = 2


def budget(examples: int) -> Any:
    """Hypothesis settings: fixed examples per CI run (derandomized, so a failure reproduces)."""
    return settings(max_examples=examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip


@cache
def journey() -> list[bytes]:
    """A small history, in time order, with triggers of every kind."""
    events = sorted(simulate(30, 30, 4).events, key=lambda e: e.ts)
    return [e.model_dump_json(exclude_defaults=True).encode() for e in events]


def good_customers() -> set[str]:
    return {json.loads(line)["customer_id"] for line in journey()}


# -- hostile records -------------------------------------------------------------------------------
EXTREME_NUMBERS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 1e291, 2**70, -(2**70), 2**63, 1e15, -0.0, 1e-320]
FAR_DATES = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2200-01-01T00:00:00Z", "3000-01-01T00:00:00Z",
             "1899-12-31T23:59:59Z", "2026-13-45T00:00:00Z", "not a date", "2026-03-02T10:00:00", "+10000-01-01T00:00Z",
             "2999-06-01T00:00:00+14:00"]  # fmt: skip
scalars = st.one_of(st.none(), st.booleans(), st.sampled_from(EXTREME_NUMBERS), st.integers(),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40))  # fmt: skip
odd_text = st.one_of(st.text(max_size=80), st.sampled_from(["", " ", "\x00", "\u202e", "\ud7ff", "é" * 3_000,
                                                            "x" * 21_000, "c" * 201, "💥" * 70]))  # fmt: skip
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)  # fmt: skip
past_dates = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(2025, 12, 31),
                          timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat())  # fmt: skip
FIELDS = ["event_id", "customer_id", "type", "channel", "ts", "value", "properties", "text", "extra"]


@st.composite
def mutant(draw: st.DrawFn, n: int) -> bytes:
    """A valid-looking event of a fresh customer with one or more hostile fields."""
    doc: dict[str, Any] = {"event_id": f"fz-{n}", "customer_id": f"fuzz-{n}", "type": "purchase", "channel": "web",
                           "ts": "2020-01-01T00:00:00Z", "value": 10.0, "properties": {"plan": "pro"}}  # fmt: skip
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        if field == "value":
            doc["value"] = draw(st.one_of(st.sampled_from(EXTREME_NUMBERS), json_values))
        elif field == "ts":
            doc["ts"] = draw(st.one_of(st.sampled_from(FAR_DATES), past_dates, json_values))
        elif field == "properties":
            doc["properties"] = draw(st.one_of(
                st.dictionaries(odd_text, scalars, max_size=70), json_values,
                st.just({"timezone": draw(st.sampled_from(["Europe/Berln", "Mars/Olympus", "", "UTC", 5])),
                         "nested": {"a": [1, {"b": 2}]}})))  # fmt: skip
        elif field == "extra":
            doc[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
        else:
            doc[field] = draw(st.one_of(odd_text, json_values))
    if isinstance(doc.get("customer_id"), str) and doc["customer_id"] in good_customers():
        doc["customer_id"] = f"fuzz-{n}"
    text = json.dumps(doc, allow_nan=True, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


@st.composite
def forged_merge(draw: st.DrawFn, n: int) -> bytes:
    """A merge record (see momentstream.core.identity) for the customer ``fuzz-n``, broken or forged."""
    alias, canonical = f"fuzz-a{n}", f"fuzz-{n}"
    identify = TouchpointEvent(event_id=f"fz-{n}", customer_id=alias, type="identify",
                               ts=datetime(2020, 1, 1, tzinfo=UTC), properties={"canonical_id": canonical})  # fmt: skip
    states = [b"", b"\x93\x01", *(CustomerState(c).to_bytes() for c in (canonical, "cust-00001", alias))]
    state = draw(st.sampled_from(states))
    record = MergeRecord(f"fz-{n}", f"fuzz-a{n}", f"fuzz-{n}", identify, state).encode()
    cut = draw(st.integers(len(MERGE_MAGIC), len(record)))
    return draw(st.sampled_from([record, record[:cut], MERGE_MAGIC + draw(st.binary(max_size=64))]))


@st.composite
def hostile_record(draw: st.DrawFn, n: int) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "mutant", "mutant", "mutant", "huge", "merge"]))
    if kind == "merge":
        return draw(forged_merge(n)).replace(b"\n", b" ")
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=200)).replace(b"\n", b" ")
    if kind == "json":
        return json.dumps(draw(json_values), allow_nan=True).encode()
    if kind == "huge":
        return b'{"event_id":"h","customer_id":"fuzz-h","type":"x","ts":"2020-01-01T00:00:00Z","text":"' + (
            b"y" * draw(st.sampled_from([70_000, 1_000_000]))) + b'"}'  # fmt: skip
    return draw(mutant(n))


@st.composite
def hostile_stream(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    """The journey with hostile records inserted at drawn positions; returns lines and their indexes."""
    lines = list(journey())
    inserted = []
    for n in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(hostile_record(n)))
        inserted = [i + 1 if i >= at else i for i in inserted] + [at]
    return lines, sorted(inserted)


def crm_view(outputs: list[Any]) -> dict[str, dict[str, Any]]:
    """Good customers' triggers, without what models say (shared models also learn from valid mutants): the
    score and the expected spend. The anomaly stays: it is the customer's own rhythm."""
    good = good_customers()
    return {o.trigger_id: o.model_dump(mode="json", exclude={"score": True, "signals": {"value": True}})
            for o in outputs if isinstance(o, Trigger) and o.customer_id in good}  # fmt: skip


# -- the replay reader and runner ------------------------------------------------------------------
def replay(lines: list[bytes]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], int]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "events.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        out, audit, rejects = io.StringIO(), io.StringIO(), io.StringIO()
        engine = default_engine(None)
        summary = replay_file(path, engine, out, audit_out=audit, rejects_out=rejects, order="file", progress=False)
    assert engine.scorer is not None
    assert all(model.is_finite() for model in engine.scorer.models.values())
    triggers = [Trigger.model_validate_json(x) for x in out.getvalue().splitlines() if '"trigger_revoked"' not in x]
    return crm_view(triggers), [json.loads(x) for x in rejects.getvalue().splitlines()], summary.events


@cache
def clean_replay() -> dict[str, dict[str, Any]]:
    view, rejects, _ = replay(journey())
    assert not rejects
    assert len(view) >= 8
    return view


@budget(1_000)
@given(st.lists(st.one_of(st.binary(max_size=300), st.builds(lambda v: json.dumps(v, allow_nan=True).encode(),
                                                              json_values)), max_size=20))  # fmt: skip
def test_the_reader_never_raises_and_accounts_for_every_line(lines: list[bytes]) -> None:
    rows = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    found = list(read_events(rows))
    assert [n for n, _ in found] == [i for i, row in enumerate(rows, 1) if row.strip()]
    for _, item in found:
        if isinstance(item, Reject):
            assert item.reason in {"invalid_json", "invalid_event", "too_large"}
            assert item.error
            json.dumps(item.to_json())  # the rejects file can always be written


@budget(200)
@given(hostile_stream())
def test_replay_keeps_every_hostile_record_and_the_good_ones_fire_as_before(
    stream: tuple[list[bytes], list[int]],
) -> None:
    lines, inserted = stream
    view, rejects, accepted = replay(lines)
    assert view == clean_replay()
    assert {r["line"] for r in rejects} <= {i + 1 for i in inserted}  # only hostile lines are refused
    assert accepted + len(rejects) == len([x for x in lines if x.strip()])  # nothing lost: taken or kept
    assert all(r["reason"] and r["error"] for r in rejects)


# -- the Kafka processor ---------------------------------------------------------------------------
def partition_of(key: bytes) -> int:
    return zlib.crc32(key) % PARTITIONS


def key_of(value: bytes) -> bytes:
    """The record key a producer would give: the customer id when there is one."""
    if value.startswith(MERGE_MAGIC):
        try:
            return decode_merge(value).canonical_id.encode()
        except IdentityError:
            return b"junk"
    try:
        customer = json.loads(value)["customer_id"]
    except (ValueError, TypeError, KeyError, RecursionError):
        return b"junk"
    return customer.encode("utf-8", "replace") if isinstance(customer, str) else b"junk"


def process(lines: list[bytes]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    engine = default_engine(None)
    processor = StreamProcessor(engine, DictTable())
    outputs: list[Any] = []
    letters = []
    last = None
    for value in lines:
        key = key_of(value)
        work = processor.on_event(partition_of(key), key, value)
        outputs.extend(work.outputs)
        if work.dead_letter is not None:
            letters.append(work.dead_letter.reason)
        assert not work.failures
        processor.save(work)
        if work.event is not None and work.event.customer_id in good_customers():
            last = work.event.ts
    assert last is not None
    end = int((last + timedelta(0)).timestamp() * 1000)
    for partition in range(PARTITIONS):
        work = processor.on_tick(partition, Tick(end, final=True))
        outputs.extend(work.outputs)
        processor.save(work)
    assert engine.scorer is not None
    assert all(model.is_finite() for model in engine.scorer.models.values())
    return crm_view(outputs), letters


@cache
def clean_processor() -> dict[str, dict[str, Any]]:
    view, letters = process(list(journey()))
    assert not letters
    assert view == clean_replay()  # the two runtimes agree on the clean input
    return view


@budget(30)
@given(hostile_stream())
def test_the_processor_dead_letters_every_refused_record_and_the_good_ones_fire_as_before(
    stream: tuple[list[bytes], list[int]],
) -> None:
    lines, inserted = stream
    view, letters = process(lines)
    assert view == clean_processor()
    assert len(letters) <= len(inserted)
    assert set(letters) <= {"invalid_json", "invalid_event", "too_large", "key_mismatch", "invalid_merge",
                            "identity_refused"}  # fmt: skip


@cache
def busy_processor() -> StreamProcessor:
    """One processor with the journey's customers in it, shared by the examples below (they add to it)."""
    processor = StreamProcessor(default_engine(None), DictTable())
    for value in journey():
        processor.save(processor.on_event(partition_of(key_of(value)), key_of(value), value))
    return processor


@budget(1_000)
@given(st.data())
def test_the_processor_takes_any_record_without_raising(data: st.DataObject) -> None:
    processor = busy_processor()
    value = data.draw(hostile_record(data.draw(st.integers(0, 10**6))))
    key = data.draw(st.sampled_from([key_of(value), None, b"\xff", b"cust-00001"]))
    work = processor.on_event(data.draw(st.integers(0, PARTITIONS - 1)), key, value)
    if work.dead_letter is None and value.startswith(MERGE_MAGIC):  # a well-formed merge: taken for its key
        assert key == decode_merge(value).canonical_id.encode()
    elif work.dead_letter is None:
        assert work.event is not None
        assert key == work.event.customer_id.encode()
    else:
        assert work.dead_letter.reason in {"invalid_json", "invalid_event", "too_large", "key_mismatch",
                                           "missing_key", "invalid_merge", "identity_refused"}  # fmt: skip
        assert not work.outputs
        assert not work.encoded
    assert not work.failures
    processor.save(work)
    assert processor.engine.scorer is not None
    assert all(model.is_finite() for model in processor.engine.scorer.models.values())
