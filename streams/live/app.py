"""The Faust app of ``contactmon worker``: a thin adapter from Kafka to :class:`LiveRuntime`.

One agent (concurrency 1: Faust can commit past unprocessed messages otherwise) reads the raw bytes
of ``contact.events`` and hands (partition, offset, bytes) to the runtime; rejected events go to
the dead-letter topic with their reason in the headers. Two timers sweep deadlines on the wall
clock (only partitions whose consumer has caught up) and write checkpoints. Rebalance signals
restore and release partitions; ``/metrics`` exposes the contract's metrics of the owned partitions
plus the pipeline's health, served by our own small server (`streams.live.web`, with optional TLS
and basic auth). Faust's web server is off, and Faust reads no environment variable (``env={}``):
it is configured from the ``CONTACTMON_*`` settings only.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import faust
import structlog
from faust.types import TP
from prometheus_client import CollectorRegistry

from events.decode import Rejection
from streams.calendar_metrics import CalendarCollector
from streams.exposition import CoreCollector, render
from streams.live.clients import faust_credentials
from streams.live.health import HealthCollector
from streams.live.runtime import LiveRuntime, OffsetGap
from streams.live.settings import WorkerSettings
from streams.live.web import MetricsServer
from streams.logs import RejectionLog
from streams.overview.command import for_worker

log = structlog.get_logger(__name__)


def create_app(settings: WorkerSettings, runtime: LiveRuntime) -> faust.App:
    """The Faust app, wired to ``runtime``.

    Binds the /metrics address at once: `streams.live.web.WebError` when it cannot (port in use,
    unusable TLS files).
    """
    app = faust.App(
        settings.group_id,
        broker=[f"kafka://{server}" for server in settings.servers],
        broker_credentials=faust_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=False,  # topics are created by streams.live.topics
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 3),
        broker_commit_interval=1.0,
        web_enabled=False,  # /metrics and /healthz: MetricsServer below; no /router, /table, /graph
        debug=False,
        env={},  # Faust's generic variables (WEB_BIND, BROKER_URL, APP_DEBUG, ...) are ignored
        datadir=str(settings.data_dir),
        autodiscover=False,
    )
    events_topic = app.topic(settings.events_topic, partitions=settings.partitions, internal=False)
    dlq_topic = app.topic(settings.dlq_topic, partitions=settings.partitions, internal=False)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        CoreCollector(
            runtime.owned_shards,
            runtime.rejected_totals,
            now=lambda: time.time() if runtime.wall_clock else None,
        )
    )

    def lag(partition: int) -> int | None:
        return _lag(app, settings.events_topic, runtime, partition)

    registry.register(HealthCollector(runtime, lag))
    # The norms calendar for the alert rules (working day today, working-day windows): issue 10.
    registry.register(CalendarCollector(runtime.config.calendar))

    rejection_log = RejectionLog(log)

    async def dead_letters(rejections: Iterable[Rejection], partition: int, offset: int) -> None:
        for r in rejections:
            headers = [
                ("reason", r.reason.value.encode()),
                ("field", (r.field or "").encode()),
                ("detail", r.detail.encode()),
                ("source.topic", settings.events_topic.encode()),
                ("source.partition", str(partition).encode()),
                ("source.offset", str(offset).encode()),
            ]
            if r.exception is not None:  # internal_error: the exception's class, never its text
                headers.append(("exception", r.exception.encode()))
            await dlq_topic.send(key=f"{partition}:{offset}".encode(), value=r.raw, headers=headers)
            rejection_log.rejected(r.reason.value, r.field, r.detail)

    # partition -> (offset, when) of the last seek back; a seek is repeated while the gap lasts,
    # since messages Faust had already fetched past the gap can move its read offset on again
    seeking: dict[int, tuple[int, float]] = {}

    @app.agent(events_topic, concurrency=1)
    async def process(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            p = message.partition
            try:
                rejections = runtime.handle(p, message.offset, event.value)
            except OffsetGap as gap:
                last = seeking.get(p)
                now = time.monotonic()
                if last is None or last[0] != gap.expected or now - last[1] > 1.0:
                    seeking[p] = (gap.expected, now)
                    log.warning("offset gap: seeking back", partition=p, offset=gap.expected)
                    await app.consumer.seek(TP(settings.events_topic, p), gap.expected)
                continue
            seeking.pop(p, None)
            if rejections:
                await dead_letters(rejections, p, message.offset)
            if runtime.due_for_checkpoint(p):
                runtime.checkpoint([p])

    @app.timer(settings.sweep_interval)
    async def sweep() -> None:
        caught_up = [p for p in runtime.owned if lag(p) == 0]
        rejections = runtime.tick(caught_up)
        if rejections:  # held events expired on the wall clock: no source offset of their own
            await dead_letters(rejections, -1, -1)

    @app.timer(settings.checkpoint_interval)
    async def checkpoint() -> None:
        runtime.checkpoint(list(runtime.owned))

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode types want a `signal` kwarg
    async def on_revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
        revoked: set[TP] = args[0] if args else kwargs.get("revoked", set())
        mine = [tp.partition for tp in revoked if tp.topic == settings.events_topic]
        runtime.release(mine)
        log.info("partitions released", count=len(mine))

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        assignment = [tp for tp in app.consumer.assignment() if tp.topic == settings.events_topic]
        offsets = runtime.restore(tp.partition for tp in assignment)
        # Faust seeks to the committed offsets right after this signal: commit the checkpoints'
        # offsets first, so the consumer resumes exactly where the restored state ends.
        if offsets:
            consumer: Any = app.consumer  # explicit offsets: Faust has no public API for it
            committed = await consumer._commit(
                {TP(settings.events_topic, p): offset for p, offset in offsets.items()}
            )
            if not committed:  # a new rebalance raced it; a gap, if any, is closed by seeking
                log.warning("commit of the restored offsets did not take", count=len(offsets))
        log.info("partitions assigned", count=len(offsets))

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def on_shutdown(sender: Any, *args: Any, **kwargs: Any) -> None:
        runtime.release(list(runtime.owned))

    # the overview page (/overzicht) reads the same exposition as /metrics
    metrics = MetricsServer(
        settings,
        lambda: render(registry),
        for_worker(lambda: render(registry), runtime.config),
    )

    @app.task
    async def serve_metrics() -> None:  # started with the app; cancelled, and so stopped, with it
        await metrics.serve()

    return app


def _lag(app: faust.App, topic: str, runtime: LiveRuntime, partition: int) -> int | None:
    """Messages in an owned partition not yet processed here (None before the first fetch)."""
    try:
        highwater = app.consumer.highwater(TP(topic, partition))
    except Exception:
        return None
    if highwater is None or highwater < 0 or partition not in runtime.next_offset:
        return None
    return max(0, highwater - runtime.next_offset[partition])
