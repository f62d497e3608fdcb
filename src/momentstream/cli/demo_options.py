"""What ``momentstream demo`` simulates, apart from the demo itself so that its options' defaults cost nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DemoOptions"]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What to simulate and where to write it.

    Customers keep joining for the first four fifths of the history, so new stories happen in
    both periods: discovery learns from the first ``discover_share`` of the days, and the
    moments (discovered and bundled) run over the rest.
    """

    customers: int = 5000
    days: int = 150
    seed: int = 7
    out: Path = Path("out/demo")
    progress: bool = True
    discover_share: float = 0.6
