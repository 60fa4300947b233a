"""Kafka client arguments from the settings: the one place credentials are built.

`streams.live.settings` says *what* is configured; this module turns it into what each client
library takes, so SASL and TLS are read from the settings here and nowhere else:

- `kafka_credentials`: the login of every client, library-neutral: the security protocol, the
  SASL mechanism, user name and password, and one TLS context (system CAs unless a CA file is
  given, the broker's host name checked, the client certificate when one is set).
- `kafka_python_kwargs`: the keyword arguments of kafka-python's ``KafkaProducer``,
  ``KafkaConsumer`` and ``KafkaAdminClient`` (the simulator's producer, topic administration,
  tests), which aiokafka's clients take under the same names (the worker's driver, the ingest).
- `faust_credentials`: the ``broker_credentials`` of the Faust app, which Faust hands on to
  aiokafka.

Both libraries get the same TLS context (kafka-python takes a ready ``ssl_context`` too), so a
worker and a producer configured alike connect alike.

Building credentials registers the settings' secrets (the SASL password) with the redaction layer
(`streams.logs`), so that no client library's log line, at any level, can show them: kafka-python
logs its whole configuration at DEBUG.

`check_brokers` is the worker's start-up probe: a TLS handshake with each bootstrap server and a
SASL login, so an untrusted broker certificate, a broker that does not speak TLS or a refused
password is one clear sentence (`BrokerCheckError`) rather than thirty seconds of retries that end
in "unable to bootstrap".
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

from streams.live.settings import KafkaSettings
from streams.logs import register_settings

__all__ = [
    "BrokerCheckError",
    "KafkaCredentials",
    "KafkaLoginError",
    "KafkaTlsError",
    "check_brokers",
    "check_tls",
    "faust_credentials",
    "kafka_credentials",
    "kafka_python_kwargs",
]

TLS_PROBE_TIMEOUT_S = 10.0


class BrokerCheckError(RuntimeError):
    """The brokers cannot be used with these settings; the message says which setting to fix."""


class KafkaLoginError(BrokerCheckError):
    """A broker refused the SASL login (a wrong user name or password, or mechanism)."""


class KafkaTlsError(BrokerCheckError):
    """TLS to the brokers cannot work: an unusable CA, certificate or key file, an untrusted
    broker certificate, or a broker that does not speak TLS."""


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
    """The credentials ``settings`` describe; the settings' checks make SASL all or nothing.

    The settings' secrets are registered with the redaction layer first.
    """
    register_settings(settings)
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
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.ssl_cafile)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaTlsError(
            f"cannot use {settings.env_name('ssl_cafile')} {settings.ssl_cafile}: "
            f"{_reason(exc)} (a PEM file of CA certificates is expected)"
        ) from None
    if settings.ssl_certfile is not None:
        try:
            context.load_cert_chain(settings.ssl_certfile, keyfile=settings.ssl_keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise KafkaTlsError(
                f"cannot use the client certificate {settings.ssl_certfile}"
                + (f" with the key {settings.ssl_keyfile}" if settings.ssl_keyfile else "")
                + f": {_reason(exc)}"
            ) from None
    return context


def _reason(exc: BaseException) -> str:
    """An OSError's or SSLError's reason, without the rest of its text."""
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None)
    return str(reason or type(exc).__name__)


def kafka_python_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient,
    and the same for aiokafka's clients (they take the same names).

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


def check_tls(settings: KafkaSettings, *, timeout: float = TLS_PROBE_TIMEOUT_S) -> None:
    """Shake hands over TLS with each bootstrap server, as the clients will; nothing to do
    without TLS.

    Raises KafkaTlsError when a broker's certificate is not trusted (by ``CONTACTMON_SSL_CAFILE``
    or the system's CAs) or does not name the host, or when the broker does not speak TLS. A
    server that cannot be reached is left to the clients, which retry and say so.
    """
    if not settings.uses_tls:
        return
    context = _ssl_context(settings)
    ca = settings.env_name("ssl_cafile")
    for server in settings.servers:
        host, port = _host_port(server)
        try:
            with (
                socket.create_connection((host, port), timeout=timeout) as raw,
                context.wrap_socket(raw, server_hostname=host),
            ):
                pass
        except ssl.SSLCertVerificationError as exc:
            raise KafkaTlsError(
                f"the Kafka broker at {server} presented a certificate that is not trusted "
                f"({exc.verify_message}): set {ca} to the CA file that signed it"
                + (f" (now {settings.ssl_cafile})" if settings.ssl_cafile else "")
            ) from None
        except ssl.SSLError as exc:
            raise KafkaTlsError(
                f"no TLS handshake with the Kafka broker at {server} ({exc.reason or exc}): is "
                f"it a TLS listener? ({settings.env_name('security_protocol')} is "
                f"{settings.security_protocol})"
            ) from None
        except OSError:
            continue  # not reachable now: the clients retry, and report it


def check_login(settings: KafkaSettings, *, timeout: float = TLS_PROBE_TIMEOUT_S) -> None:
    """Log in with SASL at the first bootstrap server that answers, as the worker's aiokafka
    will; nothing to do without SASL.

    Raises KafkaLoginError when the broker refuses the user name and password (or mechanism).
    Unreachable servers are left to the clients, which retry and say so.
    """
    if not settings.uses_sasl:
        return
    # aiokafka comes with faust, which only the worker imports
    from aiokafka.conn import create_conn  # type: ignore[import-untyped]  # noqa: PLC0415
    from aiokafka.errors import (  # type: ignore[import-untyped]  # noqa: PLC0415
        SaslAuthenticationFailed,
        UnsupportedSaslMechanismError,
    )

    credentials = kafka_credentials(settings)

    async def login(host: str, port: int) -> None:
        connection = await create_conn(
            host,
            port,
            client_id="contactmon-login-check",
            request_timeout_ms=int(timeout * 1000),
            ssl_context=credentials.ssl_context,
            security_protocol=credentials.security_protocol,
            sasl_mechanism=credentials.sasl_mechanism,
            sasl_plain_username=credentials.sasl_username,
            sasl_plain_password=credentials.sasl_password,
        )
        connection.close()

    loop = asyncio.new_event_loop()  # its own loop, never the current one: Faust's comes later
    try:
        for server in settings.servers:
            try:
                loop.run_until_complete(asyncio.wait_for(login(*_host_port(server)), timeout))
            except (SaslAuthenticationFailed, UnsupportedSaslMechanismError) as exc:
                raise KafkaLoginError(
                    f"the Kafka broker at {server} refused the login of "
                    f"{settings.env_name('sasl_username')}={settings.sasl_username} with "
                    f"{settings.sasl_mechanism} ({type(exc).__name__}): check "
                    f"{settings.env_name('sasl_password')} and the user name"
                ) from None
            except Exception:  # not reachable, timed out: the clients retry and report it
                continue
            return
    finally:
        loop.close()


def check_brokers(settings: KafkaSettings, *, timeout: float = TLS_PROBE_TIMEOUT_S) -> None:
    """`check_tls`, then `check_login`: BrokerCheckError with one sentence when either fails."""
    check_tls(settings, timeout=timeout)
    check_login(settings, timeout=timeout)


def _host_port(server: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``, or a host alone: port 9092) as a (host, port) pair."""
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 9092
    host, _, port = server.rpartition(":")
    if not host:
        return port, 9092
    return host, int(port)
