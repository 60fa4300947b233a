"""The two ways to serve the overview: inside a worker, and ``contactmon overview`` for a cluster.

`for_worker` is what `streams.live.app` hands the worker's metrics server: a page of the
municipalities this worker exports, read from its own ``/metrics`` exposition. ``contactmon
overview --prometheus URL [--alertmanager URL]`` (`add_arguments`, `run`) serves the same page for
every municipality from Prometheus, with the firing alerts from Alertmanager: one process for a
cluster of workers. It listens on ``--host``/``--port`` (127.0.0.1:6067) and takes TLS and basic
auth from the same ``CONTACTMON_METRICS_*`` settings as the worker's ``/metrics``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from streams.core.config import MonitorConfig, load_norms

if TYPE_CHECKING:  # the page's modules load when a page is served, not for `contactmon --help`
    import aiohttp

    from streams.overview.figures import Overview
    from streams.overview.sources import OverviewService

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6067
EXIT_USAGE = 2


def for_worker(render: Callable[[], bytes], config: MonitorConfig) -> OverviewService:
    """The overview of a worker: its own exposition, its ring of samples, charts in a process."""
    from streams.overview.figures import Catalogue  # noqa: PLC0415
    from streams.overview.sources import (  # noqa: PLC0415
        OverviewService,
        ProcessChartRenderer,
        WorkerSource,
    )

    catalogue = Catalogue.of(config)

    def scope(overview: Overview) -> str:
        if not overview.places:
            return (
                "Deze worker verwerkt nu geen gemeente (nog geen partities toegewezen, of een "
                "andere worker doet het werk). Alle gemeenten samen: contactmon overview."
            )
        names = ", ".join(p.name for p in overview.places)
        return (
            f"Deze worker: de gemeenten die hij nu verwerkt ({names}). Alle gemeenten samen, met "
            "de alerts: contactmon overview."
        )

    return OverviewService(
        WorkerSource(render, catalogue),
        catalogue,
        config.calendar.timezone,
        scope=scope,
        charts=ProcessChartRenderer(),
        ttl=1.0,
    )


def for_cluster(
    prometheus: str, alertmanager: str | None, config: MonitorConfig, refresh: int = 10
) -> OverviewService:
    """The overview of every municipality, from Prometheus (and Alertmanager)."""
    import aiohttp  # noqa: PLC0415

    from streams.overview.figures import Catalogue  # noqa: PLC0415
    from streams.overview.sources import (  # noqa: PLC0415
        AlertmanagerSource,
        ChartRenderer,
        OverviewService,
        PrometheusSource,
    )

    catalogue = Catalogue.of(config)
    holder: dict[str, aiohttp.ClientSession] = {}

    def session() -> aiohttp.ClientSession:
        if "s" not in holder or holder["s"].closed:
            holder["s"] = aiohttp.ClientSession()
        return holder["s"]

    async def close() -> None:
        if "s" in holder:
            await holder.pop("s").close()

    source = PrometheusSource(prometheus, session)
    alerts = AlertmanagerSource(alertmanager, session) if alertmanager else None

    def scope(_overview: Overview) -> str:
        text = f"Alle gemeenten, uit Prometheus ({source.url})"
        if alerts is not None:
            text += f"; alerts uit Alertmanager ({alerts.url})"
        return text + "."

    return OverviewService(
        source,
        catalogue,
        config.calendar.timezone,
        scope=scope,
        alerts=alerts,
        charts=ChartRenderer(),
        ttl=min(5.0, float(refresh)),
        refresh=refresh,
        expect_all=True,
        on_stop=close,
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--prometheus",
        required=True,
        metavar="URL",
        help="the Prometheus that scrapes the workers, e.g. http://127.0.0.1:9090",
    )
    p.add_argument(
        "--alertmanager",
        metavar="URL",
        help="the Alertmanager whose firing alerts the page lists, e.g. http://127.0.0.1:9093",
    )
    p.add_argument(
        "--norms",
        type=Path,
        help="the norms file, for the names of municipalities and norms (default: the shipped "
        "one, or CONTACTMON_NORMS_FILE)",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to serve on ({DEFAULT_HOST})")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to serve on ({DEFAULT_PORT})"
    )
    p.add_argument(
        "--refresh",
        type=int,
        default=10,
        metavar="SECONDS",
        help="how often the page fetches new figures (default 10)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve the cluster overview until SIGINT or SIGTERM."""
    from streams.live.settings import SettingsError, WorkerSettings, load_settings  # noqa: PLC0415
    from streams.live.web import MetricsServer, WebError  # noqa: PLC0415
    from streams.logs import register_settings  # noqa: PLC0415

    for option, url in (("--prometheus", args.prometheus), ("--alertmanager", args.alertmanager)):
        if url is not None and not url.startswith(("http://", "https://")):
            print(f"contactmon overview: {option} must be an http(s) URL", file=sys.stderr)
            return EXIT_USAGE
    if args.refresh < 1:
        print("contactmon overview: --refresh must be at least 1 second", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = load_settings(
            WorkerSettings, overrides={"metrics_host": args.host, "metrics_port": args.port}
        )
    except SettingsError as exc:
        print(f"contactmon overview: invalid settings:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    register_settings(settings)
    config = load_norms(args.norms or settings.norms_file)
    service = for_cluster(args.prometheus, args.alertmanager, config, args.refresh)
    try:
        server = MetricsServer(settings, None, service)
    except WebError as exc:
        print(f"contactmon overview: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"contactmon overview: {server.overview_url}", flush=True)
    asyncio.run(_serve(server))
    return 0


async def _serve(server: object) -> None:
    from streams.live.web import MetricsServer  # noqa: PLC0415

    assert isinstance(server, MetricsServer)
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(server.serve())
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
