"""The report as a reader gets it: rendered by a real headless Chromium and printed to PDF.

A simulated year of the four municipalities is replayed into a store and reported. Checked:
- at the printed page's width (A4 landscape less the margins) no element sticks out of the page,
  every chart is there with its title, description and data table, every text is at least 8 pt
  (SVG text scaled as drawn) and has a contrast of at least 4.5:1 against its background;
- the PDF has the expected pages, each starting with its heading, and pdftotext finds the headline
  figures on the page of key figures;
- every page as a PNG (pdftoppm) has ink on it. The PNGs go to $CONTACTMON_REPORT_SCREENSHOTS when
  set (to look at them), else to a temporary directory.

Chromium (Debian package `chromium`) and pdftotext/pdftoppm (`poppler-utils`) are installed with
apt-get when missing, as on a fresh CI machine; the test fails, never skips, when they cannot be.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from PIL import Image

from streams.cli import main
from streams.core.config import load_norms
from streams.export.indicators import Month
from streams.report.html import value_text
from streams.report.run import compute_figures
from streams.report.summary import summary as figures_summary

PROGRAMS = {"chromium": "chromium", "pdftotext": "poppler-utils", "pdftoppm": "poppler-utils"}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
PAGE_WIDTH_PX = 1024  # A4 landscape (297 mm) less 2 × 13 mm margins, at 96 px per inch
MIN_FONT_PX = 10.6  # 8 pt
MONTH = Month(2024, 3)
UNTIL = "2024-03-26T09:00:00+01:00"  # the events known then: March still open
NBSP = "\u00a0"


def ensure_programs() -> None:
    """Install Chromium and poppler-utils with apt-get when missing (CI machines are fresh)."""
    missing = sorted({pkg for prog, pkg in PROGRAMS.items() if shutil.which(prog) is None})
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(
            f"the report tests need {', '.join(missing)}: apt-get install {' '.join(missing)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", *missing, "fonts-dejavu-core"],
        check=True,
        env=env,
        capture_output=True,
    )


CHECK_SCRIPT = r"""
<script>
(function () {
  function rgb(text) { var m = text.match(/[\d.]+/g) || ["0","0","0","0"];
    return {r: +m[0], g: +m[1], b: +m[2], a: m.length > 3 ? +m[3] : 1}; }
  function lum(c) { return [c.r, c.g, c.b].map(function (v) { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce(function (s, v, i) { return s + v * [0.2126, 0.7152, 0.0722][i]; }, 0); }
  function background(el) { for (; el && el.nodeType === 1; el = el.parentElement) {
      var c = rgb(getComputedStyle(el).backgroundColor); if (c.a > 0) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; }
  function ratio(a, b) { var x = lum(a), y = lum(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
  var width = document.documentElement.clientWidth;
  var out = {width: width, scrollWidth: document.documentElement.scrollWidth, outside: [],
             small: [], lowContrast: [], charts: []};
  var all = document.body.querySelectorAll("*");
  for (var i = 0; i < all.length; i++) {
    var el = all[i], inSvg = el.closest("svg") !== null && el.tagName.toLowerCase() !== "svg";
    var box = el.getBoundingClientRect();
    if (!inSvg && (box.width > 0 || box.height > 0) && (box.right > width + 1 || box.left < -1))
      out.outside.push(el.tagName + "#" + el.id + " " + Math.round(box.left) + ".." +
                       Math.round(box.right));
    var own = Array.prototype.some.call(el.childNodes, function (n) {
      return n.nodeType === 3 && n.textContent.trim().length > 0; });
    if (!own || box.width === 0) continue;
    var style = getComputedStyle(el), size = parseFloat(style.fontSize), fg = rgb(style.color);
    var bg = background(el);
    if (inSvg) {
      var svg = el.closest("svg"), vb = svg.viewBox.baseVal;
      size = size * svg.getBoundingClientRect().width / vb.width;
      fg = rgb(style.fill); bg = {r: 255, g: 255, b: 255, a: 1};
    }
    if (size < %(min)s) out.small.push(el.tagName + " '" + el.textContent.trim().slice(0, 30) +
                                        "' " + size.toFixed(1) + "px");
    if (ratio(fg, bg) < 4.5) out.lowContrast.push(el.tagName + " '" +
        el.textContent.trim().slice(0, 30) + "' " + ratio(fg, bg).toFixed(2));
  }
  var charts = document.querySelectorAll("svg.chart");
  for (var j = 0; j < charts.length; j++) {
    var c = charts[j], r = c.getBoundingClientRect(), row = c.closest(".chart-row");
    var title = c.querySelector("title"), desc = c.querySelector("desc");
    out.charts.push({id: c.id, width: r.width, height: r.height,
      title: title ? title.textContent : "", desc: desc ? desc.textContent : "",
      table: row ? row.querySelectorAll("table tbody tr").length : 0,
      lines: c.querySelectorAll("path, use, rect").length});
  }
  var pre = document.createElement("pre"); pre.id = "check-result";
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();
</script>
"""


def chromium(*args: str, profile: Path) -> str:
    done = subprocess.run(
        ["chromium", *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated year (April 2023 … March 2024, Heiloo slipping), replayed as it stood on the
    morning of 26 March 2024 and reported: the report month is still open, so the report has
    its widest layout (provisional figures, the month's outlook beside every norm)."""
    ensure_programs()
    folder = tmp_path_factory.mktemp("year")
    events = folder / "year.jsonl"
    url = f"sqlite:///{folder / 'outcomes.sqlite3'}"
    simulate = ["simulate", "--start", "2023-04-01", "--months", "12", "--slip", "heiloo"]
    assert main([*simulate, "--seed", "3", "--out", str(events)]) == 0
    until = datetime.fromisoformat(UNTIL)
    with events.open("rb") as whole:
        known = [
            line for line in whole if datetime.fromisoformat(orjson.loads(line)["time"]) < until
        ]
    events.write_bytes(b"".join(known))
    assert main(["replay", str(events), "--until", UNTIL, "--store", url]) == 0
    out = folder / "report"
    assert main(["report", "--month", str(MONTH), "--store", url, "--out", str(out)]) == 0
    (out / "store-url").write_text(url)
    return out


@pytest.fixture(scope="module")
def checks(report: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    html = (report / f"contactmon-rapport-{MONTH}.html").read_text("utf-8")
    probe = re.sub(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "", html)
    probe = probe.replace("</body>", CHECK_SCRIPT.replace("%(min)s", str(MIN_FONT_PX)) + "</body>")
    page = tmp_path_factory.mktemp("probe") / "probe.html"
    page.write_text(probe, encoding="utf-8")
    dom = chromium(
        f"--window-size={PAGE_WIDTH_PX},900",
        "--dump-dom",
        page.as_uri(),
        profile=page.parent / "profile",
    )
    found = re.search(r'<pre id="check-result">(.*?)</pre>', dom, flags=re.DOTALL)
    assert found is not None, dom[-2000:]
    result: dict[str, object] = json.loads(found[1].replace("&quot;", '"').replace("&amp;", "&"))
    return result


def test_nothing_sticks_out_of_the_page(checks: dict[str, object]) -> None:
    assert checks["width"] == PAGE_WIDTH_PX
    assert checks["scrollWidth"] == checks["width"]
    assert checks["outside"] == []


def test_every_chart_is_there_with_its_table(checks: dict[str, object]) -> None:
    config = load_norms()
    charts = checks["charts"]
    assert isinstance(charts, list)
    assert len(charts) == len(config.norm_ids) + 2
    for chart in charts:
        assert chart["width"] > 300, chart["id"]
        assert chart["height"] > 150, chart["id"]
        assert chart["lines"] > 20, chart["id"]
        assert len(chart["title"]) > 5, chart["id"]
        assert len(chart["desc"]) > 60, chart["id"]
        assert chart["table"] >= 6, chart["id"]  # the data beside it


def test_text_is_readable(checks: dict[str, object]) -> None:
    assert checks["small"] == []
    assert checks["lowContrast"] == []


def pdf_pages(pdf: Path) -> list[str]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    count = int(re.search(r"^Pages:\s+(\d+)", info.stdout, flags=re.MULTILINE)[1])  # type: ignore[index]
    return [
        subprocess.run(
            ["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.replace(NBSP, " ")
        for n in range(1, count + 1)
    ]


def test_the_pdf_has_the_expected_pages(report: Path) -> None:
    config = load_norms()
    figures = compute_figures((report / "store-url").read_text(), MONTH, config)
    pages = pdf_pages(report / f"contactmon-rapport-{MONTH}.pdf")
    headings = [
        "Maandrapportage maart 2024",
        "Kerncijfers maart 2024",
        *(n.figure.indicator.titel for n in figures.norms),
        "Telefoon",
        "Klachten en tevredenheid",
        "Uitsplitsing naar segment",
        "Uitsplitsing naar kanaal",
        "Verantwoording",
    ]
    assert len(pages) == len(headings)
    for text, heading in zip(pages, headings, strict=True):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        assert heading in lines[:3], (heading, lines[:3])
    assert "Samenvatting" in pages[0]
    reactie = figures.norms[0]
    outlooks = [line.outlook for line in reactie.figure.lines]
    assert all(ahead is not None for ahead in outlooks)  # the month is open everywhere
    assert "Mag nog te laat" in pages[2]
    (sentence,) = [
        s for s in figures_summary(figures) if s.startswith("De reactienorm voor meldingen over")
    ]
    assert "die nog loopt" in sentence
    assert "Heiloo" in sentence
    assert " ".join(sentence.replace(NBSP, " ").split()[:8]) in " ".join(pages[0].split())
    headline = " ".join(pages[1].split())
    for norm in figures.norms[:2]:  # the Fixi headline figures, all four municipalities
        for line in norm.figure.lines:
            assert value_text(line.current, "%").replace(NBSP, " ") in headline, line.place.name


def test_every_page_as_a_picture(report: Path, tmp_path: Path) -> None:
    target = Path(os.environ.get("CONTACTMON_REPORT_SCREENSHOTS", tmp_path))
    target.mkdir(parents=True, exist_ok=True)
    pdf = report / f"contactmon-rapport-{MONTH}.pdf"
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(target / "page")], check=True)
    pictures = sorted(target.glob("page-*.png"))
    assert len(pictures) == len(pdf_pages(pdf))
    for picture in pictures:
        with Image.open(picture) as image:
            grey = image.convert("L")
            ink = sum(grey.histogram()[:200]) / (grey.width * grey.height)
        assert image.width > image.height  # landscape
        assert ink > 0.003, picture.name
    screen = target / "screen.png"
    chromium(
        "--window-size=1280,1800",
        f"--screenshot={screen}",
        (report / f"contactmon-rapport-{MONTH}.html").as_uri(),
        profile=tmp_path / "profile",
    )
    assert screen.is_file()
