"""``contactmon import signalen``: poll Signalen's private API, once (cron) or every interval.

A poll lists the signals updated since the cursor, reads each one's status history (and its KTO
feedback), maps them with `sources.signalen` (configured by ``--config``,
`sources.signalen_config`: an area mapping when several municipalities share the instance, what
counts as the response, the KTO scores), checks every event with the monitor's decoder and
delivers the new ones (Kafka, or appended to the ``--out`` file). Only then is the cursor saved in
the store (``source_cursors``, name ``signalen:<municipality>``, or for a shared instance
``signalen:<name>`` from the file or ``signalen:<the API's host>``): the newest ``updated_at`` seen
and the newest status and feedback history entries sent. A restart resumes there: the signals
updated at that moment are listed again, their entries up to the cursor left out, so nothing is
missed and nothing sent twice; should a poll fail halfway, its events are sent again by the next
(the same ids: duplicates the monitor ignores).

Signalen's own category deadline (Monday to Friday, no holidays) is compared with the same number
of working days on the monitor's calendar for each new signal: the summary line says how often
they fall on different days (``deadline_disagreements``), a log line per municipality says it
again (``signalen deadlines compared``: ``rows`` compared, ``count`` disagreeing), and
``--deadlines`` appends one row per signal to a CSV file (`streams.importers.deadlines`). No
Prometheus metric: the poller serves no HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal as signals
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from streams.importers.command import Setup, UsageError
from streams.importers.output import EXIT_KAFKA, KafkaFailed, Rejects, Tally, send, write_jsonl

if TYPE_CHECKING:
    from sources.signalen import SignalenConfig, SignalenMapper
    from streams.importers.deadlines import DeadlineRow
    from streams.importers.signalen_client import SignalenClient

__all__ = ["SIGNALEN", "Cursor", "poll_once", "run"]

log = structlog.get_logger(__name__)


@dataclass
class Cursor:
    """Where the next poll starts."""

    updated_after: str | None = None
    status_seen: int = 0
    feedback_seen: int = 0

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        return cls(**json.loads(text)) if text else cls()

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _add(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument(
        "--url",
        default=env("CONTACTMON_SIGNALEN_URL"),
        help="the Signalen API's base URL, e.g. https://api.meldingen.example.nl/ "
        "(env CONTACTMON_SIGNALEN_URL)",
    )
    parser.add_argument(
        "--municipality",
        metavar="SLUG",
        help="the municipality of this Signalen instance; with an area mapping in --config, the "
        "municipality of the signals it does not place",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=env("CONTACTMON_SIGNALEN_CONFIG"),
        metavar="PATH",
        help="YAML: an area mapping for an instance several municipalities share, what counts "
        "as the response, the KTO scores (see docs/importers.md; env CONTACTMON_SIGNALEN_CONFIG)",
    )
    parser.add_argument(
        "--deadlines",
        type=Path,
        metavar="PATH",
        help="append Signalen's deadline and ours for each new signal to this CSV file "
        "(pseudonymous subject, municipality, category, dates, whether they agree)",
    )
    parser.add_argument(
        "--token-url",
        default=env("CONTACTMON_SIGNALEN_TOKEN_URL"),
        help="the OIDC token endpoint for client credentials (env CONTACTMON_SIGNALEN_TOKEN_URL); "
        "the secret comes from CONTACTMON_SIGNALEN_CLIENT_SECRET only; or give a fixed token in "
        "CONTACTMON_SIGNALEN_TOKEN",
    )
    parser.add_argument(
        "--client-id",
        default=env("CONTACTMON_SIGNALEN_CLIENT_ID"),
        help="the OIDC client id (env CONTACTMON_SIGNALEN_CLIENT_ID)",
    )
    parser.add_argument(
        "--scope",
        default=env("CONTACTMON_SIGNALEN_SCOPE"),
        help="OIDC scope (env CONTACTMON_SIGNALEN_SCOPE)",
    )
    parser.add_argument(
        "--store",
        default=env("CONTACTMON_STORE_URL", "sqlite:///contactmon.sqlite3"),
        help="the store that keeps the cursor (default: CONTACTMON_STORE_URL or "
        "sqlite:///contactmon.sqlite3)",
    )
    parser.add_argument(
        "--since",
        metavar="TIME",
        help="on the first poll (no cursor yet): only signals updated from TIME (RFC 3339)",
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="poll once and exit (for cron)")
    when.add_argument(
        "--interval",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="poll every SECONDS until stopped (default 300)",
    )
    parser.add_argument(
        "--response-from",
        choices=("status", "reply", "either"),
        help="what counts as the response: status (the first change to one of the response "
        "states; default), reply (the first status change with a text for the reporter), "
        "either (whichever comes first); overrides --config",
    )
    parser.add_argument(
        "--response-states",
        nargs="+",
        metavar="STATE",
        help="Signalen states that count as the response (default: b ingepland "
        "'reaction requested' 'forward to external'); overrides --config",
    )
    parser.add_argument("--page-size", type=int, default=100, help="signals per page")


SIGNALEN = (
    "poll Signalen's API (signals and their status history) → item and feedback events",
    "Poll Signalen's private API (/signals/v1/private/signals/?updated_after=… and each "
    "signal's history) with an OAuth client-credentials token, map status changes to item "
    "events, keep a durable cursor in the store, and compare Signalen's deadlines with ours.",
    _add,
)


async def poll_once(
    client: SignalenClient,
    mapper: SignalenMapper,
    cursor: Cursor,
    tally: Tally,
    rejects: Rejects,
    calendar: Any,
    deadlines: list[DeadlineRow] | None = None,
) -> tuple[list[tuple[str, Any]], Cursor]:
    """One poll: the mapped records (``signal <id>``, events) and the cursor after them; each
    new signal's deadline comparison counted in ``tally`` and added to ``deadlines``."""
    from sources.records import Reject  # noqa: PLC0415
    from sources.signalen import compare_deadlines, history_number  # noqa: PLC0415
    from streams.importers.deadlines import DeadlineRow  # noqa: PLC0415

    records: list[tuple[str, Any]] = []
    after = Cursor(**asdict(cursor))
    async for signal in client.signals(cursor.updated_after):
        tally.notes["signals_listed"] = tally.notes.get("signals_listed", 0) + 1
        status = await client.history(signal, "UPDATE_STATUS")
        feedback = await client.history(signal, "RECEIVE_FEEDBACK")
        mapped = mapper.events(signal, [*status, *feedback])
        stamp = signal.updated_at.isoformat()
        if after.updated_after is None or signal.updated_at.timestamp() > _epoch(
            after.updated_after
        ):
            after.updated_after = stamp
        numbers = [history_number(e) for e in status]
        fb_numbers = [history_number(e) for e in feedback]
        after.status_seen = max([after.status_seen, *numbers])
        after.feedback_seen = max([after.feedback_seen, *fb_numbers])
        where = f"signal {signal.id}"
        if isinstance(mapped, Reject):
            records.append((where, mapped))
            continue
        new_opening = min(numbers) > cursor.status_seen if numbers else cursor.updated_after is None
        fresh = []
        for what, number, event in mapped:
            if what == "opened":
                if new_opening:
                    fresh.append(event)
            elif number > (
                cursor.feedback_seen if what == "RECEIVE_FEEDBACK" else cursor.status_seen
            ):
                fresh.append(event)
        if fresh:
            records.append((where, fresh))
        comparison = compare_deadlines(signal, calendar) if new_opening else None
        if comparison is not None:
            tally.notes["deadlines_compared"] = tally.notes.get("deadlines_compared", 0) + 1
            if comparison.disagrees:
                key = "deadline_disagreements"
                tally.notes[key] = tally.notes.get(key, 0) + 1
            if deadlines is not None:
                opened = mapped[0][2]
                data = opened["data"]
                row = DeadlineRow(
                    opened["subject"], data["municipality"], data["category"], comparison
                )
                deadlines.append(row)
    return records, after


def _epoch(text: str) -> float:
    from datetime import datetime  # noqa: PLC0415

    return datetime.fromisoformat(text).timestamp()


def run(args: argparse.Namespace, s: Setup) -> int:
    """``contactmon import signalen``: returns the exit code."""
    from sources.signalen import SignalenMapper  # noqa: PLC0415
    from sources.signalen_config import ConfigError, load_config  # noqa: PLC0415
    from streams.importers.signalen_client import SignalenAuth  # noqa: PLC0415

    if not args.url:
        raise UsageError("give the Signalen API's URL with --url or CONTACTMON_SIGNALEN_URL")
    if args.municipality is not None and s.municipalities.of(args.municipality) is None:
        raise UsageError(f"--municipality {args.municipality!r} is not configured")
    try:
        config, name = load_config(args.config, args.municipality, s.municipalities)
        if args.response_from:
            config = replace(config, response_from=args.response_from)
        if args.response_states:
            config = replace(config, response_states=frozenset(args.response_states))
    except (ConfigError, ValueError) as error:
        raise UsageError(str(error)) from None
    auth = SignalenAuth(
        token=os.environ.get("CONTACTMON_SIGNALEN_TOKEN") or None,
        token_url=args.token_url,
        client_id=args.client_id,
        client_secret=os.environ.get("CONTACTMON_SIGNALEN_CLIENT_SECRET") or None,
        scope=args.scope,
    )
    if auth.token is None and not (auth.token_url and auth.client_id and auth.client_secret):
        raise UsageError(
            "no Signalen credentials: set CONTACTMON_SIGNALEN_TOKEN, or --token-url, --client-id "
            "and CONTACTMON_SIGNALEN_CLIENT_SECRET"
        )
    if args.deadlines is not None and not args.deadlines.resolve().parent.is_dir():
        folder = args.deadlines.resolve().parent
        raise UsageError(f"--deadlines {args.deadlines}: the directory {folder} does not exist")
    mapper = SignalenMapper(s.pseudonymiser, config, s.times)
    return asyncio.run(_loop(args, s, mapper, auth, cursor_name(name, config, args.url)))


def cursor_name(name: str | None, config: SignalenConfig, url: str) -> str:
    """The cursor's name in the store: the configuration's ``name``; else, for one
    municipality, ``signalen:<slug>``; else ``signalen:<the API's host>``."""
    from urllib.parse import urlsplit  # noqa: PLC0415

    if name:
        return f"signalen:{name}"
    if config.area_field is None and config.municipality is not None:
        return f"signalen:{config.municipality}"
    return f"signalen:{urlsplit(url).netloc or url}"


async def _loop(
    args: argparse.Namespace, s: Setup, mapper: SignalenMapper, auth: Any, name: str
) -> int:
    from streams.importers.signalen_client import SignalenClient, SignalenError  # noqa: PLC0415
    from streams.store import open_store  # noqa: PLC0415

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signals.SIGINT, signals.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    store = open_store(args.store)
    try:
        async with SignalenClient(args.url, auth, page_size=args.page_size) as client:
            while True:
                code = await _poll(args, s, client, mapper, store, name)
                if code != 0 or args.once:
                    return code
                try:
                    await asyncio.wait_for(stop.wait(), timeout=args.interval)
                    return 0
                except TimeoutError:
                    continue
    except SignalenError as error:
        print(f"contactmon import signalen: {error}", file=sys.stderr)
        return EXIT_KAFKA
    finally:
        store.close()


async def _poll(
    args: argparse.Namespace,
    s: Setup,
    client: SignalenClient,
    mapper: SignalenMapper,
    store: Any,
    name: str,
) -> int:
    from streams.importers.pipeline import checked_lines  # noqa: PLC0415

    cursor = Cursor.parse(store.load_cursor(name))
    if cursor.updated_after is None and args.since:
        cursor.updated_after = args.since
    tally = Tally()
    rejects = Rejects(args.rejects) if args.rejects else Rejects(None)
    started = time.monotonic()
    try:
        deadlines: list[DeadlineRow] = []
        records, after = await poll_once(
            client, mapper, cursor, tally, rejects, s.config.calendar, deadlines
        )
        lines = [line for _, line in checked_lines(records, s.decoder, tally, rejects)]
    finally:
        rejects.close()
    if args.dry_run:
        target = "dry run, nothing sent, cursor kept"
    elif args.to == "kafka":
        assert s.settings is not None
        try:
            await asyncio.to_thread(
                send, lines, s.settings, rate=args.rate, ensure=args.ensure_topics
            )
        except KafkaFailed as error:
            print(f"contactmon import signalen: {error}", file=sys.stderr)
            return error.code
        target = f"sent to topic {s.settings.events_topic}"
    elif args.out and args.out != "-":
        from streams.files import OWNER_ONLY  # noqa: PLC0415

        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, OWNER_ONLY)
        with os.fdopen(fd, "ab") as f:
            write_jsonl(lines, f)
        target = f"appended to {args.out}"
    else:
        write_jsonl(lines, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        target = "written to stdout"
    if not args.dry_run:
        if args.deadlines is not None and deadlines:
            from streams.importers.deadlines import append_rows  # noqa: PLC0415

            append_rows(args.deadlines, deadlines)
        store.save_cursor(name, after.dump())
    print(
        tally.summary(f"contactmon import signalen ({target})", "changed signals"), file=sys.stderr
    )
    # one line per municipality: how many new signals had a deadline and on how many of those
    # Signalen's (Monday to Friday) falls on another day than ours (working days)
    compared: dict[str, list[int]] = {}
    for row in deadlines:
        counts = compared.setdefault(row.municipality, [0, 0])
        counts[0] += 1
        counts[1] += row.comparison.disagrees
    for municipality, (rows, disagreements) in sorted(compared.items()):
        log.info(
            "signalen deadlines compared",
            municipality=municipality,
            rows=rows,
            count=disagreements,
            detail="count: signals whose Signalen deadline falls on another day than ours",
        )
    log.info(
        "signalen poll done",
        events=len(lines),
        rows=tally.notes.get("signals_listed", 0),
        seconds=round(time.monotonic() - started, 2),
    )
    return 0
