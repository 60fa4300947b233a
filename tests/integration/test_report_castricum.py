"""The Castricum scenario end to end: simulate → replay → report states the seed's 88 % and 91 %
for 2023H1 in its text and tables (HTML and PDF); the scheduled commands change nothing the
second time."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from streams.cli import main
from tests.integration.test_report_render import ensure_programs

NBSP = "\u00a0"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("castricum")
    events = folder / "castricum.jsonl"
    url = f"sqlite:///{folder / 'outcomes.sqlite3'}"
    assert main(["simulate", "--scenario", "castricum_2023h1", "--out", str(events)]) == 0
    until = "2023-09-01T00:00:00+02:00"
    assert main(["replay", str(events), "--until", until, "--store", url]) == 0
    return url


@pytest.fixture(scope="module")
def report(store: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ensure_programs()
    out = tmp_path_factory.mktemp("report")
    assert main(["report", "--month", "2023-06", "--store", store, "--out", str(out)]) == 0
    return out


def test_the_half_year_in_the_summary_and_tables(report: Path) -> None:
    html = (report / "contactmon-rapport-2023-06.html").read_text("utf-8").replace(NBSP, " ")
    summary = html[html.index('<ul class="summary">') : html.index("</ul>")]
    assert "2023H1 (januari t/m juni 2023)" in summary
    assert "binnen 3 werkdagen gereageerd Castricum 88 %" in summary
    assert "binnen 10 werkdagen afgehandeld Castricum 91 %" in summary
    reactie = html[html.index('id="norm-melding-reactie"') : html.index('id="norm-melding-afh')]
    assert '<th scope="col">2023H1</th>' in reactie
    assert "88,0 %" in reactie
    assert "1.084 / 1.232" in reactie
    afhandeling = html[html.index('id="norm-melding-afhandeling"') : html.index('id="norm-vraag')]
    assert "91,0 %" in afhandeling
    assert "1.121 / 1.232" in afhandeling


def test_the_pdf_says_the_same(report: Path) -> None:
    text = subprocess.run(
        ["pdftotext", "-layout", str(report / "contactmon-rapport-2023-06.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace(NBSP, " ")
    flat = " ".join(text.split())
    assert "Castricum 88 %" in flat
    assert "Castricum 91 %" in flat
    assert "88,0 %" in flat
    assert "91,0 %" in flat
    assert "1.084 / 1.232" in flat


def test_each_month_adds_up_to_the_half_year(store: str, tmp_path: Path) -> None:
    """Per month the shares wobble; teller and noemer of the six KPI files sum to 1084/1232."""
    totals = {"melding_reactie": [0, 0], "melding_afhandeling": [0, 0]}
    for month in range(1, 7):
        args = ["export", "--month", f"2023-{month:02d}", "--table", "kpi", "--store", store]
        assert main([*args, "--out", str(tmp_path)]) == 0
        for line in (tmp_path / f"contactmon-kpi-2023-{month:02d}.csv").read_text().splitlines():
            cells = line.split(",")
            if cells[0] == "GM0383" and cells[2] in totals:
                totals[cells[2]][0] += int(cells[3])
                totals[cells[2]][1] += int(cells[4])
    assert totals == {"melding_reactie": [1084, 1232], "melding_afhandeling": [1121, 1232]}


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    return {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.iterdir())
    }


def test_scheduled_runs_twice_change_nothing(store: str, tmp_path: Path) -> None:
    ensure_programs()
    out = tmp_path / "reports"
    commands = [
        ["export", "--previous-month", "--table", "all", "--store", store, "--out", str(out)],
        ["report", "--previous-month", "--store", store, "--out", str(out)],
        ["report", "--month", "2023-06", "--store", store, "--out", str(out)],
    ]
    for command in commands:
        assert main(command) == 0
    first = snapshot(out)
    assert len(first) == 7  # three tables, two reports of two files each
    assert len({name.rsplit("-", 2)[-2] for name in first if "kpi" in name}) == 1
    for command in commands:
        assert main(command) == 0
    assert snapshot(out) == first
    assert shutil.which("chromium") is not None
