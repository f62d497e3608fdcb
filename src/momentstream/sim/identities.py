"""Split histories, as real ones are: activity before login under a device id, then an email, then the CRM id.

Used by the demo, the tests and the benchmarks of identity stitching (see :mod:`momentstream.core.identity`): a
stitched replay of the split history should find what a replay of the whole history finds.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from momentstream.core.schema import IDENTIFY_EVENT_TYPE, TouchpointEvent

__all__ = ["SplitHistory", "split_identities"]


@dataclass(slots=True)
class SplitHistory:
    """The split events in time order, and each alias id with the customer it really is."""

    events: list[TouchpointEvent] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)

    def canonical(self, customer_id: str) -> str:
        """The customer an id finally is (itself, if it is no alias)."""
        while customer_id in self.aliases:
            customer_id = self.aliases[customer_id]
        return customer_id


def split_identities(events: Iterable[TouchpointEvent], share: float = 0.3, seed: int = 7,
                     chained: float = 0.0, cut_at: datetime | None = None) -> SplitHistory:  # fmt: skip
    """Give a ``share`` of customers (with three or more events) a device id for their early events.

    An ``identify`` event between two of their events joins the device id to the customer id. A
    ``chained`` share of those has a middle stretch under an email id as well: the device is
    identified as the email, and the email later as the customer. With ``cut_at`` every login is at
    that instant (no chains): all alias activity comes before it, all canonical activity after, as a
    test that sends the two halves apart wants.

    Examples
    --------
    >>> from momentstream.sim.journeys import simulate
    >>> split = split_identities(simulate(customers=20, days=40, seed=3).events, share=0.5, seed=1)
    >>> identify = next(e for e in split.events if e.type == "identify")
    >>> split.aliases[identify.customer_id] == identify.properties["canonical_id"]
    True
    """
    rng = random.Random(seed)
    by_customer: dict[str, list[TouchpointEvent]] = defaultdict(list)
    for event in events:
        by_customer[event.customer_id].append(event)
    split = SplitHistory()
    for customer_id, history in by_customer.items():
        if len(history) < 3 or rng.random() >= share:
            split.events.extend(history)
            continue
        ids = [_alias("dev", customer_id), customer_id]
        cuts = [rng.randint(1, len(history) - 1)]
        if cut_at is not None:
            cuts = [sum(e.ts < cut_at for e in history)]
            if not 0 < cuts[0] < len(history):
                split.events.extend(history)
                continue
        elif len(history) >= 4 and rng.random() < chained:
            ids.insert(1, _alias("mail", customer_id))
            cuts = sorted(rng.sample(range(1, len(history)), 2))
        bounds = [0, *cuts, len(history)]
        for level, owner in enumerate(ids):
            part = history[bounds[level] : bounds[level + 1]]
            split.events.extend(e.model_copy(update={"customer_id": owner}) for e in part)
            if level + 1 < len(ids):
                split.aliases[owner] = ids[level + 1]
                after = history[bounds[level + 1]]
                split.events.append(_identify(owner, ids[level + 1], part[-1], after, cut_at))
    split.events.sort(key=lambda e: (e.ts, e.customer_id, e.event_id))
    return split


def _alias(kind: str, customer_id: str) -> str:
    return f"{kind}-{hashlib.sha256(customer_id.encode()).hexdigest()[:12]}"


def _identify(alias: str, canonical: str, before: TouchpointEvent, after: TouchpointEvent,
              at: datetime | None) -> TouchpointEvent:  # fmt: skip
    """The login between two events (halfway between them, or a second before ``at``)."""
    ts = max(before.ts, at - timedelta(seconds=1)) if at is not None else before.ts + (after.ts - before.ts) / 2
    return TouchpointEvent(event_id=f"{alias}-identify", customer_id=alias, type=IDENTIFY_EVENT_TYPE, ts=ts,
                           channel="web", properties={"canonical_id": canonical})  # fmt: skip
