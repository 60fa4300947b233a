"""`contactmon report`: read thirteen months from the store, write the report, deliver it.

The report month, the eleven before it and the same month a year earlier are read month by month
exactly as `contactmon export` reads one (`streams.export.run.read_month`), turned into the tidy
table and its KPI facts, and handed to the pure `report_figures`. Rendering is HTML (Jinja2,
charts by matplotlib) and, optionally, a PDF of that HTML printed by Chromium.

Files are `contactmon-rapport-YYYY-MM.html` / `.pdf` in `--out` (a directory, created when
missing), 0640, atomic, and written only when their bytes change; the PDF is not even printed
again while the HTML beside it is unchanged. Mail goes out once per version of the report: a
marker file `.contactmon-rapport-YYYY-MM.sent` remembers the digest of what was sent to whom, so a
repeated scheduled run sends nothing new, while a run after a failed delivery sends it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.core.config import MonitorConfig
from streams.export.indicators import Month
from streams.export.kpi import Fact, month_facts
from streams.export.run import (
    Written,
    indicators_of,
    norm_infos,
    read_month,
    targets_of,
    tidy_rows,
)
from streams.export.writers import write_if_changed
from streams.report import nl
from streams.report.figures import (
    Place,
    ReportFigures,
    late_categories,
    months_needed,
    report_figures,
)
from streams.report.html import render_html
from streams.report.mail import SmtpSettings, send_report
from streams.report.summary import summary
from streams.store.base import open_store

REPORT_FORMATS = ("all", "html", "pdf")
"""`--format`: both files (default), or only one of them."""


class ReportOptionError(ValueError):
    """A report option cannot be used as given; the message says what to type instead."""


def report_name(month: Month, ext: str) -> str:
    """`contactmon-rapport-YYYY-MM.<ext>`."""
    return f"contactmon-rapport-{month}.{ext}"


def marker_name(month: Month) -> str:
    return f".contactmon-rapport-{month}.sent"


def compute_figures(store_url: str, month: Month, config: MonitorConfig) -> ReportFigures:
    """The report's figures for `month` from the store at `store_url`."""
    facts: dict[Month, list[Fact]] = {}
    late: dict[tuple[str, str], Counter[str]] = {}
    with open_store(store_url, create=False) as store:
        for m in months_needed(month):
            data = read_month(store, m, config.calendar)
            tidy = tidy_rows(data, config.calendar, config.slugs)
            facts[m] = month_facts(m, config.calendar, tidy, data.feedback)
            if m == month:
                late = late_categories(data.items, data.norms)
    places = [Place(m.slug, m.name, m.cbs_code) for m in config.municipalities]
    return report_figures(month, facts, norm_infos(config), places, targets_of(config), late)


def report_html(figures: ReportFigures, config: MonitorConfig) -> str:
    return render_html(figures, indicators_of(config))


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What a report run did."""

    files: list[Written]
    summary: list[str]
    provisional: bool
    mailed_to: list[str] = field(default_factory=list)
    mail_skipped: bool = False  # this version of the report was mailed to them before


def mail_text(figures: ReportFigures, sentences: Sequence[str], files: Sequence[Path]) -> str:
    """The mail's body: what is attached and the summary, in Dutch."""
    lines = [
        "Goedemorgen,",
        "",
        f"Bijgevoegd de maandrapportage kwaliteit van dienstverlening over "
        f"{nl.month_name(figures.month)} voor {nl.join([p.name for p in figures.places])} "
        f"({', '.join(f.name for f in files)}).",
        "",
        "Samenvatting:",
        *(f"- {s}" for s in sentences),
        "",
        "Dit bericht is automatisch verstuurd door contactmon.",
    ]
    return "\n".join(lines).replace(nl.NBSP, " ") + "\n"


def _digest(files: Sequence[Path], recipients: Sequence[str]) -> bytes:
    hasher = hashlib.sha256()
    for path in files:
        hasher.update(path.name.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    lines = [f"sha256 {hasher.hexdigest()}", *(f"to {r}" for r in sorted(recipients))]
    return ("\n".join(lines) + "\n").encode("utf-8")


def run_report(
    store_url: str,
    month: Month,
    fmt: str,
    out: Path | None,
    config: MonitorConfig,
    *,
    mail: SmtpSettings | None = None,
    chromium: str | None = None,
) -> ReportResult:
    """Write the report of `month` as `fmt` into `out` (default: here) and mail it if asked.

    Raises ReportOptionError for bad options (before the store is opened), StoreError, PdfError
    (no Chromium) and MailError; a failed mail leaves the written files in place.
    """
    from streams.report.pdf import find_chromium, html_to_pdf  # noqa: PLC0415

    if fmt not in REPORT_FORMATS:
        raise ReportOptionError(f"--format must be one of {', '.join(REPORT_FORMATS)}, got {fmt!r}")
    folder = Path.cwd() if out is None else out
    if folder.exists() and not folder.is_dir():
        raise ReportOptionError(f"--out {folder} is a file; the report needs a directory")
    want_pdf = fmt in ("all", "pdf")
    program = find_chromium() if want_pdf and chromium is None else chromium
    figures = compute_figures(store_url, month, config)
    html = report_html(figures, config)
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Written] = []
    html_changed = True
    if fmt in ("all", "html"):
        html_path = folder / report_name(month, "html")
        html_changed = write_if_changed(html_path, html.encode("utf-8"))
        files.append(Written(html_path, html_changed))
    if want_pdf:
        pdf_path = folder / report_name(month, "pdf")
        if fmt == "all" and not html_changed and pdf_path.is_file():
            files.append(Written(pdf_path, changed=False))  # printed from this very HTML before
        else:
            pdf = html_to_pdf(html, created=month.created, chromium=program)
            files.append(Written(pdf_path, write_if_changed(pdf_path, pdf)))
    sentences = summary(figures)
    provisional = any(line.current.voorlopig for fig in figures.all_figures for line in fig.lines)
    result = ReportResult(files, sentences, provisional)
    if mail is None:
        return result
    attachments = [w.path for w in files]
    marker = folder / marker_name(month)
    digest = _digest(attachments, mail.recipients)
    if marker.is_file() and marker.read_bytes() == digest:
        return ReportResult(files, sentences, provisional, [], mail_skipped=True)
    subject = f"Maandrapportage kwaliteit van dienstverlening {nl.month_name(month)}"
    if provisional:
        subject += " (voorlopig)"
    sent = send_report(mail, subject, mail_text(figures, sentences, attachments), attachments)
    write_if_changed(marker, digest)
    return ReportResult(files, sentences, provisional, sent)
