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
- ``GET /healthz`` answers ``ok``; ``GET /metrics`` the service's own metrics
  (`streams.ingest.metrics`), which hold counts only.
- No access log (URLs and headers stay out of logs), no version banner.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Sequence

import structlog
from aiohttp import web

from streams.ingest.config import Subscription
from streams.ingest.dead_letters import Record
from streams.ingest.metrics import IngestMetrics
from streams.ingest.producer import ProduceError
from streams.ingest.service import CLOUDEVENTS, NOTIFICATIES, IngestService, Result

log = structlog.get_logger(__name__)

EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SendAll = Callable[[Sequence[Record]], Awaitable[None]]


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
    ) -> None:
        self._service = service
        self._subscriptions = tuple(subscriptions)
        self._send_all = send_all
        self._metrics = metrics
        self._max = max_body_bytes

    def application(self) -> web.Application:
        app = web.Application(client_max_size=self._max)
        app.router.add_post(CLOUDEVENTS, self._cloudevents)
        app.router.add_post(NOTIFICATIES, self._notificaties)
        app.router.add_get("/healthz", self._healthz)
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
        except ProduceError as exc:
            count.labels(route, "unavailable").inc()
            log.warning("records not acknowledged; answered 503", path=route, detail=str(exc))
            return web.json_response(
                {"error": "the broker did not acknowledge; send again"},
                status=503,
                headers={"Retry-After": "5"},
            )
        self._metrics.produce_seconds.observe(time.perf_counter() - started)
        self._count(route, result)
        return web.json_response(result.summary())

    def _count(self, route: str, result: Result) -> None:
        self._metrics.requests.labels(route, result.outcome).inc()
        for record in result.records:
            if record.headers:
                reason = dict(record.headers)["reason"].decode()
                self._metrics.dead_letters.labels(reason).inc()
            else:
                self._metrics.events.labels(record.key.decode()).inc()

    async def _healthz(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok\n")

    async def _render(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(body=self._metrics.render(), headers={"Content-Type": EXPOSITION_TYPE})


def _too_large(limit: int) -> web.Response:
    return web.json_response({"error": f"the body is longer than {limit} bytes"}, status=413)


async def _plain_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = "contactmon"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
