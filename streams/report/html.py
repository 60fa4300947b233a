"""The report as one self-contained HTML page: figures → view rows → Jinja2 (autoescaped).

`render_html` is the only entry point. The view rows here are plain strings already formatted in
Dutch (streams.report.nl), so the template only places them; every value a municipality or norm
name could smuggle in is escaped by Jinja2's autoescape, and only the SVG the chart module made is
marked safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from jinja2 import Environment
from markupsafe import Markup

from streams.export.indicators import Month
from streams.export.kpi import (
    CHANNEL_WORDS,
    PERCENT,
    SATISFACTION,
    SEGMENT_WORDS,
    Indicator,
    very_late_base,
    within_text,
)
from streams.report import charts, nl
from streams.report.figures import Cell, Figure, Line, NormFigures, ReportFigures
from streams.report.summary import summary
from streams.report.template import MACROS, STYLE, TEMPLATE

METHOD = (
    "Bron: de uitkomsten die contactmon uit de contactgebeurtenissen van Fixi, het "
    "klantcontactcentrum en de andere kanalen berekent (dezelfde rijen als de maandexport). "
    "Meldingen, vragen, terugbelverzoeken en klachten tellen mee in de maand waarin ze "
    "binnenkwamen, gesprekken in de maand waarin ze in de wachtrij kwamen. Percentage binnen de "
    "norm = op tijd / (op tijd + te laat); ingetrokken of vervallen zaken en gesprekken die binnen "
    "de termijn werden opgehangen tellen niet mee. Werkdagen: maandag tot en met vrijdag, zonder "
    "feestdagen. Een cijfer met * is voorlopig: er zijn van die maand nog zaken of gesprekken "
    "zonder beslissing. Het halfjaar telt de maanden van januari of juli tot en met de maand van "
    "deze rapportage op. Zeer laat: te laat, en pas na meer dan drie keer de termijn klaar (of "
    "dan nog niet); per norm is dat de indicator <norm>_zeer_laat, aandeel van de beslissingen. "
    "Prognose en 'mag nog te laat' (bij een maand die nog loopt): dezelfde berekening als de "
    "live metrics contact_norm_month_projection_ratio en contact_norm_month_headroom_items. "
    "De volledige lijst van indicatoren staat in docs/indicatoren.md."
)


@dataclass(frozen=True, slots=True)
class ViewCell:
    text: str
    prov: bool = False
    miss: bool = False
    n: str = ""


@dataclass(frozen=True, slots=True)
class ViewRow:
    label: str
    cells: Sequence[ViewCell | str]
    norm: str = ""


@dataclass(frozen=True, slots=True)
class ChartView:
    id: str
    svg: Markup
    caption: str
    corner: str
    header: Sequence[str]
    rows: Sequence[ViewRow]


@dataclass(frozen=True, slots=True)
class CompareRow:
    name: str
    current: str
    prov: bool
    miss: bool
    counts: str
    target: str
    met: str
    year_ago: str
    change: str
    half: str
    half_prov: bool
    half_counts: str
    very_late: str
    outlook: str
    headroom: str


@dataclass(frozen=True, slots=True)
class NormView:
    id: str
    title: str
    definition: str
    norm_text: str
    rows: Sequence[CompareRow]
    chart: ChartView
    open_month: bool  # some municipality's month still has undecided items


@dataclass(frozen=True, slots=True)
class TableView:
    header: Sequence[str]
    rows: Sequence[ViewRow]
    chart: ChartView | None = None


@dataclass(frozen=True, slots=True)
class SplitView:
    name: str
    corner: str
    header: Sequence[str]
    rows: Sequence[ViewRow]


@dataclass(frozen=True, slots=True)
class ReportView:
    title: str
    month_name: str
    month_short: str
    year_ago_short: str
    half_label: str
    places_line: str
    places: Sequence[object]
    provisional: bool
    summary: Sequence[str]
    headline: Sequence[ViewRow]
    norm_sections: Sequence[NormView]
    phone: TableView
    complaints: TableView
    satisfaction: ChartView
    by_segment: Sequence[SplitView]
    by_channel: Sequence[SplitView]
    method: str
    definitions: Sequence[Indicator] = field(default_factory=list)


def value_text(cell: Cell, unit: str) -> str:
    """A cell's value as a table shows it: `88,0 %`, `1.232`, `7,45`, or a dash."""
    if cell.value is None:
        return nl.DASH
    if unit == PERCENT:
        return nl.percent(Decimal(cell.value))
    if cell.noemer is None:
        return nl.integer(int(cell.value))
    return nl.decimal(Decimal(cell.value), 2)


def counts_text(cell: Cell) -> str:
    """`1.084 / 1.232`, or a dash when nothing was decided."""
    if not cell.noemer:
        return nl.DASH
    return f"{nl.integer(cell.teller)} / {nl.integer(cell.noemer)}"


VERY_LATE_PREFIX = very_late_base("")
SOFT_HYPHEN = "\u00ad"
BREAKS = {"afhandeling": "afhande|ling", "terugbelverzoek": "terugbel|verzoek"}
"""Where long words in column headers may break (a soft hyphen)."""


def _norm_label(norm: NormFigures) -> str:
    """`Melding reactie`: a column header for the split tables; long words get a soft hyphen."""
    words = [BREAKS.get(w, w).replace("|", SOFT_HYPHEN) for w in norm.norm.id.split("-")]
    return " ".join(words).capitalize()


def _chart_rows(fig: Figure, labels: Sequence[str]) -> list[ViewRow]:
    unit = fig.indicator.eenheid
    return [
        ViewRow(
            label,
            [
                value_text(line.trend[i], unit) + ("*" if line.trend[i].voorlopig else "")
                for line in fig.lines
            ],
        )
        for i, label in enumerate(labels)
    ]


def _describe_trend(fig: Figure, labels: Sequence[str], what: str) -> str:
    unit = fig.indicator.eenheid
    parts = []
    for line in fig.lines:
        known = [c for c in line.trend if c.value is not None]
        if not known:
            parts.append(f"{line.place.name}: geen gegevens")
            continue
        low = min(Decimal(c.value) for c in known if c.value is not None)
        high = max(Decimal(c.value) for c in known if c.value is not None)
        last = value_text(line.trend[-1], unit)
        parts.append(
            f"{line.place.name}: {last} in {labels[-1]}, tussen "
            f"{value_text(Cell(0, 1, low, False, 0), unit)} en "
            f"{value_text(Cell(0, 1, high, False, 0), unit)} over de periode"
        )
    targets = sorted({line.target for line in fig.lines if line.target is not None})
    norm = f" Norm: {nl.join([nl.percent(t, 0) for t in targets])}." if targets else ""
    return (
        f"Lijngrafiek van {what} per maand, {labels[0]} tot en met {labels[-1]}, één lijn per "
        f"gemeente. " + "; ".join(parts) + "." + norm
    )


def trend_view(chart_id: str, fig: Figure, months: Sequence[Month], title: str) -> ChartView:
    """A trend chart with its data table (months down, municipalities across)."""
    axis = [nl.short_month(m) for m in months]
    table_labels = [nl.table_month(m) for m in months]
    percent = fig.indicator.eenheid == PERCENT
    series = [
        charts.SeriesData(
            line.place.slug,
            line.place.name,
            [c.value for c in line.trend],
            [c.voorlopig for c in line.trend],
        )
        for line in fig.lines
    ]
    targets = [line.target for line in fig.lines if line.target is not None]
    description = _describe_trend(fig, table_labels, title.lower())
    svg = charts.trend_chart(chart_id, title, description, axis, series, targets, percent=percent)
    caption = f"{title} per maand. Open markering: voorlopig." + (
        " Gestippelde zwarte lijn: de norm." if targets else ""
    )
    return ChartView(
        chart_id,
        Markup(svg),
        caption,
        "Maand",
        [line.place.name for line in fig.lines],
        _chart_rows(fig, table_labels),
    )


def _share(value: Fraction) -> str:
    return nl.percent(Decimal(value.numerator * 100) / Decimal(value.denominator))


def _compare_row(line: Line, very_late: Cell) -> CompareRow:
    unit = PERCENT
    met = nl.DASH
    if line.current.noemer and line.target is not None:
        met = "nee" if line.missed else "ja"
    ahead = line.outlook
    outlook = headroom = nl.DASH
    if ahead is not None:
        outlook = f"{_share(ahead.worst)} – {_share(ahead.best)}"
        headroom = (
            nl.change(Decimal(ahead.headroom), 0) if ahead.lost else nl.integer(ahead.headroom)
        )
    return CompareRow(
        name=line.place.name,
        current=value_text(line.current, unit),
        prov=line.current.voorlopig,
        miss=line.missed,
        counts=counts_text(line.current),
        target=nl.percent(line.target, 0) if line.target is not None else nl.DASH,
        met=met,
        year_ago=value_text(line.year_ago, unit),
        change=nl.change(line.change),
        half=value_text(line.half_year, unit),
        half_prov=line.half_year.voorlopig,
        half_counts=counts_text(line.half_year),
        very_late=nl.integer(very_late.teller) if very_late.noemer else nl.DASH,
        outlook=outlook,
        headroom=headroom,
    )


def _norm_view(index: int, norm: NormFigures, figures: ReportFigures) -> NormView:
    ind = norm.figure.indicator
    targets = sorted({line.target for line in norm.figure.lines if line.target is not None})
    term = within_text(norm.norm.within, norm.norm.unit)
    return NormView(
        id=f"norm-{norm.norm.id}",
        title=ind.titel,
        definition=ind.definitie,
        norm_text=f"{nl.join([nl.percent(t, 0) for t in targets])} binnen {term}",
        rows=[
            _compare_row(line, norm.very_late.line(line.place.slug).current)
            for line in norm.figure.lines
        ],
        open_month=any(line.outlook is not None for line in norm.figure.lines),
        chart=trend_view(f"chart-{index}", norm.figure, figures.months, ind.titel),
    )


def _headline(figures: ReportFigures) -> list[ViewRow]:
    rows = []

    def add(fig: Figure, label: str) -> None:
        unit = fig.indicator.eenheid
        targets = sorted({line.target for line in fig.lines if line.target is not None})
        rows.append(
            ViewRow(
                label,
                [
                    ViewCell(
                        value_text(line.current, unit),
                        prov=line.current.voorlopig,
                        miss=line.missed,
                    )
                    for line in fig.lines
                ],
                norm=nl.join([nl.percent(t, 0) for t in targets]) if targets else nl.DASH,
            )
        )

    add(figures.received, "Meldingen openbare ruimte ontvangen")
    for norm in figures.norms:
        add(norm.figure, norm.figure.indicator.titel)
    add(figures.abandoned, "Telefoongesprekken verlaten")
    add(figures.complaints, "Klachten ontvangen")
    add(figures.upheld, "Klachten gegrond (van de afgehandelde)")
    add(figures.satisfaction, "Tevredenheid (gemiddeld rapportcijfer)")
    return rows


def _phone(figures: ReportFigures) -> TableView:
    answer = next((n for n in figures.norms if n.norm.family == "call"), None)
    header = ["Aangeboden", "Verlaten", "Verlaten (%)"]
    if answer is not None:
        header.append(answer.figure.indicator.titel)
    rows = []
    for line in figures.offered.lines:
        slug = line.place.slug
        abandoned = figures.abandoned.line(slug).current
        cells = [
            value_text(line.current, "aantal"),
            nl.integer(abandoned.teller) if abandoned.noemer else nl.DASH,
            value_text(abandoned, PERCENT) + ("*" if abandoned.voorlopig else ""),
        ]
        if answer is not None:
            cell = answer.figure.line(slug).current
            cells.append(value_text(cell, PERCENT) + ("*" if cell.voorlopig else ""))
        rows.append(ViewRow(line.place.name, cells))
    chart = trend_view(
        "chart-verlaten", figures.abandoned, figures.months, "Telefoongesprekken verlaten"
    )
    return TableView(header, rows, chart)


def _complaints(figures: ReportFigures) -> TableView:
    header = ["Ontvangen", "Afgehandeld", "Gegrond", "Gegrond (%)"]
    complaint_norm = next((n for n in figures.norms if n.norm.kind == "klacht"), None)
    if complaint_norm is not None:
        header.append(complaint_norm.figure.indicator.titel)
    rows = []
    for line in figures.complaints.lines:
        slug = line.place.slug
        upheld = figures.upheld.line(slug).current
        cells = [
            value_text(line.current, "aantal"),
            nl.integer(upheld.noemer or 0),
            nl.integer(upheld.teller),
            value_text(upheld, PERCENT) + ("*" if upheld.voorlopig else ""),
        ]
        if complaint_norm is not None:
            cell = complaint_norm.figure.line(slug).current
            cells.append(value_text(cell, PERCENT) + ("*" if cell.voorlopig else ""))
        rows.append(ViewRow(line.place.name, cells))
    return TableView(header, rows)


def _satisfaction(figures: ReportFigures) -> ChartView:
    channels = list(figures.satisfaction_by_channel)
    groups = [CHANNEL_WORDS.get(c, c) for c in channels]
    series = [
        charts.SeriesData(
            place.slug,
            place.name,
            [figures.satisfaction_by_channel[c].line(place.slug).current.value for c in channels],
            [False for _ in channels],
        )
        for place in figures.places
    ]
    rows = []
    for channel, label in zip(channels, groups, strict=True):
        fig = figures.satisfaction_by_channel[channel]
        rows.append(
            ViewRow(
                label,
                [
                    (
                        f"{value_text(line.current, 'rapportcijfer')} "
                        f"({nl.integer(line.current.noemer or 0)})"
                        if line.current.noemer
                        else nl.DASH
                    )
                    for line in fig.lines
                ],
            )
        )
    rows.append(
        ViewRow(
            "Alle kanalen",
            [
                f"{value_text(line.current, 'rapportcijfer')} "
                f"({nl.integer(line.current.noemer or 0)})"
                if line.current.noemer
                else nl.DASH
                for line in figures.satisfaction.lines
            ],
        )
    )
    parts = []
    for place in figures.places:
        line = figures.satisfaction.line(place.slug)
        if line.current.noemer:
            parts.append(f"{place.name} gemiddeld {value_text(line.current, 'rapportcijfer')}")
    description = (
        "Staafdiagram van het gemiddelde rapportcijfer per kanaal, één staaf per gemeente. "
        + ("; ".join(parts) + "." if parts else "Geen beoordelingen.")
    )
    title = f"Tevredenheid per kanaal, {nl.month_name(figures.month)}"
    svg = charts.bar_chart(
        "chart-tevredenheid",
        title,
        description,
        groups or ["geen beoordelingen"],
        series,
        maximum=10.5,
    )
    return ChartView(
        "chart-tevredenheid",
        Markup(svg),
        f"{title}: gemiddeld rapportcijfer (1–10).",
        "Kanaal",
        [p.name for p in figures.places],
        rows,
    )


SMALL = 10
"""Fewer decisions than this: the split table shows the percentage in parentheses."""


def _split_cell(cell: Cell | None) -> ViewCell:
    if cell is None or not cell.noemer:
        return ViewCell(nl.DASH)
    text = value_text(cell, PERCENT)
    if cell.noemer < SMALL:
        text = f"({text})"
    return ViewCell(text, prov=cell.voorlopig)


def _split_views(figures: ReportFigures, axis: str) -> list[SplitView]:
    """Per municipality a table: a row per segment (or channel) with data, a column per norm."""
    words = SEGMENT_WORDS if axis == "segment" else CHANNEL_WORDS
    views = []
    for place in figures.places:
        per_norm = {
            n.norm.id: (n.by_segment if axis == "segment" else n.by_channel)[place.slug]
            for n in figures.norms
        }
        values = [v for v in words if any(v in cells for cells in per_norm.values())]
        rows = [
            ViewRow(
                words[value][:1].upper() + words[value][1:],
                [_split_cell(per_norm[n.norm.id].get(value)) for n in figures.norms],
            )
            for value in values
        ]
        rows.append(
            ViewRow(
                "Totaal",
                [_split_cell(n.figure.line(place.slug).current) for n in figures.norms],
            )
        )
        views.append(
            SplitView(
                place.name,
                "Segment" if axis == "segment" else "Kanaal",
                [_norm_label(n) for n in figures.norms],
                rows,
            )
        )
    return views


def build_view(figures: ReportFigures, indicators: Sequence[Indicator]) -> ReportView:
    """Everything the template shows, formatted."""
    month = figures.month
    half = figures.half_year
    provisional = any(line.current.voorlopig for fig in figures.all_figures for line in fig.lines)
    definitions = [  # the splits and very-late shares are described in METHOD
        i
        for i in indicators
        if not i.segment
        and (not i.channel or i.base != SATISFACTION)
        and not i.base.startswith(VERY_LATE_PREFIX)
    ]
    return ReportView(
        title=f"Maandrapportage {nl.month_name(month)}",
        month_name=nl.month_name(month),
        month_short=nl.table_month(month),
        year_ago_short=nl.table_month(figures.year_ago),
        half_label=half.label
        if half.complete
        else f"{half.label} t/m {nl.SHORT_MONTHS[month.month - 1]}",
        places_line=f"{nl.join([p.name for p in figures.places])}",
        places=figures.places,
        provisional=provisional,
        summary=summary(figures),
        headline=_headline(figures),
        norm_sections=[_norm_view(i, n, figures) for i, n in enumerate(figures.norms)],
        phone=_phone(figures),
        complaints=_complaints(figures),
        satisfaction=_satisfaction(figures),
        by_segment=_split_views(figures, "segment"),
        by_channel=_split_views(figures, "channel"),
        method=METHOD,
        definitions=definitions,
    )


def render_html(figures: ReportFigures, indicators: Sequence[Indicator]) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    macros = environment.from_string(MACROS).module
    template = environment.from_string(TEMPLATE)
    return template.render(
        r=build_view(figures, indicators),
        style=Markup(STYLE),
        chart_block=macros.chart_block,  # type: ignore[attr-defined]
        split_block=macros.split_block,  # type: ignore[attr-defined]
    )
