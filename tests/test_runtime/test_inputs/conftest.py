"""The public CDNOW master log as published (it ships with ``lifetimes``): a table nobody here wrote."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cdnow_master() -> Path:
    spec = importlib.util.find_spec("lifetimes")  # found, not imported: its import warns about pandas
    assert spec is not None
    assert spec.origin is not None
    return Path(spec.origin).parent / "datasets" / "CDNOW_master.txt"
