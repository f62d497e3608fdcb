"""The documentation site builds strict (a broken link or anchor fails), and its CLI reference is the parser's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from momentstream.devtools.cli_reference import cli_reference

ROOT = Path(__file__).resolve().parents[2]


def test_the_site_builds_strict(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                          cwd=ROOT, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    tutorial = (tmp_path / "tutorial" / "index.html").read_text()
    assert "--write-predictors" in tutorial  # the script itself is on the page, not a copy of it


def test_the_cli_reference_is_what_help_prints() -> None:
    page = (ROOT / "docs" / "reference" / "cli.md").read_text()
    assert page == cli_reference(), "regenerate: python -m momentstream.devtools.cli_reference > docs/reference/cli.md"
