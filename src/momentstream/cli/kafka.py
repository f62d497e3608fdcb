"""The Kafka side of the command line: worker, topics, produce, tail, tick.

Kept apart from :mod:`momentstream.cli.commands` so the replay commands never import Faust or Kafka.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from momentstream.cli.input_options import add_input_options, input_format
from momentstream.core.clock import parse_instant, to_ms
from momentstream.core.schema import TouchpointEvent
from momentstream.ops.redact import redact_credentials
from momentstream.runtime.inputs import detected, read_input
from momentstream.runtime.sources import Reject, describe_error

__all__ = ["KAFKA_COMMANDS", "add_kafka_commands"]

_SETTINGS_HELP = "worker settings YAML (fields as MOMENTSTREAM_* env vars; docs/reference/settings.md)"
_SETTINGS_EPILOG = """\
settings come from, lowest to highest: defaults, --settings FILE (YAML), --secrets-dir (one file per
setting, e.g. momentstream_sasl_password), --env-file (MOMENTSTREAM_*=... lines), MOMENTSTREAM_*
environment variables (e.g. MOMENTSTREAM_BROKER=kafka1:9092), then these flags. A secured broker:
MOMENTSTREAM_SECURITY_PROTOCOL=SASL_SSL, MOMENTSTREAM_SASL_MECHANISM=SCRAM-SHA-512,
MOMENTSTREAM_SASL_USERNAME, MOMENTSTREAM_SASL_PASSWORD (or its secrets file), MOMENTSTREAM_SSL_CA.
`momentstream worker --print-settings` prints the effective values (secrets as **********).
"""


def add_kafka_commands(sub: Any) -> None:
    """Register the Kafka subcommands on the main parser's subparsers."""
    worker = _subcommand(sub, "worker", "run a worker: touchpoints in, triggers out",
                         "Consume touchpoints from Kafka in batches, run the moments per customer with\n"
                         "state in a changelog-backed table, and produce triggers to the actions topic\n"
                         "(at-least-once: deduplicate by trigger_id). Serves /metrics, /healthz and\n"
                         "/readyz on the web port. runtime: faust (settings) runs the Faust worker.")  # fmt: skip
    worker.add_argument("-c", "--moments", type=Path, help="moments YAML file (default: the bundled example)")
    worker.add_argument("--objectives", type=Path, help="objectives YAML for scoring (default: the bundled one)")
    worker.add_argument("--no-scoring", action="store_true", help="no models: triggers carry no score")
    worker.add_argument("--web-port", type=int, help="port of /metrics, /healthz, /readyz (default 6066)")
    worker.add_argument("--clock", choices=["stream", "wall"], help="stream (default) or wall (see settings: clock)")
    worker.add_argument("--lateness", help="allowed lateness, e.g. 60s (default 1m)")
    worker.add_argument("--idle-ttl", help="forget customers silent this long with nothing pending, e.g. 400d")
    worker.add_argument(
        "--max-skew",
        help="events this far ahead of the partition clock do not move it, unless\n"
        "another customer's event confirms the jump (default 7d)",
    )
    worker.add_argument("--print-settings", action="store_true", help="print the effective settings and exit")

    topics = _subcommand(sub, "topics", "create and check the worker's topics")
    topics.add_argument("action", choices=["create"], help="create: make missing topics, check partition counts")

    produce = _subcommand(sub, "produce", "send a history to the touchpoints topic",
                          "Send events to the touchpoints topic, keyed by customer. JSON lines of ours go as\n"
                          "they are (the worker dead-letters bad ones); CSV, Parquet and Segment messages\n"
                          "are converted to our events first, and rows that cannot be are counted here.")  # fmt: skip
    produce.add_argument("events", help="events file (JSON lines, CSV, Parquet or Segment messages), or - for stdin")
    produce.add_argument("--rate", type=float, help="records per second (default: as fast as possible)")
    produce.add_argument("--topic", help="topic (default: the touchpoints topic)")
    produce.add_argument("--rejects", type=Path, help="rows that are not events, with line and reason (JSON lines)")
    add_input_options(produce)

    tail = _subcommand(sub, "tail", "print the records of a topic as JSON lines",
                       "Print records of actions, audit, dead-letter or any topic, one JSON object\n"
                       "per line. Dead-letter records show the reason and the original text.")  # fmt: skip
    tail.add_argument("topic", help="actions, holdout, audit, dead-letter, touchpoints, or a topic name")
    tail.add_argument("-f", "--follow", action="store_true", help="keep waiting for new records")
    tail.add_argument("--new", action="store_true", help="only records written from now on")
    tail.add_argument("-n", "--max", type=int, help="stop after this many records")
    tail.add_argument("--dedup", action="store_true", help="drop triggers whose trigger_id was already printed")
    tail.add_argument("--idle", type=float, default=5.0, help="stop after this many quiet seconds (default 5)")

    tick = _subcommand(sub, "tick", "advance the workers' event-time clock (all partitions)",
                       "Write a tick record to every partition of the ticks topic. With the stream\n"
                       "clock this is how a backfill is finished: `tick --at 2026-05-01T00:00:00Z\n"
                       "--final` fires every window and absence due by then.")  # fmt: skip
    tick.add_argument("--at", required=True, help="event time: an ISO time with a timezone, or now")
    tick.add_argument("--final", action="store_true", help="end of input: release held events without lateness")

    rollout = _subcommand(sub, "rollout", "apply a moments file to every worker of a running deployment",
                          "Check a moments file against the moments the deployment runs (kept, new\n"
                          "version, added, removed; a pattern changed under the same version is\n"
                          "refused), then publish it to the models topic: every worker applies it\n"
                          "between batches within seconds, and a worker that starts later runs it too.\n"
                          "Unchanged moments keep every customer's partial matches.")  # fmt: skip
    rollout.add_argument("moments", type=Path, help="the moments YAML file to run from now on")
    rollout.add_argument("--dry-run", action="store_true", help="print the plan, publish nothing")

    seed = _subcommand(sub, "seed-states", "start a new deployment warm from a Spark backfill's states",
                       "Write the customer states a backfill wrote (replay --engine spark -o DIR: DIR/states)\n"
                       "to the deployment's changelog, each in its customer's partition (Kafka's default\n"
                       "partitioner, as `produce` keys touchpoints). Workers then start with every\n"
                       "customer's partial matches, windows, timers, contacts and consent. Then send the\n"
                       "touchpoints from the backfill's end on. A changelog that holds state is refused.")  # fmt: skip
    seed.add_argument("states", type=Path, help="the backfill's output directory, or its states/ directory")
    seed.add_argument("--force", action="store_true", help="write even if the changelog already holds state")

    inspect = _subcommand(sub, "inspect", "show one customer's living story, from the workers",
                          "Ask the workers for a customer's state: recent events, partial matches and the\n"
                          "step each reached, pending absences and windows, scores, consent, contacts and\n"
                          "triggers awaiting their outcome. The workers serve it only when started with\n"
                          "inspect_token; this command sends the same token (MOMENTSTREAM_INSPECT_TOKEN).\n"
                          "  momentstream inspect cust-00042 --worker http://w1:6066 \\\n"
                          "      --worker http://w2:6066")  # fmt: skip
    inspect.add_argument("customer", help="the customer id")
    inspect.add_argument("--worker", action="append", default=[], metavar="URL",
                         help="a worker's web address (repeat for each worker;\n"
                         "default http://127.0.0.1:<web_port>)")  # fmt: skip
    inspect.add_argument("--json", action="store_true", help="print the worker's JSON document")


def _subcommand(sub: Any, name: str, summary: str, description: str | None = None) -> argparse.ArgumentParser:
    """A Kafka subcommand with the shared settings options; its --help ends with where settings come from."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description or summary,
                                                     epilog=_SETTINGS_EPILOG,
                                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    _common(parser)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings", type=Path, help=_SETTINGS_HELP)
    parser.add_argument("--broker", help="Kafka bootstrap servers (default 127.0.0.1:9092)")
    parser.add_argument("--partitions", type=int, help="partitions of the co-partitioned topics (default 8)")
    parser.add_argument("--app-id", help="consumer group and changelog prefix (default momentstream)")
    parser.add_argument("--env-file", type=Path, help="MOMENTSTREAM_*=value lines (default: $MOMENTSTREAM_ENV_FILE)")
    parser.add_argument("--secrets-dir", type=Path,
                        help="a file per secret setting, as Kubernetes and Docker mount them\n"
                        "(default: $MOMENTSTREAM_SECRETS_DIR)")  # fmt: skip


def _settings(args: argparse.Namespace, report_unknown: bool = True, check: bool = True, **extra: Any) -> Any:
    """The effective settings; with ``check`` and a secured broker, access is tried first (fails fast)."""
    from momentstream.ops.redact import register_secret
    from momentstream.ops.settings import load_settings

    settings = load_settings(args.settings, report_unknown=report_unknown, env_file=args.env_file,
                             secrets_dir=args.secrets_dir, broker=args.broker, partitions=args.partitions,
                             app_id=args.app_id, **extra)  # fmt: skip
    for secret in (
        settings.sasl_password,
        settings.ssl_key_password,
        settings.inspect_token,
        settings.model_snapshot_key,
    ):
        register_secret(None if secret is None else secret.get_secret_value())
    if check:  # also for PLAINTEXT: a plaintext client against a TLS listener is named, not retried for ever
        from momentstream.runtime.kafka.access import check_access

        check_access(settings.kafka)
    return settings


def _worker(args: argparse.Namespace) -> int:
    settings = _settings(args, False, False, web_port=args.web_port, clock=args.clock, lateness=args.lateness,
                         moments=args.moments, objectives=args.objectives, scoring=False if args.no_scoring else None,
                         idle_ttl=args.idle_ttl, max_skew=args.max_skew)  # fmt: skip
    from momentstream.ops.logs import configure_logging
    from momentstream.ops.settings import unknown_variables

    if not args.print_settings:
        configure_logging(settings.log_level, settings.log_format)  # before anything logs: one format throughout
    for warning in unknown_variables(os.environ):
        logging.getLogger("momentstream.ops.settings").warning("%s", warning)
    if args.print_settings:
        print(json.dumps(settings.redacted(), indent=2))
        return 0
    from momentstream.cli.demo import default_engine
    from momentstream.discovery.objectives_file import objectives_for_moments
    from momentstream.runtime.kafka.runner import run_worker

    objectives, beside = objectives_for_moments(settings.moments, settings.objectives)
    if beside and settings.scoring:  # what `discover` wrote beside its moments, as replay reads it
        logging.getLogger("momentstream.worker").warning("scoring with %s (beside the moments file; the objectives "
                                                         "setting overrides)", objectives)  # fmt: skip
    engine = default_engine(settings.moments, settings.lateness_ms, objectives, settings.scoring,
                            settings.idle_ttl_ms)  # fmt: skip
    return run_worker(settings, engine)


def _topics(args: argparse.Namespace) -> int:
    from momentstream.runtime.kafka.admin import ensure_topics, plan_topics

    settings = _settings(args)
    result = ensure_topics(settings)
    for plan in plan_topics(settings):
        config = ", ".join(f"{k}={v}" for k, v in sorted(plan.config.items()))
        print(f"{result[plan.name]:8} {plan.name}  partitions={plan.partitions}  {config}")
    return 0


def _produce(args: argparse.Namespace) -> int:
    from momentstream.runtime.kafka.io import produce_lines

    settings = _settings(args)
    topic = args.topic or settings.touchpoints_topic
    fmt = input_format(args)

    def progress(n: int) -> None:
        print(f"produce: {n:,} records sent", file=sys.stderr)

    if detected(args.events, fmt) != "jsonl":
        rejects = args.rejects.open("w") if args.rejects else None
        try:
            refused = _Refused()
            lines = _event_lines(read_input(args.events, fmt), rejects, refused)
            report = produce_lines(settings.kafka, topic, lines, rate=args.rate, on_progress=progress)
        finally:
            if rejects is not None:
                rejects.close()
        if refused.first is not None:
            first = refused.first
            hint = f"see {args.rejects}" if args.rejects else "use --rejects FILE to see them"
            print(f"{refused.count:,} rows were not events ({hint}); the first, line {first.line}: {first.error}",
                  file=sys.stderr)  # fmt: skip
    else:
        source = sys.stdin.buffer if args.events == "-" else Path(args.events).open("rb")  # noqa: SIM115
        with source:
            report = produce_lines(settings.kafka, topic, source, rate=args.rate, on_progress=progress)
    rate = report.sent / max(report.seconds, 1e-9)
    print(f"sent {report.sent:,} records to {topic} in {report.seconds:.1f} s ({rate:,.0f}/s)", file=sys.stderr)
    if report.unkeyed:
        print(f"{report.unkeyed:,} lines had no customer_id: the worker will dead-letter them", file=sys.stderr)
    return 0


@dataclass(slots=True)
class _Refused:
    """Rows of a converted history that were not events: how many, and the first (not all: a file may be huge)."""

    count: int = 0
    first: Reject | None = None


def _event_lines(records: Iterable[tuple[int, TouchpointEvent | Reject]], rejects: IO[str] | None,
                 refused: _Refused) -> Iterator[bytes]:  # fmt: skip
    """Converted events as our JSON lines; rows that are not events go to ``rejects``, counted in ``refused``."""
    for _, item in records:
        if isinstance(item, Reject):
            refused.count += 1
            refused.first = refused.first or item
            if rejects is not None:
                rejects.write(json.dumps(item.to_json()) + "\n")
        else:
            yield item.model_dump_json(exclude_defaults=True).encode()


def _tail(args: argparse.Namespace) -> int:
    from momentstream.runtime.kafka.io import read_topic

    settings = _settings(args)
    topic = settings.topic_aliases().get(args.topic, args.topic)
    seen: set[str] = set()
    for record in read_topic(settings.kafka, topic, from_beginning=not args.new,
                             idle_timeout_s=args.idle, max_records=args.max, follow=args.follow):  # fmt: skip
        trigger_id = record.headers.get("trigger_id", b"").decode()
        if args.dedup and trigger_id:
            if trigger_id in seen:
                continue
            seen.add(trigger_id)
        print(_printable(record.value, record.headers), flush=True)
    return 0


def _printable(value: bytes, headers: dict[str, bytes]) -> str:
    """One line per record: a dead letter with its headers, a merge record (binary) as a summary, else the value.

    >>> from momentstream.core.identity import MergeRecord
    >>> from momentstream.core.schema import TouchpointEvent
    >>> from momentstream.core.state import CustomerState
    >>> login = TouchpointEvent.model_validate({"event_id": "l1", "customer_id": "dev-1", "type": "identify",
    ...     "ts": "2026-01-05T00:00:00Z", "properties": {"canonical_id": "ann"}})
    >>> merge = MergeRecord("l1", "dev-1", "ann", login, CustomerState("dev-1").to_bytes()).encode()
    >>> json.loads(_printable(merge, {}))["identity_merge"]["alias_id"]
    'dev-1'
    """
    from momentstream.core.identity import MERGE_MAGIC, IdentityError, decode_merge

    if "momentstream.reason" in headers:
        doc = {h: v.decode(errors="replace") for h, v in headers.items()}
        doc["raw"] = value.decode(errors="replace")
        return json.dumps(doc)
    if value.startswith(MERGE_MAGIC):
        try:
            merge = decode_merge(value)
        except IdentityError as err:
            return json.dumps({"identity_merge": {"unreadable": str(err), "size": len(value)}})
        summary = {"merge_id": merge.merge_id, "alias_id": merge.alias_id, "canonical_id": merge.canonical_id,
                   "identified_at": merge.identify.ts.isoformat(), "state_bytes": len(merge.state)}  # fmt: skip
        return json.dumps({"identity_merge": summary})
    return value.decode(errors="replace")


def _tick(args: argparse.Namespace) -> int:
    from momentstream.runtime.kafka.io import send_ticks

    settings = _settings(args)
    if args.at == "now":
        now_ms = to_ms(datetime.now().astimezone())
    else:
        try:
            now_ms = parse_instant(args.at)
        except ValueError as err:
            print(f"momentstream: --at: {err}", file=sys.stderr)
            return 2
    count = send_ticks(settings.kafka, settings.ticks_topic, now_ms, args.final)
    print(f"ticked {count} partitions of {settings.ticks_topic}", file=sys.stderr)
    return 0


def _rollout(args: argparse.Namespace) -> int:
    from momentstream.patterns.dsl import load_moments
    from momentstream.patterns.errors import PatternError
    from momentstream.patterns.rollout import plan_rollout
    from momentstream.runtime.kafka.moment_registry import FILE_KEY, REGISTRY_KEY, newest_by_key, publish, read_registry

    try:
        moments = load_moments(args.moments)
    except (PatternError, OSError) as err:
        print(f"momentstream: {err}", file=sys.stderr)
        return 2
    settings = _settings(args)
    stored, _ = newest_by_key(settings)
    plan = plan_rollout(read_registry(stored.get(REGISTRY_KEY)), moments)
    for line in plan.lines():
        print(line)
    if plan.refused:
        return 2
    if not args.dry_run:
        publish(settings, FILE_KEY, args.moments.read_bytes())
        print(f"published to {settings.models_topic}: every worker applies it within seconds", file=sys.stderr)
    return 0


def _seed_states(args: argparse.Namespace) -> int:
    from momentstream.runtime.kafka.seed import SeedRefusedError, seed_states
    from momentstream.spark.backfill import read_states

    directory = args.states / "states" if (args.states / "states").is_dir() else args.states
    parts = sorted(directory.glob("part-*"))
    if not parts:
        raise FileNotFoundError(2, "no states part files (part-*) in", str(directory))
    lines = (line for part in parts for line in part.open(encoding="utf-8"))
    try:
        report = seed_states(_settings(args), read_states(lines), force=args.force)
    except SeedRefusedError as err:
        print(f"momentstream: {err}", file=sys.stderr)
        return 2
    print(f"seeded {report.customers:,} customers into {len(report.partitions)} changelog partitions in "
          f"{report.seconds:.1f} s", file=sys.stderr)  # fmt: skip
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from momentstream.cli.inspect import inspect_customer

    return inspect_customer(_settings(args, check=False), args.customer, args.worker, args.json)


def _friendly(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn configuration and connection errors into one clear line and exit code 2 or 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ValidationError as err:
            print(f"momentstream: invalid settings: {describe_error(err, '(settings)')}", file=sys.stderr)
            return 2
        except FileNotFoundError as err:
            print(f"momentstream: {err.strerror}: {err.filename}", file=sys.stderr)
            return 2
        except Exception as err:
            if type(err).__module__.startswith("kafka") or type(err).__name__ in ("TopicMismatchError",
                                                                                   "KafkaAccessError"):  # fmt: skip
                print(f"momentstream: {redact_credentials(str(err))}", file=sys.stderr)
                return 1
            raise

    return run


_RAW_COMMANDS = {"worker": _worker, "topics": _topics, "produce": _produce, "tail": _tail, "tick": _tick,
                 "inspect": _inspect, "rollout": _rollout, "seed-states": _seed_states}  # fmt: skip
KAFKA_COMMANDS = {name: _friendly(command) for name, command in _RAW_COMMANDS.items()}
