"""Your event names against ours: what a history holds, and what the moments and objectives need.

A new user's product says ``order_completed`` where the bundled moments say ``purchase``; nothing
fires and nothing says why. :func:`profile_events` counts each event type (events, customers,
the median gap between a customer's events of that type) in one pass, and :func:`coverage` lists,
for every moment and objective, the types it needs, how often each occurs, and for the missing
ones the likeliest of the history's own types (by synonym and by spelling).

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
>>> events = [TouchpointEvent(event_id=f"e{i}", customer_id=f"c{i % 3}", type=kind, ts=t0 + timedelta(days=i))
...           for i, kind in enumerate(["order_completed", "app_open", "order_completed", "zendesk_ticket"] * 3)]
>>> profile = profile_events(events)
>>> [(t.type, t.events, t.customers) for t in profile.types][:2]
[('order_completed', 6, 3), ('app_open', 3, 3)]
>>> suggest("purchase", profile)
['order_completed']
>>> suggest("support_ticket", profile)
['zendesk_ticket']
"""

from __future__ import annotations

import difflib
import random
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from momentstream.core.clock import to_ms
from momentstream.core.schema import TouchpointEvent

__all__ = [
    "MAX_CUSTOMERS",
    "MAX_TYPES",
    "Need",
    "Profile",
    "TypeProfile",
    "coverage",
    "profile_events",
    "profile_of_counts",
    "suggest",
]

MAX_TYPES = 2_000
"""Distinct event types counted one by one; a history with more (ids in the type field, say) counts the rest
as ``(other types)`` so profiling stays bounded."""
OTHER = "(other types)"
MAX_CUSTOMERS = 200_000
"""Customers followed one by one (for customers per type and gaps): the first this many seen. Beyond them events
are still counted, so a history of millions of customers profiles in bounded memory."""
GAP_SAMPLES = 5_000
"""Gaps kept per type (a seeded reservoir) for the median."""
SYNONYMS: dict[str, tuple[str, ...]] = {
    "purchase": ("order", "checkout", "transaction", "payment", "buy", "bought", "purchase", "invoice", "paid",
                 "subscription", "renewal", "renewed", "charge"),
    "login": ("login", "signin", "sign", "logon", "session", "authenticated"),
    "product_usage": ("usage", "used", "feature", "active", "app", "track", "action"),
    "support_ticket": ("ticket", "support", "case", "complaint", "zendesk", "helpdesk", "issue", "chat", "contact"),
    "page_view": ("page", "pageview", "view", "viewed", "screen", "visit"),
    "email_reply": ("reply", "replied", "email", "response"),
    "email_open": ("email", "open", "opened"),
    "review": ("review", "rating", "rated", "nps", "feedback", "testimonial"),
    "seat_limit_reached": ("seat", "limit", "quota", "plan", "capacity"),
    "teammate_invited": ("invite", "invited", "teammate", "member", "user", "added"),
    "outreach": ("outreach", "campaign", "sent", "send", "message", "call", "contacted"),
    "signup": ("signup", "register", "registered", "created", "account", "trial", "onboard"),
}  # fmt: skip
"""Words that often name the same thing in another company's events (matched on the words of a type)."""


@dataclass(frozen=True, slots=True)
class TypeProfile:
    """One event type in a history."""

    type: str
    events: int
    customers: int
    """Customers with this type, among those followed (see :data:`MAX_CUSTOMERS`)."""
    median_gap_days: float | None
    """Median time between a customer's consecutive events of this type (None: no customer had two)."""


@dataclass(slots=True)
class Profile:
    """A history's event types, most frequent first, and its size."""

    types: list[TypeProfile] = field(default_factory=list)
    events: int = 0
    customers: int = 0
    """Distinct customers, counted up to :data:`MAX_CUSTOMERS` (then ``customers_capped``)."""
    customers_capped: bool = False
    first_ms: int | None = None
    last_ms: int | None = None

    def count(self, event_type: str) -> int:
        """Events of ``event_type`` (0 if it never occurs)."""
        return next((t.events for t in self.types if t.type == event_type), 0)


@dataclass(frozen=True, slots=True)
class Need:
    """One event type a moment or objective waits for, and how the history answers it."""

    who: str
    """``moment <name>`` or ``objective <name> (outcome)``."""
    type: str
    events: int
    suggestions: list[str]


def profile_events(events: Iterable[TouchpointEvent]) -> Profile:
    """Count types, customers per type and gaps in one pass (file order; gaps only forward in time)."""
    counts: dict[str, int] = {}
    last_seen: dict[tuple[str, str], int] = {}
    gaps: dict[str, list[float]] = {}
    seen_gaps: dict[str, int] = {}
    followed: set[str] = set()
    rng = random.Random(0)
    profile = Profile()
    for event in events:
        kind = event.type if event.type in counts or len(counts) < MAX_TYPES else OTHER
        ts = to_ms(event.ts)
        profile.events += 1
        profile.first_ms = ts if profile.first_ms is None else min(profile.first_ms, ts)
        profile.last_ms = ts if profile.last_ms is None else max(profile.last_ms, ts)
        counts[kind] = counts.get(kind, 0) + 1
        customer = event.customer_id
        if customer not in followed:
            if len(followed) >= MAX_CUSTOMERS:
                profile.customers_capped = True
                continue
            followed.add(customer)
        key = (kind, customer)
        before = last_seen.get(key)
        last_seen[key] = ts if before is None else max(before, ts)
        if before is not None and ts >= before:
            n = seen_gaps[kind] = seen_gaps.get(kind, 0) + 1
            kept = gaps.setdefault(kind, [])
            gap = (ts - before) / 86_400_000
            if len(kept) < GAP_SAMPLES:
                kept.append(gap)
            elif (slot := rng.randrange(n)) < GAP_SAMPLES:
                kept[slot] = gap
    per_type: dict[str, int] = {}
    for kind, _ in last_seen:
        per_type[kind] = per_type.get(kind, 0) + 1
    profile.customers = len(followed)
    profile.types = sorted(
        (
            TypeProfile(k, n, per_type.get(k, 0), statistics.median(gaps[k]) if gaps.get(k) else None)
            for k, n in counts.items()
        ),
        key=lambda t: (-t.events, t.type),
    )
    return profile


def profile_of_counts(types: Mapping[str, int]) -> Profile:
    """A profile of event-type counts alone (no customers or gaps): enough for :func:`coverage`."""
    ranked = sorted(types.items(), key=lambda item: (-item[1], item[0]))
    return Profile([TypeProfile(k, n, 0, None) for k, n in ranked], events=sum(types.values()))


def _words(name: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()) if w}


def suggest(needed: str, profile: Profile, limit: int = 3) -> list[str]:
    """The history's types that most likely mean ``needed``: shared synonym words first, then spelling."""
    present = [t.type for t in profile.types if t.type != OTHER]
    hints = set(SYNONYMS.get(needed, ())) | _words(needed)
    by_words = [t for t in present if _words(t) & hints]  # most frequent first, as profile.types are
    spelled = difflib.get_close_matches(needed, present, n=limit, cutoff=0.6)
    ordered = list(dict.fromkeys([*by_words, *spelled]))
    return ordered[:limit]


def coverage(needs: Iterable[tuple[str, frozenset[str] | None]], profile: Profile) -> list[Need]:
    """For each (who, the types it waits for), how often each type occurs, with suggestions for the absent."""
    rows = []
    for who, types in needs:
        for kind in sorted(types or ()):
            count = profile.count(kind)
            rows.append(Need(who, kind, count, [] if count else suggest(kind, profile)))
    return rows
