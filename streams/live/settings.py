"""The ``CONTACTMON_*`` settings: their pydantic models, and reading them from the environment.

This module is the one source of truth for what can be set. Each field of a model is one
environment variable (``CONTACTMON_`` + the field name in capitals) with its type, checks, default
and a ``description``; `contactmon worker --help` and the README's settings table are generated
from these fields (`streams.live.settings_doc`), and the deployment manifests are tested against
them.

- `KafkaSettings`: where the brokers are, how to authenticate (SASL, TLS), the contract's topic
  names and how many partitions they get. Every Kafka client we run reads it: the worker, the
  simulator's producer and topic administration.
- `WorkerSettings`: those plus what ``contactmon worker`` needs (store URL, norms, metrics, timing).

Settings come from the environment only (no ``.env`` or secrets-directory files), so what a
process runs with is what ``env`` shows. `load_settings` turns pydantic's validation errors into a
`SettingsError` with one line per bad variable, each naming the variable to fix; it never echoes a
value, so a mistyped password cannot reach a terminal or a log. Secret fields are typed
``SecretStr`` (`secret_fields` lists them): masked in ``repr`` and never shown with a default.

Nothing here talks to Kafka: turning settings into the arguments of a client library
(kafka-python's keyword arguments, Faust's broker credentials) is `streams.live.clients`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar, get_args

from pydantic import Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from streams.store.base import DEFAULT_STORE_URL

__all__ = [
    "ENV_PREFIX",
    "KafkaSettings",
    "SecurityProtocol",
    "SettingsError",
    "WorkerSettings",
    "load_settings",
    "parse_bootstrap_servers",
]

ENV_PREFIX = "CONTACTMON_"

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

# A Kafka topic name: at most 249 of these characters (Kafka's own rule).
TopicName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")]

# host:port, host, [ipv6]:port; the port is optional (the clients default to 9092).
_SERVER = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?$")

SettingsT = TypeVar("SettingsT", bound="KafkaSettings")


class SettingsError(ValueError):
    """Settings that cannot be used; the message has one line per bad environment variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_bootstrap_servers(text: str) -> list[str]:
    """The ``host:port`` entries of a comma-separated list; ValueError names a malformed one."""
    servers = [part.strip() for part in text.split(",")]
    if not any(servers):
        raise ValueError("no bootstrap server given (expected host:port[,host:port...])")
    for server in servers:
        if not server:
            raise ValueError(f"an empty entry in {text!r} (expected host:port[,host:port...])")
        if not _SERVER.match(server):
            raise ValueError(f"not a host:port: {server!r}")
    return servers


class KafkaSettings(BaseSettings):
    """Where the Kafka brokers are, how to log in, and the contract's topics and partitions."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,  # CONTACTMON_SASL_MECHANISM= means "not set", not ""
        extra="ignore",
        validate_default=True,
    )

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        description="the Kafka brokers to connect to first, host:port, comma-separated",
    )
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        description="how to connect: SSL encrypts with TLS, SASL_* log in with SASL",
    )
    sasl_mechanism: SaslMechanism | None = Field(
        default=None, description="the SASL mechanism; required with a SASL_* protocol"
    )
    sasl_username: str | None = Field(
        default=None, description="the SASL user name; required with a SASL_* protocol"
    )
    sasl_password: SecretStr | None = Field(
        default=None,
        description="the SASL password; required with a SASL_* protocol; give it from a secret "
        "store (a Kubernetes Secret, an env file), never in a manifest",
    )
    ssl_cafile: FilePath | None = Field(
        default=None,
        description="the CA certificate (PEM) that signed the brokers' certificates; "
        "unset: the system's CAs",
    )
    ssl_certfile: FilePath | None = Field(
        default=None,
        description="the client certificate (PEM), for brokers that ask for one (mutual TLS)",
    )
    ssl_keyfile: FilePath | None = Field(
        default=None, description="the private key (PEM) of the client certificate"
    )
    events_topic: TopicName = Field(
        default="contact.events", description="the topic the contract's events are on"
    )
    dlq_topic: TopicName = Field(
        default="contact.events.dlq",
        description="the dead-letter topic for rejected events; must differ from the events topic",
    )
    # 12: each default municipality its own partition
    partitions: int = Field(
        default=12,
        ge=1,
        description="partitions of both topics when they are created; an existing topic with "
        "fewer is refused (adding some would move municipalities to other partitions)",
    )
    replication_factor: int = Field(
        default=1,
        ge=1,
        description="replicas of each partition when the topics are created (3 in production)",
    )
    events_retention_days: int = Field(
        default=730,
        ge=1,
        description="retention.ms of contact.events when the worker creates it: the history a "
        "--rebuild replays (longer than the dedupe horizon and the export's reach back)",
    )
    store_retention_days: int = Field(
        default=800,
        ge=1,
        description="days outcome rows of finished items and calls are kept in the store "
        "(purged once a day; the board compares with the same month a year earlier)",
    )
    dlq_retention_days: int = Field(
        default=30,
        ge=1,
        description="retention.ms of the dead-letter topic when the worker creates it",
    )

    @field_validator("bootstrap_servers")
    @classmethod
    def _normalise_servers(cls, value: str) -> str:
        return ",".join(parse_bootstrap_servers(value))

    @model_validator(mode="after")
    def _check_security(self) -> Self:
        """SASL needs all three of its settings, TLS and SASL settings a protocol that uses them.

        Credentials given with a protocol that ignores them are refused rather than dropped in
        silence: that is almost always a forgotten CONTACTMON_SECURITY_PROTOCOL. The dead-letter
        topic must not be the events topic.
        """
        name = type(self).env_name
        protocol = self.security_protocol
        problems: list[str] = []
        sasl = {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_username": self.sasl_username,
            "sasl_password": self.sasl_password,
        }
        tls = {
            "ssl_cafile": self.ssl_cafile,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
        }
        if protocol.startswith("SASL_"):
            problems += [
                f"{name(field)}: required when {name('security_protocol')} is {protocol}"
                for field, value in sasl.items()
                if value is None
            ]
        else:
            problems += [
                f"{name(field)}: set, but {name('security_protocol')} is {protocol}; "
                "SASL needs SASL_PLAINTEXT or SASL_SSL"
                for field, value in sasl.items()
                if value is not None
            ]
        if not protocol.endswith("SSL"):
            problems += [
                f"{name(field)}: set, but {name('security_protocol')} is {protocol}; "
                "TLS files need SSL or SASL_SSL"
                for field, value in tls.items()
                if value is not None
            ]
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            problems.append(
                f"{name('ssl_certfile')}: required when {name('ssl_keyfile')} is set "
                "(the client certificate for that key)"
            )
        if self.dlq_topic == self.events_topic:
            problems.append(
                f"{name('dlq_topic')}: must differ from {name('events_topic')} "
                f"(both are {self.events_topic})"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets ``field``, e.g. ``CONTACTMON_PARTITIONS``."""
        info = cls.model_fields.get(field)
        if info is not None and isinstance(info.validation_alias, str):
            return info.validation_alias.upper()
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()

    @classmethod
    def secret_fields(cls) -> list[str]:
        """The fields that hold a secret (typed ``SecretStr``): never a literal in a manifest."""
        return [
            name
            for name, info in cls.model_fields.items()
            if SecretStr in (info.annotation, *get_args(info.annotation))
        ]

    @property
    def servers(self) -> list[str]:
        """The bootstrap servers as a list of ``host:port`` strings."""
        return self.bootstrap_servers.split(",")

    @property
    def uses_sasl(self) -> bool:
        """Whether the clients authenticate with SASL."""
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        """Whether the connections are encrypted with TLS."""
        return self.security_protocol.endswith("SSL")


class WorkerSettings(KafkaSettings):
    """Settings of ``contactmon worker``: Kafka's plus the store, norms, metrics and timing."""

    group_id: str = Field(
        default="contactmon",
        pattern=r"^[A-Za-z0-9._-]{1,200}$",
        description="the Kafka consumer group; its workers share the partitions, and checkpoints "
        "are kept per group",
    )
    norms_file: Path | None = Field(
        default=None, description="the norms YAML; unset: the shipped norms"
    )
    store_url: str = Field(
        default=DEFAULT_STORE_URL,
        description="the outcome store, which holds the checkpoints too: sqlite:///path, or "
        "postgresql://user:password@host:port/db for several workers (then give it as a secret)",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="the address /metrics is served on (0.0.0.0: every interface)",
    )
    metrics_port: int = Field(
        default=6066, ge=1, le=65535, description="the port /metrics is served on"
    )
    metrics_certfile: FilePath | None = Field(
        default=None,
        description="the certificate (PEM, with its chain) /metrics and /healthz are served with "
        "over TLS (https); unset: plain http",
    )
    metrics_keyfile: FilePath | None = Field(
        default=None,
        description="the private key (PEM) of that certificate; unset: the key is in the "
        "certificate file",
    )
    metrics_username: str | None = Field(
        default=None,
        pattern=r"^[^:\s]{1,200}$",
        description="the user name Prometheus must give for /metrics (HTTP basic auth); unset: "
        "no authentication",
    )
    metrics_password: SecretStr | None = Field(
        default=None,
        description="the password for /metrics (HTTP basic auth); required with the user name; "
        "needs TLS unless /metrics is served on a loopback address",
    )
    data_dir: Path = Field(default=Path("contactmon-data"), description="Faust's working directory")
    clock: Literal["wall", "event"] = Field(
        default="wall",
        description="wall: deadlines also pass on the wall clock; event: on event time only, "
        "for replaying history",
    )
    lateness: float = Field(
        default=300.0,
        ge=0,
        description="seconds an event may arrive out of order and still count as in order",
    )
    dedupe_days: int = Field(
        default=400,
        ge=1,
        description="days the ids of finished items' events are remembered, so that an event "
        "sent again is a duplicate",
    )
    max_event_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="events longer than this are rejected as too_large (bytes)",
    )
    sweep_interval: float = Field(
        default=5.0, gt=0, description="seconds between wall-clock deadline sweeps"
    )
    checkpoint_interval: float = Field(
        default=5.0, gt=0, description="seconds between checkpoints of the owned partitions"
    )
    checkpoint_every: int = Field(
        default=10_000,
        ge=1,
        description="events after which a partition is checkpointed before its timer is due",
    )
    session_timeout: float = Field(
        default=30.0, ge=6, description="the Kafka consumer group's session timeout in seconds"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="the worker's log level"
    )

    @model_validator(mode="after")
    def _check_metrics(self) -> Self:
        """Basic auth needs a user name and a password, a key file a certificate, and a password
        TLS, unless /metrics is only served on this machine."""
        name = type(self).env_name
        problems: list[str] = []
        if (self.metrics_username is None) != (self.metrics_password is None):
            given, missing = (
                ("metrics_username", "metrics_password")
                if self.metrics_password is None
                else ("metrics_password", "metrics_username")
            )
            problems.append(f"{name(missing)}: required when {name(given)} is set (basic auth)")
        if self.metrics_keyfile is not None and self.metrics_certfile is None:
            problems.append(
                f"{name('metrics_certfile')}: required when {name('metrics_keyfile')} is set"
            )
        if (
            self.metrics_password is not None
            and self.metrics_certfile is None
            and not is_loopback(self.metrics_host)
        ):
            problems.append(
                f"{name('metrics_password')}: set, but /metrics is served without TLS on "
                f"{self.metrics_host}, so the password would cross the network in clear text: "
                f"set {name('metrics_certfile')} (or serve on 127.0.0.1)"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def metrics_tls(self) -> bool:
        """Whether /metrics is served over TLS (https)."""
        return self.metrics_certfile is not None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address of this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _MappingEnvSource(EnvSettingsSource):
    """The environment source of pydantic-settings, reading a given mapping, not os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def load_settings(
    cls: type[SettingsT],
    environ: Mapping[str, str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
) -> SettingsT:
    """Read ``cls`` from ``environ`` (default: the process environment), or raise SettingsError.

    ``overrides`` (field name → value, e.g. from a command-line option) win over the environment
    and are validated the same way. The error has one line per bad variable, naming it:
    ``CONTACTMON_PARTITIONS: Input should be greater than or equal to 1``.
    """
    given = dict(overrides or {})
    sources: tuple[PydanticBaseSettingsSource, ...] = (
        InitSettingsSource(cls, given),
        _MappingEnvSource(cls, os.environ if environ is None else environ),
    )
    try:
        # `_build_sources` is BaseSettings' own parameter for "use these sources"; the type
        # checker sees only the fields in the synthesised signature.
        return cls(_build_sources=(sources, given))  # type: ignore[call-arg]
    except ValidationError as error:
        raise SettingsError(_problems(cls, error)) from None


def _problems(cls: type[KafkaSettings], error: ValidationError) -> list[str]:
    """One line per problem, naming the variable; input values are never shown (secrets)."""
    problems: list[str] = []
    for detail in error.errors(include_url=False, include_input=False):
        message = detail["msg"]
        context = detail.get("ctx") or {}
        if detail["type"] == "value_error" and "error" in context:
            message = str(context["error"])  # without pydantic's "Value error, " in front
        loc = detail["loc"]
        if not loc:  # a check across fields: its lines name their variables themselves
            problems.extend(message.splitlines())
            continue
        problems.append(f"{cls.env_name(str(loc[0]))}: {message}")
    return problems
