"""Credentials never reach a terminal or a log: ``user:password@`` in addresses and known secrets are masked.

Kafka clients quote the bootstrap list and their configuration in their own errors and log lines, so
masking our own messages is not enough: :func:`install_log_redaction` masks every log record of the
process, including any value registered with :func:`register_secret` (the SASL and key passwords).
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["install_log_redaction", "redact_credentials", "register_secret"]

_CREDENTIALS = re.compile(r"(?<![\w.-])[^\s@,;/'\"\[]+@(?=[\w.-]+:\d+)")
_installed = False
_SECRETS: set[str] = set()
_SHORTEST_MASKED = 4
"""Shorter "secrets" would mask ordinary words in every line; such a password is refused by brokers anyway."""


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever a log record or :func:`redact_credentials` would show it.

    >>> register_secret("hunter2-xyz")
    >>> redact_credentials("login failed for password hunter2-xyz")
    'login failed for password ***'
    """
    if value and len(value) >= _SHORTEST_MASKED:
        _SECRETS.add(value)


def redact_credentials(text: str) -> str:
    """Hide ``user:password@`` in any broker address a message quotes.

    >>> redact_credentials("NoBrokersAvailable: kafka://alice:s3cret@broker:9092, bob@b2:9092")
    'NoBrokersAvailable: kafka://***@broker:9092, ***@b2:9092'
    >>> redact_credentials("Unable to bootstrap from ['alice:pw@10.0.0.1:9092']")
    "Unable to bootstrap from ['***@10.0.0.1:9092']"
    """
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return _CREDENTIALS.sub("***@", text)


def install_log_redaction() -> None:
    """Mask credentials in every log record created from now on, whichever library logs it (idempotent)."""
    global _installed  # noqa: PLW0603 - one record factory per process
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def redacting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error report
            return record
        if "@" in message or any(secret in message for secret in _SECRETS):
            redacted = redact_credentials(message)
            if redacted != message:  # rewrite only what needs it: other libraries' records stay as they are
                record.msg, record.args = redacted, None
        return record

    logging.setLogRecordFactory(redacting)
    _installed = True
