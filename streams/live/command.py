"""``contactmon worker``: the live stream processor (settings from CONTACTMON_* variables).

The settings part of ``--help`` is generated from `WorkerSettings` (`streams.live.settings_doc`).

Start-up errors a user can fix are one message on stderr and exit code 2, never a traceback and
never a secret: unusable settings, norms or store, an untrusted Kafka broker certificate, a
broker without TLS or a refused login (a wrong SASL password: `streams.live.clients.
check_brokers`), topics the broker refuses or that have too few partitions (`ensure_topics`), a
metrics port in use or unusable metrics TLS files (`streams.live.web.WebError`). A broker that
does not answer within `STARTUP_BROKER_WAIT_S` is not such an error (a restart during an outage
must not become a crash loop): the worker starts, serves /metrics with
``contact_worker_broker_connected 0``, and sets the topics up when the broker is back.

Faust is configured from the ``CONTACTMON_*`` settings only. Its generic environment variables
are ignored: the app gets ``env={}`` (`streams.live.app`), and the few that Faust reads when it is
imported (``FAUST_LOOP``, ``F_DEBUG``, ``FAUST_WEB_PORT``, ...) are removed from this process's
environment before the import (`ignore_faust_environment`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import MutableMapping
from functools import partial

import structlog

from streams.core.config import ConfigError, load_norms
from streams.live.settings import SettingsError, WorkerSettings, load_settings
from streams.live.settings_doc import help_text
from streams.logs import redact, register_settings, stdlib_logging_config
from streams.store import StoreError, open_store

log = structlog.get_logger(__name__)

EXIT_USAGE = 2
STARTUP_BROKER_WAIT_S = 10.0  # then the worker starts anyway and waits for the broker itself

# What faust and mode read from the environment when they are imported (faust/types/_env.py,
# faust/__init__.py, faust/streams.py, mode/utils/logging.py), each with both of Faust's prefixes.
_FAUST_IMPORT_NAMES = (
    "DEBUG",
    "WORKDIR",
    "DATADIR",
    "BLOCKING_TIMEOUT",
    "FORCE_BLOCKING_TIMEOUT",
    "CONSOLE_PORT",
    "STRICT",
    "WEB_PORT",
    "F_WEB_BIND",
    "WEB_TRANSPORT",
    "LOOP",
)
FAUST_IMPORT_VARIABLES = frozenset(
    [f"{prefix}{name}" for prefix in ("FAUST_", "F_") for name in _FAUST_IMPORT_NAMES]
    + ["NO_CYTHON", "DEVLOG"]
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = help_text(WorkerSettings)  # generated from the model: it cannot drift
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="forget the stored checkpoints of this consumer group and rebuild the state from the "
        "start of the topic (needed after the norms' rules change)",
    )


def ignore_faust_environment(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Remove the variables Faust reads at import time; returns their names (never values)."""
    environ = os.environ if environ is None else environ
    ignored = sorted(name for name in environ if name in FAUST_IMPORT_VARIABLES)
    for name in ignored:
        del environ[name]
    return ignored


def _fail(message: object) -> int:
    print(f"contactmon worker: {redact(str(message))}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    ignored = ignore_faust_environment()
    import faust  # noqa: PLC0415  (faust is slow to import; only the worker needs it)

    from streams.live.app import LiveApp  # noqa: PLC0415
    from streams.live.clients import BrokerCheckError, check_brokers  # noqa: PLC0415
    from streams.live.driver import unreachable  # noqa: PLC0415
    from streams.live.faults import FAULT_VARIABLE, FaultInjectingMonitor  # noqa: PLC0415
    from streams.live.runtime import LiveRuntime  # noqa: PLC0415
    from streams.live.store_thread import StoreThread  # noqa: PLC0415
    from streams.live.topics import TopicError, ensure_topics, partition_for  # noqa: PLC0415
    from streams.live.web import WebError  # noqa: PLC0415

    if ignored:
        log.warning("Faust environment variables ignored", detail=",".join(ignored))
    try:
        settings = load_settings(WorkerSettings)
    except SettingsError as exc:
        return _fail(exc)
    register_settings(settings)  # every SecretStr and the store URL's password: masked in logs
    # Every store call runs in one thread (SQLite connections belong to the thread that opened
    # them; the event loop must not wait for the store): opened, used and closed there.
    store_thread = StoreThread()
    try:
        config = load_norms(settings.norms_file)
        store = store_thread.call(open_store, settings.store_url)
    except (ConfigError, StoreError) as exc:
        store_thread.shutdown()
        return _fail(exc)

    def topic_partitions(timeout: float = 30.0) -> int:
        return ensure_topics(settings, timeout=timeout)[settings.events_topic]

    app: LiveApp | None = None
    try:
        if args.rebuild:
            removed = store_thread.call(
                store.delete_checkpoints, settings.group_id, settings.events_topic
            )
            log.info("checkpoints deleted: state is rebuilt from the topic", count=removed)
        check_brokers(settings)
        try:
            partitions: int | None = topic_partitions(STARTUP_BROKER_WAIT_S)
        except TopicError as exc:
            if not unreachable(exc):
                raise
            # Not a configuration error: the broker is away (a restart, an outage). The worker
            # starts, says so on /metrics, and sets the topics up when the broker is back.
            log.warning("Kafka brokers unreachable at start-up; waiting for them", detail=str(exc))
            partitions = None
        fault = os.environ.get(FAULT_VARIABLE)
        monitor = None
        if fault:
            log.warning("test-only fault injection is on", detail=FAULT_VARIABLE)
            monitor = FaultInjectingMonitor(
                config,
                fault,
                lateness=settings.lateness,
                track_changes=True,
                dedupe_horizon=settings.dedupe_days * 86_400.0,
                max_event_bytes=settings.max_event_bytes,
            )
        runtime = LiveRuntime(
            config,
            store,
            group=settings.group_id,
            topic=settings.events_topic,
            partition_of=partial(partition_for, partitions=partitions) if partitions else None,
            lateness=settings.lateness,
            dedupe_horizon=settings.dedupe_days * 86_400.0,
            max_event_bytes=settings.max_event_bytes,
            store_retention=settings.store_retention_days * 86_400.0,
            wall_clock=settings.clock == "wall",
            checkpoint_every=settings.checkpoint_every,
            monitor=monitor,
        )

        def late_partitions() -> None:
            partitions = topic_partitions(STARTUP_BROKER_WAIT_S)
            runtime.set_partitioner(partial(partition_for, partitions=partitions))

        app = LiveApp(
            settings, runtime, store_thread, partitions=None if partitions else late_partitions
        )
    except (BrokerCheckError, TopicError, WebError, StoreError) as exc:
        store_thread.call(store.close)
        store_thread.shutdown()
        return _fail(exc)
    worker = faust.Worker(
        app.faust,
        loglevel=settings.log_level,
        logging_config=stdlib_logging_config(settings.log_level),
        redirect_stdouts=False,
        quiet=True,
        debug=False,  # not F_DEBUG: no block detector, no aiomonitor console
    )
    scheme = "https" if settings.metrics_tls else "http"
    log.info(
        "worker starting",
        path=f"{scheme}://{settings.metrics_host}:{settings.metrics_port}/metrics",
        store=redact(settings.store_url),
    )
    try:
        worker.execute_from_commandline()
    finally:
        store_thread.call(store.close)
        store_thread.shutdown()
    return 0
