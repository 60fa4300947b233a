"""The monthly table as CSV, XLSX or JSON, each written atomically and byte for byte reproducibly.

The same rows always give the same bytes: CSV and JSON are plain text in a fixed order; the XLSX
workbook is built in memory (so XlsxWriter stamps every zip member with its fixed 1980-01-01 date)
and its document properties carry a fixed date, the month's first day, instead of "now".

Every file is written to a temporary file in the target directory, flushed to disk and then moved
over the target with `os.replace`, so a reader sees the old file or the new one, never half of one,
and a failed export leaves no temporary file behind.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import xlsxwriter

from streams.export.indicators import COLUMNS, ExportRow
from streams.files import OWNER_AND_GROUP, atomic_write

FORMATS = ("csv", "xlsx", "json")
"""The accepted `--format` values; each is also the file extension."""

PRIVATE = OWNER_AND_GROUP
"""The mode of the files added for issue 14 (KPI, Swing, report): owner writes, group reads."""

SHEET_NAME = "contactmon"
COLUMN_WIDTHS = (9, 14, 32, 26, 17, 13, 25, 10, 9)


class ExportFormatError(ValueError):
    """The export format is not one of FORMATS."""


def format_value(value: int | Decimal) -> str:
    """A value as text: an int without decimals, a Decimal with exactly its fixed places."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _cells(row: ExportRow) -> list[str]:
    """The row's cells as text, in column order."""
    return [v if isinstance(v, str) else format_value(v) for _, v in _fields(row)]


def _fields(row: ExportRow) -> list[tuple[str, str | int | Decimal]]:
    """(column, value) pairs in column order."""
    return [(name, getattr(row, name)) for name in COLUMNS]


def csv_bytes(rows: Sequence[ExportRow]) -> bytes:
    """Comma separated, UTF-8 without BOM, a header row, `.` decimal point, `\\n` line ends."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=",", lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(_cells(row) for row in rows)
    return text.getvalue().encode("utf-8")


def json_bytes(rows: Sequence[ExportRow]) -> bytes:
    """A JSON list of one object per row, keys sorted; values are JSON numbers, "" means all."""
    objects = [
        {
            name: (float(v) if isinstance(v, Decimal) else v)
            for name, v in _fields(row)  # a Decimal's shortest float repr keeps its digits
        }
        for row in rows
    ]
    text = json.dumps(objects, sort_keys=True, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def xlsx_bytes(rows: Sequence[ExportRow], *, created: datetime) -> bytes:
    """One worksheet: a header row, then the rows; numbers as numbers with their fixed decimals.

    `created` is the workbook's creation and modification date (use the month's first day).
    Empty ("all") cells are left blank.
    """
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.set_properties({"created": created, "title": "contactmon monthly export"})
    bold = workbook.add_format({"bold": True})
    decimals = {
        places: workbook.add_format({"num_format": "0." + "0" * places}) for places in (1, 2)
    }
    sheet = workbook.add_worksheet(SHEET_NAME)
    sheet.freeze_panes(1, 0)
    for col, width in enumerate(COLUMN_WIDTHS):
        sheet.set_column(col, col, width)
    for col, name in enumerate(COLUMNS):
        sheet.write_string(0, col, name, bold)
    for line, row in enumerate(rows, start=1):
        for col, (name, v) in enumerate(_fields(row)):
            if name != "value":
                if v:
                    sheet.write_string(line, col, str(v))
            elif isinstance(v, Decimal):
                places = -int(v.as_tuple().exponent)
                sheet.write_number(line, col, float(v), decimals.get(places))
            else:
                sheet.write_number(line, col, int(v))
    if rows:
        sheet.autofilter(0, 0, len(rows), len(COLUMNS) - 1)
    workbook.close()
    return buffer.getvalue()


def rows_bytes(rows: Sequence[ExportRow], fmt: str, *, created: datetime) -> bytes:
    """The tidy table encoded as `fmt` (csv, xlsx or json)."""
    encoders: dict[str, Callable[[], bytes]] = {
        "csv": lambda: csv_bytes(rows),
        "xlsx": lambda: xlsx_bytes(rows, created=created),
        "json": lambda: json_bytes(rows),
    }
    encode = encoders.get(fmt)
    if encode is None:
        raise ExportFormatError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return encode()


def write_rows(rows: Sequence[ExportRow], path: Path, fmt: str, *, created: datetime) -> None:
    """Write the table to `path` as `fmt` (csv, xlsx or json), atomically."""
    atomic_write(path, rows_bytes(rows, fmt, created=created), mode=PRIVATE)


def write_if_changed(path: Path, data: bytes, *, mode: int = PRIVATE) -> bool:
    """Write `data` to `path` atomically unless the file already holds exactly these bytes.

    Returns True when the file was written. A scheduled run repeated for the same month thus
    leaves the file, its inode and its modification time as they were.
    """
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    atomic_write(path, data, mode=mode)
    return True


Cell = str | int | Decimal | None


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return format_value(value)


def table_csv_bytes(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    """Any table as the tidy table's CSV: comma, UTF-8, `.` decimal point, None as an empty cell."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=",", lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_text(v) for v in row] for row in rows)
    return text.getvalue().encode("utf-8")


def table_json_bytes(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    """Any table as a JSON list of objects, keys in column order; None as null."""
    objects = [
        {
            name: (float(v) if isinstance(v, Decimal) else v)
            for name, v in zip(columns, row, strict=True)
        }
        for row in rows
    ]
    text = json.dumps(objects, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def table_xlsx_bytes(
    columns: Sequence[str], rows: Sequence[Sequence[Cell]], *, created: datetime, title: str
) -> bytes:
    """Any table as one worksheet, numbers as numbers with their fixed decimals, None blank."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.set_properties({"created": created, "title": title})
    bold = workbook.add_format({"bold": True})
    decimals = {
        places: workbook.add_format({"num_format": "0." + "0" * places}) for places in (1, 2)
    }
    sheet = workbook.add_worksheet(SHEET_NAME)
    sheet.freeze_panes(1, 0)
    for col, name in enumerate(columns):
        sheet.write_string(0, col, name, bold)
        sheet.set_column(col, col, max(10, len(name) + 2))
    for line, row in enumerate(rows, start=1):
        for col, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, str):
                sheet.write_string(line, col, v)
            elif isinstance(v, Decimal):
                places = -int(v.as_tuple().exponent)
                sheet.write_number(line, col, float(v), decimals.get(places))
            else:
                sheet.write_number(line, col, int(v))
    if rows:
        sheet.autofilter(0, 0, len(rows), len(columns) - 1)
    workbook.close()
    return buffer.getvalue()


def table_bytes(
    columns: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    fmt: str,
    *,
    created: datetime,
    title: str,
) -> bytes:
    """Any table encoded as `fmt` (csv, xlsx or json)."""
    if fmt == "csv":
        return table_csv_bytes(columns, rows)
    if fmt == "json":
        return table_json_bytes(columns, rows)
    if fmt == "xlsx":
        return table_xlsx_bytes(columns, rows, created=created, title=title)
    raise ExportFormatError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
