"""The report's Jinja2 template and style sheet, kept in Python so every install carries them.

One HTML file, no external resources: the style sheet is inline, charts are inline SVG, and a
Content-Security-Policy forbids anything else (no scripts, no fetches), so the file opens offline,
is safe to mail, and prints the same anywhere. Printed, it is A4 landscape, every section on a new
page.
"""

from __future__ import annotations

STYLE = """
@page { size: A4 landscape; margin: 11mm 13mm 12mm 13mm; }
:root { color-scheme: light; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body {
  margin: 0; color: #1a1a1a; background: #ffffff;
  font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt;
  line-height: 1.35;
}
main { max-width: 271mm; margin: 0 auto; padding: 0; }
.page { break-before: page; padding: 0; }
.page:first-child { break-before: auto; }
@media screen {
  main { padding: 12px 16px 40px; }
  .page { border-bottom: 1px solid #c8c8c8; padding-bottom: 18px; margin-bottom: 18px; }
}
h1 { font-size: 19pt; margin: 0 0 2mm; }
h2 { font-size: 14pt; margin: 0 0 2mm; }
h3 { font-size: 11pt; margin: 3mm 0 1.5mm; }
p { margin: 0 0 2mm; }
.kicker { font-size: 10pt; color: #3d3d3d; margin: 0 0 1mm; letter-spacing: 0.02em; }
.meta { color: #3d3d3d; }
.notice {
  border-left: 4px solid #1a1a1a; background: #f2f2f2; padding: 2mm 3mm; margin: 2mm 0 3mm;
}
ul.summary { margin: 0 0 3mm; padding-left: 5mm; font-size: 10pt; }
ul.summary li { margin: 0 0 1mm; }
table { border-collapse: collapse; font-size: 9pt; }
caption { text-align: left; font-weight: bold; font-size: 9.5pt; padding: 0 0 1mm; }
th, td { border-bottom: 1px solid #c8c8c8; padding: 1mm 2mm; text-align: right;
  vertical-align: top; }
thead th { border-bottom: 1.5px solid #1a1a1a; background: #eef0f2; font-weight: bold; }
th[scope="row"], td.label, th.label { text-align: left; font-weight: normal; }
thead th.label { font-weight: bold; }
table.wide { width: 100%; }
td.miss { font-weight: bold; }
.flag { font-size: 8pt; font-weight: normal; color: #1a1a1a; }
.n { display: block; font-size: 8pt; color: #3d3d3d; }
.prov { font-weight: bold; }
.chart-row { display: grid; grid-template-columns: minmax(0, 61fr) minmax(0, 39fr); gap: 5mm;
  align-items: start; margin-top: 2mm; break-inside: avoid; }
figure { margin: 0; break-inside: avoid; }
table.data th[scope="row"], table.compare th[scope="row"] { white-space: nowrap; }
figcaption { font-size: 8.5pt; color: #3d3d3d; margin-top: 1mm; }
svg.chart { width: 100%; height: auto; display: block; }
.grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 4mm 6mm; }
.grid2 table { width: 100%; }
table.split { table-layout: fixed; }
table.split th, table.split td { padding: 0.8mm 1mm; font-size: 8pt; overflow-wrap: break-word; }
table.split th:first-child { width: 21%; }
.small { font-size: 8.5pt; color: #3d3d3d; }
dl.defs { margin: 0; }
table.defs td, table.defs th { text-align: left; font-size: 8pt; padding: 0.7mm 1.5mm; }
table.defs td:nth-child(2) { width: 44%; }
@media screen and (max-width: 900px) {
  .chart-row, .grid2 { grid-template-columns: minmax(0, 1fr); }
}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="contactmon report">
<title>{{ r.title }}</title>
<style>{{ style }}</style>
</head>
<body>
<main>
<section class="page" id="samenvatting" aria-labelledby="h-samenvatting">
  <p class="kicker">Kwaliteit van dienstverlening &middot; bestuurlijke rapportage</p>
  <h1>{{ r.title }}</h1>
  <p class="meta">{{ r.places_line }}. Cijfers over {{ r.month_name }}; meldingen, vragen en
  klachten tellen mee in de maand waarin ze binnenkwamen.</p>
  {% if r.provisional %}
  <p class="notice"><span class="prov">*</span> Voorlopige cijfers: van {{ r.month_name }} zijn
  nog niet alle meldingen, vragen of gesprekken beslist. Cijfers met een * kunnen nog
  veranderen.</p>
  {% endif %}
  <h2 id="h-samenvatting">Samenvatting</h2>
  <ul class="summary">
  {% for sentence in r.summary %}<li>{{ sentence }}</li>
  {% endfor %}
  </ul>
</section>

<section class="page" id="kerncijfers" aria-labelledby="h-kerncijfers">
  <h2 id="h-kerncijfers">Kerncijfers {{ r.month_name }}</h2>
  <p>De vier gemeenten naast elkaar. Vetgedrukt en gemarkeerd: onder de norm.
  {% if r.provisional %}Met een *: voorlopig.{% endif %}</p>
  <table class="wide">
    <caption>Kerncijfers {{ r.month_name }} per gemeente</caption>
    <thead><tr><th scope="col" class="label">Indicator</th><th scope="col">Norm</th>
    {% for p in r.places %}<th scope="col">{{ p.name }}</th>{% endfor %}</tr></thead>
    <tbody>
    {% for row in r.headline %}
    <tr><th scope="row">{{ row.label }}</th><td>{{ row.norm }}</td>
    {% for c in row.cells %}<td{% if c.miss %} class="miss"{% endif %}>{{ c.text }}
    {%- if c.prov %}<abbr class="prov" title="voorlopig">*</abbr>{% endif %}
    {%- if c.miss %} <span class="flag">(onder de norm)</span>{% endif %}</td>{% endfor %}</tr>
    {% endfor %}
    </tbody>
  </table>
</section>

{% for s in r.norm_sections %}
<section class="page norm" id="{{ s.id }}" aria-labelledby="h-{{ s.id }}">
  <h2 id="h-{{ s.id }}">{{ s.title }}</h2>
  <p>{{ s.definition }} Norm: {{ s.norm_text }}.</p>
  <table class="wide compare">
    <caption>{{ s.title }}: {{ r.month_name }} tegen de norm, een jaar eerder en
    {{ r.half_label }}</caption>
    <thead><tr><th scope="col" class="label">Gemeente</th><th scope="col">{{ r.month_short }}</th>
    <th scope="col">Op tijd / beslist</th><th scope="col">Norm</th>
    <th scope="col">Norm gehaald</th><th scope="col">{{ r.year_ago_short }}</th>
    <th scope="col">Verschil (procentpunt)</th><th scope="col">{{ r.half_label }}</th>
    <th scope="col">Zeer laat</th>
    {% if s.open_month %}<th scope="col">Prognose (slechtst&nbsp;&ndash; best)</th>
    <th scope="col">Mag nog te laat</th>{% endif %}</tr></thead>
    <tbody>
    {% for row in s.rows %}
    <tr><th scope="row">{{ row.name }}</th>
    <td{% if row.miss %} class="miss"{% endif %}>{{ row.current }}
    {%- if row.prov %}<abbr class="prov" title="voorlopig">*</abbr>{% endif %}</td>
    <td>{{ row.counts }}</td><td>{{ row.target }}</td><td>{{ row.met }}</td>
    <td>{{ row.year_ago }}</td><td>{{ row.change }}</td>
    <td>{{ row.half }}{% if row.half_prov %}<abbr class="prov" title="voorlopig">*</abbr>
    {%- endif %}<span class="n">{{ row.half_counts }}</span></td>
    <td>{{ row.very_late }}</td>
    {% if s.open_month %}<td>{{ row.outlook }}</td><td>{{ row.headroom }}</td>{% endif %}</tr>
    {% endfor %}
    </tbody>
  </table>
  <p class="small">Zeer laat: te laat, en pas na meer dan drie keer de termijn klaar (of dan nog
  niet); ze tellen ook mee als te laat.{% if s.open_month %} Prognose: waar
  {{ r.month_name }} eindigt als alle nog open zaken te laat (slechtst) of op tijd (best) klaar
  zijn. Mag nog te laat: hoeveel van de nog open zaken te laat mogen zijn voordat de maand onder
  de norm eindigt; negatief: de norm is deze maand niet meer te halen.{% endif %}</p>
  {{ chart_block(s.chart) }}
</section>
{% endfor %}

<section class="page" id="telefoon" aria-labelledby="h-telefoon">
  <h2 id="h-telefoon">Telefoon</h2>
  <p>Gesprekken die in {{ r.month_name }} in de wachtrij kwamen: hoeveel er werden aangeboden,
  hoeveel er binnen de norm werden opgenomen (zie ook de pagina van die norm) en hoeveel bellers
  ophingen voordat ze werden geholpen.</p>
  <table class="wide">
    <caption>Telefoon {{ r.month_name }}</caption>
    <thead><tr><th scope="col" class="label">Gemeente</th>
    {% for h in r.phone.header %}<th scope="col">{{ h }}</th>{% endfor %}</tr></thead>
    <tbody>
    {% for row in r.phone.rows %}<tr><th scope="row">{{ row.label }}</th>
    {% for c in row.cells %}<td>{{ c }}</td>{% endfor %}</tr>
    {% endfor %}
    </tbody>
  </table>
  {{ chart_block(r.phone.chart) }}
</section>

<section class="page" id="klachten-tevredenheid" aria-labelledby="h-klachten">
  <h2 id="h-klachten">Klachten en tevredenheid</h2>
  <table class="wide">
    <caption>Klachten {{ r.month_name }}</caption>
    <thead><tr><th scope="col" class="label">Gemeente</th>
    {% for h in r.complaints.header %}<th scope="col">{{ h }}</th>{% endfor %}</tr></thead>
    <tbody>
    {% for row in r.complaints.rows %}<tr><th scope="row">{{ row.label }}</th>
    {% for c in row.cells %}<td>{{ c }}</td>{% endfor %}</tr>
    {% endfor %}
    </tbody>
  </table>
  <h3>Tevredenheid per kanaal</h3>
  <p class="small">Gemiddeld rapportcijfer (1&ndash;10) van de beoordelingen die in
  {{ r.month_name }} zijn gegeven, per kanaal waarover ze gingen; tussen haakjes het aantal
  beoordelingen.</p>
  {{ chart_block(r.satisfaction) }}
</section>

<section class="page" id="segment" aria-labelledby="h-segment">
  <h2 id="h-segment">Uitsplitsing naar segment</h2>
  <p class="small">Percentage binnen de norm in {{ r.month_name }} per norm, voor inwoners,
  ondernemers en maatschappelijke partners. Tussen haakjes: minder dan 10 beslissingen, dus
  weinig zeggend. Een streepje: geen beslissingen.</p>
  {{ split_block(r.by_segment) }}
</section>

<section class="page" id="kanaal" aria-labelledby="h-kanaal">
  <h2 id="h-kanaal">Uitsplitsing naar kanaal</h2>
  <p class="small">Percentage binnen de norm in {{ r.month_name }} per norm, naar het kanaal
  waarlangs de melding, vraag of het gesprek binnenkwam. Tussen haakjes: minder dan 10
  beslissingen. Een streepje: geen beslissingen.</p>
  {{ split_block(r.by_channel) }}
</section>

<section class="page" id="verantwoording" aria-labelledby="h-verantwoording">
  <h2 id="h-verantwoording">Verantwoording</h2>
  <p class="small">{{ r.method }}</p>
  <table class="wide defs">
    <caption>Indicatoren</caption>
    <thead><tr><th scope="col">Indicator</th><th scope="col">Definitie</th>
    <th scope="col">Teller</th><th scope="col">Noemer</th></tr></thead>
    <tbody>
    {% for d in r.definitions %}<tr><th scope="row"><code>{{ d.id }}</code></th>
    <td>{{ d.definitie }}</td><td>{{ d.teller }}</td><td>{{ d.noemer or "—" }}</td></tr>
    {% endfor %}
    </tbody>
  </table>
</section>
</main>
</body>
</html>
"""

MACROS = """
{% macro chart_block(c) -%}
<div class="chart-row">
  <figure>
    {{ c.svg }}
    <figcaption>{{ c.caption }}</figcaption>
  </figure>
  <table class="data wide" aria-describedby="{{ c.id }}-desc">
    <caption>Cijfers bij de grafiek</caption>
    <thead><tr><th scope="col" class="label">{{ c.corner }}</th>
    {% for h in c.header %}<th scope="col">{{ h }}</th>{% endfor %}</tr></thead>
    <tbody>
    {% for row in c.rows %}<tr><th scope="row">{{ row.label }}</th>
    {% for v in row.cells %}<td>{{ v }}</td>{% endfor %}</tr>
    {% endfor %}
    </tbody>
  </table>
</div>
{%- endmacro %}
{% macro split_block(split) -%}
<div class="grid2">
{% for t in split %}
  <table class="split">
    <caption>{{ t.name }}</caption>
    <thead><tr><th scope="col" class="label">{{ t.corner }}</th>
    {% for h in t.header %}<th scope="col">{{ h }}</th>{% endfor %}</tr></thead>
    <tbody>
    {% for row in t.rows %}<tr><th scope="row">{{ row.label }}</th>
    {% for c in row.cells %}<td>{{ c.text }}{% if c.prov %}<abbr class="prov"
     title="voorlopig">*</abbr>{% endif %}</td>{% endfor %}</tr>
    {% endfor %}
    </tbody>
  </table>
{% endfor %}
</div>
{%- endmacro %}
"""
