"""``contactmon ingest``: receive CloudEvents and ZGW / Open Klant notifications, produce events.

Start-up errors a user can fix are one message on stderr and exit code 2, never a traceback and
never a secret: unusable settings, no pseudonymisation key (``CONTACTMON_PSEUDONYM_KEY``), an
unusable norms or ingest configuration file, a subscription whose Authorization variable is not
set, unusable TLS files, a port in use, an untrusted broker certificate or a refused login, topics
the broker refuses. A broker that does not answer is not such an error (a restart during an
outage must not become a crash loop): the service serves at once, answers 503 (so the sender
retries) and /healthz "not ready" until the producer has connected (`streams.ingest.producer`).
SIGTERM or SIGINT stops it: requests under way are finished (their records acknowledged or
answered 503), then the producer is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from functools import partial
from typing import TYPE_CHECKING

import structlog

from streams.ingest.settings import IngestSettings

if TYPE_CHECKING:
    import ssl

    from events.decode import Decoder
    from sources.pseudonym import Pseudonymiser
    from streams.ingest.config import IngestConfig

log = structlog.get_logger(__name__)

EXIT_USAGE = 2
SHUTDOWN_TIMEOUT_S = 10.0
TOPICS_ATTEMPT_S = 5.0  # one attempt to set the topics up; the producer retries after it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from streams.live.settings_doc import help_text  # noqa: PLC0415

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = help_text(IngestSettings) + (
        "\nAlso: CONTACTMON_PSEUDONYM_KEY (or CONTACTMON_PSEUDONYM_KEY_FILE), the key source ids "
        "are pseudonymised with, and one variable per subscription named in the ingest "
        "configuration (authorization_env). See docs/ingest.md."
    )


def _fail(message: object) -> int:
    from streams.logs import redact  # noqa: PLC0415

    print(f"contactmon ingest: {redact(str(message))}", file=sys.stderr)
    return EXIT_USAGE


def run(_args: argparse.Namespace) -> int:
    from events.decode import Decoder  # noqa: PLC0415
    from sources.pseudonym import PseudonymKeyError, from_environment  # noqa: PLC0415
    from streams.core.config import ConfigError, load_norms  # noqa: PLC0415
    from streams.ingest.config import IngestConfig, IngestConfigError  # noqa: PLC0415
    from streams.live.clients import BrokerCheckError, check_brokers  # noqa: PLC0415
    from streams.live.settings import SettingsError, load_settings  # noqa: PLC0415
    from streams.live.topics import TopicError  # noqa: PLC0415
    from streams.live.web import WebError, tls_server_context  # noqa: PLC0415
    from streams.logs import register_secret, register_settings  # noqa: PLC0415

    try:
        settings = load_settings(IngestSettings)
    except SettingsError as exc:
        return _fail(exc)
    register_settings(settings)
    try:
        pseudonyms = from_environment()
        config = load_norms(settings.norms_file)
        ingest = IngestConfig.load(settings.ingest_config, os.environ, frozenset(config.slugs))
    except (PseudonymKeyError, ConfigError, IngestConfigError) as exc:
        return _fail(exc)
    for subscription in ingest.subscriptions:
        register_secret(subscription.authorization.decode())
    try:
        context = (
            tls_server_context(settings.ingest_certfile, settings.ingest_keyfile)
            if settings.ingest_certfile is not None
            else None
        )
        check_brokers(settings)  # a broker that does not answer is left to the producer
    except (WebError, BrokerCheckError) as exc:
        return _fail(exc)
    decoder = Decoder(config.slugs, time_span=config.calendar.supported_span())
    try:
        return asyncio.run(_serve(settings, ingest, decoder, pseudonyms, context))
    except TopicError as exc:
        return _fail(exc)
    except OSError as exc:
        return _fail(
            f"cannot serve on {settings.ingest_host}:{settings.ingest_port}: "
            f"{exc.strerror or exc} (set CONTACTMON_INGEST_PORT)"
        )


async def _serve(
    settings: IngestSettings,
    ingest: IngestConfig,
    decoder: Decoder,
    pseudonyms: Pseudonymiser,
    context: ssl.SSLContext | None,
) -> int:
    from aiohttp import web  # noqa: PLC0415

    from streams.ingest.fetch import Fetcher, client_session  # noqa: PLC0415
    from streams.ingest.metrics import IngestMetrics  # noqa: PLC0415
    from streams.ingest.producer import Producer  # noqa: PLC0415
    from streams.ingest.service import IngestService  # noqa: PLC0415
    from streams.ingest.web import IngestApp  # noqa: PLC0415
    from streams.live.topics import ensure_topics  # noqa: PLC0415

    producer = Producer(
        settings,
        settings.produce_timeout,
        prepare=partial(ensure_topics, settings, timeout=TOPICS_ATTEMPT_S),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with client_session(settings) as session:
        fetcher = Fetcher(
            settings, ingest.file.zgw.api_roots, ingest.file.openklant.api_roots, session
        )
        metrics = IngestMetrics(lambda: fetcher.attempts_failed, lambda: producer.ready)
        service = IngestService(
            ingest,
            decoder,
            pseudonyms,
            fetcher,
            events_topic=settings.events_topic,
            dlq_topic=settings.dlq_topic,
        )
        app = IngestApp(
            service,
            ingest.subscriptions,
            producer.send_all,
            metrics,
            settings.max_body_bytes,
            ready=lambda: producer.ready,
            metrics_credentials=settings.metrics_credentials,
        )
        runner = web.AppRunner(
            app.application(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        connecting: asyncio.Task[None] | None = None
        try:
            site = web.TCPSite(
                runner, settings.ingest_host, settings.ingest_port, ssl_context=context
            )
            await site.start()  # serving before Kafka: 503 and /healthz "not ready" meanwhile
            connecting = asyncio.create_task(producer.run())
            scheme = "https" if context is not None else "http"
            log.info(
                "ingest serving",
                path=f"{scheme}://{settings.ingest_host}:{settings.ingest_port}",
                count=len(ingest.subscriptions),
            )
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({stopping, connecting}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if connecting.done():
                connecting.result()  # TopicError: the broker refuses the topics (exit 2)
            log.info("ingest stopping")
        finally:
            if connecting is not None:
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
            await runner.cleanup()
            await producer.stop()
    return 0
