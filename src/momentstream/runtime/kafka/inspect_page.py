"""``GET /customers/<id>``: one customer's living story for an operator, off unless a token is set.

The page exposes customer data, so it is disabled by default (``inspect_token`` unset: 404), asks for
``Authorization: Bearer <token>`` (compared in constant time; 401 otherwise), and never logs the
customer id. Both runtimes serve it from their own state table; the data is as of the last saved batch.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import urllib.parse
from collections.abc import Callable

from pydantic import SecretStr

from momentstream.core.customer_view import customer_view
from momentstream.core.engine import Engine
from momentstream.core.state import StateFormatError
from momentstream.ops.metrics import WorkerMetrics
from momentstream.runtime.kafka.stored import decode_entry

__all__ = ["PREFIX", "InspectPage"]

logger = logging.getLogger(__name__)

PREFIX = "/customers/"
_LONGEST_ID = 200  # as the event schema's customer_id
UNAUTHORIZED_LOG_EVERY_S = 60.0
"""Refused look-ups are logged at most this often (counted in ``momentstream_inspections_total`` each)."""

Page = tuple[int, bytes, str]


class InspectPage:
    """Answers look-ups from the worker's table; ``lookup`` returns a customer's stored bytes or None."""

    def __init__(self, token: SecretStr | None, engine: Engine, lookup: Callable[[str], bytes | None],
                 owned: Callable[[], list[int]], metrics: WorkerMetrics) -> None:  # fmt: skip
        self._token = None if token is None else token.get_secret_value().encode()
        self._engine = engine
        self._lookup = lookup
        self._owned = owned
        self._metrics = metrics
        self._refused_since_log = 0
        self._last_refusal_log = -UNAUTHORIZED_LOG_EVERY_S

    def handle(self, path: str, authorization: str | None) -> Page:
        """Status, JSON body and content type for ``GET path`` with that Authorization header."""
        if self._token is None:
            return self._answer("disabled", 404, {"error": "inspect is disabled: set inspect_token to enable it"})
        scheme, _, given = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
            return self._answer("unauthorized", 401, {"error": "a valid Authorization: Bearer token is required"})
        customer_id = urllib.parse.unquote(path.split("?", maxsplit=1)[0].removeprefix(PREFIX))
        if not customer_id or len(customer_id) > _LONGEST_ID:
            return self._answer("bad_request", 400, {"error": f"expected {PREFIX}<customer id> (1-200 characters)"})
        raw = self._lookup(customer_id)
        if raw is None:
            return self._answer("not_found", 404, {"error": "customer not on this worker",
                                                   "partitions": self._owned()})  # fmt: skip
        try:
            entry = decode_entry(raw)
            view = {"partition": entry.partition, **customer_view(self._engine, entry.state())}
        except (StateFormatError, ValueError, KeyError, TypeError):
            return self._answer("unreadable", 500, {"error": "the stored state could not be read"})
        return self._answer("found", 200, view)

    def _answer(self, result: str, status: int, doc: dict[str, object]) -> Page:
        self._metrics.inspections.labels(result=result).inc()
        if result == "found":
            logger.info("operator look-up: %s", result)  # an access trail, without the customer id
        elif result == "unauthorized":  # a guesser must not flood the log: one line a minute, with the count
            self._refused_since_log += 1
            now = time.monotonic()
            if now - self._last_refusal_log >= UNAUTHORIZED_LOG_EVERY_S:
                logger.warning("operator look-ups refused (no or wrong token): %d since the last such line",
                               self._refused_since_log)  # fmt: skip
                self._refused_since_log, self._last_refusal_log = 0, now
        return status, json.dumps(doc).encode(), "application/json"
