"""``journeys --engine spark`` gives the local journey map: the same report, moments file and picture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from momentstream.cli.commands import main
from momentstream.sim.best_customers import best_customer_history


@pytest.mark.usefixtures("spark")
def test_a_planted_history_gives_the_same_map_indicators_and_moment(tmp_path: Path) -> None:
    events = tmp_path / "planted.jsonl"
    history = best_customer_history(customers=1_200, days=330, seed=5, effect=4.0)
    events.write_text("".join(e.model_dump_json(exclude_defaults=True) + "\n" for e in history) + "not json\n")
    written = {}
    out = tmp_path / "out"  # the same paths for both: the report names the moments file
    out.mkdir()
    for engine in ("local", "spark"):
        code = main(["journeys", str(events), "--top", "5%", "--by", "value within 120d", "--ignore",
                     "login,email_open", "-o", str(out / "map.html"), "--moments", str(out / "early.yaml"),
                     "--report", str(out / "report.json"), "-q", "--engine", engine])  # fmt: skip
        assert code == 0
        written[engine] = [(out / name).read_text() for name in ("report.json", "early.yaml", "map.html")]
    assert json.loads(written["local"][0])["moment"]["lift"] > 2, "the planted path should be found (by both)"
    assert written["spark"] == written["local"]
