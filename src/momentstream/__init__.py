"""momentstream: find the moments in customer behaviour when an intervention matters most.

The public API: build or load moments, run them with an :class:`Engine` (or the replay
runner), and read :class:`Trigger` records out.
"""

from momentstream.engine import Engine, EngineConfig, Step
from momentstream.patterns import CompiledMoment, Moment, PatternError, load_moments, parse_moments
from momentstream.schema import LateEvent, TouchpointEvent, Trigger, WindowCancelled
from momentstream.state import CustomerState

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
