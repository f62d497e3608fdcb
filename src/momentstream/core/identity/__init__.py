"""Identity: ids stitched into one customer, in two parts.

:mod:`~momentstream.core.identity.records` is the pure stitching (merge records, forwarding, adopting an
alias's state); :mod:`~momentstream.core.identity.steps` is how the engine runs it on an event. This
package re-exports the first only: the engine imports the steps itself, and the steps build on
:mod:`momentstream.core.step`, which needs the records.
"""

from momentstream.core.identity.records import (
    MAX_ALIASES,
    MERGE_MAGIC,
    Forward,
    Handoff,
    IdentityError,
    MergeRecord,
    adopt,
    alias_erasures,
    decode_merge,
    handoff_target,
)

__all__ = [
    "MAX_ALIASES",
    "MERGE_MAGIC",
    "Forward",
    "Handoff",
    "IdentityError",
    "MergeRecord",
    "adopt",
    "alias_erasures",
    "decode_merge",
    "handoff_target",
]
