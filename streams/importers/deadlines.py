"""Signalen's deadlines beside ours, as a CSV file a user can open (``--deadlines``).

One row per new signal whose category has a deadline, appended poll after poll (the header is
written when the file is new), owner-only like every file the importers write. A row holds no
personal data and no Signalen id: the signal's pseudonymous subject (the one its events carry),
the municipality, the category and dates.

Columns: ``subject, municipality, category, opened`` (the local date the signal came in),
``working_days`` (Monday to Friday, as Signalen counts them), ``deadline_signalen``,
``deadline_ours`` (as many working days on the monitor's calendar, which knows Dutch holidays),
``agree`` (``ja``/``nee``), and the same four for Signalen's ``deadline_factor_3`` (empty when
the category has none).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sources.signalen import DeadlineComparison
from streams.files import OWNER_ONLY

__all__ = ["COLUMNS", "DeadlineRow", "append_rows"]

COLUMNS: Final = (
    "subject",
    "municipality",
    "category",
    "opened",
    "working_days",
    "deadline_signalen",
    "deadline_ours",
    "agree",
    "factor_3_working_days",
    "factor_3_signalen",
    "factor_3_ours",
    "factor_3_agree",
)


@dataclass(frozen=True)
class DeadlineRow:
    """One signal's comparison, with what names it in the monitor's figures."""

    subject: str
    municipality: str
    category: str
    comparison: DeadlineComparison

    def cells(self) -> list[str]:
        c = self.comparison
        factor = ["", "", "", ""]
        if c.factor_3 is not None:
            days, theirs, ours = c.factor_3
            factor = [str(days), theirs.isoformat(), ours.isoformat(), _yes(theirs == ours)]
        return [
            self.subject,
            self.municipality,
            self.category,
            c.opened.isoformat(),
            str(c.working_days),
            c.theirs.isoformat(),
            c.ours.isoformat(),
            _yes(not c.disagrees),
            *factor,
        ]


def _yes(value: bool) -> str:
    return "ja" if value else "nee"


def append_rows(path: Path, rows: Iterable[DeadlineRow]) -> int:
    """Append ``rows`` to the CSV file ``path`` (created 0600 with its header); how many."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    count = 0
    for row in rows:
        writer.writerow(row.cells())
        count += 1
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, OWNER_ONLY)
    new = os.fstat(fd).st_size == 0
    with os.fdopen(fd, "a", encoding="utf-8", newline="") as f:
        if new:
            csv.writer(f, lineterminator="\n").writerow(COLUMNS)
        f.write(text.getvalue())
    return count
