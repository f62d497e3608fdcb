"""``momentstream --help`` answers at once: building the parser imports no engine, model or Kafka client (they
cost over two seconds; a test on import lists, not on a stopwatch, so a busy machine cannot fail it)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("river", "scipy", "numpy", "sklearn", "faust", "confluent_kafka", "kafka", "momentstream.core.engine",
         "momentstream.models", "momentstream.discovery.run", "momentstream.sim")  # fmt: skip


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return [m for m in json.loads(done.stdout.splitlines()[-1]) if m.startswith(HEAVY)]


def test_help_and_a_bad_option_load_nothing_heavy() -> None:
    assert _loaded_after("from momentstream.cli.commands import build_parser; build_parser().format_help()") == []
    for argv in (["replay", "--no-such-option"], ["discover", "--help"], ["worker", "--help"]):
        code = f"from momentstream.cli.commands import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
        assert _loaded_after(code) == [], argv


def test_a_command_that_runs_loads_what_it_needs() -> None:
    loaded = _loaded_after("from momentstream.cli.commands import main; main(['check'])")
    assert "momentstream.core.engine" in loaded
