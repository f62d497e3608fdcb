"""How to reach Kafka, once: servers and security, translated for each client library we use.

The worker runs on confluent-kafka (librdkafka) or Faust (aiokafka); the operator commands and tests
use kafka-python. Each names the same settings differently, so they are written down here once and
every client is built from a :class:`KafkaConnection` — a client that skipped the security settings
would otherwise fail only against a secured broker, in production.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

__all__ = ["KafkaConnection", "Mechanism", "Protocol"]

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Bootstrap servers and the security a client needs; secrets stay :class:`SecretStr` until used.

    >>> plain = KafkaConnection.plaintext("k1:9092,k2:9092")
    >>> plain.kafka_python()
    {'bootstrap_servers': ['k1:9092', 'k2:9092'], 'security_protocol': 'PLAINTEXT'}
    >>> scram = KafkaConnection(("k1:9093",), "SASL_SSL", "SCRAM-SHA-512", "svc", SecretStr("pw"))
    >>> scram.librdkafka()["sasl.mechanism"], scram.librdkafka()["ssl.endpoint.identification.algorithm"]
    ('SCRAM-SHA-512', 'https')
    >>> "pw" in repr(scram)
    False
    """

    servers: tuple[str, ...]
    security_protocol: Protocol = "PLAINTEXT"
    sasl_mechanism: Mechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca: Path | None = None
    ssl_certificate: Path | None = None
    ssl_key: Path | None = None
    ssl_key_password: SecretStr | None = None
    ssl_check_hostname: bool = True

    @classmethod
    def plaintext(cls, servers: str | Iterable[str]) -> KafkaConnection:
        """An unsecured connection (a local or test broker), from ``"h1:9092,h2:9092"`` or a list."""
        names = servers.split(",") if isinstance(servers, str) else servers
        return cls(tuple(s.strip() for s in names if s.strip()))

    @property
    def uses_sasl(self) -> bool:
        """True for SASL_PLAINTEXT and SASL_SSL."""
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        """True for SSL and SASL_SSL."""
        return self.security_protocol in ("SSL", "SASL_SSL")

    def describe(self) -> str:
        """Where and how we connect, safe to print (no password).

        >>> KafkaConnection(("k:9093",), "SASL_SSL", "PLAIN", "svc", SecretStr("pw")).describe()
        "k:9093 over SASL_SSL (PLAIN as 'svc')"
        """
        how = f" ({self.sasl_mechanism} as {self.sasl_username!r})" if self.uses_sasl else ""
        return f"{','.join(self.servers)} over {self.security_protocol}{how}"

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's producer, consumer and admin client."""
        options: dict[str, Any] = {"bootstrap_servers": list(self.servers), "security_protocol": self.security_protocol}
        if self.uses_sasl:
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                           sasl_plain_password=_reveal(self.sasl_password))  # fmt: skip
        if self.uses_tls:
            options.update(ssl_cafile=_path(self.ssl_ca), ssl_certfile=_path(self.ssl_certificate),
                           ssl_keyfile=_path(self.ssl_key), ssl_password=_reveal(self.ssl_key_password),
                           ssl_check_hostname=self.ssl_check_hostname)  # fmt: skip
        return options

    def librdkafka(self) -> dict[str, Any]:
        """Configuration entries for confluent-kafka's producer, consumer and admin client."""
        config: dict[str, Any] = {"bootstrap.servers": ",".join(self.servers),
                                  "security.protocol": self.security_protocol}  # fmt: skip
        if self.uses_sasl:
            config.update({"sasl.mechanism": self.sasl_mechanism, "sasl.username": self.sasl_username,
                           "sasl.password": _reveal(self.sasl_password)})  # fmt: skip
        if self.uses_tls:
            config["ssl.endpoint.identification.algorithm"] = "https" if self.ssl_check_hostname else "none"
            for key, value in (("ssl.ca.location", _path(self.ssl_ca)),
                               ("ssl.certificate.location", _path(self.ssl_certificate)),
                               ("ssl.key.location", _path(self.ssl_key)),
                               ("ssl.key.password", _reveal(self.ssl_key_password))):  # fmt: skip
                if value is not None:
                    config[key] = value
        return config

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context aiokafka (Faust) needs, or None without TLS."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=_path(self.ssl_ca))
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certificate is not None:
            context.load_cert_chain(str(self.ssl_certificate), _path(self.ssl_key), _reveal(self.ssl_key_password))
        return context


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def _path(path: Path | None) -> str | None:
    return None if path is None else str(path)
