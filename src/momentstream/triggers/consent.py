"""Consent per channel: which ways of contacting a customer are still allowed.

Consent arrives as ordinary touchpoint events of two reserved types, keyed by customer like
any other event, so it is ordered, durable and replayable with everything else:

- ``consent_withdrawn`` removes the customer from the event's ``channel`` (``all`` or no
  channel: from every channel);
- ``consent_granted`` gives it back.

A suppression list (a do-not-contact file) becomes such events with ``momentstream suppress``
(:func:`suppression_events`), to be produced to the touchpoints topic or added to a replay.

Each channel remembers the event time of its latest change, and an older change never
overrides a newer one, so consent events may arrive in any order and are applied on
arrival: a withdrawal is honoured even when it is later than the allowed lateness.

>>> consent: Consent = {}
>>> apply_consent(consent, granted=False, channel="email", at=10)
True
>>> allowed_channels(consent, ("email", "sms")), contactable(consent)
(['sms'], True)
>>> apply_consent(consent, granted=False, channel="all", at=20)
True
>>> allowed_channels(consent, ("email", "sms")), contactable(consent)
([], False)
>>> apply_consent(consent, granted=True, channel="sms", at=15)    # older than the withdrawal from all
False
>>> apply_consent(consent, granted=True, channel="sms", at=30), allowed_channels(consent, ("email", "sms"))
(True, ['sms'])
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from momentstream.core.schema import ALL_CHANNELS, CONSENT_GRANTED, CONSENT_TYPES, CONSENT_WITHDRAWN, TouchpointEvent

__all__ = [
    "ALL_CHANNELS",
    "CONSENT_GRANTED",
    "CONSENT_TYPES",
    "CONSENT_WITHDRAWN",
    "Consent",
    "allowed_channels",
    "apply_consent",
    "contactable",
    "read_customer_list",
    "suppression_events",
]

_EVERY = {ALL_CHANNELS, "unknown"}
"""Channel values that mean every channel (``unknown`` is an event's default channel)."""

Consent = dict[str, tuple[bool, int]]
"""channel -> (granted, event ms of the change); the key ``all`` is the default for other channels."""


def apply_consent(consent: Consent, granted: bool, channel: str, at: int) -> bool:
    """Record one consent change; False when a newer change already covers it."""
    everyone = consent.get(ALL_CHANNELS)
    if channel in _EVERY:
        if everyone is not None and everyone[1] > at:
            return False
        for name in [c for c, (_, when) in consent.items() if when <= at]:
            del consent[name]
        consent[ALL_CHANNELS] = (granted, at)
        return True
    current = consent.get(channel)
    if (current is not None and current[1] > at) or (everyone is not None and everyone[1] > at):
        return False
    consent[channel] = (granted, at)
    return True


def _granted(consent: Consent, channel: str) -> bool:
    own = consent.get(channel)
    if own is not None:
        return own[0]
    everyone = consent.get(ALL_CHANNELS)
    return everyone is None or everyone[0]


def allowed_channels(consent: Consent, channels: tuple[str, ...]) -> list[str]:
    """The channels of ``channels`` the customer still consents to, in the given order."""
    return [c for c in channels if _granted(consent, c)]


def contactable(consent: Consent) -> bool:
    """Whether any channel at all is left (what a moment that names no channel needs)."""
    everyone = consent.get(ALL_CHANNELS)
    if everyone is None or everyone[0]:
        return True
    return any(granted for granted, _ in consent.values())


def suppression_events(
    customer_ids: Iterable[str], channels: Sequence[str], at: datetime, granted: bool = False, list_name: str = "list"
) -> Iterator[TouchpointEvent]:
    """Consent events for every customer of a suppression list, one per channel (``all`` if none).

    Event ids are a hash of the list name, customer, channel, change and time, so sending the
    same list twice is deduplicated like any redelivery.

    >>> from datetime import UTC
    >>> [(e.type, e.channel) for e in suppression_events(["c1"], ["email", "sms"], datetime(2026, 1, 1, tzinfo=UTC))]
    [('consent_withdrawn', 'email'), ('consent_withdrawn', 'sms')]
    """
    kind = CONSENT_GRANTED if granted else CONSENT_WITHDRAWN
    for customer in customer_ids:
        for channel in channels or [ALL_CHANNELS]:
            key = "\x1f".join([list_name, customer, channel, kind, at.isoformat()])
            event_id = f"{list_name}:{hashlib.sha256(key.encode()).hexdigest()[:20]}"
            yield TouchpointEvent(event_id=event_id, customer_id=customer, type=kind, channel=channel, ts=at,
                                  properties={"source": list_name})  # fmt: skip


HEADER_WORDS = frozenset({
    "customer", "customerid", "id", "user", "userid", "uid", "email", "emailaddress", "mail", "account",
    "accountid", "contact", "contactid", "clientid", "client", "phone", "mobile", "msisdn", "externalid", "name",
    "person", "personid", "subscriber", "subscriberid", "recipient",
})  # fmt: skip
"""First cells that name a column rather than a customer (compared without case, spaces, ``_`` or ``-``)."""
DELIMITERS = ",;\t|"


class SuppressionListError(ValueError):
    """A suppression list that cannot be read safely: the message says what to pass instead."""


def read_customer_list(data: bytes, id_column: str | None = None, delimiter: str | None = None) -> list[str]:
    """Customer ids of a suppression list: CSV or one id per line.

    The delimiter is sniffed among ``, ; tab |`` unless given. The ids are the column named ``id_column``
    (in the first row), else the first column. A byte-order mark is dropped, ``#`` lines are comments, and
    a first row whose first cell is ``customer_id`` (any case) is a header. Ids are kept as written inside
    quotes, in file order. A list that would silently leave people contactable is refused with
    :class:`SuppressionListError`: a first row that looks like another header (``Email``: pass
    ``id_column``), an id holding a delimiter character (a file read with the wrong one), a named column
    that is not there.

    Examples
    --------
    >>> read_customer_list(b'\\xef\\xbb\\xbfcustomer_id,name\\r\\n"acme, inc",Acme\\r\\n# gone\\r\\nc-2\\r\\n')
    ['acme, inc', 'c-2']
    >>> read_customer_list(b"ann@x.com;Ann\\nbob@y.com;Bob\\n")
    ['ann@x.com', 'bob@y.com']
    >>> read_customer_list(b"Name;Email\\nAnn;ann@x.com\\n", id_column="email")
    ['ann@x.com']
    """
    text = data.decode("utf-8-sig")
    sep = delimiter or _sniff(text)
    rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=sep)
            if row and row[0].strip() and not row[0].strip().startswith("#")]  # fmt: skip
    column = 0
    if id_column is not None:
        if not rows:
            return []
        names = [_header_key(cell) for cell in rows[0]]
        if _header_key(id_column) not in names:
            raise SuppressionListError(f"no column {id_column!r} in the first row ({', '.join(rows[0])[:200]})")
        column = names.index(_header_key(id_column))
        rows = rows[1:]
    elif rows and _header_key(rows[0][0]) == "customerid":
        rows = rows[1:]
    elif rows and _header_key(rows[0][0]) in HEADER_WORDS:
        raise SuppressionListError(f"the first row looks like a header ({rows[0][0].strip()!r}), not a customer: "
                                   f"name the id column with --id-column {rows[0][0].strip()!r}")  # fmt: skip
    other = set(DELIMITERS) - {sep}
    ids: list[str] = []
    for number, row in enumerate(rows, start=1):
        cell = row[column].strip() if len(row) > column else ""
        if not cell:
            continue
        found = sorted(c for c in other if c in cell)
        if found:
            raise SuppressionListError(f"id {number} holds {found[0]!r}: the file looks separated by {found[0]!r}, "
                                       f"not {sep!r}; pass --delimiter {found[0]!r}")  # fmt: skip
        ids.append(cell)
    return ids


def _sniff(text: str) -> str:
    """The delimiter of a CSV text (``,`` when it has one column or cannot be told)."""
    sample = "\n".join(line for line in text.splitlines()[:50] if line.strip() and not line.lstrip().startswith("#"))
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _header_key(cell: str) -> str:
    return "".join(c for c in cell.strip().lower() if c.isalnum())
