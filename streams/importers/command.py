"""``contactmon import SOURCE``: the options of every importer, and what they share at start-up.

Sources: ``calls-csv`` and ``fixi-csv`` (files, `streams.importers.csv_import`) and ``signalen``
(a poller, `streams.importers.signalen_poll`). Every importer takes ``--to kafka|file``,
``--out``, ``--dry-run``, ``--rejects``, ``--norms`` and the Kafka options, and needs the
pseudonymisation key (``CONTACTMON_PSEUDONYM_KEY``): without it nothing is read.

Exit codes: 0 done (rejected records are in the rejects file and the summary), 1 Kafka or the
source failed, 2 a usage or configuration error (a missing column, a missing key, a bad file):
one sentence saying what to change, no traceback, and nothing produced.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from streams.importers.output import EXIT_USAGE, add_kafka_arguments

if TYPE_CHECKING:
    from events.decode import Decoder
    from sources.pseudonym import Pseudonymiser
    from sources.records import LocalTimes, Municipalities
    from streams.core.config import MonitorConfig
    from streams.live.settings import KafkaSettings

__all__ = ["Setup", "UsageError", "add_arguments", "run", "setup"]


class UsageError(ValueError):
    """Something the user can fix; the message says what (exit code 2)."""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to",
        choices=("file", "kafka"),
        default="file",
        help="file (default): JSON Lines to --out; kafka: to the events topic, keyed by "
        "municipality, acks=all (CONTACTMON_* Kafka settings)",
    )
    parser.add_argument(
        "--out", metavar="PATH", help="with --to file: the JSON Lines file ('-' or none: stdout)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="map everything and print the summary (rows read, events by type, rejects by "
        "reason); send and write no events",
    )
    parser.add_argument(
        "--rejects",
        type=Path,
        metavar="PATH",
        help="write each rejected record's place (file:line) and reason as JSON Lines",
    )
    parser.add_argument(
        "--norms",
        type=Path,
        default=os.environ.get("CONTACTMON_NORMS_FILE"),
        help="norms YAML: municipalities and calendar (default: the shipped norms; env "
        "CONTACTMON_NORMS_FILE)",
    )
    add_kafka_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``contactmon import``'s sources and their options to ``parser``."""
    from streams.importers import csv_import, signalen_command  # noqa: PLC0415

    sub = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")
    sources = (
        ("calls-csv", csv_import.CALLS),
        ("fixi-csv", csv_import.FIXI),
        ("signalen", signalen_command.SIGNALEN),
    )
    for name, module in sources:
        help_text, description, add = module
        p = sub.add_parser(name, help=help_text, description=description, epilog=KEY_EPILOG)
        _common(p)
        add(p)


KEY_EPILOG = (
    "Source ids become subjects and event ids through a keyed HMAC: set CONTACTMON_PSEUDONYM_KEY "
    "(at least 32 characters, e.g. `openssl rand -hex 32`) or CONTACTMON_PSEUDONYM_KEY_FILE (a "
    "file holding it), and keep it: a new key makes every subject new."
)


@dataclass
class Setup:
    """What every importer needs, checked before anything is read."""

    config: MonitorConfig
    pseudonymiser: Pseudonymiser
    municipalities: Municipalities
    times: LocalTimes
    decoder: Decoder
    settings: KafkaSettings | None


def setup(args: argparse.Namespace) -> Setup:
    """Load and check the configuration; raises UsageError with what to change."""
    from events.decode import Decoder  # noqa: PLC0415
    from sources.pseudonym import PseudonymKeyError, from_environment  # noqa: PLC0415
    from sources.records import LocalTimes, Municipalities  # noqa: PLC0415
    from streams.core.config import load_norms  # noqa: PLC0415
    from streams.importers.output import kafka_settings  # noqa: PLC0415

    if args.to == "kafka" and args.out is not None:
        raise UsageError("--out is for --to file; --to kafka sends to the events topic")
    if args.to == "file":
        given = [
            o
            for o, v in (
                ("--bootstrap-servers", args.bootstrap_servers),
                ("--rate", args.rate),
                ("--ensure-topics", args.ensure_topics),
            )
            if v
        ]
        if given:
            raise UsageError(f"{', '.join(given)} only with --to kafka")
    for option, path in (("--rejects", args.rejects), ("--out", args.out)):
        if path is not None and str(path) != "-":
            parent = Path(path).resolve().parent
            if not parent.is_dir():
                raise UsageError(f"{option} {path}: the directory {parent} does not exist")
    try:
        pseudonymiser = from_environment()
    except PseudonymKeyError as error:
        raise UsageError(str(error)) from None
    config = load_norms(args.norms)
    settings = None
    if args.to == "kafka" and not args.dry_run:
        settings = kafka_settings(f"import {args.source}", args.bootstrap_servers)
        if settings is None:
            raise UsageError("fix the CONTACTMON_* Kafka settings above")
    return Setup(
        config=config,
        pseudonymiser=pseudonymiser,
        municipalities=Municipalities({m.slug: m.name for m in config.municipalities}),
        times=LocalTimes(config.calendar.timezone),
        decoder=Decoder(config.slugs, time_span=config.calendar.supported_span()),
        settings=settings,
    )


def run(args: argparse.Namespace) -> int:
    """Run the importer ``args.source`` names; returns the exit code."""
    from streams.importers import csv_import, signalen_command  # noqa: PLC0415

    runner = {
        "calls-csv": csv_import.run_calls,
        "fixi-csv": csv_import.run_fixi,
        "signalen": signalen_command.run,
    }[args.source]
    try:
        return runner(args, setup(args))
    except UsageError as error:
        print(f"contactmon import {args.source}: {error}", file=sys.stderr)
        return EXIT_USAGE
