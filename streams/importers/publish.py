"""``contactmon publish FILE...``: contract events from JSON Lines files (or stdin) to Kafka.

How history gets into ``contact.events`` before a worker ``--rebuild``. Each line is checked with
the monitor's own decoder (`events.decode.Decoder`, the configured municipalities and calendar):
a line the worker would reject goes to ``--rejects`` with its reason and is not sent; every
other line is sent unchanged (acks=all), keyed by its municipality, at most ``--rate`` per second.
Sending a file twice sends its events twice: the worker counts the second copies as duplicates
(same ``id`` and ``source``) and changes no figure.

Files are read line by line (bounded memory whatever their size); a line longer than
``--max-event-bytes`` is rejected as too large without being held whole. Exit codes: 0 done (also
with rejected lines: they are in the rejects file and counted in the summary), 1 Kafka failed,
2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import structlog

from events.decode import DEFAULT_MAX_EVENT_BYTES, Rejection
from streams.importers.output import (
    EXIT_USAGE,
    Rejects,
    Tally,
    add_kafka_arguments,
)

log = structlog.get_logger(__name__)

__all__ = ["add_arguments", "jsonl_lines", "run"]

PROGRESS_EVERY = 1_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``contactmon publish`` to ``parser``."""
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        metavar="FILE",
        help="JSON Lines files of contract events, one per line ('-' or none: stdin)",
    )
    parser.add_argument(
        "--rejects",
        type=Path,
        metavar="PATH",
        help="write the lines that are not sent, with their reason, as JSON Lines",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check every line and print the summary; send nothing",
    )
    parser.add_argument(
        "--norms",
        type=Path,
        default=os.environ.get("CONTACTMON_NORMS_FILE"),
        help="norms YAML: the municipalities and calendar the lines are checked against "
        "(default: the shipped norms; env CONTACTMON_NORMS_FILE)",
    )
    parser.add_argument(
        "--max-event-bytes",
        type=int,
        default=DEFAULT_MAX_EVENT_BYTES,
        metavar="BYTES",
        help="longer lines are rejected as too_large (default 1 MiB)",
    )
    add_kafka_arguments(parser)


def jsonl_lines(
    paths: Sequence[Path], max_bytes: int, position: list[int]
) -> Iterator[tuple[bytes, str]]:
    """Non-empty lines of the files with where they are (``file:line``); ``position[0]`` holds
    the bytes read so far. A line longer than ``max_bytes`` is yielded as its first
    ``max_bytes + 1`` bytes (the decoder rejects it as too large) and the rest skipped."""
    for path in paths:
        name = "stdin" if str(path) == "-" else str(path)
        stream = (
            os.fdopen(sys.stdin.fileno(), "rb", closefd=False)
            if name == "stdin"
            else path.open("rb")
        )
        with stream as f:
            number = 0
            while line := f.readline(max_bytes + 1):
                number += 1
                position[0] += len(line)
                if len(line) > max_bytes and not line.endswith(b"\n"):
                    while (rest := f.readline(1 << 16)) and not rest.endswith(b"\n"):
                        position[0] += len(rest)
                    position[0] += len(rest)
                    yield line, f"{name}:{number}"
                    continue
                stripped = line.strip()
                if stripped:
                    yield stripped, f"{name}:{number}"


def run(args: argparse.Namespace) -> int:
    """Check the lines and send the good ones; returns the exit code."""
    from streams.core.config import load_norms  # noqa: PLC0415
    from streams.importers.output import KafkaFailed, kafka_settings, send  # noqa: PLC0415
    from streams.progress import Progress  # noqa: PLC0415

    files: list[Path] = args.files or [Path("-")]
    missing = [str(f) for f in files if str(f) != "-" and not f.is_file()]
    if missing:
        print(f"contactmon publish: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    if args.max_event_bytes < 1024:
        print("contactmon publish: --max-event-bytes must be at least 1024", file=sys.stderr)
        return EXIT_USAGE
    settings = None
    if not args.dry_run:
        settings = kafka_settings("publish", args.bootstrap_servers)
        if settings is None:
            return EXIT_USAGE
    config = load_norms(args.norms)
    from events.decode import Decoder  # noqa: PLC0415

    decoder = Decoder(
        config.slugs,
        time_span=config.calendar.supported_span(),
        max_bytes=args.max_event_bytes,
    )
    tally = Tally()
    rejects = Rejects(args.rejects)
    stdin = any(str(f) == "-" for f in files)
    progress = Progress(
        "publish", total=None if stdin else sum(f.stat().st_size for f in files), unit="B"
    )
    position = [0]

    def good_lines() -> Iterator[bytes]:
        now = time.time()
        for raw, where in jsonl_lines(files, args.max_event_bytes, position):
            tally.rows += 1
            if tally.rows % PROGRESS_EVERY == 0:
                now = time.time()
                progress.to(position[0], f"{tally.rows:,} lines")
            verdict = decoder.decode(raw, now)
            if isinstance(verdict, Rejection):
                tally.rejects[verdict.reason.value] += 1
                rejects.add(
                    verdict.reason.value,
                    verdict.field,
                    verdict.detail,
                    where=where,
                    raw=verdict.raw,
                )
                continue
            tally.events[verdict.type] += 1
            yield raw
        progress.to(position[0], f"{tally.rows:,} lines")

    try:
        with progress:
            if settings is None:
                for _ in good_lines():
                    pass
                print(tally.summary("contactmon publish --dry-run", "lines"), file=sys.stderr)
                return 0
            try:
                send(good_lines(), settings, rate=args.rate, ensure=args.ensure_topics)
            except KafkaFailed as error:
                print(f"contactmon publish: {error}", file=sys.stderr)
                return error.code
    finally:
        rejects.close()
    target = f"sent to topic {settings.events_topic} on {settings.bootstrap_servers}"
    print(tally.summary(f"contactmon publish ({target})", "lines"), file=sys.stderr)
    return 0
