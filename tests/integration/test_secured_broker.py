"""Every Kafka client through a secured broker: SASL_SSL with SCRAM, and mutual TLS.

The broker is a second local one (deploy/kafka/start.sh with secured listeners, certificates made
here with openssl), so these run wherever the local jars do, whatever broker the rest of the suite uses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from momentstream.core.schema import TouchpointEvent
from momentstream.devtools.broker import BrokerUnavailableError, free_port
from momentstream.devtools.cluster import Deployment, WorkerProcess, run_command
from momentstream.devtools.secure_broker import SecuredBroker, secured_broker
from momentstream.sim.journeys import simulate
from momentstream.triggers.contract import is_revocation
from tests.integration.test_kafka_runtime import crm_stream, finish_input, lines_of, replay_triggers
from tests.test_examples.test_crm_subscriber import load_example

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def secured() -> Iterator[SecuredBroker]:
    """A broker with SASL_SSL (SCRAM users) and mutual-TLS listeners, for this module only."""
    try:
        with secured_broker() as broker:
            yield broker
    except BrokerUnavailableError as err:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI needs the secured local broker: {err}")
        pytest.skip(f"no secured local broker: {err}")


@pytest.fixture(scope="module")
def journeys() -> list[TouchpointEvent]:
    """A small simulated history: enough moments to compare with the replay runner."""
    return simulate(50, 40, 5).events


def sasl_env(broker: SecuredBroker, secrets: Path, password_file: str | None = None) -> dict[str, str]:
    """SCRAM over TLS; the password in a secrets directory, as Kubernetes mounts it."""
    secrets.mkdir(exist_ok=True)
    (secrets / "momentstream_sasl_password").write_text((password_file or broker.password) + "\n")
    return {"MOMENTSTREAM_BROKER": broker.sasl_ssl, "MOMENTSTREAM_SECURITY_PROTOCOL": "SASL_SSL",
            "MOMENTSTREAM_SASL_MECHANISM": "SCRAM-SHA-512", "MOMENTSTREAM_SASL_USERNAME": broker.username,
            "MOMENTSTREAM_SSL_CA": str(broker.certificates.ca), "MOMENTSTREAM_SECRETS_DIR": str(secrets)}  # fmt: skip


def mtls_env(broker: SecuredBroker) -> dict[str, str]:
    """TLS with a client certificate the broker requires."""
    c = broker.certificates
    return {"MOMENTSTREAM_BROKER": broker.ssl, "MOMENTSTREAM_SECURITY_PROTOCOL": "SSL",
            "MOMENTSTREAM_SSL_CA": str(c.ca), "MOMENTSTREAM_SSL_CERTIFICATE": str(c.client_certificate),
            "MOMENTSTREAM_SSL_KEY": str(c.client_key)}  # fmt: skip


def run_end_to_end(deployment: Deployment, events: list[TouchpointEvent], tmp_path: Path) -> dict[str, Any]:
    """topics create, produce and a worker through the CLI; the deduplicated triggers the CRM would see."""
    env = deployment.env()
    made = run_command(env, "topics", "create")
    assert made.returncode == 0, made.stderr
    sent = run_command(env, "produce", "-", stdin="\n".join(line.decode() for line in lines_of(events)))
    assert sent.returncode == 0, sent.stderr
    worker = WorkerProcess(deployment, tmp_path)
    try:
        worker.wait_ready(120)
        finish_input(deployment, events, [worker])
        triggers = crm_stream(deployment)
    finally:
        worker.kill(signal.SIGTERM)
    return triggers


def test_the_end_to_end_trigger_test_passes_through_sasl_ssl_with_scram(
    secured: SecuredBroker, journeys: list[TouchpointEvent], tmp_path: Path
) -> None:
    deployment = Deployment(secured.sasl_ssl, extra_env=sasl_env(secured, tmp_path / "secrets"))
    got = run_end_to_end(deployment, journeys, tmp_path)
    expected = replay_triggers(journeys)
    assert expected
    assert got == expected
    treated = {i for i, t in expected.items() if not t["holdout"]}
    tailed = run_command(deployment.env(), "tail", "actions", "--dedup", "--idle", "2")
    assert tailed.returncode == 0, tailed.stderr
    envelopes = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert {e["id"] for e in envelopes if not is_revocation(e)} == treated
    crm = load_example()  # the example CRM subscriber, with its own security flags
    args = crm.argparse.Namespace(bootstrap=secured.sasl_ssl, security_protocol="SASL_SSL",
                                  sasl_mechanism="SCRAM-SHA-256", sasl_username=secured.username,
                                  ssl_ca=str(secured.certificates.ca), ssl_certificate=None, ssl_key=None)  # fmt: skip
    os.environ["KAFKA_SASL_PASSWORD"] = secured.password
    try:
        subscriber = crm.Subscriber()
        subscriber.run(crm.kafka_values(crm.client_options(args), deployment.settings().actions_topic, "crm-secure",
                                        from_beginning=True, idle_s=3.0))  # fmt: skip
    finally:
        del os.environ["KAFKA_SASL_PASSWORD"]
    assert {action.trigger_id for _, action in subscriber.routed} == treated
    log = (tmp_path / f"{deployment.name}-w1.log").read_text()
    assert secured.password not in log


def test_the_faust_runtime_connects_with_a_client_certificate(
    secured: SecuredBroker, journeys: list[TouchpointEvent], tmp_path: Path
) -> None:
    deployment = Deployment(secured.ssl, extra_env={**mtls_env(secured), "MOMENTSTREAM_RUNTIME": "faust"})
    events = journeys
    got = run_end_to_end(deployment, events, tmp_path)
    expected = replay_triggers(events)
    assert expected
    assert got == expected


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong password", "invalid credentials"),
        ("untrusted broker certificate", "Check ssl_ca"),
        ("no client certificate", "Check ssl_certificate and ssl_key"),
    ],
)
def test_a_refused_login_or_certificate_fails_fast_with_the_setting_to_fix(
    secured: SecuredBroker, tmp_path: Path, case: str, reason: str
) -> None:
    if case == "wrong password":
        env = sasl_env(secured, tmp_path / "secrets", password_file="not-the-Pa55word")
    elif case == "untrusted broker certificate":  # a CA that did not sign the broker's certificate
        env = {
            **sasl_env(secured, tmp_path / "secrets"),
            "MOMENTSTREAM_SSL_CA": str(secured.certificates.client_certificate),
        }
    else:
        env = {
            k: v
            for k, v in mtls_env(secured).items()
            if k not in ("MOMENTSTREAM_SSL_CERTIFICATE", "MOMENTSTREAM_SSL_KEY")
        }
    commands = [["topics", "create"], ["worker", "--web-port", str(free_port())]]
    if case == "wrong password":  # each command builds its own clients; one case is enough for the others
        commands += [["tail", "actions"], ["tick", "--at", "now"], ["produce", "-"]]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOMENTSTREAM_")}
    started = time.monotonic()
    running = [(command, subprocess.Popen([sys.executable, "-m", "momentstream", *command], env={**clean, **env},
                                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
               for command in commands]  # fmt: skip  # side by side: each must fail on its own within the bound
    for command, proc in running:
        _, err = proc.communicate(timeout=60)
        message = err.decode()
        assert proc.returncode == 1, (command, message)
        assert reason in message, (command, message)
        assert "refused the connection" in message, (command, message)
        assert "not-the-Pa55word" not in message
        assert secured.password not in message
    assert time.monotonic() - started < 45, commands


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("TLS settings, plaintext port", "that port is a PLAINTEXT listener, but security_protocol is SASL_SSL"),
        ("plaintext settings, TLS port", "as a TLS listener does"),
        ("plaintext settings, SASL_SSL port", "as a TLS listener does"),
    ],
)
def test_a_protocol_mismatch_is_one_line_within_seconds(
    secured: SecuredBroker, tmp_path: Path, case: str, reason: str
) -> None:
    """Before: 33-48 s and a long trace. Now one line naming the setting, for a command and for the worker."""
    if case.startswith("TLS"):
        env = {**sasl_env(secured, tmp_path / "secrets"), "MOMENTSTREAM_BROKER": secured.plaintext}
    else:
        env = {"MOMENTSTREAM_BROKER": secured.ssl if case.endswith("TLS port") else secured.sasl_ssl}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOMENTSTREAM_")}
    started = time.monotonic()
    running = [(command, subprocess.Popen([sys.executable, "-m", "momentstream", *command], env={**clean, **env},
                                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
               for command in (["topics", "create"], ["worker", "--web-port", str(free_port())])]  # fmt: skip
    for command, proc in running:
        _, err = proc.communicate(timeout=60)
        message = err.decode()
        assert proc.returncode == 1, (command, message)
        assert reason in message, (command, message)
        assert "Traceback" not in message, (command, message)
        assert len([line for line in message.splitlines() if "refused the connection" in line]) == 1, message
    assert time.monotonic() - started < 15, case
