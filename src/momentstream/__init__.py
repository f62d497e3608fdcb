"""momentstream: find the moments in customer behaviour when an intervention matters most.

The public API: build or load moments, run them with an :class:`Engine` (or the replay
runner), and read :class:`Trigger` records out. The map of the package is ``docs/architecture.md``;
the import paths of the earlier, flat tree keep working (:mod:`momentstream.legacy_paths`).
"""

from momentstream.core.engine import Engine, EngineConfig, Step
from momentstream.core.schema import LateEvent, TouchpointEvent, Trigger, WindowCancelled
from momentstream.core.state import CustomerState
from momentstream.legacy_paths import install as _install_legacy_paths
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

__version__ = "0.1.0"

_install_legacy_paths()
