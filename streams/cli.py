"""``contactmon``: the command line (contract section 6).

Subcommands: ``replay`` (files through the core on event time), ``export`` (the monthly tables for
the administrative dashboard and the benchmark world), ``report`` (the monthly report for the
board, HTML and PDF, optionally mailed), ``simulate`` (realistic events), ``worker``. Every error
that a user can fix is printed as one sentence saying what to do, with exit code 2; nothing prints
a traceback for bad input or bad configuration.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import structlog

from events.decode import DEFAULT_MAX_EVENT_BYTES
from streams.core.config import ConfigError, load_norms
from streams.export.indicators import Month
from streams.logs import configure
from streams.store import DEFAULT_STORE_URL, StoreError

log = structlog.get_logger(__name__)

EXIT_USAGE = 2
EXIT_FAILED = 1  # something outside the user's input failed (e.g. the mail server)

COMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (module with `add_arguments(parser)` and `run(args) -> int`, help, description);
    # each module keeps its heavy imports inside `run`, so `contactmon --help` stays fast
    "worker": (
        "streams.live.command",
        "run the live stream processor on Kafka (settings from CONTACTMON_* variables)",
        "The live stream processor: consumes contact.events from Kafka, applies the same core "
        "as `replay`, sends bad events to the dead-letter topic, keeps checkpoints in the "
        "store and serves /metrics.",
    ),
    "overview": (
        "streams.overview.command",
        "serve the overview page of every municipality from Prometheus (and Alertmanager)",
        "The read-only overview page a team lead reads without Grafana, for every "
        "municipality: the workers' metrics from Prometheus, the firing alerts from "
        "Alertmanager. Each worker serves the same page for its own municipalities on its "
        "metrics port (/overzicht).",
    ),
    "ingest": (
        "streams.ingest.command",
        "receive CloudEvents and ZGW / Open Klant notifications over HTTP, produce them to Kafka",
        "An HTTP service for sources: POST /cloudevents takes contract events (one or an "
        "array), POST /notificaties ZGW Notificaties (Open Notificaties, Open Zaak) and Open "
        "Klant notifications, whose resources it fetches and maps to events. Answers 2xx only "
        "after Kafka acknowledged; what can never map goes to the dead-letter topic. See "
        "docs/ingest.md.",
    ),
    "norms": (
        "sources.zgw.catalogus_command",
        "norms tools: from-catalogus writes norm entries from ZaakType durations for review",
        "Norms tools. from-catalogus: norm entries from the Catalogi API's ZaakType "
        "servicenorm and doorlooptijd, written to a file for review.",
    ),
    "publish": (
        "streams.importers.publish",
        "send contract events from JSON Lines files (or stdin) to Kafka, keyed by municipality",
        "Send contract events from JSON Lines files (or stdin) to the events topic, keyed by "
        "municipality, acks=all: how history gets into Kafka before a worker --rebuild. Each "
        "line is checked as the worker would; bad lines go to --rejects with their reason. "
        "Sending a file twice only adds duplicates, which the worker ignores.",
    ),
    "import": (
        "streams.importers.command",
        "import Signalen, Fixi exports or call records as contract events (to Kafka or a file)",
        "Read a source that does not push — Signalen's API (signalen), a Fixi report export "
        "(fixi-csv), call records (calls-csv: generic, Teams call queues, Asterisk queue_log) — "
        "map it to contract events with pseudonymous subjects and deterministic ids, and send "
        "them to Kafka or write them to a JSON Lines file. See docs/importers.md.",
    ),
}


def _parse_until(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            "--until must be an RFC 3339 time with offset, e.g. 2024-07-01T00:00:00+02:00; "
            f"got {text!r}"
        ) from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"--until needs a UTC offset (e.g. +02:00 or Z), got {text!r}"
        )
    return moment.timestamp()


def _env_default(name: str, fallback: str | None) -> str | None:
    return os.environ.get(f"CONTACTMON_{name}", fallback)


def _add_replay(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "replay",
        help="run the monitor over JSON Lines files, on event time, without Kafka",
        description=(
            "Run the same processing as the live worker over JSON Lines files (one CloudEvent per "
            "line), on event time. Outcomes go to the store for `contactmon export`; rejected "
            "lines "
            "go to --rejects with a reason; --metrics-file writes the final /metrics exposition."
        ),
    )
    p.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="JSON Lines files ('-' = stdin)"
    )
    p.add_argument(
        "--norms",
        type=Path,
        default=_env_default("NORMS_FILE", None),
        help="norms YAML (default: the shipped norms; env CONTACTMON_NORMS_FILE)",
    )
    p.add_argument(
        "--store",
        default=_env_default("STORE_URL", DEFAULT_STORE_URL),
        help=f"outcome store URL (default {DEFAULT_STORE_URL}; env CONTACTMON_STORE_URL)",
    )
    p.add_argument("--no-store", action="store_true", help="do not write outcomes anywhere")
    p.add_argument(
        "--until",
        type=_parse_until,
        metavar="TIME",
        help="advance the clock to TIME (RFC 3339) so deadlines up to it are decided "
        "(default: each municipality's clock stays at its newest event)",
    )
    p.add_argument(
        "--metrics-file",
        type=Path,
        metavar="PATH",
        help="write the final metrics in the Prometheus text format",
    )
    p.add_argument(
        "--rejects",
        type=Path,
        metavar="PATH",
        help="write rejected lines with their reason as JSON Lines",
    )
    p.add_argument(
        "--lateness",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how far out of order an event may arrive and still count as in order (default 300)",
    )
    p.add_argument(
        "--max-event-bytes",
        type=_event_bytes,
        default=DEFAULT_MAX_EVENT_BYTES,
        metavar="BYTES",
        help="longer lines are rejected as too_large without being read whole (default 1 MiB)",
    )
    p.add_argument(
        "--dedupe-days",
        type=_positive_days,
        default=400,
        metavar="DAYS",
        help="how long the ids of events of finished items are remembered, so that an event sent "
        "again is a duplicate (default 400)",
    )


def _seconds(text: str) -> float:
    """A finite number of seconds ≥ 0, for argparse."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError("must be a finite number of seconds, 0 or more")
    return value


def _event_bytes(text: str) -> int:
    """An event size limit in bytes, at least 1 KiB, for argparse."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of bytes") from None
    if value < 1024:
        raise argparse.ArgumentTypeError("must be at least 1024 bytes")
    return value


def _output_problem(option: str, path: Path | None, inputs: Sequence[Path]) -> str | None:
    """Why ``path`` cannot be written by ``option`` (checked before a long run), or None."""
    if path is None:
        return None
    target = path.resolve()
    if any(str(f) != "-" and f.resolve() == target for f in inputs):
        return f"{option} {path} is one of the input files; it would be overwritten"
    if target.is_dir():
        return f"{option} {path} is a directory; name a file"
    parent = target.parent
    if not parent.is_dir():
        return f"{option} {path}: the directory {parent} does not exist"
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        return f"{option} {path} cannot be written (permission denied)"
    return None


def _positive_days(text: str) -> int:
    """A whole number of days ≥ 1, for argparse."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError("must be at least 1 day")
    return days


def _run_replay(args: argparse.Namespace) -> int:
    from streams.replay import replay  # noqa: PLC0415  (keeps `contactmon --help` fast)

    missing = [str(f) for f in args.files if str(f) != "-" and not f.is_file()]
    if missing:
        print(f"contactmon replay: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    for option, path in (("--rejects", args.rejects), ("--metrics-file", args.metrics_file)):
        problem = _output_problem(option, path, args.files)
        if problem is not None:
            print(f"contactmon replay: {problem}", file=sys.stderr)
            return EXIT_USAGE
    config = load_norms(args.norms)
    _, summary = replay(
        args.files,
        config,
        store_url=None if args.no_store else args.store,
        until=args.until,
        metrics_file=args.metrics_file,
        rejects=args.rejects,
        lateness=args.lateness,
        dedupe_horizon=args.dedupe_days * 86_400.0,
        max_event_bytes=args.max_event_bytes,
    )
    rate = summary.lines / summary.seconds if summary.seconds > 0 else 0.0
    log.info(
        "replay done",
        events=summary.lines,
        accepted=summary.accepted,
        duplicates=summary.duplicates,
        rejected=summary.rejected,
        seconds=round(summary.seconds, 2),
        rate=round(rate),
    )
    return 0


def _add_month_choice(p: argparse.ArgumentParser) -> None:
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", metavar="YYYY-MM", help="the month, e.g. 2024-05")
    when.add_argument(
        "--previous-month",
        action="store_true",
        help="the month before today in the calendar's timezone (Europe/Amsterdam): for a "
        "scheduled run on the first days of a month",
    )


def _month_of(args: argparse.Namespace, timezone: str) -> Month:
    from streams.export.run import previous_month  # noqa: PLC0415

    if args.previous_month:
        return previous_month(timezone)
    return Month.parse(args.month)


def _add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="write the monthly tables: tidy (contract), KPI (teller/noemer) and Swing (wide)",
        description=(
            "Write a month's tables. tidy (default, contract section 5): one row per value, "
            "month, municipality, indicator, norm, kind, channel, segment, value, unit. kpi: "
            "gemeentecode, periode (CBS, 2024MM03), indicator_id, teller, noemer, waarde, norm, "
            "eenheid, voorlopig, so figures add up over municipalities and months. swing: the KPI "
            "values wide, one row per municipality and period, one column per indicator, -99998 "
            "for a missing value (as waarstaatjegemeente.nl loads them). Items belong to the "
            "month in which they were opened. Files are written atomically, 0640, and only when "
            "their bytes change: running it twice for a month changes nothing. The indicators "
            "are described in docs/indicatoren.md."
        ),
    )
    _add_month_choice(p)
    p.add_argument(
        "--table",
        choices=("tidy", "kpi", "swing", "all"),
        default="tidy",
        help="which table (default tidy; all: the three, into the --out directory)",
    )
    p.add_argument(
        "--store",
        default=_env_default("STORE_URL", DEFAULT_STORE_URL),
        help=f"outcome store URL (default {DEFAULT_STORE_URL})",
    )
    p.add_argument(
        "--format", choices=("csv", "xlsx", "json"), default="csv", help="file format (default csv)"
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="output file for one table, or a directory (default: here, named "
        "contactmon-export-, contactmon-kpi- or contactmon-swing-YYYY-MM.<format>)",
    )
    p.add_argument(
        "--norms",
        type=Path,
        default=_env_default("NORMS_FILE", None),
        help="norms YAML: calendar, municipalities and targets (default: the shipped norms)",
    )


def _run_export(args: argparse.Namespace) -> int:
    from streams.export.run import TABLES, run_tables  # noqa: PLC0415

    config = load_norms(args.norms)
    tables = list(TABLES) if args.table == "all" else [args.table]
    try:
        month = _month_of(args, config.calendar.timezone)
        written = run_tables(args.store, month, tables, args.format, args.out, config)
    except ValueError as exc:  # MonthFormatError, ExportFormatError: say what to type instead
        print(f"contactmon export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for file in written:
        log.info(
            "export written" if file.changed else "export unchanged",
            path=str(file.path),
            month=str(month),
            format=args.format,
        )
    return 0


def _add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report",
        help="write the monthly report for the board (HTML and PDF, in Dutch), optionally mail it",
        description=(
            "Write the month's report for the administrative dashboard and the board, in Dutch, "
            "the four municipalities side by side: per norm this month against the target, the "
            "last 12 months as a chart, the change against the same month a year earlier and "
            "the half year so far; Fixi reports, phones, complaints and satisfaction, split by "
            "segment and channel; a generated summary; provisional figures marked. One "
            "self-contained HTML file (charts inline, opens offline) and its PDF, printed by "
            "headless Chromium (CONTACTMON_CHROMIUM, else the `chromium` program on PATH; "
            "--format html needs none), as "
            "contactmon-rapport-YYYY-MM.html/.pdf in --out. Files are written atomically, 0640, "
            "and only when they change. --mail sends the files by SMTP with STARTTLS using the "
            "CONTACTMON_SMTP_* variables (HOST, PORT=587, USERNAME, PASSWORD, FROM, TO "
            "comma-separated, STARTTLS=true, CAFILE, TIMEOUT); each version of the report is "
            "mailed once, so a repeated run sends nothing."
        ),
    )
    _add_month_choice(p)
    p.add_argument(
        "--store",
        default=_env_default("STORE_URL", DEFAULT_STORE_URL),
        help=f"outcome store URL (default {DEFAULT_STORE_URL}; env CONTACTMON_STORE_URL)",
    )
    p.add_argument(
        "--format",
        choices=("all", "html", "pdf"),
        default="all",
        help="all (default): HTML and PDF; html: no Chromium needed; pdf: only the PDF",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="directory for the files, created when missing (default: here)",
    )
    p.add_argument(
        "--mail",
        action="store_true",
        help="mail the files with the CONTACTMON_SMTP_* settings (see above)",
    )
    p.add_argument(
        "--norms",
        type=Path,
        default=_env_default("NORMS_FILE", None),
        help="norms YAML: calendar, municipalities and targets (default: the shipped norms)",
    )


def _run_report(args: argparse.Namespace) -> int:
    from streams.report.mail import MailError, load_smtp_settings  # noqa: PLC0415
    from streams.report.pdf import PdfError  # noqa: PLC0415
    from streams.report.run import run_report  # noqa: PLC0415

    config = load_norms(args.norms)
    try:
        month = _month_of(args, config.calendar.timezone)
        mail = load_smtp_settings() if args.mail else None
    except (ValueError, MailError) as exc:
        print(f"contactmon report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = run_report(args.store, month, args.format, args.out, config, mail=mail)
    except (ValueError, PdfError) as exc:
        print(f"contactmon report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MailError as exc:
        print(f"contactmon report: the files are written, but {exc}", file=sys.stderr)
        return EXIT_FAILED
    state = " (provisional figures)" if result.provisional else ""
    for file in result.files:
        log.info(
            ("report written" if file.changed else "report unchanged") + state,
            path=str(file.path),
            month=str(month),
        )
    if result.mailed_to:
        log.info("report mailed", month=str(month), count=len(result.mailed_to))
    elif result.mail_skipped:
        log.info("report already mailed, not sent again", month=str(month))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from streams.simulate import command as simulate_command  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="contactmon",
        description=(
            "Contact quality monitor for Bergen (NH), Castricum, Heiloo and Uitgeest: norms, "
            "deadlines, metrics, the monthly export and report, from CloudEvents."
        ),
        epilog="Run `contactmon COMMAND --help` for a command's options.",
    )
    parser.add_argument(
        "--log-level", default=_env_default("LOG_LEVEL", "INFO"), help="INFO, DEBUG, WARNING"
    )
    parser.add_argument("--log-json", action="store_true", help="JSON log lines even on a terminal")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_replay(sub)
    _add_export(sub)
    _add_report(sub)
    from streams import purge  # noqa: PLC0415

    prg = sub.add_parser(
        "purge",
        help="delete outcome rows older than the retention (finished items, calls, feedback)",
        description=purge.__doc__.split("\n\n")[1] if purge.__doc__ else None,
    )
    purge.add_arguments(prg)
    prg.add_argument(
        "--store",
        default=_env_default("STORE_URL", DEFAULT_STORE_URL),
        help=f"outcome store URL (default {DEFAULT_STORE_URL}; env CONTACTMON_STORE_URL)",
    )
    sim = sub.add_parser(
        "simulate",
        help="generate realistic contact events (to a JSON Lines file or to Kafka)",
        description="Generate realistic, reproducible contact events for the municipalities.",
    )
    simulate_command.add_arguments(sim)
    for name, (module, help_text, description) in COMMANDS.items():
        command = importlib.import_module(module)
        command.add_arguments(sub.add_parser(name, help=help_text, description=description))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure(args.log_level.upper(), json=True if args.log_json else None)
    try:
        if args.command == "replay":
            return _run_replay(args)
        if args.command == "export":
            return _run_export(args)
        if args.command == "report":
            return _run_report(args)
        if args.command == "purge":
            from streams import purge  # noqa: PLC0415

            return purge.run(args, args.store, datetime.now(UTC).date())
        if args.command in COMMANDS:
            run: Callable[[argparse.Namespace], int] = importlib.import_module(
                COMMANDS[args.command][0]
            ).run
            return run(args)
        from streams.simulate import command as simulate_command  # noqa: PLC0415

        return simulate_command.run(args)
    except ConfigError as exc:
        print(f"contactmon {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"contactmon {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
