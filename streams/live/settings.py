"""Kafka settings from ``CONTACTMON_*`` environment variables, for every Kafka client we run.

`KafkaSettings` holds where the brokers are, how to authenticate (SASL, TLS), the topic names of
the contract and how many partitions they get. It hands out the keyword arguments of both client
libraries in use: kafka-python (the producer, topic administration, tests) through
`KafkaSettings.kafka_python_kwargs` and aiokafka (under faust-streaming) through
`KafkaSettings.aiokafka_kwargs`, so credentials are read and checked in one place.

Settings come from the environment only (no ``.env`` or secrets-directory files), so what a
process runs with is what ``env`` shows. `load_settings` turns pydantic's validation errors into a
`SettingsError` with one line per bad variable, each naming the variable to fix; it never echoes a
value, so a mistyped password cannot reach a terminal or a log.

Meant to be extended: the worker's settings subclass `KafkaSettings`, add fields (store URL,
metrics port, ...) and inherit the ``CONTACTMON_`` prefix, the checks and `load_settings`.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

__all__ = [
    "ENV_PREFIX",
    "KafkaSettings",
    "SecurityProtocol",
    "SettingsError",
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

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: FilePath | None = None
    ssl_certfile: FilePath | None = None
    ssl_keyfile: FilePath | None = None
    events_topic: TopicName = "contact.events"
    dlq_topic: TopicName = "contact.events.dlq"
    partitions: int = Field(default=12, ge=1)  # 12: each default municipality its own partition
    replication_factor: int = Field(default=1, ge=1)

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

    def _sasl_kwargs(self) -> dict[str, Any]:
        """The SASL arguments, named the same in kafka-python and aiokafka."""
        if not self.uses_sasl or self.sasl_password is None:
            return {}
        return {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_username,
            "sasl_plain_password": self.sasl_password.get_secret_value(),
        }

    def kafka_python_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient.

        kafka-python sends the SCRAM credentials in ``sasl_plain_username``/``_password`` too.
        """
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.servers,
            "security_protocol": self.security_protocol,
            **self._sasl_kwargs(),
        }
        if self.uses_tls:
            files = {
                "ssl_cafile": self.ssl_cafile,
                "ssl_certfile": self.ssl_certfile,
                "ssl_keyfile": self.ssl_keyfile,
            }
            kwargs.update({key: str(path) for key, path in files.items() if path is not None})
        return kwargs

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's AIOKafkaProducer and AIOKafkaConsumer.

        aiokafka takes TLS as one ``ssl_context``; it is built here the way aiokafka's own
        ``create_ssl_context`` does (system CAs unless a CA file is given, hostname checked).
        """
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.servers,
            "security_protocol": self.security_protocol,
            **self._sasl_kwargs(),
        }
        if self.uses_tls:
            kwargs["ssl_context"] = self.ssl_context()
        return kwargs

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context from the CA, certificate and key files (system CAs by default)."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ssl_cafile)
        if self.ssl_certfile is not None:
            context.load_cert_chain(self.ssl_certfile, keyfile=self.ssl_keyfile)
        return context


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
