"""The writers: CSV, XLSX and JSON with the same rows, reproducible bytes and atomic files."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]  # no stubs in the dev dependencies
import pytest

from streams.export.indicators import COLUMNS, ExportRow, Month
from streams.export.writers import (
    ExportFormatError,
    csv_bytes,
    format_value,
    json_bytes,
    write_rows,
    xlsx_bytes,
)
from streams.files import atomic_write

MONTH = Month(2024, 4)
HEADER = "month,municipality,indicator,norm,kind,channel,segment,value,unit"


def row(indicator: str, value: int | Decimal, unit: str = "count", **cells: str) -> ExportRow:
    return ExportRow(
        month="2024-04",
        municipality=cells.get("municipality", "bergen"),
        indicator=indicator,
        norm=cells.get("norm", ""),
        kind=cells.get("kind", ""),
        channel=cells.get("channel", ""),
        segment=cells.get("segment", ""),
        value=value,
        unit=unit,
    )


ROWS = [
    row("median_duration_workdays", Decimal("1.50"), "workdays", norm="melding-reactie"),
    row("norm_met_pct", Decimal("87.5"), "percent", norm="melding-reactie", segment="ondernemer"),
    row("opened", 12),
    row("opened", 3, kind="klacht", channel="e-mail, brief"),  # a comma, to be quoted
    row("opened", 0, municipality="heiloo"),
    row("satisfaction_mean", Decimal("7.25"), "score", channel="app", municipality="Hëiloo"),
]

EXPECTED = [
    ["2024-04", "bergen", "median_duration_workdays", "melding-reactie", "", "", "", "1.50",
     "workdays"],
    ["2024-04", "bergen", "norm_met_pct", "melding-reactie", "", "", "ondernemer", "87.5",
     "percent"],
    ["2024-04", "bergen", "opened", "", "", "", "", "12", "count"],
    ["2024-04", "bergen", "opened", "", "klacht", "e-mail, brief", "", "3", "count"],
    ["2024-04", "heiloo", "opened", "", "", "", "", "0", "count"],
    ["2024-04", "Hëiloo", "satisfaction_mean", "", "", "app", "", "7.25", "score"],
]  # fmt: skip


def as_numbers(cells: list[str]) -> list[str | float]:
    """A textual row with its value cell as a number, to compare with XLSX and JSON."""
    return [*cells[:7], float(cells[7]), cells[8]]


class TestCsv:
    """CSV: comma, UTF-8, header, `.` decimals with fixed places, `\\n` line ends."""

    def test_header_is_exact(self) -> None:
        assert csv_bytes(ROWS).split(b"\n")[0] == HEADER.encode()
        assert ",".join(COLUMNS) == HEADER

    def test_rows_and_number_formatting(self) -> None:
        data = csv_bytes(ROWS)
        assert b"\r" not in data
        assert data.endswith(b"\n")
        assert b'"e-mail, brief"' in data
        assert b"2024-04,bergen,opened,,,,,12,count\n" in data
        parsed = list(csv.reader(io.StringIO(data.decode("utf-8"))))
        assert parsed == [HEADER.split(","), *EXPECTED]

    def test_utf_8_without_bom(self) -> None:
        data = csv_bytes(ROWS)
        assert not data.startswith(b"\xef\xbb\xbf")
        assert "Hëiloo".encode() in data

    def test_value_text(self) -> None:
        assert format_value(5) == "5"
        assert format_value(Decimal("2.80")) == "2.80"
        assert format_value(Decimal("0.0")) == "0.0"


class TestJson:
    """JSON: a list of objects with sorted keys; the same rows as the CSV."""

    def test_same_rows_as_csv(self) -> None:
        objects = json.loads(json_bytes(ROWS))
        assert [list(o) for o in objects] == [sorted(COLUMNS)] * len(ROWS)
        assert [[o[c] for c in COLUMNS] for o in objects] == [as_numbers(e) for e in EXPECTED]
        assert isinstance(objects[2]["value"], int)

    def test_stable_bytes(self) -> None:
        assert json_bytes(ROWS) == json_bytes(list(ROWS))
        assert json_bytes(ROWS).endswith(b"}\n]\n")


class TestXlsx:
    """XLSX: readable by openpyxl with the same rows, and the same bytes on every run."""

    def test_openpyxl_reads_the_same_rows(self, tmp_path: Path) -> None:
        path = tmp_path / "x.xlsx"
        write_rows(ROWS, path, "xlsx", created=MONTH.created)
        sheet = openpyxl.load_workbook(path).active
        assert sheet is not None
        read = [[("" if c is None else c) for c in r] for r in sheet.iter_rows(values_only=True)]
        assert read == [list(COLUMNS), *(as_numbers(e) for e in EXPECTED)]
        assert isinstance(read[3][7], int)

    def test_decimals_are_shown_with_their_places(self, tmp_path: Path) -> None:
        path = tmp_path / "x.xlsx"
        write_rows(ROWS, path, "xlsx", created=MONTH.created)
        sheet = openpyxl.load_workbook(path).active
        assert sheet is not None
        assert sheet["H2"].number_format == "0.00"
        assert sheet["H3"].number_format == "0.0"
        assert sheet["H4"].number_format == "General"

    def test_byte_identical_across_runs(self, tmp_path: Path) -> None:
        first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
        write_rows(ROWS, first, "xlsx", created=MONTH.created)
        write_rows(ROWS, second, "xlsx", created=MONTH.created)
        assert first.read_bytes() == second.read_bytes()

    def test_fixed_document_date_and_member_timestamps(self) -> None:
        data = xlsx_bytes(ROWS, created=MONTH.created)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert {m.date_time for m in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            core = archive.read("docProps/core.xml").decode()
        assert '<dcterms:created xsi:type="dcterms:W3CDTF">2024-04-01T00:00:00Z<' in core
        assert '<dcterms:modified xsi:type="dcterms:W3CDTF">2024-04-01T00:00:00Z<' in core

    def test_an_empty_table_still_has_its_header(self, tmp_path: Path) -> None:
        path = tmp_path / "x.xlsx"
        write_rows([], path, "xlsx", created=MONTH.created)
        sheet = openpyxl.load_workbook(path).active
        assert sheet is not None
        assert [list(r) for r in sheet.iter_rows(values_only=True)] == [list(COLUMNS)]


class TestAtomicWrite:
    """Files appear whole via a temporary file in the same directory, which never stays behind."""

    @pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
    def test_no_temporary_file_remains(self, tmp_path: Path, fmt: str) -> None:
        path = tmp_path / f"export.{fmt}"
        write_rows(ROWS, path, fmt, created=MONTH.created)
        write_rows(ROWS, path, fmt, created=MONTH.created)  # over an existing file
        assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]

    def test_a_failed_move_keeps_the_old_file_and_removes_the_temporary_one(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / "export.csv"
        path.write_bytes(b"old")

        def refuse(src: object, dst: object) -> None:
            raise OSError("disk says no")

        monkeypatch.setattr(os, "replace", refuse)
        with pytest.raises(OSError, match="disk says no"):
            atomic_write(path, b"new")
        assert path.read_bytes() == b"old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]

    @pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
    def test_files_are_0640_whatever_the_umask(self, tmp_path: Path, umask: int) -> None:
        previous = os.umask(umask)
        try:
            atomic_write(tmp_path / "x.csv", b"x")
            write_rows([], tmp_path / "t.csv", "csv", created=datetime(2024, 5, 1, tzinfo=UTC))
        finally:
            os.umask(previous)
        assert stat.S_IMODE((tmp_path / "x.csv").stat().st_mode) == 0o640
        assert stat.S_IMODE((tmp_path / "t.csv").stat().st_mode) == 0o640

    def test_an_unknown_format_writes_nothing(self, tmp_path: Path) -> None:
        with pytest.raises(ExportFormatError, match="--format must be one of csv, xlsx, json"):
            write_rows(ROWS, tmp_path / "x.ods", "ods", created=MONTH.created)
        assert list(tmp_path.iterdir()) == []
