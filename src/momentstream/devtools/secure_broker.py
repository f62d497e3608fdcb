"""A secured local Kafka broker for tests of the SASL/SSL clients: certificates made on the spot.

:func:`secured_broker` makes a throwaway CA, a broker certificate for 127.0.0.1 and a client
certificate with ``openssl``, then starts ``deploy/kafka/start.sh`` with three listeners: plaintext
(for the test's own set-up), SASL_SSL with SCRAM users, and SSL that requires the client certificate.
Development and CI only: the keys are unencrypted and live in a temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from momentstream.devtools.broker import BrokerUnavailableError, answers, free_port, kafka_home

__all__ = ["Certificates", "SecuredBroker", "make_certificates", "secured_broker"]


@dataclass(frozen=True, slots=True)
class Certificates:
    """PEM files: the CA, the broker's key+certificate, and a client certificate and key."""

    ca: Path
    broker_keystore: Path
    client_certificate: Path
    client_key: Path


@dataclass(frozen=True, slots=True)
class SecuredBroker:
    """Where each listener answers, the SCRAM user, and the certificates clients need."""

    plaintext: str
    sasl_ssl: str
    ssl: str
    username: str
    password: str
    certificates: Certificates


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BrokerUnavailableError(f"openssl {args[0]} failed: {done.stderr[-2000:]}")


def make_certificates(folder: Path) -> Certificates:
    """A CA valid for two days, a broker certificate for 127.0.0.1/localhost, and a client certificate."""
    if shutil.which("openssl") is None:
        raise BrokerUnavailableError("openssl not found (it makes the test certificates)")
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=momentstream test CA",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)  # fmt: skip
    for name, subject, extension in (
        ("broker", "/CN=localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "/CN=momentstream-worker", "extendedKeyUsage=clientAuth"),
    ):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", cwd=folder)  # fmt: skip
        (folder / f"{name}.ext").write_text(extension + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=folder)  # fmt: skip
    keystore = folder / "broker-keystore.pem"
    keystore.write_text((folder / "broker.key").read_text() + (folder / "broker.pem").read_text())
    return Certificates(folder / "ca.pem", keystore, folder / "client.pem", folder / "client.key")


@contextlib.contextmanager
def secured_broker(username: str = "momentstream", password: str = "s3cret-Pa55") -> Iterator[SecuredBroker]:
    """A local KRaft broker with plaintext, SASL_SSL (SCRAM) and mutual-TLS listeners; stopped on exit."""
    home = kafka_home()
    run_dir = Path(tempfile.mkdtemp(prefix="momentstream-kafka-secure-"))
    certificates = make_certificates(run_dir / "certs")
    port, sasl_port, ssl_port = free_port(), free_port(), free_port()
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(free_port()),
           "KAFKA_RUN_DIR": str(run_dir / "kafka"), "KAFKA_FRESH": "1",
           "KAFKA_SASL_SSL_PORT": str(sasl_port), "KAFKA_SSL_PORT": str(ssl_port),
           "KAFKA_SSL_KEYSTORE": str(certificates.broker_keystore), "KAFKA_SSL_CA": str(certificates.ca),
           "KAFKA_SCRAM_USERS": f"{username}={password}"}  # fmt: skip
    started = subprocess.run([str(home / "start.sh")], env=env, capture_output=True, text=True, check=False)
    if started.returncode != 0:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise BrokerUnavailableError(f"deploy/kafka/start.sh (secured) failed:\n{started.stderr[-3000:]}")
    plaintext = f"127.0.0.1:{port}"
    try:
        if not answers(plaintext):
            raise BrokerUnavailableError(f"secured local broker on {plaintext} does not answer")
        yield SecuredBroker(plaintext, f"127.0.0.1:{sasl_port}", f"127.0.0.1:{ssl_port}", username, password,
                            certificates)  # fmt: skip
    finally:
        pid_file = run_dir / "kafka" / "pid"
        if pid_file.is_file():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
        shutil.rmtree(run_dir, ignore_errors=True)
