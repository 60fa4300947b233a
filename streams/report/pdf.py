"""The report's HTML printed to PDF by headless Chromium.

Chromium rather than WeasyPrint: it is the browser the report is also read in, so the PDF and the
screen show the same layout (CSS grid, inline SVG with text, `@page` size and page breaks), and
the render tests check what Chromium draws; WeasyPrint would add Pango and a second layout engine
whose output nobody checks. The cost is a large program at run time: without it, `report` says so
and which package to install, or `--format html` skips the PDF.

Chromium runs with a fresh profile in a temporary directory, no network services (no sync,
component updates, background networking or QUIC); the page itself allows no scripts and no
external loads (its Content-Security-Policy). The PDF's creation and modification dates are set
to the report month's first day, so the same HTML always gives the same PDF bytes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

CHROMIUM_ENV = "CONTACTMON_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",  # runs as root in containers and CI; the page is our own, without scripts
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-pdf-header-footer",
)
TIMEOUT = 180.0
_DATE = re.compile(rb"\(D:\d{14}")


class PdfError(Exception):
    """The PDF cannot be made; the message says why and what to do."""


def find_chromium() -> str:
    """The Chromium to use: $CONTACTMON_CHROMIUM, else the first of CHROMIUM_NAMES on PATH."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise PdfError(
                f"{CHROMIUM_ENV}={configured} is not an executable program; point it at "
                "Chromium, or unset it to look for `chromium` on PATH"
            )
        return found
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise PdfError(
        "the PDF needs Chromium, and no `chromium` program was found on PATH: install it "
        "(Debian: apt-get install chromium), set CONTACTMON_CHROMIUM to its path, "
        "or write only the HTML with --format html"
    )


def fix_dates(pdf: bytes, when: datetime) -> bytes:
    """Every `(D:YYYYMMDDHHmmSS` date in the PDF set to `when`; lengths and offsets unchanged."""
    stamp = b"(D:" + when.strftime("%Y%m%d%H%M%S").encode("ascii")
    return _DATE.sub(stamp, pdf)


def html_to_pdf(html: str, *, created: datetime, chromium: str | None = None) -> bytes:
    """Print `html` (a complete document) to PDF with headless Chromium; return the PDF bytes."""
    program = chromium or find_chromium()
    with tempfile.TemporaryDirectory(prefix="contactmon-pdf-") as work:
        folder = Path(work)
        page = folder / "report.html"
        page.write_text(html, encoding="utf-8")
        out = folder / "report.pdf"
        profile = folder / "profile"
        command = [
            program,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError as exc:
            raise PdfError(f"cannot start Chromium ({program}): {exc.strerror}") from exc
        except subprocess.TimeoutExpired as exc:
            raise PdfError(f"Chromium did not finish the PDF within {TIMEOUT:.0f} s") from exc
        if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PdfError(
                f"Chromium ({program}) made no PDF (exit {done.returncode}): " + " | ".join(tail)
            )
        return fix_dates(out.read_bytes(), created)
