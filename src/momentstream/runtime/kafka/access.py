"""Fail fast, and say why, when a secured broker refuses us.

Kafka clients treat a wrong password, an untrusted certificate or a listener of another protocol
(TLS settings against a plaintext port, or the reverse) like a broker that is down: they retry for
ever (librdkafka) or give up after 30 s with "Unable to bootstrap" (kafka-python). Before a command
or a worker starts, :func:`check_access` asks for metadata once and turns such a failure into one
sentence that names the setting to fix, within seconds. It never prints a secret.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException, Producer

from momentstream.ops.kafka_connection import KafkaConnection

__all__ = ["KafkaAccessError", "check_access"]

_QUIET = logging.getLogger("momentstream.kafka_access.librdkafka")
_QUIET.propagate = False  # the client's own retries would repeat what the error below says once
_QUIET.setLevel(logging.INFO)  # its connection reports reach _Lines (and nothing else: no propagation)
_QUIET.addHandler(logging.NullHandler())


class KafkaAccessError(RuntimeError):
    """The broker answered but refused the credentials or the TLS handshake."""


def check_access(connection: KafkaConnection, timeout_s: float | None = None) -> bool:
    """True once a metadata request succeeds; False if no broker answered in time (clients will retry).

    ``timeout_s`` defaults to 15 s for a secured broker and 5 s for a plaintext one (which has only a protocol
    mismatch to name, and should not hold up a command whose broker is merely down for longer).

    Raises :class:`KafkaAccessError` at once for a refused password, certificate or TLS handshake.
    """
    if timeout_s is None:
        timeout_s = 5.0 if connection.security_protocol == "PLAINTEXT" else 15.0
    errors: list[KafkaError] = []
    lines = _Lines()
    _QUIET.addHandler(lines)
    client = Producer({**connection.librdkafka(), "error_cb": errors.append, "logger": _QUIET,
                       "socket.timeout.ms": int(min(timeout_s, 10.0) * 1000)})  # fmt: skip
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                client.list_topics(timeout=1.0)
                return True
            except KafkaException:
                client.poll(0)  # serves error_cb and the log
            for error in errors:
                reason = _refusal(error, connection)
                if reason is not None:
                    raise KafkaAccessError(f"Kafka at {connection.describe()} refused the connection: {reason}")
            errors.clear()
            if connection.security_protocol in ("PLAINTEXT", "SASL_PLAINTEXT") and lines.dropped_at_hello >= 2:
                raise KafkaAccessError(
                    f"Kafka at {connection.describe()} refused the connection: that port hangs up on a plaintext "
                    f"Kafka request (security_protocol {connection.security_protocol}), as a TLS listener does. "
                    "Set security_protocol to SSL or SASL_SSL (with ssl_ca), or point broker at a plaintext listener."
                )
        return False
    finally:
        _QUIET.removeHandler(lines)
        client.flush(0)


class _Lines(logging.Handler):
    """Counts librdkafka's reports of a connection dropped while it asked for the API versions: the first
    request of a plaintext client, which a TLS listener (or anything but Kafka) hangs up on."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped_at_hello = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "Disconnected" in message and ("APIVERSION_QUERY" in message or "requesting ApiVersion" in message):
            self.dropped_at_hello += 1


def _refusal(error: KafkaError, connection: KafkaConnection) -> str | None:
    """The sentence for an error that retrying cannot fix, or None for a broker that may yet come up."""
    text = error.str()
    protocol = connection.security_protocol
    if "connecting to a PLAINTEXT broker listener" in text:
        return (f"that port is a PLAINTEXT listener, but security_protocol is {protocol}. Point broker at the "
                "broker's TLS listener, or set security_protocol: PLAINTEXT.")  # fmt: skip
    if "connecting to a SSL listener" in text or "connecting to an SSL listener" in text:
        return (f"that port expects TLS, but security_protocol is {protocol}. Set security_protocol to SSL or "
                "SASL_SSL (with ssl_ca and, for SASL, the sasl_* settings), or point broker at a PLAINTEXT "
                "listener.")  # fmt: skip
    if error.code() == KafkaError._AUTHENTICATION:
        return f"{_tail(text)}. Check sasl_mechanism, sasl_username and sasl_password."
    if error.code() == KafkaError._SSL:
        return f"TLS handshake failed: {_tail(text)}. Check ssl_ca (the CA that signed the broker's certificate)" + (
            " and ssl_check_hostname." if connection.ssl_check_hostname else "."
        )
    if "bad certificate" in text or "certificate required" in text or "unknown ca" in text:
        return (f"the broker refused our certificate: {_tail(text)}. Check ssl_certificate and ssl_key "
                "(the broker requires a client certificate it trusts).")  # fmt: skip
    return None


def _tail(text: str) -> str:
    """librdkafka's reason without its ``host:port/broker:`` prefix and timing suffix."""
    reason = text.split(": ", 1)[-1]
    return reason.split(" (after ", 1)[0].rstrip(".")
