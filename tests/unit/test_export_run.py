"""run_export: store to file, the same bytes on every run, in each of the three formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]  # no stubs in the dev dependencies
import pytest

from streams.core.calendar import BusinessCalendar
from streams.export.indicators import COLUMNS, MonthFormatError
from streams.export.run import run_export
from streams.export.writers import ExportFormatError
from streams.store import (
    FeedbackRecord,
    ItemRecord,
    NormRecord,
    OutcomeBatch,
    StoreError,
    open_store,
)
from tests.factories import at, item_record

CALENDAR = BusinessCalendar()
MUNICIPALITIES = ("bergen", "castricum", "heiloo", "uitgeest")


def opened(subject: str, when: str, municipality: str = "bergen") -> ItemRecord:
    """An April-style melding via the app, answered after an hour, still open."""
    return item_record(subject, when, municipality, category="overig", responded_at=at(when) + 3600)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A store with April items (one on its last local evening), a March item and feedback."""
    url = f"sqlite:///{tmp_path / 'outcomes.sqlite3'}"
    with open_store(url) as store:
        store.write(
            OutcomeBatch(
                items=[
                    opened("a", "2024-04-02T10:00+02:00"),
                    opened("b", "2024-04-30T23:30+02:00"),
                    opened("c", "2024-03-31T23:30+02:00", municipality="castricum"),
                ],
                norms=[
                    NormRecord(
                        "bergen",
                        "a",
                        "melding-reactie",
                        "response",
                        "item",
                        at("2024-04-06T00:00+02:00"),
                        "met",
                        at("2024-04-02T11:00+02:00"),
                        at("2024-04-02T11:00+02:00"),
                    )
                ],
                feedback=[
                    FeedbackRecord("heiloo", "src/1", "balie", None, 9, at("2024-04-09T10:00Z"))
                ],
            )
        )
    return url


def export(store_url: str, fmt: str, out: Path | None) -> Path:
    return run_export(store_url, "2024-04", fmt, out, CALENDAR, MUNICIPALITIES)


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


class TestRunExport:
    """An export reads the month from the store and writes it, identically every time."""

    @pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
    def test_two_exports_are_byte_identical(self, store_url: str, tmp_path: Path, fmt: str) -> None:
        first = export(store_url, fmt, tmp_path / f"one.{fmt}")
        second = export(store_url, fmt, tmp_path / f"two.{fmt}")
        assert first.read_bytes() == second.read_bytes()

    def test_the_three_formats_hold_the_same_rows(self, store_url: str, tmp_path: Path) -> None:
        table = csv_rows(export(store_url, "csv", tmp_path / "x.csv"))
        assert table[0] == list(COLUMNS)
        expected = [[*r[:7], float(r[7]), r[8]] for r in table[1:]]
        objects = json.loads(export(store_url, "json", tmp_path / "x.json").read_bytes())
        assert [[o[c] for c in COLUMNS] for o in objects] == expected
        sheet = openpyxl.load_workbook(export(store_url, "xlsx", tmp_path / "x.xlsx")).active
        assert sheet is not None
        cells = [["" if c is None else c for c in r] for r in sheet.iter_rows(values_only=True)]
        assert cells[1:] == expected

    def test_month_cohort_and_idle_municipalities(self, store_url: str, tmp_path: Path) -> None:
        table = csv_rows(export(store_url, "csv", tmp_path / "x.csv"))
        totals = {(r[1], r[2]): r[7] for r in table[1:] if r[3:7] == ["", "", "", ""]}
        assert totals["bergen", "opened"] == "2"  # including 30 April 23:30
        assert totals["castricum", "opened"] == "0"  # its item belongs to March
        assert totals["uitgeest", "opened"] == "0"
        assert totals["heiloo", "satisfaction_mean"] == "9.00"
        assert {r[0] for r in table[1:]} == {"2024-04"}

    def test_default_name_in_the_working_directory(
        self, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        path = export(store_url, "json", None)
        assert path == tmp_path / "contactmon-export-2024-04.json"
        assert path.is_file()

    def test_an_out_directory_gets_the_default_name(self, store_url: str, tmp_path: Path) -> None:
        (tmp_path / "exports").mkdir()
        path = export(store_url, "xlsx", tmp_path / "exports")
        assert path == tmp_path / "exports" / "contactmon-export-2024-04.xlsx"

    def test_a_bad_month_is_named_before_anything_is_touched(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'never.sqlite3'}"
        with pytest.raises(MonthFormatError, match=r"--month must be YYYY-MM, got '2024/04'"):
            run_export(url, "2024/04", "csv", None, CALENDAR, MUNICIPALITIES)
        with pytest.raises(ExportFormatError, match="got 'ods'"):
            run_export(url, "2024-04", "ods", None, CALENDAR, MUNICIPALITIES)
        assert list(tmp_path.iterdir()) == []

    def test_a_missing_store_is_an_error_not_an_empty_export(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'missing.sqlite3'}"
        with pytest.raises(StoreError, match="no store database at"):
            export(url, "csv", tmp_path / "x.csv")
        assert list(tmp_path.iterdir()) == []
