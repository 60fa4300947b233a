"""``contactmon purge``: the retention of the outcome store, on demand.

Deletes finished items and calls that began before a date (with their norm rows) and feedback
given before it, in one transaction. Items still open and calls still waiting stay. The live worker
applies the same retention by itself once a day (CONTACTMON_STORE_RETENTION_DAYS); checkpoints
hold closed items only for the in-memory retention (90 days after closing), and the topics have
their own ``retention.ms`` (PRIVACY.md has the whole picture).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from streams.store import open_store

log = structlog.get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--before",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="delete what began before this day (its start, Europe/Amsterdam)",
    )
    when.add_argument(
        "--older-than-days",
        type=int,
        metavar="DAYS",
        help="delete what began more than DAYS days ago",
    )


def cutoff(args: argparse.Namespace, today: date, timezone: str = "Europe/Amsterdam") -> float:
    """The moment before which rows go: the start of ``--before`` or of today − N days."""
    if args.before is not None:
        day: date = args.before
    else:
        if args.older_than_days < 1:
            raise ValueError("--older-than-days must be at least 1")
        day = today - timedelta(days=args.older_than_days)
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone)).timestamp()


def run(args: argparse.Namespace, store_url: str, today: date) -> int:
    try:
        before = cutoff(args, today)
    except ValueError as exc:
        print(f"contactmon purge: {exc}", file=sys.stderr)
        return 2
    with open_store(store_url, create=False) as store:
        counts = store.purge(before)
    log.info("purged", until=before, rows=counts)
    return 0
