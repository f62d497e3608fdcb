"""Wire schemas: the touchpoint events we read and the records we emit, in one place to import from.

The models live by whom they serve: :mod:`~momentstream.core.events` (producers),
:mod:`~momentstream.core.trigger_record` (CRMs) and :mod:`~momentstream.core.audit` (the audit trail);
:mod:`~momentstream.core.schema_files` exports them as JSON Schema. Everything else in the engine works
on compact internal values.
"""

from __future__ import annotations

from momentstream.core import audit, events, trigger_record
from momentstream.core.audit import *  # noqa: F403 - the façade re-exports each module's __all__
from momentstream.core.events import *  # noqa: F403
from momentstream.core.trigger_record import *  # noqa: F403

__all__: list[str] = []
__all__ += events.__all__
__all__ += trigger_record.__all__
__all__ += audit.__all__
