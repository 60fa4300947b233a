"""The ``CONTACTMON_*`` settings of ``contactmon ingest`` (a pydantic-settings model).

Kafka's settings are the worker's (`streams.live.settings.KafkaSettings`: brokers, SASL, TLS,
topic names); these add where the service listens, its TLS files, the mapping configuration
file, the credentials it fetches ZGW and Open Klant resources with, its limits, and the optional
basic auth of its /metrics (``CONTACTMON_METRICS_USERNAME``/``_PASSWORD``, as the worker's).
Secrets are ``SecretStr`` (masked in ``repr``, registered with the log redaction at start-up).
The Authorization values each subscription must send are not settings but environment variables
named in the configuration file (``authorization_env``), one per subscription.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, FilePath, SecretStr, model_validator

from streams.live.settings import KafkaSettings, is_loopback


class IngestSettings(KafkaSettings):
    """Settings of ``contactmon ingest``: Kafka's plus the HTTP side and the fetching."""

    ingest_config: FilePath = Field(
        description="the ingest configuration (YAML): subscriptions, RSIN → municipality, "
        "zaaktype → kind and category, the API roots resources may be fetched from "
        "(docs/ingest.md)",
    )
    norms_file: Path | None = Field(
        default=None,
        description="the norms YAML whose municipalities events may name; unset: the shipped one",
    )
    ingest_host: str = Field(
        default="127.0.0.1", description="the address to listen on (0.0.0.0: every interface)"
    )
    ingest_port: int = Field(default=6068, ge=1, le=65535, description="the port to listen on")
    ingest_certfile: FilePath | None = Field(
        default=None,
        description="the certificate (PEM, with its chain) to serve https with; unset: plain http "
        "(put TLS in front then)",
    )
    ingest_keyfile: FilePath | None = Field(
        default=None,
        description="the private key (PEM) of that certificate; unset: the key is in the "
        "certificate file",
    )
    max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="longer request bodies are refused with 413 without being read",
    )
    zgw_client_id: str | None = Field(
        default=None,
        description="the client id the ZGW APIs (Open Zaak) know this service by (JWT iss)",
    )
    zgw_secret: SecretStr | None = Field(
        default=None, description="the secret the ZGW JWTs are signed with (HS256)"
    )
    openklant_token: SecretStr | None = Field(
        default=None, description="the API token for Open Klant (Authorization: Token …)"
    )
    fetch_timeout: float = Field(
        default=5.0, gt=0, description="seconds one fetch of a resource may take"
    )
    fetch_attempts: int = Field(
        default=4,
        ge=1,
        le=10,
        description="attempts per resource that answers 404, 429, 5xx or nothing, with a backoff "
        "that doubles from 0.25 s; then the notification is dead-lettered as source_unavailable",
    )
    fetch_connections: int = Field(
        default=32,
        ge=1,
        le=1000,
        description="connections to the source APIs open at most (kept alive and reused)",
    )
    zgw_token_reuse: float = Field(
        default=60.0,
        ge=0,
        le=600,
        description="seconds one signed ZGW JWT is reused before a new one is signed (its iat is "
        "then that old; ZGW APIs accept a token for an hour by default); 0: one per request",
    )
    catalog_ttl: float = Field(
        default=3600.0,
        gt=0,
        description="seconds a catalog resource (ZaakType, StatusType) is kept before it is "
        "fetched again; published ones never change, concept ZaakTypes are not kept",
    )
    catalog_cache_size: int = Field(
        default=10_000,
        ge=1,
        description="catalog resources kept at most (the least recently used goes first)",
    )
    produce_timeout: float = Field(
        default=15.0,
        gt=0,
        description="seconds to wait for the broker's acknowledgement before answering 503",
    )
    metrics_username: str | None = Field(
        default=None,
        pattern=r"^[^:\s]{1,200}$",
        description="the user name Prometheus must give for the service's /metrics (HTTP basic "
        "auth), as for the worker's; unset: no authentication",
    )
    metrics_password: SecretStr | None = Field(
        default=None,
        description="the password for /metrics (HTTP basic auth); required with the user name; "
        "needs TLS (CONTACTMON_INGEST_CERTFILE) unless the service listens on a loopback address",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="the service's log level"
    )

    @model_validator(mode="after")
    def _check_pairs(self) -> Self:
        name = type(self).env_name
        problems: list[str] = []
        if (self.zgw_client_id is None) != (self.zgw_secret is None):
            problems.append(
                f"{name('zgw_client_id')} and {name('zgw_secret')}: set both or neither"
            )
        if self.ingest_keyfile is not None and self.ingest_certfile is None:
            problems.append(
                f"{name('ingest_certfile')}: required when {name('ingest_keyfile')} is set"
            )
        if (self.metrics_username is None) != (self.metrics_password is None):
            problems.append(
                f"{name('metrics_username')} and {name('metrics_password')}: set both or neither "
                "(basic auth)"
            )
        if self.metrics_password is not None and not self.tls and not is_loopback(self.ingest_host):
            problems.append(
                f"{name('metrics_password')}: set, but the service listens without TLS on "
                f"{self.ingest_host}, so the password would cross the network in clear text: "
                f"set {name('ingest_certfile')} (or listen on 127.0.0.1)"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def tls(self) -> bool:
        """Whether the service speaks https."""
        return self.ingest_certfile is not None

    @property
    def metrics_credentials(self) -> tuple[bytes, bytes] | None:
        """(user name, password) that /metrics asks for, or None: no basic auth."""
        if self.metrics_username is None or self.metrics_password is None:
            return None
        return (
            self.metrics_username.encode(),
            self.metrics_password.get_secret_value().encode(),
        )
