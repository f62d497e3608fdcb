"""Identity: ids stitched into one customer, in two parts.

:mod:`~momentstream.core.identity.records` is the pure stitching (merge records, forwarding, adopting an
alias's state); :mod:`~momentstream.core.identity.steps` is how the engine runs it on an event. This
package re-exports the first only: the engine imports the steps itself, and the steps build on
:mod:`momentstream.core.step`, which needs the records.
"""

from momentstream.core.identity import records
from momentstream.core.identity.records import *  # noqa: F403 - the package is the records' names

__all__: list[str] = []
__all__ += records.__all__
