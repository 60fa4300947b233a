"""The overview's routes on the worker's web server: the page, its fragment, its two assets, the
same basic auth as /metrics, and headers that allow nothing from elsewhere."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from streams.core.config import load_norms
from streams.live.web import MetricsServer
from streams.overview.command import for_worker
from streams.overview.figures import Catalogue
from streams.overview.sources import ChartRenderer, OverviewService, WorkerSource
from tests.unit.test_live_web import EXPOSITION, PASSWORD, basic, settings

EXPOSITION_V2 = (
    b"# TYPE contact_norm_target_ratio gauge\n"
    b'contact_norm_target_ratio{municipality="heiloo",norm="melding-reactie"} 0.9\n'
    b'contact_norm_overdue_items{municipality="heiloo",norm="melding-reactie",'
    b'segment="inwoner"} 4.0\n'
    b'contact_norm_compliance_ratio{municipality="heiloo",norm="melding-reactie",segment="",'
    b'window="1d"} 0.25\n'
)


def service(text: bytes = EXPOSITION_V2) -> OverviewService:
    catalogue = Catalogue.of(load_norms())
    return OverviewService(
        WorkerSource(lambda: text, catalogue),
        catalogue,
        "Europe/Amsterdam",
        scope=lambda _o: "een test",
        charts=ChartRenderer(),
    )


def serving(
    server: MetricsServer, check: Callable[[aiohttp.ClientSession, str], Awaitable[None]]
) -> None:
    async def run() -> None:
        await server.start()
        try:
            async with aiohttp.ClientSession(
                auto_decompress=False, headers={"Accept-Encoding": "identity"}
            ) as session:
                await check(session, server.url.removesuffix("/metrics"))
        finally:
            await server.stop()

    asyncio.run(run())


class TestRoutes:
    def test_the_page_its_fragment_and_assets(self) -> None:
        server = MetricsServer(settings(), lambda: EXPOSITION_V2, service())
        assert server.overview_url.endswith("/overzicht")

        async def check(session: aiohttp.ClientSession, base: str) -> None:
            async with session.get(f"{base}/", allow_redirects=False) as r:
                assert r.status == 302
                assert r.headers["Location"] == "/overzicht"
            async with session.get(f"{base}/overzicht") as r:
                assert r.status == 200
                assert r.headers["Content-Type"] == "text/html; charset=utf-8"
                csp = r.headers["Content-Security-Policy"]
                assert "default-src 'none'" in csp
                assert "script-src 'self'" in csp
                assert r.headers["X-Frame-Options"] == "DENY"
                assert r.headers["Cache-Control"] == "no-store"
                page = (await r.read()).decode()
            assert '<html lang="nl">' in page
            assert "Heiloo" in page
            assert 'id="heiloo--melding-reactie--overdue" data-value="4.0"' in page
            assert 'id="heiloo--melding-reactie--compliance-1d" data-value="0.25"' in page
            assert "onder doel" in page
            assert "http://" not in page.replace(base, "")  # nothing from elsewhere
            assert "<script>" not in page  # only the served script
            async with session.get(f"{base}/overzicht/inhoud") as r:
                assert r.status == 200
                etag = r.headers["ETag"]
                fragment = (await r.read()).decode()
            assert fragment.strip() in page
            async with session.get(
                f"{base}/overzicht/inhoud", headers={"If-None-Match": etag}
            ) as r:
                assert r.status == 304
            async with session.get(f"{base}/overzicht", headers={"Accept-Encoding": "gzip"}) as r:
                assert r.headers["Content-Encoding"] == "gzip"
                assert gzip.decompress(await r.read()).decode() == page
            for asset, kind in (("overzicht.css", "text/css"), ("overzicht.js", "text/javascript")):
                async with session.get(f"{base}/overzicht/{asset}") as r:
                    assert r.status == 200
                    assert r.headers["Content-Type"].startswith(kind)
                    assert f"/overzicht/{asset}?v=" in page
            async with session.get(f"{base}/metrics") as r:
                assert await r.read() == EXPOSITION_V2
            async with session.post(f"{base}/overzicht") as r:
                assert r.status == 405

        serving(server, check)

    def test_without_metrics_only_the_page_and_health(self) -> None:
        server = MetricsServer(settings(), None, service())

        async def check(session: aiohttp.ClientSession, base: str) -> None:
            async with session.get(f"{base}/metrics") as r:
                assert r.status == 404
            async with session.get(f"{base}/healthz") as r:
                assert r.status == 200
            async with session.get(f"{base}/overzicht") as r:
                assert r.status == 200

        serving(server, check)

    def test_the_worker_page_of_a_worker_without_partitions(self) -> None:
        server = MetricsServer(
            settings(), lambda: EXPOSITION, for_worker(lambda: EXPOSITION, load_norms())
        )

        async def check(session: aiohttp.ClientSession, base: str) -> None:
            async with session.get(f"{base}/overzicht") as r:
                page = (await r.read()).decode()
            assert "Deze worker verwerkt nu geen gemeente" in page
            assert "Geen cijfers" in page

        serving(server, check)


class TestBasicAuth:
    @pytest.mark.parametrize(
        "path",
        ["/overzicht", "/overzicht/inhoud", "/overzicht/overzicht.css", "/overzicht/overzicht.js"],
    )
    def test_the_page_asks_for_the_metrics_password(self, path: str) -> None:
        server = MetricsServer(
            settings(metrics_username="prometheus", metrics_password=PASSWORD),
            lambda: EXPOSITION_V2,
            service(),
        )

        async def check(session: aiohttp.ClientSession, base: str) -> None:
            async with session.get(f"{base}{path}") as r:
                assert r.status == 401
                assert r.headers["WWW-Authenticate"].startswith("Basic ")
                assert b"heiloo" not in await r.read()
            async with session.get(f"{base}{path}", headers=basic("prometheus", "wrong")) as r:
                assert r.status == 401
            async with session.get(f"{base}{path}", headers=basic("prometheus", PASSWORD)) as r:
                assert r.status == 200
            async with session.get(f"{base}/healthz") as r:
                assert r.status == 200

        serving(server, check)
