"""Which customers the search sees and which the tests count: never the same ones.

Stage one chooses everything about a candidate (its steps, gaps, silences and refinements) on the
customers it sees; a p-value counted on those same customers is the winner's p-value of that search,
far too small, and a history without any effect then yields confident false moments. So the customers
are split by a hash of their id: the search sees one part, the engine's counts (the exact tests,
Benjamini-Hochberg, the timing window's permutation test) use only the other. The p-values are then
honest for exactly the candidates tested, so the multiple-testing count is those candidates, not
everything the search tried.

>>> split = CustomerSplit.for_history(customers=4_000, sample_customers=20_000)
>>> split.search_share
0.5
>>> CustomerSplit.for_history(customers=1_000_000, sample_customers=20_000).search_share
0.02
>>> searched = sum(split.searched(f"c{i}") for i in range(10_000))
>>> 4_800 < searched < 5_200, split.searched("c1") == split.searched("c1")
(True, True)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["MAX_SEARCH_SHARE", "CustomerSplit"]

MAX_SEARCH_SHARE = 0.5
"""The search never sees more than half the customers: the tests keep at least the other half."""
_SCALE = float(2**64)


@dataclass(frozen=True, slots=True)
class CustomerSplit:
    """The share of customers (by a salted hash of the id, independent of the history's buckets) the search sees."""

    search_share: float

    @classmethod
    def for_history(cls, customers: int, sample_customers: int) -> CustomerSplit:
        """Up to ``sample_customers`` for the search, at most half of them all."""
        if customers <= 0:
            return cls(MAX_SEARCH_SHARE)
        return cls(min(MAX_SEARCH_SHARE, sample_customers / customers))

    def searched(self, customer_id: str) -> bool:
        """Whether the search may see this customer (then no test counts it)."""
        digest = hashlib.blake2b(customer_id.encode(), digest_size=8, person=b"discover-split").digest()
        return int.from_bytes(digest, "big") / _SCALE < self.search_share
