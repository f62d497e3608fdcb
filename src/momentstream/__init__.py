"""momentstream: find the moments in customer behaviour when an intervention matters most.

The public API: build or load moments, run them with an :class:`Engine` (or the replay
runner), and read :class:`Trigger` records out. The map of the package is ``docs/architecture.md``;
the import paths of the earlier, flat tree keep working (:mod:`momentstream.legacy_paths`).

The names load on first use, so that ``momentstream --help`` does not pay for the engine's models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from momentstream.legacy_paths import install as _install_legacy_paths

if TYPE_CHECKING:
    from momentstream.core.engine import Engine, EngineConfig, Step
    from momentstream.core.schema import LateEvent, TouchpointEvent, Trigger, WindowCancelled
    from momentstream.core.state import CustomerState
    from momentstream.patterns import CompiledMoment, Moment, PatternError, load_moments, parse_moments

__all__ = [
    "CompiledMoment",
    "CustomerState",
    "Engine",
    "EngineConfig",
    "LateEvent",
    "Moment",
    "PatternError",
    "Step",
    "TouchpointEvent",
    "Trigger",
    "WindowCancelled",
    "load_moments",
    "parse_moments",
]

_HOME = {
    "Engine": "momentstream.core.engine",
    "EngineConfig": "momentstream.core.engine",
    "Step": "momentstream.core.engine",
    "LateEvent": "momentstream.core.schema",
    "TouchpointEvent": "momentstream.core.schema",
    "Trigger": "momentstream.core.schema",
    "WindowCancelled": "momentstream.core.schema",
    "CustomerState": "momentstream.core.state",
    "CompiledMoment": "momentstream.patterns",
    "Moment": "momentstream.patterns",
    "PatternError": "momentstream.patterns",
    "load_moments": "momentstream.patterns",
    "parse_moments": "momentstream.patterns",
}
"""Where each public name lives."""

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'momentstream' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


_install_legacy_paths()
