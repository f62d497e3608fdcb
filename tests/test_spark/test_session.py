"""What a new user meets when Spark cannot run: one line saying what to install, exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_without_java_the_command_says_spark_needs_java_17(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"event_id": "e1", "customer_id": "c", "type": "purchase", "ts": "2026-01-01T00:00:00Z"}\n')
    done = subprocess.run([sys.executable, "-m", "momentstream", "discover", str(events), "--outcome", "purchase",
                           "--within", "7d", "--engine", "spark", "-q"],
                          env={**os.environ, "JAVA_HOME": str(tmp_path / "no-java")}, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "Spark needs Java 17" in done.stderr
    assert "Traceback" not in done.stderr
