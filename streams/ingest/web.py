"""The HTTP side of ``contactmon ingest``: routes, authentication, limits, answers.

- ``POST /cloudevents`` and ``POST /notificaties`` need the ``Authorization`` header of one of
  the configured subscriptions (Open Notificaties sends the abonnement's fixed ``auth`` value),
  compared with every subscription's in constant time (`hmac.compare_digest`); otherwise 401
  and nothing is read or produced.
- A body longer than ``CONTACTMON_MAX_BODY_BYTES`` is 413, refused by its Content-Length before
  it is read (or while reading, without one).
- 200 (with a JSON count of events, dead letters and ignored messages) only after the broker
  acknowledged every record of the request; 503 when it did not in time, so the sender retries.
  A message that can never map is a dead letter and still 200: retrying cannot help it.
- While the producer is not connected (the broker is away at start-up, or stopped answering:
  ``ready`` is false) a request is 503 with ``Retry-After`` at once, its body unread and nothing
  fetched; ``GET /healthz`` answers 503 ``not ready`` then, ``ok`` otherwise (a readiness
  probe), and ``GET /livez`` always ``ok`` (a liveness probe: the process serves; a broker
  outage must not get the service restarted).
- ``GET /metrics``: the service's own metrics (`streams.ingest.metrics`), which hold counts only;
  with ``CONTACTMON_METRICS_USERNAME``/``_PASSWORD`` behind HTTP basic auth (401 otherwise, user
  and password compared in constant time), as the worker's /metrics.
- No access log (URLs and headers stay out of logs), no version banner.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Sequence

import orjson
from aiohttp import BasicAuth, web

from streams.ingest.config import Subscription
from streams.ingest.dead_letters import Record
from streams.ingest.metrics import IngestMetrics
from streams.ingest.producer import ProduceError
from streams.ingest.service import CLOUDEVENTS, NOTIFICATIES, IngestService, Result
from streams.live.web import unauthorised

EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SendAll = Callable[[Sequence[Record]], Awaitable[None]]


def basic_auth_ok(header: str | None, credentials: tuple[bytes, bytes]) -> bool:
    """Whether ``header`` is ``Basic`` with these user name and password (both compared, always,
    in constant time)."""
    try:
        given = BasicAuth.decode(header or "", encoding="utf-8")
    except ValueError:
        return False
    user_ok = hmac.compare_digest(given.login.encode(), credentials[0])
    password_ok = hmac.compare_digest(given.password.encode(), credentials[1])
    return user_ok and password_ok


def authenticate(header: str | None, subscriptions: Sequence[Subscription]) -> Subscription | None:
    """The subscription whose Authorization value ``header`` is; every one is compared, always."""
    given = (header or "").strip().encode()
    found: Subscription | None = None
    for subscription in subscriptions:
        if hmac.compare_digest(given, subscription.authorization) and found is None:
            found = subscription
    return found


class IngestApp:
    """The aiohttp application around an `IngestService` and a send function."""

    def __init__(
        self,
        service: IngestService,
        subscriptions: Sequence[Subscription],
        send_all: SendAll,
        metrics: IngestMetrics,
        max_body_bytes: int,
        *,
        ready: Callable[[], bool] = lambda: True,
        metrics_credentials: tuple[bytes, bytes] | None = None,
    ) -> None:
        self._service = service
        self._subscriptions = tuple(subscriptions)
        self._send_all = send_all
        self._metrics = metrics
        self._max = max_body_bytes
        self._ready = ready
        self._credentials = metrics_credentials

    def application(self) -> web.Application:
        app = web.Application(client_max_size=self._max)
        app.router.add_post(CLOUDEVENTS, self._cloudevents)
        app.router.add_post(NOTIFICATIES, self._notificaties)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/livez", self._livez)
        app.router.add_get("/metrics", self._render)
        app.on_response_prepare.append(_plain_headers)
        return app

    async def _cloudevents(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, CLOUDEVENTS)

    async def _notificaties(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, NOTIFICATIES)

    async def _handle(self, request: web.Request, route: str) -> web.StreamResponse:
        count = self._metrics.requests
        subscription = authenticate(request.headers.get("Authorization"), self._subscriptions)
        if subscription is None:
            count.labels(route, "unauthorized").inc()
            return web.json_response({"error": "unauthorized"}, status=401)
        if not self._ready():
            count.labels(route, "unavailable").inc()
            return _unavailable("the Kafka broker is not reachable yet; send again")
        if request.content_length is not None and request.content_length > self._max:
            count.labels(route, "too_large").inc()
            return _too_large(self._max)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            count.labels(route, "too_large").inc()
            return _too_large(self._max)
        if route == CLOUDEVENTS:
            result = self._service.cloudevents(body, subscription)
        else:
            result = await self._service.notificaties(body, subscription)
        started = time.perf_counter()
        try:
            await self._send_all(result.records)
        except ProduceError:
            # the broker's state is logged once per change by the producer, not per request
            count.labels(route, "unavailable").inc()
            return _unavailable("the broker did not acknowledge; send again")
        self._metrics.produce_seconds.observe(time.perf_counter() - started)
        self._count(route, result)
        return web.Response(body=orjson.dumps(result.summary()), content_type="application/json")

    def _count(self, route: str, result: Result) -> None:
        self._metrics.requests.labels(route, result.outcome).inc()
        for record in result.records:
            if record.headers:
                reason = dict(record.headers)["reason"].decode()
                self._metrics.dead_letters.labels(reason).inc()
            else:
                self._metrics.events.labels(record.key.decode()).inc()

    async def _healthz(self, _request: web.Request) -> web.StreamResponse:
        if self._ready():
            return web.Response(text="ok\n")
        return web.Response(text="not ready: waiting for the Kafka broker\n", status=503)

    async def _livez(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok\n")

    async def _render(self, request: web.Request) -> web.StreamResponse:
        if self._credentials is not None and not basic_auth_ok(
            request.headers.get("Authorization"), self._credentials
        ):
            return unauthorised()
        return web.Response(body=self._metrics.render(), headers={"Content-Type": EXPOSITION_TYPE})


def _unavailable(message: str) -> web.Response:
    return web.json_response({"error": message}, status=503, headers={"Retry-After": "5"})


def _too_large(limit: int) -> web.Response:
    return web.json_response({"error": f"the body is longer than {limit} bytes"}, status=413)


async def _plain_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = "contactmon"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
