"""`contactmon export`: read one month from the outcome store and write the table to a file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from streams.core.calendar import BusinessCalendar
from streams.export.indicators import Month, monthly_indicators
from streams.export.writers import FORMATS, ExportFormatError, write_rows
from streams.store.base import open_store


def default_export_name(month: Month, fmt: str) -> str:
    """`contactmon-export-YYYY-MM.<ext>`."""
    return f"contactmon-export-{month}.{fmt}"


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
    start, end = parsed.bounds(calendar)
    with open_store(store_url, create=False) as store:
        items = store.items_opened(start, end)
        norms = store.norms_for_items_opened(start, end)
        calls = store.calls_queued(start, end)
        feedback = store.feedback_given(start, end)
    rows = monthly_indicators(
        parsed,
        calendar,
        municipalities,
        items=items,
        norms=norms,
        calls=calls,
        feedback=feedback,
    )
    write_rows(rows, path, fmt, created=parsed.created)
    return path
