"""Fail fast, and say why, when a secured broker refuses us.

Kafka clients treat a wrong password or an untrusted certificate like a broker that is down: they
retry for ever (librdkafka) or give up after 30 s with "Unable to bootstrap" (kafka-python). Before
a command or a worker starts, :func:`check_access` asks for metadata once and turns an authentication
or TLS failure into one sentence that names the setting to fix. It never prints a secret.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException, Producer

from momentstream.ops.kafka_connection import KafkaConnection

__all__ = ["KafkaAccessError", "check_access"]

_QUIET = logging.getLogger("momentstream.kafka_access.librdkafka")
_QUIET.propagate = False  # the client's own retries would repeat what the error below says once
_QUIET.addHandler(logging.NullHandler())


class KafkaAccessError(RuntimeError):
    """The broker answered but refused the credentials or the TLS handshake."""


def check_access(connection: KafkaConnection, timeout_s: float = 15.0) -> bool:
    """True once a metadata request succeeds; False if no broker answered in time (clients will retry).

    Raises :class:`KafkaAccessError` at once for a refused password, certificate or TLS handshake.
    """
    errors: list[KafkaError] = []
    client = Producer({**connection.librdkafka(), "error_cb": errors.append, "logger": _QUIET,
                       "socket.timeout.ms": int(min(timeout_s, 10.0) * 1000)})  # fmt: skip
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                client.list_topics(timeout=1.0)
                return True
            except KafkaException:
                client.poll(0)  # serves error_cb
            for error in errors:
                reason = _refusal(error, connection)
                if reason is not None:
                    raise KafkaAccessError(f"Kafka at {connection.describe()} refused the connection: {reason}")
            errors.clear()
        return False
    finally:
        client.flush(0)


def _refusal(error: KafkaError, connection: KafkaConnection) -> str | None:
    """The sentence for an error that retrying cannot fix, or None for a broker that may yet come up."""
    text = error.str()
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
