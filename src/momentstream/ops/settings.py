"""Worker configuration: defaults, then a YAML file, then ``MOMENTSTREAM_*`` environment variables.

Every field is documented here and in docs/reference/settings.md; ``momentstream worker --print-settings`` shows
the values a worker would run with. Secrets (``sasl_password``, ``ssl_key_password``) are
:class:`SecretStr`: never printed or logged; they may come from the environment, the settings file,
a ``.env`` file or a secrets directory (one file per setting, as Docker and Kubernetes mount them).
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from momentstream.core.clock import parse_duration, parse_instant
from momentstream.ops.kafka_connection import KafkaConnection, Mechanism, Protocol

logger = logging.getLogger(__name__)

__all__ = ["MIN_KEY_BYTES", "WorkerSettings", "load_settings"]

MIN_KEY_BYTES = 16
"""A shorter secret (model_snapshot_key, inspect_token) is refused at load: it could be guessed."""


class WorkerSettings(BaseSettings):
    """Everything a worker needs besides its moments file."""

    model_config = SettingsConfigDict(env_prefix="MOMENTSTREAM_", extra="forbid", validate_default=True)

    moments: Path | None = Field(None, description="moments YAML file; default: the bundled example")
    objectives: Path | None = Field(None, description="objectives YAML (scoring); default: the bundled example")
    scoring: bool = Field(True, description="score customers with the objectives' online models")
    broker: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated")
    security_protocol: Protocol = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL "
                                        "(managed Kafka: SASL_SSL)")  # fmt: skip
    sasl_mechanism: Mechanism | None = Field(None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_*)")
    sasl_username: str | None = Field(None, description="SASL user (SASL_*)")
    sasl_password: SecretStr | None = Field(None, description="SASL password (SASL_*); never printed or logged")
    ssl_ca: Path | None = Field(None, description="PEM file of the CA that signed the brokers' certificates "
                                "(SSL, SASL_SSL; default: the system's CAs)")  # fmt: skip
    ssl_certificate: Path | None = Field(None, description="PEM client certificate, for brokers that require "
                                         "one (mutual TLS)")  # fmt: skip
    ssl_key: Path | None = Field(None, description="PEM private key of ssl_certificate")
    ssl_key_password: SecretStr | None = Field(None, description="password of ssl_key, if it is encrypted")
    ssl_check_hostname: bool = Field(True, description="check that a broker's certificate names its host")
    app_id: str = Field("momentstream", description="consumer group and prefix of the state changelog topic")
    touchpoints_topic: str = Field("momentstream.touchpoints", description="events in, keyed by customer_id")
    touchpoints_format: Literal["momentstream", "segment"] = Field(
        "momentstream", description="what the touchpoints topic carries: our events, or Segment/RudderStack "
        "messages (track, identify, page, screen, alias, group; keyed by userId, else anonymousId; identify "
        "and alias calls by the anonymous or previous id)")  # fmt: skip
    ticks_topic: str = Field("momentstream.ticks", description="clock records, same partition count as touchpoints")
    actions_topic: str = Field("momentstream.actions", description="triggers out, keyed by customer_id")
    holdout_topic: str = Field("momentstream.holdout", description="triggers of holdout customers (not acted on)")
    audit_topic: str = Field("momentstream.audit", description="late, duplicate and cancelled-window records")
    dead_letter_topic: str = Field("momentstream.dead-letter", description="refused records, original bytes + reason")
    models_topic: str = Field("momentstream.models", description="compacted topic of model snapshots")
    model_snapshot_interval: str = Field("60s", description="how often a worker publishes its model snapshot")
    model_snapshot_key: SecretStr | None = Field(None, description="HMAC key (16+ characters) that signs the "
                                                 "snapshot entries of models that are not plain data (River "
                                                 "pipelines, trees, uplift and action models); unset: those "
                                                 "start fresh after a restart. Never printed or logged")  # fmt: skip
    partitions: int = Field(8, ge=1, le=10_000, description="partitions of touchpoints, ticks and the changelog")
    replication_factor: int = Field(1, ge=1, le=10, description="replication of the topics `topics create` makes")
    store: Literal["memory", "rocksdb"] = Field("memory", description="table store; rocksdb needs rocksdict")
    data_dir: Path = Field(Path("data"), description="local table data (rocksdb) and worker files")
    web_host: str = Field("0.0.0.0", description="address of /metrics, /healthz and /readyz")
    web_port: int = Field(6066, ge=1, le=65_535, description="port of /metrics, /healthz and /readyz")
    heartbeat_timeout: str = Field("2m", description="/healthz answers 503 (the liveness probe restarts the "
                                   "worker) once the processing loop has not beaten for this long")  # fmt: skip
    lateness: str = Field("1m", description="allowed lateness of events per customer")
    max_skew: str | None = Field("7d", description="an event this far ahead of its partition's clock (or of the wall "
                                 "clock with clock=wall) does not move it unless another customer's event confirms "
                                 "the jump; null turns the bound off")  # fmt: skip
    erasure_within: str = Field("24h", description="an erased customer's old state values are compacted out of the "
                                "changelog within this time (sets segment.ms and max.compaction.lag.ms)")  # fmt: skip
    idle_ttl: str | None = Field(None, description="forget customers silent this long with nothing pending, "
                                 "e.g. 400d (default: keep every customer)")  # fmt: skip
    clock: Literal["stream", "wall"] = Field(
        "stream",
        description="stream: time advances with each partition's events and tick records; "
        "wall: a ticker also advances it with the wall clock, so windows open in silence",
    )
    tick_interval: str = Field("1s", description="how often the wall-clock ticker writes tick records")
    clock_speed: float = Field(1.0, gt=0, description="event-time seconds per wall second (tests compress time)")
    clock_origin: str | None = Field(None, description="event time (ISO) at clock_origin_wall; default: real time")
    clock_origin_wall: float | None = Field(None, description="unix time at which the clock reads clock_origin")
    runtime: Literal["batch", "faust"] = Field(
        "batch",
        description="batch: the batched confluent-kafka worker (default); faust: one record at a time on Faust",
    )
    batch_max_records: int = Field(2000, ge=1, le=100_000, description="most records in one batch (batch runtime)")
    batch_max_wait: str = Field(
        "20ms", description="longest wait for a batch's first record (a batch never waits to fill)"
    )
    standby_replicas: int = Field(0, ge=0, le=5, description="warm standby copies of the table on other workers")
    session_timeout: float = Field(
        30.0, ge=6, le=300, description="seconds before the group gives a dead worker's partitions to others"
    )
    producer_linger_ms: int = Field(5, ge=0, le=1000, description="producer batching delay (ms)")
    producer_buffer: int = Field(10_000, ge=100, description="changelog writes Faust may buffer before pausing")
    delivery_timeout: float = Field(30.0, gt=0, description="seconds to wait for the broker to take triggers")
    commit_interval: float = Field(1.0, gt=0, description="seconds between offset commits")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="worker log level")
    log_format: Literal["text", "json"] = Field("text", description="text, or json: one object per line")
    inspect_port: int | None = Field(None, ge=1, le=65_535, description="serve /customers/<id> on this port "
                                     "instead of web_port (batch runtime), so the metrics port can be exposed "
                                     "where the customer look-up should not be")  # fmt: skip
    inspect_host: str = Field("127.0.0.1", description="address of inspect_port (default: this machine only)")
    inspect_token: SecretStr | None = Field(
        None,
        description="enables GET /customers/<id> (momentstream inspect) for callers that send it as a "
        "Bearer token; unset: off",
    )

    @field_validator(
        "lateness",
        "tick_interval",
        "model_snapshot_interval",
        "idle_ttl",
        "max_skew",
        "erasure_within",
        "batch_max_wait",
        "heartbeat_timeout",
    )
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator(
        "idle_ttl",
        "max_skew",
        "erasure_within",
        "tick_interval",
        "model_snapshot_interval",
        "batch_max_wait",
        "heartbeat_timeout",
    )
    @classmethod
    def _positive(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) <= 0:
            raise ValueError("must be longer than 0s")
        return value

    @field_validator("model_snapshot_key", "inspect_token")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip().encode()) < MIN_KEY_BYTES:
            raise ValueError(f"must be at least {MIN_KEY_BYTES} characters (an empty or short secret can be "
                             "guessed); leave it unset to turn the feature off")  # fmt: skip
        return value

    @field_validator("clock_origin")
    @classmethod
    def _instant(cls, value: str | None) -> str | None:
        if value is not None:
            parse_instant(value)  # refused when loaded, not when the worker starts
        return value

    @model_validator(mode="after")
    def _inspect_port(self) -> WorkerSettings:
        if self.inspect_port is not None and self.runtime == "faust":
            raise ValueError("inspect_port: the Faust runtime serves /customers on web_port only; unset it, or "
                             "use runtime: batch")  # fmt: skip
        if self.inspect_port is not None and self.inspect_port == self.web_port:
            raise ValueError("inspect_port: must differ from web_port")
        return self

    @model_validator(mode="after")
    def _security(self) -> WorkerSettings:
        """Security settings that cannot work together are refused at load time, not at the first broker call."""
        if any("@" in server for server in self.bootstrap_servers):
            raise ValueError("broker: credentials in the broker address are not used (and would be logged); "
                             "set security_protocol, sasl_mechanism, sasl_username and sasl_password")  # fmt: skip
        connection = self.kafka
        sasl = {"sasl_mechanism": self.sasl_mechanism, "sasl_username": self.sasl_username,
                "sasl_password": self.sasl_password}  # fmt: skip
        tls = {"ssl_ca": self.ssl_ca, "ssl_certificate": self.ssl_certificate, "ssl_key": self.ssl_key,
               "ssl_key_password": self.ssl_key_password}  # fmt: skip
        if connection.uses_sasl:
            missing = [name for name, value in sasl.items() if not value]
            if missing:
                raise ValueError(f"security_protocol {self.security_protocol} needs {', '.join(missing)}")
        else:
            _refuse_unused(sasl, self.security_protocol, "SASL_SSL")
        if connection.uses_tls:
            if (self.ssl_certificate is None) != (self.ssl_key is None):
                raise ValueError("ssl_certificate and ssl_key go together (a client certificate needs its key)")
            for name in ("ssl_ca", "ssl_certificate", "ssl_key"):
                path = tls[name]
                if isinstance(path, Path) and not path.is_file():
                    raise ValueError(f"{name}: no such file: {path}")
        else:
            _refuse_unused(tls, self.security_protocol, "SSL or SASL_SSL")
        if self.security_protocol == "SASL_PLAINTEXT" and self.sasl_mechanism == "PLAIN":
            logger.warning("SASL_PLAINTEXT with PLAIN sends the password unencrypted; use SASL_SSL or SCRAM")
        return self

    @property
    def kafka(self) -> KafkaConnection:
        """How every Kafka client of this deployment connects (servers and security)."""
        return KafkaConnection(tuple(self.bootstrap_servers), self.security_protocol, self.sasl_mechanism,
                               self.sasl_username, self.sasl_password, self.ssl_ca, self.ssl_certificate,
                               self.ssl_key, self.ssl_key_password, self.ssl_check_hostname)  # fmt: skip

    @property
    def lateness_ms(self) -> int:
        """Allowed lateness in milliseconds."""
        return parse_duration(self.lateness)

    @property
    def idle_ttl_ms(self) -> int | None:
        """Idle time-to-live in milliseconds, or None."""
        return None if self.idle_ttl is None else parse_duration(self.idle_ttl)

    @property
    def max_skew_ms(self) -> int | None:
        """The clock-skew bound in milliseconds, or None (off)."""
        return None if self.max_skew is None else parse_duration(self.max_skew)

    @property
    def erasure_within_ms(self) -> int:
        """How soon erased state must be physically gone from the changelog, in milliseconds."""
        return parse_duration(self.erasure_within)

    @property
    def heartbeat_timeout_s(self) -> float:
        """``heartbeat_timeout`` in seconds."""
        return parse_duration(self.heartbeat_timeout) / 1000

    @property
    def model_snapshot_interval_s(self) -> float:
        """Model snapshot period in seconds."""
        return parse_duration(self.model_snapshot_interval) / 1000

    @property
    def tick_interval_s(self) -> float:
        """Ticker period in seconds."""
        return parse_duration(self.tick_interval) / 1000

    @property
    def bootstrap_servers(self) -> list[str]:
        """The broker list without a ``kafka://`` prefix, as kafka-python wants it."""
        return [s.strip().removeprefix("kafka://") for s in self.broker.split(",") if s.strip()]

    def topic_aliases(self) -> dict[str, str]:
        """Short names operators and tests use for this deployment's topics."""
        return {"actions": self.actions_topic, "holdout": self.holdout_topic, "audit": self.audit_topic,
                "dead-letter": self.dead_letter_topic, "touchpoints": self.touchpoints_topic,
                "ticks": self.ticks_topic}  # fmt: skip

    def redacted(self) -> dict[str, Any]:
        """Values safe to print or log: secrets show as ``**********`` when set."""
        return self.model_dump(mode="json")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags beat the environment, then a ``.env`` file, then the secrets directory, then the settings file."""
        file_source = YamlConfigSettingsSource(settings_cls, yaml_file=_SOURCES.path)
        env_file_source = InitSettingsSource(settings_cls, init_kwargs=dict(_SOURCES.env_file_values))
        return (init_settings, env_settings, env_file_source, file_secret_settings, file_source)


def _refuse_unused(values: Mapping[str, object], protocol: str, needed: str) -> None:
    """A SASL or TLS setting the protocol ignores is a forgotten ``security_protocol``, not a harmless extra."""
    unused = [name for name, value in values.items() if value is not None]
    if unused:
        raise ValueError(f"{', '.join(unused)} set, but security_protocol is {protocol}: they would be ignored "
                         f"(set security_protocol to {needed})")  # fmt: skip


class _Sources:
    """The files of the load in progress (pydantic builds sources from the class, not the call)."""

    path: Path | None = None
    env_file_values: Mapping[str, str] = {}


_SOURCES = _Sources()
_PREFIX = "MOMENTSTREAM_"
OTHER_VARIABLES = frozenset({"MOMENTSTREAM_KAFKA_HOME", "MOMENTSTREAM_SECRETS_DIR", "MOMENTSTREAM_ENV_FILE"})
"""MOMENTSTREAM_* variables that are not worker settings: the development broker's Kafka directory, and where
secrets and a ``.env`` file are read from."""


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A sentence per MOMENTSTREAM_* variable that names no setting: a typo would otherwise be ignored.

    >>> unknown_variables({"MOMENTSTREAM_BROKR": "x", "MOMENTSTREAM_BROKER": "y", "HOME": "/"})
    ['MOMENTSTREAM_BROKR names no setting and is ignored (did you mean MOMENTSTREAM_BROKER?)']
    """
    # compared without the shared prefix, which would make every name look close to every other
    known = sorted({name.upper() for name in WorkerSettings.model_fields} | {v.removeprefix(_PREFIX) for v in
                                                                              OTHER_VARIABLES})  # fmt: skip
    found = []
    for variable in sorted(v for v in environ if v.upper().startswith(_PREFIX)):
        name = variable.upper().removeprefix(_PREFIX)
        if name in known:
            continue
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        hint = (
            f" (did you mean MOMENTSTREAM_{near[0]}?)" if near else " (momentstream worker --help lists the settings)"
        )
        found.append(f"{variable} names no setting and is ignored{hint}")
    return found


def load_settings(path: Path | None = None, *, report_unknown: bool = True, env_file: Path | None = None,
                  secrets_dir: Path | None = None, **overrides: Any) -> WorkerSettings:  # fmt: skip
    """Settings from ``path`` (YAML), then ``secrets_dir``, then ``env_file``, then the environment, then
    ``overrides`` (non-None only).

    ``secrets_dir`` and ``env_file`` default to ``MOMENTSTREAM_SECRETS_DIR`` and ``MOMENTSTREAM_ENV_FILE``.
    In the secrets directory each file is one setting, named like its variable in lower case
    (``momentstream_sasl_password``). ``report_unknown`` logs the MOMENTSTREAM_* variables that name no
    setting (a worker logs them itself, once its log format is set).
    """
    env_file = env_file or _path_variable("MOMENTSTREAM_ENV_FILE")
    secrets_dir = secrets_dir or _path_variable("MOMENTSTREAM_SECRETS_DIR")
    for given, kind in ((path, "settings file"), (env_file, "env file")):
        if given is not None and not given.is_file():
            raise FileNotFoundError(2, f"No such {kind}", str(given))
    if secrets_dir is not None and not secrets_dir.is_dir():
        raise FileNotFoundError(2, "No such secrets directory", str(secrets_dir))
    from_env_file = _read_env_file(env_file) if env_file is not None else {}
    _SOURCES.path, _SOURCES.env_file_values = path, _known_settings(from_env_file)
    for warning in unknown_variables(os.environ) if report_unknown else []:
        logger.warning("%s", warning)
    for warning in unknown_variables(from_env_file) if report_unknown else []:
        logger.warning("%s: %s", env_file, warning)
    try:
        return WorkerSettings(_secrets_dir=secrets_dir,
                              **{k: v for k, v in overrides.items() if v is not None})  # fmt: skip
    finally:
        _SOURCES.path, _SOURCES.env_file_values = None, {}


def _read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a ``.env`` file; a file shared with other tools may hold their names too."""
    return {name: value for name, value in dotenv_values(path).items() if value is not None}


def _known_settings(variables: Mapping[str, str]) -> dict[str, str]:
    """Field name -> value for the MOMENTSTREAM_* names that are settings (others are warned about)."""
    fields = WorkerSettings.model_fields
    found = {name.upper().removeprefix(_PREFIX).lower(): value for name, value in variables.items()
             if name.upper().startswith(_PREFIX)}  # fmt: skip
    return {name: value for name, value in found.items() if name in fields}


def _path_variable(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value) if value else None
