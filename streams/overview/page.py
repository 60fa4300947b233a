"""The overview page: figures → Dutch view rows → Jinja2 (autoescaped) → HTML.

`render_fragment` makes the part that changes (the ``<main>`` element's content: the summary of
all municipalities and a section per municipality), `render_page` the whole document around it;
the refresh script fetches only the fragment. Every value is formatted here (Dutch numbers from
`streams.report.nl`), every figure cell also carries its raw value (``data-value``) so a test can
hold the page against ``/metrics``. Structure for assistive technology: one ``h1``, an ``h2`` per
municipality, an ``h3`` per norm; tables with captions and ``th`` scopes; every chart an image
with a title and a description, and a status always in words beside its colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from jinja2 import Environment
from markupsafe import Markup

from streams.overview import assets
from streams.overview.figures import (
    BAD,
    NONE,
    OK,
    WARN,
    WINDOW_WORDS,
    WINDOWS,
    NormFigures,
    Overview,
    PlaceFigures,
    count_status,
    headroom_status,
)
from streams.report import nl

PATH = "/overzicht"
FRAGMENT_PATH = "/overzicht/inhoud"
STYLE_PATH = "/overzicht/overzicht.css"
SCRIPT_PATH = "/overzicht/overzicht.js"

COMPLIANCE_WORDS = {OK: "haalt doel", BAD: "onder doel", NONE: "nog niets beslist"}
HEADROOM_WORDS = {OK: "ruim", WARN: "krap", BAD: "doel niet meer haalbaar", NONE: ""}
SEVERITY_WORDS = {"page": "oproep", "warning": "waarschuwing", "ticket": "ticket"}
CHANNEL_WORDS = {"telefoon": "telefoon", "chat": "chat", "balie": "balie"}

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
    "data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Only the process's own script and style sheet; inline styles for matplotlib's SVG."""


# --- Dutch formatting ------------------------------------------------------------------------


def percent(ratio: float | None, places: int = 1) -> str:
    """`88,0 %` for 0.88; a dash for None."""
    if ratio is None:
        return nl.DASH
    return nl.percent(Decimal(repr(ratio * 100)), places)


def count(value: float | None) -> str:
    """`1.232`; a dash for None."""
    if value is None:
        return nl.DASH
    return nl.integer(round(value))


def signed(value: float | None) -> str:
    """A whole number with a real minus sign."""
    if value is None:
        return nl.DASH
    whole = round(value)
    return f"{nl.MINUS}{nl.integer(-whole)}" if whole < 0 else nl.integer(whole)


def duration(seconds: float | None) -> str:
    """Elapsed time in the largest fitting unit: `45 s`, `12 min`, `3,5 uur`, `2,1 dagen`."""
    if seconds is None:
        return nl.DASH
    if seconds < 90:
        return f"{round(seconds)}{nl.NBSP}s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)}{nl.NBSP}min"
    if seconds < 36 * 3600:
        return f"{nl.decimal(Decimal(repr(seconds / 3600)), 1)}{nl.NBSP}uur"
    return f"{nl.decimal(Decimal(repr(seconds / 86400)), 1)}{nl.NBSP}dagen"


def raw(value: float | None) -> str:
    """A figure's exact value for ``data-value`` (as Python prints a float; empty for None)."""
    return "" if value is None else repr(float(value))


# --- view rows -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """One figure: its text, its exact value and (for a badge) its status."""

    id: str
    text: str
    value: str
    status: str = ""
    words: str = ""  # the status in words, shown beside the number


@dataclass(frozen=True, slots=True)
class Alert:
    """A firing alert from Alertmanager (labels and annotations the rules wrote; no subjects)."""

    name: str
    severity: str
    summary: str
    municipality: str | None
    since: float | None  # epoch seconds
    state: str = "active"


@dataclass(frozen=True, slots=True)
class Alerts:
    """What the page knows about alerts: the list, or why there is none."""

    configured: bool
    alerts: Sequence[Alert] = field(default_factory=tuple)
    error: str = ""

    def of(self, slug: str | None) -> list[Alert]:
        return [a for a in self.alerts if a.municipality == slug]


@dataclass(frozen=True, slots=True)
class AlertView:
    severity: str
    name: str
    summary: str
    since: str


@dataclass(frozen=True, slots=True)
class NormView:
    id: str
    html_id: str
    title: str
    norm_line: str
    status: str
    rows: Sequence[tuple[str, Cell]]
    compliance: Sequence[tuple[str, Cell]]
    month: Sequence[tuple[str, Cell]]
    chart: Markup | None
    chart_caption: str
    no_chart: str


@dataclass(frozen=True, slots=True)
class PlaceView:
    slug: str
    name: str
    colour: int
    status: str
    headline: str
    last_event: str
    calls: Sequence[tuple[str, Cell]]
    alerts: Sequence[AlertView]
    alerts_text: str
    norms: Sequence[NormView]
    summary: Sequence[Cell]
    alert_count: int


@dataclass(frozen=True, slots=True)
class PageView:
    title: str
    scope: str
    stand: str
    notices: Sequence[str]
    places: Sequence[PlaceView]
    missing: Sequence[str]
    platform_alerts: Sequence[AlertView]
    alerts_configured: bool
    refresh: int


def _html_id(*parts: str) -> str:
    return "--".join(parts)


def _alert_view(alert: Alert, zone: ZoneInfo) -> AlertView:
    since = ""
    if alert.since is not None:
        since = "sinds " + datetime.fromtimestamp(alert.since, zone).strftime("%d-%m %H:%M")
    severity = SEVERITY_WORDS.get(alert.severity, alert.severity or "alert")
    if alert.state != "active":
        severity += ", onderdrukt"
    return AlertView(severity, alert.name, alert.summary, since)


def _norm_view(
    place: PlaceFigures, norm: NormFigures, chart: str | None, chart_note: str
) -> NormView:
    m, n = place.slug, norm.id
    meta = norm.meta
    rows: list[tuple[str, Cell]] = []
    if norm.open is not None:
        label = f"Wachtende {meta.subject} nu" if meta.family == "call" else f"Open {meta.subject}"
        rows.append((label, Cell(_html_id(m, n, "open"), count(norm.open), raw(norm.open))))
    for key, label, value in (
        ("overdue", "Over termijn", norm.overdue),
        ("at-risk", "Dreigt te laat (binnen 1 werkdag)", norm.at_risk),
    ):
        status = count_status(value)
        rows.append(
            (
                label,
                Cell(
                    _html_id(m, n, key),
                    "geen" if value == 0 else count(value),
                    raw(value),
                    status,
                ),
            )
        )
    if meta.family == "item":
        rows.append(
            (
                "Doorlooptijd 7 dagen: mediaan",
                Cell(_html_id(m, n, "p50"), duration(norm.p50), raw(norm.p50)),
            )
        )
        rows.append(
            (
                "Doorlooptijd 7 dagen: 90 % binnen",
                Cell(_html_id(m, n, "p90"), duration(norm.p90), raw(norm.p90)),
            )
        )
    compliance: list[tuple[str, Cell]] = []
    for window in WINDOWS:
        ratio = norm.compliance.get(window)
        status = norm.status(window)
        compliance.append(
            (
                WINDOW_WORDS[window],
                Cell(
                    _html_id(m, n, f"compliance-{window}"),
                    percent(ratio),
                    raw(ratio),
                    status,
                    COMPLIANCE_WORDS[status],
                ),
            )
        )
    month: list[tuple[str, Cell]] = [
        (
            "Als alles wat nog open is op tijd komt",
            Cell(_html_id(m, n, "month-best"), percent(norm.best), raw(norm.best)),
        ),
        (
            "Als alles wat nog open is te laat komt",
            Cell(_html_id(m, n, "month-worst"), percent(norm.worst), raw(norm.worst)),
        ),
    ]
    h_status = headroom_status(norm.headroom)
    month.append(
        (
            "Mag nog te laat (ruimte tot het doel)",
            Cell(
                _html_id(m, n, "headroom"),
                signed(norm.headroom),
                raw(norm.headroom),
                h_status,
                HEADROOM_WORDS[h_status],
            ),
        )
    )
    target = percent(norm.target, 0)
    norm_line = f"Doel: {target} binnen {meta.term}" if meta.term else f"Doel: {target}"
    status = norm.status("1d")
    if status == NONE:
        status = norm.status("7d")
    return NormView(
        id=n,
        html_id=_html_id(m, n),
        title=meta.title,
        norm_line=f"{norm_line} (norm {n})",
        status=status,
        rows=rows,
        compliance=compliance,
        month=month,
        chart=Markup(chart) if chart else None,  # SVG made by streams.overview.charts
        chart_caption=(
            "Verloop van het aandeel op tijd over de laatste 24 uur (gemeten door deze "
            "monitor); gestippeld: het doel."
        ),
        no_chart=chart_note,
    )


def _headline(place: PlaceFigures) -> tuple[str, str]:
    """A sentence on how the municipality is doing, and its overall status."""
    below = []
    for norm in place.norms:
        for window in ("1d", "7d"):
            if norm.status(window) == BAD:
                below.append(
                    f"{norm.meta.title.lower()} ({WINDOW_WORDS[window]}: "
                    f"{percent(norm.compliance[window])}, doel {percent(norm.target, 0)})"
                )
                break
    work = (
        f"{count(place.overdue)} over termijn, {count(place.at_risk)} dreigt te laat"
        if place.overdue or place.at_risk
        else "niets over termijn of dreigend te laat"
    )
    decided = any(n.status(w) != NONE for n in place.norms for w in WINDOWS)
    if below:
        text = "Onder doel: " + "; ".join(below) + f". Werkvoorraad: {work}."
        return text, BAD
    if not decided:
        return f"Nog niets beslist in de laatste 30 dagen. Werkvoorraad: {work}.", NONE
    text = f"Alle normen halen hun doel over 1 en 7 dagen. Werkvoorraad: {work}."
    if place.overdue >= 10:
        return text, BAD
    return text, WARN if place.overdue or place.at_risk else OK


def _place_view(
    index: int,
    place: PlaceFigures,
    charts: Mapping[tuple[str, str], str],
    chart_notes: Mapping[tuple[str, str], str],
    alerts: Alerts,
    zone: ZoneInfo,
) -> PlaceView:
    headline, status = _headline(place)
    m = place.slug
    calls: list[tuple[str, Cell]] = []
    by_channel = ", ".join(
        f"{CHANNEL_WORDS.get(c, c)} {count(v)}" for c, v in place.waiting_by_channel.items() if v
    )
    calls.append(
        (
            "Wachtende gesprekken nu" + (f" ({by_channel})" if by_channel else ""),
            Cell(
                _html_id(m, "calls-waiting"), count(place.calls_waiting), raw(place.calls_waiting)
            ),
        )
    )
    for norm in place.answer_norms:
        ratio = norm.compliance.get("1d")
        answered = norm.status("1d")
        calls.append(
            (
                f"{norm.meta.title} (laatste 24 uur; doel {percent(norm.target, 0)})",
                Cell(
                    _html_id(m, norm.id, "answered-1d"),
                    percent(ratio),
                    raw(ratio),
                    answered,
                    COMPLIANCE_WORDS[answered],
                ),
            )
        )
    if not place.answer_norms:
        calls.append(("Gesprekken binnen de norm opgenomen", Cell("", "geen gespreksnorm", "")))
    own = alerts.of(m)
    if not alerts.configured:
        alerts_text = "Niet gekoppeld aan Alertmanager."
    elif alerts.error:
        alerts_text = alerts.error
    elif not own:
        alerts_text = "Geen alerts actief."
    else:
        alerts_text = ""
    last = (
        datetime.fromtimestamp(place.last_event, zone).strftime("%d-%m-%Y %H:%M:%S")
        if place.last_event is not None
        else "nog geen"
    )
    below_1d, below_7d = len(place.below_target("1d")), len(place.below_target("7d"))
    summary = [
        Cell(
            _html_id(m, "below-1d"),
            str(below_1d),
            str(below_1d),
            BAD if below_1d else OK,
        ),
        Cell(_html_id(m, "below-7d"), str(below_7d), str(below_7d), BAD if below_7d else OK),
        Cell(
            _html_id(m, "overdue"),
            "geen" if place.overdue == 0 else count(place.overdue),
            raw(place.overdue),
            count_status(place.overdue),
        ),
        Cell(
            _html_id(m, "at-risk"),
            "geen" if place.at_risk == 0 else count(place.at_risk),
            raw(place.at_risk),
            count_status(place.at_risk),
        ),
    ]
    return PlaceView(
        slug=m,
        name=place.name,
        colour=index,
        status=status,
        headline=headline,
        last_event=last,
        calls=calls,
        alerts=[_alert_view(a, zone) for a in own],
        alerts_text=alerts_text,
        norms=[
            _norm_view(
                place,
                n,
                charts.get((m, n.id)),
                chart_notes.get((m, n.id), "Nog te weinig metingen voor een verloop."),
            )
            for n in place.norms
        ],
        summary=summary,
        alert_count=len(own),
    )


@dataclass(frozen=True, slots=True)
class PageInput:
    """Everything one rendering needs."""

    overview: Overview
    charts: Mapping[tuple[str, str], str]
    chart_notes: Mapping[tuple[str, str], str]
    alerts: Alerts
    taken_at: float  # epoch seconds
    timezone: str
    scope: str
    colour_index: Mapping[str, int]
    notices: Sequence[str] = field(default_factory=tuple)
    missing_names: Sequence[str] = field(default_factory=tuple)
    refresh: int = 10


def view(data: PageInput) -> PageView:
    zone = ZoneInfo(data.timezone)
    stand = datetime.fromtimestamp(data.taken_at, zone)
    places = [
        _place_view(
            data.colour_index.get(p.slug, i),
            p,
            data.charts,
            data.chart_notes,
            data.alerts,
            zone,
        )
        for i, p in enumerate(data.overview.places)
    ]
    return PageView(
        title="Contactmonitor — overzicht",
        scope=data.scope,
        stand=f"Stand van {stand:%d-%m-%Y %H:%M:%S}",
        notices=data.notices,
        places=places,
        missing=data.missing_names,
        platform_alerts=[_alert_view(a, zone) for a in data.alerts.of(None)],
        alerts_configured=data.alerts.configured,
        refresh=data.refresh,
    )


_MACROS = """
{%- macro cell(c) -%}
<td{% if c.id %} id="{{ c.id }}"{% endif %} data-value="{{ c.value }}">
{%- if c.status and c.status != 'none' %}<span class="badge {{ c.status }}">{{ c.text }}</span>
{%- else %}{{ c.text }}{% endif %}
{%- if c.words %} <span class="words">{{ c.words }}</span>{% endif %}</td>
{%- endmacro -%}
{%- macro badge(c) -%}
<span id="{{ c.id }}" data-value="{{ c.value }}" class="badge {{ c.status }}">{{ c.text }}</span>
{%- endmacro -%}
{%- macro alert_list(items) -%}
<ul class="alerts">
{%- for a in items %}
<li><span class="badge {{ 'bad' if a.severity.startswith('oproep') else 'warn' }}">
{{- a.severity }}</span>
<strong>{{ a.name }}</strong>{% if a.summary %}: {{ a.summary }}{% endif %}
{%- if a.since %} <span class="small">({{ a.since }})</span>{% endif %}</li>
{%- endfor %}
</ul>
{%- endmacro -%}
"""

FRAGMENT = (
    _MACROS
    + """
<p class="stand">{{ v.stand }}.</p>
{% for n in v.notices %}<p class="notice" role="status">{{ n }}</p>
{% endfor %}
<section class="block" aria-labelledby="h-samenvatting">
<h2 id="h-samenvatting">Alle gemeenten in één oogopslag</h2>
{% if v.places %}
<table class="summary">
<caption>Per gemeente: normen onder hun doel, werkvoorraad{% if v.alerts_configured %} en
alerts{% endif %}</caption>
<thead><tr><th scope="col">Gemeente</th>
<th scope="col">Normen onder doel <span class="unit">(1 dag / 7 dagen)</span></th>
<th scope="col">Over termijn</th><th scope="col">Dreigt te laat</th>
{%- if v.alerts_configured %}<th scope="col">Alerts</th>{% endif %}</tr></thead>
<tbody>
{% for p in v.places %}<tr><th scope="row"><a href="#gemeente-{{ p.slug }}">{{ p.name }}</a></th>
<td class="pair">{{ badge(p.summary[0]) }} / {{ badge(p.summary[1]) }}</td>
{{ cell(p.summary[2]) }}{{ cell(p.summary[3]) }}
{%- if v.alerts_configured %}
<td id="{{ p.slug }}--alerts" data-value="{{ p.alert_count }}">
{%- if p.alert_count %}<span class="badge bad">{{ p.alert_count }}</span>{% else %}geen{% endif %}
</td>{% endif %}</tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p>Geen cijfers: er zijn (nog) geen gemeenten die deze bron meet.</p>
{% endif %}
{% if v.missing %}<p class="notice" role="status">Geen cijfers van {{ v.missing | join(', ') }}:
geen worker meet deze gemeente nu (alert ContactmonMunicipalityNotMonitored).</p>{% endif %}
{% if v.platform_alerts %}
<h3>Alerts over de monitor zelf</h3>
{{ alert_list(v.platform_alerts) }}
{% endif %}
</section>
{% for p in v.places %}
<section class="place" id="gemeente-{{ p.slug }}" aria-labelledby="h-{{ p.slug }}">
<h2 id="h-{{ p.slug }}"><span class="swatch c{{ p.colour % 7 }}" aria-hidden="true"></span>
{{- p.name }}</h2>
<p class="headline"><span class="badge {{ p.status }}">{{ status_words[p.status] }}</span>
{{ p.headline }}</p>
<div class="facts">
<div>
<table class="calls">
<caption>Telefoon, chat en balie</caption>
<tbody>
{% for label, c in p.calls %}<tr><th scope="row">{{ label }}</th>{{ cell(c) }}</tr>
{% endfor %}
</tbody>
</table>
<p class="small">Laatste event: {{ p.last_event }}.</p>
</div>
<div>
<h3 id="h-{{ p.slug }}-alerts">Alerts</h3>
{% if p.alerts %}{{ alert_list(p.alerts) }}{% else %}<p>{{ p.alerts_text }}</p>{% endif %}
</div>
</div>
<div class="norms">
{% for n in p.norms %}
<article class="norm {{ n.status }}" id="{{ n.html_id }}" aria-labelledby="h-{{ n.html_id }}">
<h3 id="h-{{ n.html_id }}">{{ n.title }}</h3>
<p class="normline">{{ n.norm_line }}</p>
<table>
<caption class="sr-only">Werkvoorraad en doorlooptijd: {{ n.title }}</caption>
<tbody>
{% for label, c in n.rows %}<tr><th scope="row">{{ label }}</th>{{ cell(c) }}</tr>
{% endfor %}
</tbody>
</table>
<table>
<caption>Op tijd (gehaald van de besliste)</caption>
<thead><tr><th scope="col">Venster</th><th scope="col">Op tijd en status</th></tr></thead>
<tbody>
{% for label, c in n.compliance %}<tr><th scope="row">{{ label }}</th>{{ cell(c) }}</tr>
{% endfor %}
</tbody>
</table>
<table>
<caption>Deze maand (binnengekomen deze maand)</caption>
<tbody>
{% for label, c in n.month %}<tr><th scope="row">{{ label }}</th>{{ cell(c) }}</tr>
{% endfor %}
</tbody>
</table>
<figure>
{% if n.chart %}{{ n.chart }}<figcaption>{{ n.chart_caption }}</figcaption>
{% else %}<p class="nochart">{{ n.no_chart }}</p>{% endif %}
</figure>
</article>
{% endfor %}
</div>
</section>
{% endfor %}
"""
)

PAGE = """<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="contactmon overview">
<title>{{ v.title }}</title>
<link rel="stylesheet" href="{{ style_path }}?v={{ style_version }}">
<script src="{{ script_path }}?v={{ script_version }}" defer></script>
</head>
<body data-refresh="{{ v.refresh }}">
<a class="skip" href="#inhoud">Naar de cijfers</a>
<header class="top">
<h1>{{ v.title }}</h1>
<p class="scope">{{ v.scope }}</p>
<p class="controls"><a href="{{ page_path }}">Ververs nu</a>
<button id="pauze" type="button" aria-pressed="false" hidden>Verversen pauzeren</button>
<span id="ververs-status" class="small"></span></p>
</header>
<main id="inhoud" tabindex="-1" data-fragment="{{ fragment_path }}" data-etag="{{ etag }}">
{{ fragment }}
</main>
<footer>
<p>Alle cijfers zijn de metrics van de contactmonitor (contract, sectie 4) op het moment van de
stand: naleving is gehaald gedeeld door beslist, naar beslismoment, over de laatste 1, 7 en 30
dagen; over termijn en dreigt te laat tellen items die nog wachten. Kleur herhaalt alleen wat de
tekst zegt. Er staan geen persoonsgegevens in deze metrics.</p>
</footer>
</body>
</html>
"""

STATUS_WORDS = {OK: "in orde", WARN: "let op", BAD: "onder doel", NONE: "geen besluiten"}

_ENV = Environment(autoescape=True, trim_blocks=False, lstrip_blocks=False)
_FRAGMENT = _ENV.from_string(FRAGMENT)
_PAGE = _ENV.from_string(PAGE)


def render_fragment(data: PageInput) -> str:
    """The content of ``<main>``: what the refresh script swaps in."""
    return _FRAGMENT.render(v=view(data), status_words=STATUS_WORDS, dash=nl.DASH)


def render_page(data: PageInput, fragment: str, etag: str) -> str:
    """The whole document around ``fragment`` (made by `render_fragment` from the same data)."""
    return _PAGE.render(
        v=_frame(data),
        fragment=Markup(fragment),  # made by render_fragment, autoescaped
        etag=etag,
        page_path=PATH,
        fragment_path=FRAGMENT_PATH,
        style_path=STYLE_PATH,
        script_path=SCRIPT_PATH,
        style_version=assets.STYLE_VERSION,
        script_version=assets.SCRIPT_VERSION,
    )


def _frame(data: PageInput) -> PageView:
    """The page's frame needs no figures: title, scope and refresh only."""
    return PageView(
        title="Contactmonitor — overzicht",
        scope=data.scope,
        stand="",
        notices=(),
        places=(),
        missing=(),
        platform_alerts=(),
        alerts_configured=data.alerts.configured,
        refresh=data.refresh,
    )
