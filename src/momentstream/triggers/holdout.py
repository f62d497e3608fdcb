"""Holdout control groups: a fixed, salted share of customers per moment whose triggers are not acted on.

Membership is a pure function of (salt, moment, customer id). There is no table to keep: every
worker, replay and report computes the same answer, a customer stays in or out for as long as
the salt stays the same, and changing the salt draws a fresh group. The moment name is part of
the hash, so the groups of different moments are independent. A customer held out of one moment
can still be treated by another.

>>> round(holdout_bucket("c-42", "post_purchase_window", salt=""), 4)
0.3123
>>> in_holdout("c-42", "post_purchase_window", share=0.10, salt=""), in_holdout("c-42", "post_purchase_window", 0.5, "")
(False, True)
>>> share = sum(in_holdout(f"c-{i}", "m", 0.10, "2026q4") for i in range(20_000)) / 20_000
>>> abs(share - 0.10) < 0.01
True
"""

from __future__ import annotations

import hashlib

__all__ = ["holdout_bucket", "in_holdout"]

_SCALE = float(2**64)


def holdout_bucket(customer_id: str, moment: str, salt: str) -> float:
    """A uniform number in [0, 1) fixed by salt, moment and customer."""
    digest = hashlib.sha256(f"{salt}\x1f{moment}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def in_holdout(customer_id: str, moment: str, share: float, salt: str) -> bool:
    """True when the customer is in the moment's holdout (its ``share`` of customers)."""
    return share > 0.0 and holdout_bucket(customer_id, moment, salt) < share
