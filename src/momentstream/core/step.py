"""What one engine call returns, and the customer's idle timer: shared by the engine and its identity steps."""

from __future__ import annotations

from dataclasses import dataclass

from momentstream.core.identity import Handoff
from momentstream.core.schema import Output
from momentstream.core.state import CustomerState

__all__ = ["IDLE_OWNER", "IDLE_TIMER", "Step"]

IDLE_TIMER = "idle"
IDLE_OWNER = "~idle"
"""The customer's idle timer (see ``EngineConfig.idle_ttl_ms``); not a moment name."""


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one engine call: the customer's state afterwards and what to emit."""

    state: CustomerState
    outputs: list[Output]
    erase: bool = False
    """The customer asked to be erased: the runtime must delete every stored trace of ``state``."""
    evict: bool = False
    """The customer was idle past ``idle_ttl_ms`` with nothing pending: the runtime may drop its state."""
    handoffs: tuple[Handoff, ...] = ()
    """Records for other customers (an alias's merge, forwarded events): the runtime delivers each keyed by its
    customer, before it saves ``state``."""
