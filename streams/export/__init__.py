"""The monthly export (contract section 5): indicators per municipality as CSV, XLSX or JSON."""

from streams.export.indicators import (
    COLUMNS,
    ExportRow,
    Month,
    MonthFormatError,
    monthly_indicators,
)
from streams.export.run import default_export_name, run_export
from streams.export.writers import FORMATS, ExportFormatError, write_rows

__all__ = [
    "COLUMNS",
    "FORMATS",
    "ExportFormatError",
    "ExportRow",
    "Month",
    "MonthFormatError",
    "default_export_name",
    "monthly_indicators",
    "run_export",
    "write_rows",
]
