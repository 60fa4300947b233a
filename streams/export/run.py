"""`contactmon export`: read one month from the outcome store and write its tables to files.

Three tables: `tidy` (contract section 5, one row per value), `kpi` (numerators and denominators
per municipality, CBS period and indicator) and `swing` (the KPI values wide: one row per
municipality and period, one column per indicator). Every file is written atomically and only when
its bytes change, so a scheduled run repeated for the same month changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from streams.core.calendar import BusinessCalendar
from streams.core.config import MonitorConfig
from streams.core.rows import CallRecord, FeedbackRecord, ItemRecord, NormRecord
from streams.export.indicators import ExportRow, Month, monthly_indicators
from streams.export.kpi import (
    KPI_COLUMNS,
    Fact,
    Indicator,
    KpiRow,
    NormInfo,
    catalogue,
    kpi_rows,
    month_facts,
    swing_table,
)
from streams.export.writers import (
    FORMATS,
    ExportFormatError,
    rows_bytes,
    table_bytes,
    write_if_changed,
    write_rows,
)
from streams.store.base import OutcomeStore, open_store

TABLES = ("tidy", "kpi", "swing")
"""The tables `contactmon export --table` can write; `all` writes the three."""

FILE_STEMS = {"tidy": "contactmon-export", "kpi": "contactmon-kpi", "swing": "contactmon-swing"}


class ExportTableError(ValueError):
    """The table is not one of TABLES, or several tables were asked for with --out a file."""


def default_export_name(month: Month, fmt: str) -> str:
    """`contactmon-export-YYYY-MM.<ext>`."""
    return f"contactmon-export-{month}.{fmt}"


def default_table_name(month: Month, table: str, fmt: str) -> str:
    """`contactmon-export-…` (tidy), `contactmon-kpi-…` or `contactmon-swing-YYYY-MM.<ext>`."""
    return f"{FILE_STEMS[table]}-{month}.{fmt}"


def previous_month(timezone: str, now: datetime | None = None) -> Month:
    """The month before the one that `now` (default: the wall clock) falls in, in `timezone`.

    On 1 April 00:30 in Amsterdam (still 31 March in UTC) the previous month is March.
    """
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("previous_month needs an aware datetime")
    local = moment.astimezone(ZoneInfo(timezone))
    if local.month == 1:
        return Month(local.year - 1, 12)
    return Month(local.year, local.month - 1)


@dataclass(frozen=True, slots=True)
class MonthRows:
    """The store's rows of one month: items opened, their norms, calls queued, feedback given."""

    month: Month
    items: list[ItemRecord]
    norms: list[NormRecord]
    calls: list[CallRecord]
    feedback: list[FeedbackRecord]


def read_month(store: OutcomeStore, month: Month, calendar: BusinessCalendar) -> MonthRows:
    """Read one month's rows, boundaries at local midnight."""
    start, end = month.bounds(calendar)
    return MonthRows(
        month,
        store.items_opened(start, end),
        store.norms_for_items_opened(start, end),
        store.calls_queued(start, end),
        store.feedback_given(start, end),
    )


def tidy_rows(
    data: MonthRows, calendar: BusinessCalendar, municipalities: Sequence[str]
) -> list[ExportRow]:
    """The month's tidy table (contract section 5)."""
    return monthly_indicators(
        data.month,
        calendar,
        municipalities,
        items=data.items,
        norms=data.norms,
        calls=data.calls,
        feedback=data.feedback,
    )


def norm_infos(config: MonitorConfig) -> list[NormInfo]:
    """The configured norms as the KPI catalogue describes them (the first municipality's terms)."""
    norms = next(iter(config.norms_by_municipality.values()), ())
    return [
        NormInfo(n.id, n.stage, n.family, n.kind, n.channel, n.within, n.unit.value, n.target)
        for n in norms
    ]


def indicators_of(config: MonitorConfig) -> list[Indicator]:
    """The KPI catalogue for the configured norms."""
    return catalogue(norm_infos(config))


def targets_of(config: MonitorConfig) -> dict[str, dict[str, float]]:
    """Norm targets per municipality (overrides resolved)."""
    return {
        slug: {n.id: n.target for n in norms}
        for slug, norms in config.norms_by_municipality.items()
    }


def cbs_codes(config: MonitorConfig) -> dict[str, str]:
    """Municipality slug to CBS code, in the norms file's order."""
    return {m.slug: m.cbs_code for m in config.municipalities}


def month_kpi(
    data: MonthRows, tidy: Sequence[ExportRow], config: MonitorConfig
) -> tuple[list[Fact], list[KpiRow]]:
    """The month's facts and its KPI table."""
    facts = month_facts(data.month, config.calendar, tidy, data.feedback)
    rows = kpi_rows(data.month, facts, indicators_of(config), cbs_codes(config), targets_of(config))
    return facts, rows


def run_export(
    store_url: str,
    month: str,
    fmt: str,
    out: Path | None,
    calendar: BusinessCalendar,
    municipalities: Sequence[str],
) -> Path:
    """Export `month` (YYYY-MM) from the store at `store_url` as `fmt`; return the file written.

    `out` defaults to `contactmon-export-YYYY-MM.<ext>` in the working directory; when it names an
    existing directory, that file name goes inside it. Month boundaries are local midnights of
    `calendar`. Every name in `municipalities` gets rows, also without activity. A bad month or
    format raises a ValueError subclass before the store is opened; a missing or unreadable store
    raises StoreError.
    """
    parsed = Month.parse(month)
    if fmt not in FORMATS:
        raise ExportFormatError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if out is None:
        path = Path.cwd() / default_export_name(parsed, fmt)
    elif out.is_dir():
        path = out / default_export_name(parsed, fmt)
    else:
        path = out
    with open_store(store_url, create=False) as store:
        data = read_month(store, parsed, calendar)
    write_rows(tidy_rows(data, calendar, municipalities), path, fmt, created=parsed.created)
    return path


@dataclass(frozen=True, slots=True)
class Written:
    """A file an export or report run produced, and whether this run changed it."""

    path: Path
    changed: bool


def output_paths(
    month: Month, tables: Sequence[str], fmt: str, out: Path | None
) -> dict[str, Path]:
    """Where each table goes: `out` as a file for one table, else a directory (made if missing)."""
    unknown = [t for t in tables if t not in TABLES]
    if unknown or not tables:
        raise ExportTableError(f"--table must be one of {', '.join(TABLES)} or all, got {unknown}")
    if fmt not in FORMATS:
        raise ExportFormatError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if out is not None and len(tables) == 1 and not out.is_dir():
        return {tables[0]: out}
    if out is not None and out.exists() and not out.is_dir():
        raise ExportTableError(f"--out {out} is a file; several tables need a directory")
    folder = Path.cwd() if out is None else out
    return {t: folder / default_table_name(month, t, fmt) for t in tables}


def run_tables(
    store_url: str,
    month: Month,
    tables: Sequence[str],
    fmt: str,
    out: Path | None,
    config: MonitorConfig,
) -> list[Written]:
    """Write the month's `tables` (tidy, kpi, swing) as `fmt`; return each file and if it changed.

    Files are created 0640 (minus the umask), atomically, and rewritten only when their bytes
    differ. A bad table, format or --out raises a ValueError subclass before the store is opened.
    """
    paths = output_paths(month, tables, fmt, out)
    with open_store(store_url, create=False) as store:
        data = read_month(store, month, config.calendar)
    tidy = tidy_rows(data, config.calendar, config.slugs)
    _, kpi = month_kpi(data, tidy, config)
    written = []
    for table, path in paths.items():
        if table == "tidy":
            payload = rows_bytes(tidy, fmt, created=month.created)
        elif table == "kpi":
            rows = [r.cells() for r in kpi]
            payload = table_bytes(
                KPI_COLUMNS, rows, fmt, created=month.created, title="contactmon KPI"
            )
        else:
            columns, wide = swing_table(kpi, indicators_of(config))
            payload = table_bytes(
                columns, wide, fmt, created=month.created, title="contactmon Swing"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(Written(path, write_if_changed(path, payload)))
    return written
