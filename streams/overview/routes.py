"""The overview's routes on the metrics server (`streams.live.web.MetricsServer`).

``/`` redirects to ``/overzicht``; ``/overzicht`` is the whole page, ``/overzicht/inhoud`` the
fragment the refresh script swaps in (with an ETag: an unchanged fragment is a 304), and
``/overzicht/overzicht.css`` and ``.js`` are the page's only other resources. Every route asks for
the same basic auth as ``/metrics`` when it is configured. The page is never cached and may not be
framed; its Content-Security-Policy allows only the process's own script and style sheet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from streams.overview import assets
from streams.overview.page import CSP, FRAGMENT_PATH, PATH, SCRIPT_PATH, STYLE_PATH
from streams.overview.sources import OverviewService

HTML = "text/html; charset=utf-8"
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def add(
    app: web.Application,
    service: OverviewService,
    authorised: Callable[[web.Request], bool],
) -> None:
    """Add the overview's routes to ``app``."""
    from streams.live.web import unauthorised  # noqa: PLC0415  (web imports this module lazily)

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PATH)

    async def page(request: web.Request) -> web.StreamResponse:
        if not authorised(request):
            return unauthorised()
        rendered = await service.rendered()
        return _html(request, rendered.page, rendered.page_gzip, PAGE_HEADERS)

    async def fragment(request: web.Request) -> web.StreamResponse:
        if not authorised(request):
            return unauthorised()
        rendered = await service.rendered()
        headers = {"ETag": rendered.etag, **PAGE_HEADERS}
        if request.headers.get("If-None-Match") == rendered.etag:
            return web.Response(status=304, headers=headers)
        return _html(request, rendered.fragment, rendered.fragment_gzip, headers)

    def asset(
        body: str, content_type: str
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        data = body.encode()

        async def serve(request: web.Request) -> web.StreamResponse:
            if not authorised(request):
                return unauthorised()
            return web.Response(
                body=data,
                headers={"Content-Type": content_type, "Cache-Control": "private, max-age=86400"},
            )

        return serve

    app.router.add_get("/", root)
    app.router.add_get(PATH, page)
    app.router.add_get(FRAGMENT_PATH, fragment)
    app.router.add_get(STYLE_PATH, asset(assets.STYLE, "text/css; charset=utf-8"))
    app.router.add_get(SCRIPT_PATH, asset(assets.SCRIPT, "text/javascript; charset=utf-8"))


def _html(
    request: web.Request, body: bytes, compressed: bytes, headers: dict[str, str]
) -> web.Response:
    """HTML, gzipped (compressed once per build) when the reader accepts it."""
    out = {"Content-Type": HTML, "Vary": "Accept-Encoding", **headers}
    if compressed and "gzip" in request.headers.get("Accept-Encoding", ""):
        return web.Response(body=compressed, headers={**out, "Content-Encoding": "gzip"})
    return web.Response(body=body, headers=out)
