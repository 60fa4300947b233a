"""The Faust app of ``contactmon worker``: the application frame around the live driver.

`LiveApp` builds a Faust app whose own Kafka services (its consumer, agents, tables and producer)
are switched off by its boot strategy: reading ``contact.events`` and producing dead letters is
the `streams.live.driver.LiveDriver` service's, started and stopped with the app. Faust gives the
worker its life cycle (`faust.Worker`: signals, logging, start and a stop that the driver bounds),
and the app runs the /metrics server as a task.

``/metrics`` exposes the contract's metrics of the partitions the worker owns and may export, plus
the pipeline's health (`streams.live.health`), served by our own small server (`streams.live.web`,
with optional TLS and basic auth), which serves the overview page (``/overzicht``) from the same
exposition. Faust's web server is off, and Faust reads no environment
variable (``env={}``): it is configured from the ``CONTACTMON_*`` settings only. While the driver
captures a checkpoint in a thread, a scrape gets the contract's series as last rendered (they are
never read while a thread writes them), with fresh health series.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import faust
from faust.app.base import BootStrategy
from prometheus_client import CollectorRegistry

from streams.calendar_metrics import CalendarCollector
from streams.core.shard import Shard
from streams.exposition import CoreCollector, render
from streams.live.clients import faust_credentials
from streams.live.driver import Clients, LiveDriver
from streams.live.health import HealthCollector
from streams.live.runtime import LiveRuntime
from streams.live.settings import WorkerSettings
from streams.live.store_thread import StoreThread
from streams.live.web import MetricsServer
from streams.overview.command import for_worker


class LiveApp:
    """The Faust app, the driver, the metrics registries and the /metrics server of a worker.

    Binds the /metrics address at once: `streams.live.web.WebError` when it cannot (port in use,
    unusable TLS files).
    """

    def __init__(
        self,
        settings: WorkerSettings,
        runtime: LiveRuntime,
        store: StoreThread,
        *,
        clients: Clients | None = None,
        partitions: Callable[[], None] | None = None,
        serve: bool = True,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.faust = faust.App(
            settings.group_id,
            broker=[f"kafka://{server}" for server in settings.servers],
            broker_credentials=faust_credentials(settings),
            store="memory://",
            web_enabled=False,  # /metrics and /healthz: MetricsServer below; no /router, /table
            debug=False,
            env={},  # Faust's generic variables (WEB_BIND, BROKER_URL, APP_DEBUG, ...) are ignored
            datadir=str(settings.data_dir),
            autodiscover=False,
        )
        # Faust's consumer, producer, agents and tables stay off: the driver owns the clients.
        # Its sensors only measure Faust's own streams, which this app has none of.
        self.faust.boot_strategy = BootStrategy(
            self.faust, enable_kafka=False, enable_web=False, enable_sensors=False
        )
        self.driver = LiveDriver(
            runtime, settings, store, clients=clients, partitions=partitions, loop=None
        )
        self.faust.add_dependency(self.driver)

        wall = runtime.wall_clock
        self.core_registry = CollectorRegistry(auto_describe=False)
        self.core_registry.register(
            CoreCollector(
                self.exported_shards,
                self.exported_rejections,
                now=lambda: time.time() if wall else None,
            )
        )
        # The norms calendar for the alert rules (working day today, working-day windows).
        self.core_registry.register(CalendarCollector(runtime.config.calendar))
        self.health_registry = CollectorRegistry(auto_describe=False)
        self.health_registry.register(HealthCollector(runtime, self.driver.lag, self.driver.health))
        self._core_text = b""
        self.metrics: MetricsServer | None = None
        if serve:
            # the overview page (/overzicht) reads the same exposition as /metrics
            overview = for_worker(self.render, runtime.config)
            self.metrics = MetricsServer(settings, self.render, overview)
            metrics = self.metrics

            async def serve_metrics() -> None:  # started with the app, cancelled with it
                await metrics.serve()

            self.faust.task(serve_metrics)

    def exported_shards(self) -> list[Shard]:
        """The owned shards, while the worker may export them (see `streams.live.driver`)."""
        return self.runtime.owned_shards() if self.driver.membership.valid() else []

    def exported_rejections(self) -> dict[str, int]:
        return dict(self.runtime.rejected_totals()) if self.driver.membership.valid() else {}

    def render(self) -> bytes:
        """The exposition: the contract's series (as last rendered while a thread holds the
        state) and the worker's health."""
        if self.runtime.state_lock.acquire(blocking=False):
            try:
                self._core_text = render(self.core_registry)
            finally:
                self.runtime.state_lock.release()
        return self._core_text + render(self.health_registry)

    def close(self) -> None:
        """Release the /metrics socket of an app that never ran."""
        if self.metrics is not None:
            self.metrics.close()
