"""The worker's own small web server: ``/metrics``, ``/healthz`` and the overview page.

Faust's web server is turned off (``web_enabled=False`` in `streams.live.app`): it would also
serve ``/router/``, ``/table/``, ``/graph`` and statistics, without authentication, and take its
address and port from Faust's own environment variables. This aiohttp server takes its settings
from the ``CONTACTMON_METRICS_*`` variables only:

- it listens on ``CONTACTMON_METRICS_HOST:CONTACTMON_METRICS_PORT`` (default 127.0.0.1:6066);
- with ``CONTACTMON_METRICS_CERTFILE`` (and ``..._KEYFILE``) it speaks TLS only (https, TLS 1.2
  or newer);
- with ``CONTACTMON_METRICS_USERNAME`` and ``..._PASSWORD`` ``/metrics`` asks for HTTP basic
  auth (401 otherwise; compared in constant time). ``/healthz`` answers ``ok`` to anyone: it
  tells nothing but that the process serves, which is what a liveness probe needs without the
  password;
- with an overview (`streams.overview`, handed over by `streams.live.app`) it also serves the
  read-only overview page ``/overzicht`` (``/`` redirects there), the fragment its refresh script
  fetches (``/overzicht/inhoud``, with an ETag) and its own style sheet and script; behind the same
  TLS and basic auth as ``/metrics``, with a Content-Security-Policy that allows nothing else.
  ``contactmon overview`` serves the same page without ``/metrics`` (``render`` is None);
- every other path is 404, every other method 405; no access log, no ``Server`` version banner.

The listening socket and the TLS context are made when the server is built (`MetricsServer`),
before the worker connects to Kafka, so a port in use or an unusable certificate is a start-up
error with a message (`WebError`, exit 2), not a traceback later. `MetricsServer.serve` then
runs the server until it is cancelled (the app's task) and closes it on the way out.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from streams.live.settings import WorkerSettings
from streams.logs import redact, register_secret

if TYPE_CHECKING:
    from streams.overview.sources import OverviewService

__all__ = ["EXPOSITION_TYPE", "MetricsServer", "WebError", "tls_server_context"]

EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes
REALM = 'Basic realm="contactmon metrics", charset="UTF-8"'
BACKLOG = 64
SERVER_NAME = "contactmon"


class WebError(RuntimeError):
    """The metrics server cannot start: the address is in use, or the TLS files are unusable."""


def tls_server_context(certfile: Path, keyfile: Path | None) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2+) from a PEM certificate chain and its key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile=keyfile)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise WebError(
            f"cannot use the metrics certificate {certfile}"
            + (f" with the key {keyfile}" if keyfile else "")
            + f": {redact(str(reason))}"
        ) from None
    return context


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv4 or IPv6), or WebError."""
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE | socket.AI_NUMERICSERV
        )
    except socket.gaierror as exc:
        raise WebError(f"cannot serve /metrics on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise WebError(
            f"cannot serve /metrics on {host}:{port}: {exc.strerror or exc} (another process "
            "may use the port: set CONTACTMON_METRICS_PORT)"
        ) from None
    return sock


class MetricsServer:
    """``/metrics`` (what ``render`` returns), ``/healthz`` and, with ``overview``, the overview
    page, on the settings' address."""

    def __init__(
        self,
        settings: WorkerSettings,
        render: Callable[[], bytes] | None,
        overview: OverviewService | None = None,
    ) -> None:
        self._render = render
        self.overview = overview
        self.host = settings.metrics_host
        self._ssl = (
            tls_server_context(settings.metrics_certfile, settings.metrics_keyfile)
            if settings.metrics_certfile is not None
            else None
        )
        self._credentials: tuple[bytes, bytes] | None = None
        if settings.metrics_username is not None and settings.metrics_password is not None:
            register_secret(settings.metrics_password)
            self._credentials = (
                settings.metrics_username.encode(),
                settings.metrics_password.get_secret_value().encode(),
            )
        self._socket: socket.socket | None = _listen(settings.metrics_host, settings.metrics_port)
        self.port = int(self._socket.getsockname()[1])
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where /metrics is, e.g. ``https://127.0.0.1:6066/metrics``."""
        scheme = "https" if self._ssl is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/metrics"

    @property
    def overview_url(self) -> str:
        """Where the overview page is, e.g. ``http://127.0.0.1:6066/overzicht``."""
        from streams.overview.page import PATH  # noqa: PLC0415

        return self.url.removesuffix("/metrics") + PATH

    def application(self) -> web.Application:
        """The aiohttp application: /metrics, /healthz and the overview's routes, basic auth on
        all but /healthz when configured."""
        app = web.Application()
        if self._render is not None:
            app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        if self.overview is not None:
            from streams.overview import routes  # noqa: PLC0415

            routes.add(app, self.overview, self._authorised)
        app.on_response_prepare.append(_plain_headers)
        return app

    async def start(self) -> None:
        """Serve on the socket bound at construction."""
        if self._socket is None:
            raise WebError("the metrics server was stopped; build a new one")
        runner = web.AppRunner(self.application(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.SockSite(runner, self._socket, ssl_context=self._ssl)
        await site.start()
        self._runner = runner
        if self.overview is not None:
            await self.overview.start()

    async def stop(self) -> None:
        """Stop serving and close the socket; stopping twice is harmless."""
        runner, self._runner = self._runner, None
        if runner is not None:
            if self.overview is not None:
                await self.overview.stop()
            await runner.cleanup()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def serve(self) -> None:
        """Serve until cancelled, then stop."""
        try:
            await self.start()
            await asyncio.Event().wait()  # until the task is cancelled
        finally:
            await asyncio.shield(self.stop())

    def close(self) -> None:
        """Close the socket of a server that never started (the worker did not get that far)."""
        if self._runner is None and self._socket is not None:
            self._socket.close()
            self._socket = None

    def _authorised(self, request: web.Request) -> bool:
        if self._credentials is None:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = decoded.partition(b":")
        expected_user, expected_password = self._credentials
        # both compared, always, in constant time: the answer's timing tells nothing
        user_ok = hmac.compare_digest(user, expected_user)
        password_ok = hmac.compare_digest(password, expected_password)
        return bool(sep) and user_ok and password_ok

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return unauthorised()
        assert self._render is not None  # the route exists only with a render
        return web.Response(body=self._render(), headers={"Content-Type": EXPOSITION_TYPE})

    async def _healthz(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok\n")


def unauthorised() -> web.Response:
    """401 with the basic-auth challenge."""
    return web.Response(
        status=401, text="authentication required\n", headers={"WWW-Authenticate": REALM}
    )


async def _plain_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """No version banner; nothing cached (unless a route says otherwise); no content sniffing."""
    response.headers["Server"] = SERVER_NAME
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Content-Type-Options"] = "nosniff"
