"""A CRM-side subscriber to momentstream's actions topic: copy it and replace the handlers.

It shows the four things every consumer of the contract must do (README, "The CRM contract"):

1. **Parse the CloudEvent** in the record value (structured mode). Read only the fields you need
   and ignore the rest, because fields may be added within a major version.
2. **Check the version** by the CloudEvents ``type``. ``io.momentstream.trigger.v1`` is
   understood. An unknown major version is parked, with its reason, for a person to look at.
   It is never guessed at, and it does not stop the consumer.
3. **Deduplicate by ``id``** (the trigger id). Delivery is at-least-once, so a repeat has the
   same id. This example keeps recent ids in memory; a real CRM keeps them with the action it
   took, e.g. under a unique key in its database.
4. **Route by ``owner`` and ``tier``**: customer success, sales or marketing, and how much
   authority the score gives (a human, an automated workflow, or monitoring only).
5. **Honour revocations** (type ``io.momentstream.trigger.revoked.v1``). A late event showed that
   a trigger should not have fired, or a higher-priority trigger took its place (``superseded_by``),
   so cancel its action if it is still pending.
6. **Use only the trigger's ``channels``** when it lists them: the others lack the customer's consent.
7. **Report back** what you did (``--report-to``): a ``trigger_feedback`` event per trigger, keyed by the
   customer, on the touchpoints topic. The engine links it to the trigger, so its outcome record
   says whether the contact was made, and its uplift models learn only from real contacts. Do the
   chosen ``action`` (the moment's playbook entry) when the trigger names one.

Run it next to a worker (see README "Run on Kafka"):

    python examples/crm_subscriber.py --bootstrap 127.0.0.1:9092 --topic momentstream.actions

Against a secured broker (SASL_SSL with SCRAM, the password from the environment, never a flag):

    KAFKA_SASL_PASSWORD=... python examples/crm_subscriber.py --bootstrap broker:9093 \
        --security-protocol SASL_SSL --sasl-mechanism SCRAM-SHA-512 --sasl-username crm --ssl-ca ca.pem

It needs only kafka-python; it does not import momentstream.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

logger = logging.getLogger("crm_subscriber")

UNDERSTOOD_TYPES = {"io.momentstream.trigger.v1"}
"""Add a type here only after reading what changed in that major version."""
REVOKED_TYPES = {"io.momentstream.trigger.revoked.v1"}
"""A late event disproved a trigger: cancel its action if it has not happened yet."""


@dataclass(frozen=True)
class Action:
    """What the CRM does with one trigger, taken from the envelope and its data."""

    trigger_id: str
    customer_id: str
    moment: str
    kind: str
    owner: str
    tier: str
    score: float | None
    reasons: tuple[str, ...]
    opens_at: str | None
    closes_at: str | None
    channels: tuple[str, ...] | None = None
    """Channels the customer still consents to for this moment; None: the moment leaves it to you."""
    action: str | None = None
    """The playbook entry the engine chose for this trigger (moments with ``actions``), if any."""
    emitted_at: str = ""


def decode(value: bytes) -> dict[str, Any]:
    """The CloudEvent in a record value; raises ValueError (with the reason) for anything else."""
    try:
        event = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from exc
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise ValueError("not a CloudEvent with a data object")
    return event


def parse(value: bytes) -> Action:
    """Read the fields a CRM needs; raises ValueError (with the reason) for anything else."""
    return action_of(decode(value))


def action_of(event: dict[str, Any]) -> Action:
    """The action in a decoded trigger CloudEvent; raises ValueError for a type not understood."""
    if event.get("type") not in UNDERSTOOD_TYPES:
        raise ValueError(f"unknown type {event.get('type')!r}")
    data = event["data"]
    score = data.get("score") or {}
    window = data.get("window") or {}
    return Action(
        trigger_id=event["id"],
        customer_id=event["subject"],
        moment=event.get("moment", data.get("moment", "")),
        kind=event.get("triggerkind", data.get("kind", "")),
        owner=event.get("owner", "unassigned"),
        tier=event.get("tier", "none"),
        score=score.get("score"),
        reasons=tuple(r.get("feature", "") for r in score.get("reasons", [])),
        opens_at=window.get("opens_at"),
        closes_at=window.get("closes_at"),
        channels=tuple(data["channels"]) if data.get("channels") is not None else None,
        action=(data.get("action") or {}).get("name"),
        emitted_at=str(data.get("emitted_at", "")),
    )


def feedback_record(action: Action, decision: str, at: str, cost: float | None = None) -> tuple[bytes, bytes]:
    """The (key, value) of a ``trigger_feedback`` event for the touchpoints topic: ``decision`` is taken or
    declined, ``at`` an ISO time with a timezone (when the CRM acted)."""
    properties: dict[str, Any] = {"trigger_id": action.trigger_id, "decision": decision}
    if cost is not None:
        properties["cost"] = cost
    event = {"event_id": f"feedback-{action.trigger_id}", "customer_id": action.customer_id,
             "type": "trigger_feedback", "ts": at, "channel": "crm", "properties": properties}  # fmt: skip
    return action.customer_id.encode(), json.dumps(event).encode()


class RecentIds:
    """The last ``capacity`` trigger ids seen: enough to drop redeliveries after a worker restart."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, trigger_id: str) -> bool:
        """True the first time an id is seen (and remembers it)."""
        if trigger_id in self._ids:
            self._ids.move_to_end(trigger_id)
            return False
        self._ids[trigger_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True


Handler = Callable[[Action], None]


def log_handler(queue: str) -> Handler:
    """A stand-in for a CRM call: logs the action on a named queue (no customer data beyond the id)."""

    def handle(action: Action) -> None:
        logger.info("%s <- %s %s for %s (score %s, because %s)", queue, action.moment, action.kind,
                    action.customer_id, action.score, ", ".join(action.reasons) or "n/a")  # fmt: skip

    return handle


ROUTES: dict[tuple[str, str], Handler] = {
    ("customer_success", "human_intervention"): log_handler("cs-escalations"),
    ("customer_success", "automated_workflow"): log_handler("cs-playbooks"),
    ("sales", "human_intervention"): log_handler("account-executives"),
    ("sales", "automated_workflow"): log_handler("sales-sequences"),
    ("marketing", "human_intervention"): log_handler("marketing-campaigns"),
    ("marketing", "automated_workflow"): log_handler("marketing-campaigns"),
}
"""(owner, tier) -> handler. Monitor-only, untiered and unknown pairs go to ``DEFAULT_ROUTE``."""
DEFAULT_ROUTE = "monitor"


def route_name(action: Action) -> str:
    """Which queue an action goes to: the owner and tier pair if routed, else the default."""
    return f"{action.owner}/{action.tier}" if (action.owner, action.tier) in ROUTES else DEFAULT_ROUTE


@dataclass
class Subscriber:
    """Parse, check the version, deduplicate and route; counts what happened to each record."""

    seen: RecentIds = field(default_factory=RecentIds)
    counts: Counter[str] = field(default_factory=Counter)
    parked: list[tuple[str, bytes]] = field(default_factory=list)
    routed: list[tuple[str, Action]] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    report: Callable[[bytes, bytes], None] | None = None
    """Where feedback goes (a producer's send to the touchpoints topic); None: no feedback."""

    def on_record(self, value: bytes) -> None:
        """Handle one actions-topic record value."""
        try:
            event = decode(value)
            if event.get("type") in REVOKED_TYPES:
                self.counts["revoked"] += 1
                self.revoked.append(str(event["data"]["trigger_id"]))  # a real CRM cancels that pending action
                return
            action = action_of(event)
        except ValueError as exc:
            self.counts["parked"] += 1
            self.parked.append((str(exc), value))  # a real CRM writes these to a table for review
            return
        if not self.seen.first_time(action.trigger_id):
            self.counts["duplicate"] += 1
            return
        name = route_name(action)
        ROUTES.get((action.owner, action.tier), log_handler(DEFAULT_ROUTE))(action)
        self.routed.append((name, action))
        self.counts["routed"] += 1
        if self.report is not None:  # here: every routed trigger counts as acted on, at the time it fired
            self.report(*feedback_record(action, "taken", action.emitted_at))
            self.counts["reported"] += 1

    def run(self, values: Iterable[bytes]) -> None:
        """Handle a stream of record values (a Kafka consumer, a file, a list)."""
        for value in values:
            self.on_record(value)


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """kafka-python connection options from the command line (the SASL password from KAFKA_SASL_PASSWORD)."""
    options: dict[str, Any] = {"bootstrap_servers": args.bootstrap.split(","),
                               "security_protocol": args.security_protocol}  # fmt: skip
    if args.security_protocol.startswith("SASL_"):
        options.update(sasl_mechanism=args.sasl_mechanism, sasl_plain_username=args.sasl_username,
                       sasl_plain_password=os.environ.get("KAFKA_SASL_PASSWORD"))  # fmt: skip
    if args.security_protocol in ("SSL", "SASL_SSL"):
        options.update(ssl_cafile=args.ssl_ca, ssl_certfile=args.ssl_certificate, ssl_keyfile=args.ssl_key)
    return options


def kafka_values(
    client: dict[str, Any], topic: str, group: str, from_beginning: bool, idle_s: float
) -> Iterable[bytes]:
    """Record values of ``topic`` in a consumer group; ends after ``idle_s`` without records (0: never).

    ``client`` holds kafka-python's connection options (``bootstrap_servers`` and any security).
    """
    consumer = KafkaConsumer(
        topic,
        **client,
        group_id=group,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=True,  # after handling: at-least-once, and the dedup covers repeats
        consumer_timeout_ms=int(idle_s * 1000) if idle_s > 0 else float("inf"),
    )
    try:
        for record in consumer:
            if record.value is not None:
                yield record.value
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers, comma separated")
    parser.add_argument("--topic", default="momentstream.actions", help="the actions topic")
    parser.add_argument("--group", default="crm-subscriber", help="consumer group of this CRM")
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest retained trigger")
    parser.add_argument("--idle", type=float, default=0.0, help="stop after this many seconds without records")
    parser.add_argument("--report-to", metavar="TOPIC",
                        help="send a trigger_feedback event per routed trigger to this topic")  # fmt: skip
    parser.add_argument("--security-protocol", default="PLAINTEXT",
                        choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])  # fmt: skip
    parser.add_argument("--sasl-mechanism", default="SCRAM-SHA-512",
                        choices=["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])  # fmt: skip
    parser.add_argument("--sasl-username", help="SASL user; the password comes from KAFKA_SASL_PASSWORD")
    parser.add_argument("--ssl-ca", help="PEM file of the CA that signed the brokers' certificates")
    parser.add_argument("--ssl-certificate", help="PEM client certificate (mutual TLS)")
    parser.add_argument("--ssl-key", help="PEM private key of the client certificate")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    client = client_options(args)
    producer = KafkaProducer(**client) if args.report_to else None
    subscriber = Subscriber()
    if producer is not None:
        topic = args.report_to
        subscriber.report = lambda key, value: producer.send(topic, key=key, value=value)
    with contextlib.suppress(KeyboardInterrupt):
        subscriber.run(kafka_values(client, args.topic, args.group, args.from_beginning, args.idle))
    if producer is not None:
        producer.flush()
        producer.close()
    print(json.dumps(dict(subscriber.counts)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
