"""``discover --engine spark`` gives the local engine's discovery: the same report (every figure but the
seconds) and the same moments file, on a planted history and on the public CDNOW log."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from momentstream.cli.commands import main
from momentstream.sim.planted import plant


def _discover(args: list[str], out: Path, engine: str) -> tuple[dict[str, Any], str]:
    moments, report = out / f"{engine}.yaml", out / f"{engine}.json"
    code = main(["discover", *args, "-o", str(moments), "--report", str(report), "-q", "--engine", engine])
    assert code == 0
    figures = json.loads(report.read_text())
    figures.pop("seconds")
    return figures, moments.read_text() if moments.exists() else ""


@pytest.mark.usefixtures("spark")
def test_a_planted_history_gives_the_same_moments_window_and_backtest(tmp_path: Path) -> None:
    """A fixed seed: the history differs from the local suite's random ones, the comparison is what is tested."""
    events = tmp_path / "events.jsonl"
    planted = plant(events, 20261207, steps=2, customers=1200)
    with events.open("a") as f:  # hostile lines: rejected alike
        f.write('{"event_id": "x", "customer_id": "c", "type": "Bad Type", "ts": "2025-03-04T00:00:00Z"}\n')
        f.write("not json\n")
    args = [str(events), "--outcome", planted.outcome, "--within", "14d", "--intervention", planted.intervention,
            "--split", "2025-05-25"]  # fmt: skip
    local, local_moments = _discover(args, tmp_path, "local")
    distributed, distributed_moments = _discover(args, tmp_path, "spark")
    assert local["written"], "the planted moment should be found (by both)"
    assert local["window"] is not None
    assert local["backtest"]
    assert distributed == local
    assert distributed_moments == local_moments


@pytest.mark.usefixtures("spark")
def test_cdnow_gives_the_same_predictors_and_backtest(tmp_path: Path) -> None:
    """The public CDNOW master log (it ships with ``lifetimes``): purchases only, whole days."""
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None
    assert spec.origin is not None
    source = Path(spec.origin).parent / "datasets" / "CDNOW_master.txt"
    events = tmp_path / "cdnow.jsonl"
    with events.open("w") as out:
        for n, line in enumerate(source.read_text().splitlines()[1:]):
            customer, day, cds, dollars = line.split()
            if int(customer) > 6_000:
                break
            ts = f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00Z"
            out.write(json.dumps({"event_id": f"p{n}", "customer_id": customer, "type": "purchase", "ts": ts,
                                  "value": float(dollars), "properties": {"cds": int(cds)}}) + "\n")  # fmt: skip
    args = [str(events), "--outcome", "purchase", "--within", "90d", "--split", "1997-10-01", "--write-predictors"]
    local, local_moments = _discover(args, tmp_path, "local")
    distributed, distributed_moments = _discover(args, tmp_path, "spark")
    assert local["history"]["events"] > 15_000
    assert local["written"], "--write-predictors writes the repeat-purchase sequences"
    assert distributed == local
    assert distributed_moments == local_moments
