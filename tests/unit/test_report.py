"""The report's pure parts: figures, the Dutch summary and formatting, charts, HTML, the PDF's
error when Chromium is missing, and the mail settings."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import pytest

from streams.core.config import load_norms
from streams.export.indicators import Month
from streams.export.kpi import Fact, norm_base, very_late_base
from streams.export.run import indicators_of, norm_infos, targets_of
from streams.report import charts, nl
from streams.report.figures import (
    Cell,
    Place,
    ReportFigures,
    half_year_of,
    months_needed,
    outlook,
    report_figures,
    trend_months,
)
from streams.report.html import render_html
from streams.report.mail import MailError, SmtpSettings, load_smtp_settings
from streams.report.pdf import PdfError, find_chromium, fix_dates
from streams.report.summary import summary

CONFIG = load_norms()
PLACES = [Place(m.slug, m.name, m.cbs_code) for m in CONFIG.municipalities]
MONTH = Month(2024, 6)
REACTIE = norm_base("melding-reactie")
AFHANDELING = norm_base("melding-afhandeling")


def fact(slug: str, base: str, teller: int, noemer: int | None, undecided: int = 0) -> Fact:
    return Fact(slug, base, "", "", teller, noemer, undecided)


def facts() -> dict[Month, list[Fact]]:
    """Castricum a steady 88 % / 91 % all half year; Heiloo slipping in June, some still open."""
    found: dict[Month, list[Fact]] = {m: [] for m in months_needed(MONTH)}
    for m in half_year_of(MONTH).months:
        found[m] += [fact("castricum", REACTIE, 176, 200), fact("castricum", AFHANDELING, 182, 200)]
    found[MONTH] += [
        fact("heiloo", REACTIE, 71, 100, undecided=4),
        fact("heiloo", AFHANDELING, 95, 100),
        fact("bergen", REACTIE, 899, 1000),  # 89.9 %: rounds to 90, still a miss
    ]
    found[Month(2023, 6)] += [fact("castricum", REACTIE, 150, 200)]
    return found


def figures() -> ReportFigures:
    late = {("heiloo", "melding-reactie"): Counter({"afval": 20, "groen": 9})}
    return report_figures(MONTH, facts(), norm_infos(CONFIG), PLACES, targets_of(CONFIG), late)


class TestFigures:
    def test_the_months(self) -> None:
        assert trend_months(MONTH)[0] == Month(2023, 7)
        assert trend_months(MONTH)[-1] == MONTH
        assert len(months_needed(MONTH)) == 13
        assert half_year_of(Month(2024, 8)).months == (Month(2024, 7), Month(2024, 8))
        assert half_year_of(MONTH).label == "2024H1"
        assert half_year_of(MONTH).complete

    def test_half_year_and_year_ago(self) -> None:
        line = figures().norms[0].figure.line("castricum")
        assert (line.half_year.teller, line.half_year.noemer) == (1056, 1200)
        assert line.half_year.value == Decimal("88.0")
        assert line.year_ago.value == Decimal("75.0")
        assert line.change == Decimal("13.0")
        assert line.missed
        assert len(line.trend) == 12

    def test_misses_are_exact_and_provisional_is_kept(self) -> None:
        reactie = figures().norms[0].figure
        assert reactie.line("bergen").missed  # 89.9 % < 90 %
        assert reactie.line("heiloo").current.voorlopig
        assert not reactie.line("uitgeest").current.known


def open_month_figures() -> ReportFigures:
    """June with Heiloo's reports still being handled: 95 of 100 on time, 10 open; 5 very late."""
    found = facts()
    found[MONTH] = [f for f in found[MONTH] if (f.municipality, f.base) != ("heiloo", AFHANDELING)]
    found[MONTH] += [
        fact("heiloo", AFHANDELING, 95, 100, undecided=10),
        fact("heiloo", very_late_base("melding-reactie"), 5, 100, undecided=4),
    ]
    late = {("heiloo", "melding-reactie"): Counter({"afval": 20, "groen": 9})}
    return report_figures(MONTH, found, norm_infos(CONFIG), PLACES, targets_of(CONFIG), late)


class TestOutlook:
    """A month still open: best and worst share and how many more may be late, as the live
    metrics (contact_norm_month_projection_ratio, contact_norm_month_headroom_items) say."""

    def test_hand_computation(self) -> None:
        # 95 met, 5 late, 10 open, target 90 %: 95 + 10 - 0.9 x 110 = 6 more may be late
        ahead = outlook(Cell(95, 100, None, True, 10), Decimal(90))
        assert ahead is not None
        assert (ahead.best, ahead.worst, ahead.headroom) == (
            Fraction(105, 110),
            Fraction(95, 110),
            6,
        )
        assert not ahead.lost
        assert not ahead.certain
        lost = outlook(Cell(71, 100, None, True, 4), Decimal(90))
        assert lost is not None
        assert lost.headroom == 75 - 94  # 75 - 93.6, rounded down
        assert lost.lost
        sure = outlook(Cell(100, 100, None, True, 3), Decimal(90))
        assert sure is not None
        assert sure.certain
        assert outlook(Cell(95, 100, None, False, 0), Decimal(90)) is None  # decided
        assert outlook(Cell(95, 100, None, True, 3), None) is None  # no target

    def test_in_the_summary(self) -> None:
        text = [s.replace(nl.NBSP, " ") for s in summary(open_month_figures())]
        assert (
            "De afhandelnorm voor meldingen over juni 2024, die nog loopt: Heiloo mag nog 6 "
            "meldingen te laat afhandelen (10 nog open)."
        ) in text
        assert (
            "De reactienorm voor meldingen over juni 2024, die nog loopt: Heiloo haalt die norm "
            "niet meer (hoogstens 72 %)."
        ) in text
        assert any("29 meldingen te laat (waarvan 5 zeer laat)" in s for s in text)

    def test_in_the_norm_tables(self) -> None:
        page = render_html(open_month_figures(), indicators_of(CONFIG)).replace(nl.NBSP, " ")
        section = page.split('id="norm-melding-afhandeling"')[1].split("</section>")[0]
        assert "Mag nog te laat" in section
        heiloo = section.split('<th scope="row">Heiloo</th>')[1].split("</tr>")[0]
        assert "86,4 % – 95,5 %" in heiloo  # 95 / 110 and 105 / 110
        assert "<td>6</td>" in heiloo
        closed = page.split('id="norm-vraag-reactie"')[1].split("</section>")[0]
        assert "Mag nog te laat" not in closed  # nothing open there


class TestSummary:
    def test_in_plain_dutch(self) -> None:
        text = [s.replace(nl.NBSP, " ") for s in summary(figures())]
        assert (
            "Heiloo haalde de reactienorm voor meldingen niet: 71 % binnen 3 werkdagen "
            "gereageerd (voorlopig), norm 90 %; 29 meldingen te laat, vooral categorie afval."
        ) in text
        assert any(
            "Bergen (NH) haalde de reactienorm voor meldingen niet: 89,9 %" in s for s in text
        )
        (half,) = [s for s in text if "2024H1" in s]
        assert "Castricum 88 %" in half
        assert "Castricum 91 %" in half
        assert any(s.startswith("Voorlopig:") and "Heiloo 4 meldingen" in s for s in text)
        assert any(s.startswith("Geen gegevens over juni 2024 voor Uitgeest") for s in text)

    def test_formatting(self) -> None:
        assert nl.percent(Decimal("88.0")) == "88,0\u00a0%"
        assert nl.integer(1232) == "1.232"
        assert nl.change(Decimal("-1.5")) == "\u22121,5"
        assert nl.change(Decimal("3.2")) == "+3,2"
        assert nl.whole_percent(Decimal("89.96"), below=Decimal(90)) == "89,9\u00a0%"
        assert nl.join(["a", "b", "c"]) == "a, b en c"
        assert nl.month_name(Month(2024, 3)) == "maart 2024"


@pytest.fixture(scope="module")
def html() -> str:
    return render_html(figures(), indicators_of(CONFIG))


class TestHtml:
    def test_self_contained(self, html: str) -> None:
        assert "Content-Security-Policy" in html
        assert "default-src 'none'" in html
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
        assert "<script" not in html
        assert '<html lang="nl">' in html

    def test_every_chart_has_a_text_alternative_and_a_table(self, html: str) -> None:
        charts_found = re.findall(r'<svg id="(chart-[\w-]+)" role="img"', html)
        assert len(charts_found) == len(CONFIG.norm_ids) + 2  # norms, abandonment, satisfaction
        assert len(set(charts_found)) == len(charts_found)
        for chart_id in charts_found:
            assert f'<title id="{chart_id}-title">' in html
            assert re.search(rf'<desc id="{chart_id}-desc">[^<]{{40,}}</desc>', html)
            assert f'aria-describedby="{chart_id}-desc"' in html  # the table beside it

    def test_ids_are_unique(self, html: str) -> None:
        ids = re.findall(r'\bid="([^"]+)"', html)
        assert len(ids) == len(set(ids))

    def test_the_castricum_half_year_in_the_tables(self, html: str) -> None:
        assert "88,0\u00a0%" in html
        assert "1.056 / 1.200" in html
        assert "91,0\u00a0%" in html

    def test_the_same_figures_give_the_same_bytes(self, html: str) -> None:
        assert render_html(figures(), indicators_of(CONFIG)) == html

    def test_names_are_escaped(self) -> None:
        places = [Place("bergen", "<b>Bergen</b> & co", "GM0373")]
        data = report_figures(MONTH, facts(), norm_infos(CONFIG), places, targets_of(CONFIG), {})
        html = render_html(data, indicators_of(CONFIG))
        assert "<b>Bergen</b>" not in html
        assert "&lt;b&gt;Bergen&lt;/b&gt; &amp; co" in html


class TestCharts:
    def test_the_dashboards_colours(self) -> None:
        from streams.dashboards.common import MUNICIPALITY_COLOURS  # noqa: PLC0415

        assert charts.COLOURS == MUNICIPALITY_COLOURS

    def test_svg_is_reproducible_with_text_as_text(self) -> None:
        series = [charts.SeriesData("bergen", "Bergen (NH)", [Decimal(90), None], [False, True])]
        one = charts.trend_chart("c1", "t", "d", ["a", "b"], series, [Decimal(90)])
        two = charts.trend_chart("c1", "t", "d", ["a", "b"], series, [Decimal(90)])
        assert one == two
        assert one.startswith('<svg id="c1" role="img"')
        assert "<text" in one
        assert "norm 90 %" in one
        other = charts.trend_chart("c2", "t", "d", ["a", "b"], series, [Decimal(90)])
        ids = re.findall(r'id="([^"]+)"', one)
        assert len(ids) == len(set(ids))
        assert all(i.startswith("c1") for i in ids)
        assert not set(ids) & set(re.findall(r'id="([^"]+)"', other))
        for ref in re.findall(r"url\(#([^)]+)\)|href=\"#([^\"]+)\"", one):
            assert next(r for r in ref if r) in ids


class TestPdf:
    def test_a_missing_chromium_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("CONTACTMON_CHROMIUM", raising=False)
        monkeypatch.setenv("PATH", "/nonexistent")
        with pytest.raises(PdfError, match=r"no `chromium` program.*apt-get install chromium"):
            find_chromium()

    def test_a_wrong_setting_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CONTACTMON_CHROMIUM", "/nonexistent/chromium")
        with pytest.raises(PdfError, match="CONTACTMON_CHROMIUM"):
            find_chromium()

    def test_dates_are_fixed_in_place(self) -> None:
        from datetime import datetime  # noqa: PLC0415

        pdf = b"<</CreationDate (D:20261202000405+00'00')/ModDate (D:20261202000406+00'00')>>"
        fixed = fix_dates(pdf, datetime(2024, 3, 1))
        assert (
            fixed
            == b"<</CreationDate (D:20240301000000+00'00')/ModDate (D:20240301000000+00'00')>>"
        )
        assert len(fixed) == len(pdf)


class TestMailSettings:
    ENV: ClassVar[dict[str, str]] = {
        "CONTACTMON_SMTP_HOST": "127.0.0.1",
        "CONTACTMON_SMTP_FROM": "contactmon@example.nl",
        "CONTACTMON_SMTP_TO": "a@example.nl, b@example.nl",
        "CONTACTMON_SMTP_USERNAME": "rapport",
        "CONTACTMON_SMTP_PASSWORD": "geheim-wachtwoord",
    }

    def test_from_the_environment(self) -> None:
        settings = load_smtp_settings(self.ENV)
        assert settings.port == 587
        assert settings.starttls
        assert settings.recipients == ["a@example.nl", "b@example.nl"]
        assert "geheim-wachtwoord" not in repr(settings)
        assert settings.password is not None
        assert settings.password.get_secret_value() == "geheim-wachtwoord"

    def test_the_process_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for key, value in self.ENV.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("CONTACTMON_SMTP_PORT", "2525")
        settings = load_smtp_settings()
        assert isinstance(settings, SmtpSettings)
        assert settings.port == 2525

    def test_problems_name_the_variable_never_the_value(self) -> None:
        env = {**self.ENV, "CONTACTMON_SMTP_PORT": "geheim-wachtwoord"}
        del env["CONTACTMON_SMTP_HOST"]
        with pytest.raises(MailError) as caught:
            load_smtp_settings(env)
        message = str(caught.value)
        assert "CONTACTMON_SMTP_HOST is not set" in message
        assert "CONTACTMON_SMTP_PORT" in message
        assert "geheim" not in message

    def test_no_password_in_clear(self) -> None:
        with pytest.raises(MailError, match="in clear"):
            load_smtp_settings({**self.ENV, "CONTACTMON_SMTP_STARTTLS": "false"})

    def test_a_missing_ca_file_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(MailError, match="CONTACTMON_SMTP_CAFILE"):
            load_smtp_settings({**self.ENV, "CONTACTMON_SMTP_CAFILE": str(tmp_path / "no.pem")})
