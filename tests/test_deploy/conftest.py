"""Where the deployment files are, and the linters that check them (pinned in the dev extra; promtool from Debian)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"


def tool(name: str) -> str:
    """The path of a command-line checker: the virtual environment's, else the system's.

    Outside CI a missing one skips the test with its name; in CI it fails (``.ci/run`` installs them all).
    """
    found = Path(sys.executable).parent / name
    if found.is_file():
        return str(found)
    system = shutil.which(name)
    if system:
        return system
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI needs {name} (.ci/run installs it)")
    pytest.skip(f"{name} not installed")


def run(*command: str) -> subprocess.CompletedProcess[str]:
    """A checker's run, from the repository root."""
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


class _ComposeLoader(yaml.SafeLoader):
    """Safe YAML plus Compose's ``!reset`` (an override that clears a key of the base file)."""


_ComposeLoader.add_constructor("!reset", lambda loader, node: None)


def load(path: Path) -> Any:
    """One YAML document."""
    return yaml.load(path.read_text(), Loader=_ComposeLoader)  # a SafeLoader subclass: no arbitrary objects


def manifests() -> dict[str, Any]:
    """The Kubernetes resources by kind (one per file)."""
    found = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        doc = load(path)
        found[doc["kind"]] = doc
    return found
