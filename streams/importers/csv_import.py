"""``contactmon import calls-csv`` and ``fixi-csv``: exports read row by row, mapped, delivered.

The header is checked before anything is produced: a missing column stops the import with exit
code 2 and a sentence naming the column. Then each row goes through its profile's pure mapping
(`sources.calls`, `sources.fixi`) and `streams.importers.pipeline`; the progress line shows the
bytes read of all files.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sources.records import Reject, Skip
from streams.importers.command import Setup, UsageError
from streams.importers.output import Rejects, Tally
from streams.importers.pipeline import (
    EventCheck,
    Record,
    checked_lines,
    deliver,
    in_time_order,
)
from streams.importers.tables import Table, TableError

if TYPE_CHECKING:
    from events.decode import Decoder

__all__ = ["CALLS", "FIXI", "run_calls", "run_fixi", "table_records"]

Mapped = list[dict[str, Any]] | Reject | Skip


class RowProfile(Protocol):
    def row(self, fields: list[str]) -> Mapped: ...


def _files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="the export files")
    parser.add_argument(
        "--encoding",
        metavar="NAME",
        help="the files' encoding (default: UTF-8, with or without BOM, else Windows-1252)",
    )
    parser.add_argument(
        "--delimiter", metavar="CHAR", help="the column separator (default: ; , or tab, guessed)"
    )
    parser.add_argument(
        "--municipality",
        metavar="SLUG",
        help="every record belongs to this municipality (default: read from each record)",
    )


def _reorder(parser: argparse.ArgumentParser, default: int, why: str) -> None:
    parser.add_argument(
        "--reorder",
        type=int,
        default=default,
        metavar="EVENTS",
        help=f"send events in event-time order within a window of this many events (default "
        f"{default:,}: {why}; 0: in file order)",
    )


def _add_calls(parser: argparse.ArgumentParser) -> None:
    _files(parser)
    _reorder(parser, 10_000, "a call's events lie minutes apart")
    parser.add_argument(
        "--profile",
        choices=("generic", "teams", "asterisk"),
        default="generic",
        help="generic (default): one row per call, call_id, municipality, queue, entered_at, "
        "answered_at, ended_at, outcome, wait_s, talk_s, resolved; teams: Teams call-queue "
        "history; asterisk: queue_log (timestamp|callid|queue|agent|event|params)",
    )
    parser.add_argument(
        "--channel",
        choices=("telefoon", "chat", "balie"),
        default="telefoon",
        help="the channel of the calls (default telefoon; generic: a 'channel' column wins)",
    )


CALLS = (
    "call records (generic CSV, Teams call-queue history, Asterisk queue_log) → call events",
    "Map call records to call.queued, call.answered, call.abandoned and call.ended. Agent and "
    "caller ids are never read or written; call ids become keyed pseudonyms.",
    _add_calls,
)


def _add_fixi(parser: argparse.ArgumentParser) -> None:
    _files(parser)
    _reorder(parser, 200_000, "a report's events lie weeks apart; years of reports")
    parser.add_argument(
        "--mapping",
        type=Path,
        metavar="PATH",
        help="the mapping file: column names, statuses, channels (default: the shipped "
        "sources/fixi_mapping.yaml; see docs/importers.md)",
    )


FIXI = (
    "a Fixi report export (CSV) → item events (opened, responded, closed)",
    "Map a Fixi report export to item.opened, item.responded and item.closed, with column "
    "names and statuses from a mapping file. The municipality comes from the team's name "
    "prefix or a column (several municipalities share one Fixi environment). Re-importing an "
    "overlapping export adds nothing twice.",
    _add_fixi,
)


def table_records(tables: Sequence[Table], profile: RowProfile) -> Iterator[Record]:
    """((file, line), mapped) of every row of every table, in order."""
    row = profile.row
    for table in tables:
        name = str(table.path)
        for number, fields in table.rows():
            yield (name, number), row(fields)


def _open_tables(stack: ExitStack, args: argparse.Namespace, *, has_header: bool) -> list[Table]:
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    tables = []
    for path in args.files:
        try:
            table = Table(path, encoding=args.encoding, delimiter=args.delimiter, header=has_header)
        except TableError as error:
            raise UsageError(str(error)) from None
        stack.callback(table.close)
        tables.append(table)
    return tables


def _municipality(args: argparse.Namespace, s: Setup) -> str | None:
    if args.municipality is None:
        return None
    slug = s.municipalities.of(args.municipality)
    if slug is None:
        known = ", ".join(s.config.slugs)
        raise UsageError(f"--municipality {args.municipality!r} is not configured (use {known})")
    return slug


def run_calls(args: argparse.Namespace, s: Setup) -> int:
    """``contactmon import calls-csv``."""
    from sources.calls.asterisk import AsteriskProfile  # noqa: PLC0415
    from sources.calls.common import CallMapper, MissingColumns  # noqa: PLC0415
    from sources.calls.generic import GenericProfile  # noqa: PLC0415
    from sources.calls.teams import TeamsProfile  # noqa: PLC0415

    system = {"generic": "calls", "teams": "teams", "asterisk": "asterisk"}[args.profile]
    mapper = CallMapper(
        s.pseudonymiser,
        system,
        s.municipalities,
        s.times,
        municipality=_municipality(args, s),
        channel=args.channel,
    )
    profile: GenericProfile | TeamsProfile | AsteriskProfile
    if args.profile == "asterisk":
        profile = AsteriskProfile(mapper)
        header = None
    else:
        profile = GenericProfile(mapper) if args.profile == "generic" else TeamsProfile(mapper)
        header = profile.header
    check = EventCheck(s.decoder, s.config.calendar.supported_span())
    return _run_tables(
        args,
        s,
        profile,
        header,
        has_header=header is not None,
        header_errors=(MissingColumns,),
        check=check,
    )


def run_fixi(args: argparse.Namespace, s: Setup) -> int:
    """``contactmon import fixi-csv``: every event checked with the monitor's decoder."""
    from sources.fixi import FixiMapping, FixiProfile, MappingError, MissingColumns  # noqa: PLC0415

    try:
        mapping = FixiMapping.load(args.mapping)
    except MappingError as error:
        raise UsageError(str(error)) from None
    profile = FixiProfile(
        mapping, s.pseudonymiser, s.municipalities, s.times, municipality=_municipality(args, s)
    )
    return _run_tables(
        args,
        s,
        profile,
        profile.header,
        has_header=True,
        header_errors=(MissingColumns,),
        check=s.decoder,
    )


def _run_tables(
    args: argparse.Namespace,
    s: Setup,
    profile: RowProfile,
    header: Callable[[list[str]], None] | None,
    *,
    has_header: bool,
    header_errors: tuple[type[Exception], ...],
    check: Decoder | EventCheck,
) -> int:
    from streams.progress import Progress  # noqa: PLC0415

    with ExitStack() as stack:
        tables = _open_tables(stack, args, has_header=has_header)
        if header is not None:
            for table in tables:  # every header before the first row: nothing produced yet
                try:
                    header(table.header)
                except header_errors as error:
                    raise UsageError(f"{table.path}: {error}") from None
        total = sum(t.path.stat().st_size for t in tables)
        progress = Progress(f"import {args.source}", total=total, unit="B")

        def show() -> None:
            progress.to(sum(t.position for t in tables), f"{tally.rows:,} rows")

        tally = Tally()
        rejects = Rejects(args.rejects)
        stack.callback(rejects.close)
        lines = in_time_order(
            checked_lines(table_records(tables, profile), check, tally, rejects, progress=show),
            args.reorder,
        )
        try:
            return deliver(
                f"import {args.source}",
                lines,
                tally,
                to=args.to,
                dry_run=args.dry_run,
                out=args.out,
                settings=s.settings,
                rate=args.rate,
                ensure_topics=args.ensure_topics,
                progress=progress,
            )
        except TableError as error:
            raise UsageError(str(error)) from None
