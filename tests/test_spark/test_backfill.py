"""``replay --engine spark`` is the local replay: the same triggers, holdout triggers, audit records and
rejects, and each customer's final state byte for byte, with identity merges across customers."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest

import momentstream
from momentstream.cli.commands import main
from momentstream.cli.demo import default_engine
from momentstream.core.schema import TouchpointEvent
from momentstream.runtime.inputs import read_input
from momentstream.runtime.replay.runner import ReplayRunner, replay_file
from momentstream.spark.backfill import BackfillOptions, backfill, read_states


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Simulated journeys with alias ids joined by identify events, and hostile lines."""
    path = tmp_path_factory.mktemp("backfill") / "events.jsonl"
    assert main(["simulate", "--customers", "500", "--days", "45", "--split-ids", "0.3", "-o", str(path)]) == 0
    with path.open("a") as f:
        f.write("not json\n")
        f.write('{"event_id": "x", "customer_id": "c", "type": "visit", "ts": "2199-01-01T00:00:00"}\n')
    return path


def _parts(directory: Path) -> list[str]:
    return sorted(line for part in sorted(directory.glob("part-*")) for line in part.read_text().splitlines())


def _local(history: Path, until: int | None) -> tuple[dict[str, list[str]], dict[str, bytes]]:
    outputs = {name: io.StringIO() for name in ("triggers", "holdout", "audit", "rejects")}
    replay_file(history, default_engine(None, scoring=False), outputs["triggers"], holdout_out=outputs["holdout"],
                audit_out=outputs["audit"], rejects_out=outputs["rejects"], until=until, progress=False)  # fmt: skip
    runner = ReplayRunner(default_engine(None, scoring=False))  # the same run, for the states it ends with
    valid = [(item, n) for n, item in read_input(history) if isinstance(item, TouchpointEvent)]
    list(runner.run([e for e, _ in sorted(valid, key=lambda pair: (pair[0].ts, pair[1]))], until))
    states = {customer: state.to_bytes() for customer, state in runner.states.items()}
    return {name: sorted(out.getvalue().splitlines()) for name, out in outputs.items()}, states


def _without_watermark(state: bytes) -> list[Any]:
    """A state's encoding without its watermark: the clock the customer was last ticked at, which depends on the
    other customers sharing their partition (as on Kafka partitions), never on their own events."""
    doc: list[Any] = msgpack.unpackb(state, raw=False)
    assert isinstance(doc[3], int)
    return doc[:3] + doc[4:]


def test_the_backfill_is_the_local_replay(spark: Any, history: Path, tmp_path: Path) -> None:
    """To the end of the history: the clock every partition stops at is the local replay's last one."""
    until = None
    out = tmp_path / "backfill"
    summary = backfill(spark, history, default_engine(None, scoring=False), str(out), BackfillOptions(until=until))
    local, states = _local(history, until)
    assert len(local["triggers"]) > 100
    assert summary.merged > 50, "identify events must merge alias states"
    for name, lines in local.items():
        assert _parts(out / name) == lines, name
    written = {customer: _without_watermark(state) for customer, _, state in read_states(_parts(out / "states"))}
    assert written == {customer: _without_watermark(state) for customer, state in states.items()}
    assert summary.customers == len(states)
    assert summary.rejected == len(local["rejects"]) == 2


def test_the_command_writes_a_directory_and_refuses_what_it_cannot_do(
    spark: Any, history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "warm"
    assert main(["replay", str(history), "--engine", "spark", "-o", str(out), "-q"]) == 0
    said = capsys.readouterr().err
    assert "without models" in said
    assert "triggers, holdout, audit, rejects, states" in said
    assert {p.name for p in out.iterdir()} >= {"triggers", "holdout", "audit", "rejects", "states"}
    first = json.loads(_parts(out / "states")[0])
    assert base64.b64decode(first["state"])
    assert main(["replay", str(history), "--engine", "spark", "-o", str(out)]) == 2  # never over a backfill
    assert "exists" in capsys.readouterr().err
    blank = tmp_path / "blank.jsonl"
    blank.write_text('{"event_id": 1}\n')
    assert main(["replay", str(blank), "--engine", "spark", "-o", str(tmp_path / "none"), "-q"]) == 2
    assert "no valid event" in capsys.readouterr().err.lower()
    for extra in (["--audit", "a.jsonl"], ["--models-out", "m.bin"], ["--order", "file"], ["-o", "-"]):
        args = ["replay", str(history), "--engine", "spark", "-o", str(tmp_path / "x"), *extra]
        assert main(args) == 2, extra
        assert "--engine spark" in capsys.readouterr().err


def test_spark_submit_runs_the_command_on_the_master_it_was_given(history: Path, tmp_path: Path) -> None:
    """As on a cluster (docs/guide/spark.md): spark-submit starts the command's module; it keeps that master."""
    submit = Path(sys.executable).parent / "spark-submit"
    module = Path(momentstream.__file__).parent / "__main__.py"
    out = tmp_path / "submitted"
    done = subprocess.run([str(submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false", str(module),
                           "replay", str(history), "--engine", "spark", "-o", str(out), "-q"],
                          env={**os.environ, "PYSPARK_PYTHON": sys.executable}, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "master local[1]" in done.stdout + done.stderr  # the program's output comes through the JVM's
    local, _ = _local(history, None)
    assert _parts(out / "triggers") == local["triggers"]
