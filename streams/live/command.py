"""``contactmon worker``: the live stream processor (settings from CONTACTMON_* variables).

The settings part of ``--help`` is generated from `WorkerSettings` (`streams.live.settings_doc`).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

import structlog

from streams.core.config import ConfigError, load_norms
from streams.live.settings import SettingsError, WorkerSettings, load_settings
from streams.live.settings_doc import help_text
from streams.logs import stdlib_logging_config
from streams.store import StoreError, open_store

log = structlog.get_logger(__name__)

EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = help_text(WorkerSettings)  # generated from the model: it cannot drift
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="forget the stored checkpoints of this consumer group and rebuild the state from the "
        "start of the topic (needed after the norms' rules change)",
    )


def run(args: argparse.Namespace) -> int:
    import faust  # noqa: PLC0415  (faust is slow to import; only the worker needs it)

    from streams.live.app import create_app  # noqa: PLC0415
    from streams.live.runtime import LiveRuntime  # noqa: PLC0415
    from streams.live.topics import TopicError, ensure_topics, partition_for  # noqa: PLC0415

    try:
        settings = load_settings(WorkerSettings)
    except SettingsError as exc:
        print(f"contactmon worker: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load_norms(settings.norms_file)
        store = open_store(settings.store_url)
    except (ConfigError, StoreError) as exc:
        print(f"contactmon worker: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.rebuild:
        removed = store.delete_checkpoints(settings.group_id, settings.events_topic)
        log.info("checkpoints deleted: state is rebuilt from the topic", count=removed)
    try:
        partitions = ensure_topics(settings)[settings.events_topic]
    except TopicError as exc:
        print(f"contactmon worker: {exc}", file=sys.stderr)
        return EXIT_USAGE
    runtime = LiveRuntime(
        config,
        store,
        group=settings.group_id,
        topic=settings.events_topic,
        partition_of=partial(partition_for, partitions=partitions),
        lateness=settings.lateness,
        dedupe_horizon=settings.dedupe_days * 86_400.0,
        max_event_bytes=settings.max_event_bytes,
        store_retention=settings.store_retention_days * 86_400.0,
        wall_clock=settings.clock == "wall",
        checkpoint_every=settings.checkpoint_every,
    )
    app = create_app(settings, runtime)
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        logging_config=stdlib_logging_config(settings.log_level),
        redirect_stdouts=False,
        quiet=True,
    )
    log.info(
        "worker starting",
        path=f"http://{settings.metrics_host}:{settings.metrics_port}/metrics",
        store=_redacted(settings.store_url),
    )
    try:
        worker.execute_from_commandline()
    finally:
        store.close()
    return 0


def _redacted(url: str) -> str:
    """A store URL without its password, for the log."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url
