"""Kafka client arguments from the settings: the one place credentials are built.

`streams.live.settings` says *what* is configured; this module turns it into what each client
library takes, so SASL and TLS are read from the settings here and nowhere else:

- `kafka_credentials`: the login of every client, library-neutral: the security protocol, the
  SASL mechanism, user name and password, and one TLS context (system CAs unless a CA file is
  given, the broker's host name checked, the client certificate when one is set).
- `kafka_python_kwargs`: the keyword arguments of kafka-python's ``KafkaProducer``,
  ``KafkaConsumer`` and ``KafkaAdminClient`` (the simulator's producer, topic administration,
  tests).
- `faust_credentials`: the ``broker_credentials`` of the Faust app, which Faust hands on to
  aiokafka.

Both libraries get the same TLS context (kafka-python takes a ready ``ssl_context`` too), so a
worker and a producer configured alike connect alike.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from streams.live.settings import KafkaSettings

__all__ = ["KafkaCredentials", "faust_credentials", "kafka_credentials", "kafka_python_kwargs"]


@dataclass(frozen=True)
class KafkaCredentials:
    """How a client logs in: the protocol, SASL (when used) and the TLS context (when used)."""

    security_protocol: str
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = None

    @property
    def uses_sasl(self) -> bool:
        """Whether the client authenticates with SASL."""
        return self.sasl_password is not None


def kafka_credentials(settings: KafkaSettings) -> KafkaCredentials:
    """The credentials ``settings`` describe; the settings' checks make SASL all or nothing."""
    context = _ssl_context(settings) if settings.uses_tls else None
    if not settings.uses_sasl or settings.sasl_password is None:
        return KafkaCredentials(settings.security_protocol, ssl_context=context)
    return KafkaCredentials(
        settings.security_protocol,
        sasl_mechanism=settings.sasl_mechanism,
        sasl_username=settings.sasl_username,
        sasl_password=settings.sasl_password.get_secret_value(),
        ssl_context=context,
    )


def _ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    """A client TLS context from the CA, certificate and key files (system CAs by default)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.ssl_cafile)
    if settings.ssl_certfile is not None:
        context.load_cert_chain(settings.ssl_certfile, keyfile=settings.ssl_keyfile)
    return context


def kafka_python_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient.

    kafka-python sends the SCRAM credentials in ``sasl_plain_username``/``_password`` too; given
    an ``ssl_context`` it ignores its own ``ssl_*`` file options.
    """
    credentials = kafka_credentials(settings)
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.servers,
        "security_protocol": credentials.security_protocol,
    }
    if credentials.uses_sasl:
        kwargs.update(
            sasl_mechanism=credentials.sasl_mechanism,
            sasl_plain_username=credentials.sasl_username,
            sasl_plain_password=credentials.sasl_password,
        )
    if credentials.ssl_context is not None:
        kwargs["ssl_context"] = credentials.ssl_context
    return kwargs


def faust_credentials(settings: KafkaSettings) -> Any:
    """The Faust app's ``broker_credentials``: SASL, TLS, or None for plaintext.

    Faust derives the security protocol from these (SASL with a TLS context is SASL_SSL), so they
    agree with ``settings.security_protocol`` by construction.
    """
    # faust is slow to import; only the worker needs it
    from faust.auth import SASLCredentials, SSLCredentials  # noqa: PLC0415

    credentials = kafka_credentials(settings)
    if credentials.uses_sasl:
        return SASLCredentials(
            username=credentials.sasl_username,
            password=credentials.sasl_password,
            ssl_context=credentials.ssl_context,
            mechanism=credentials.sasl_mechanism,
        )
    if credentials.ssl_context is not None:
        return SSLCredentials(credentials.ssl_context)
    return None
