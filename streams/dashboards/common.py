"""Shared defaults of the contactmon dashboards: datasource, palette, units, panel shapes.

Every dashboard is built with Grafana's Python SDK (``grafana-foundation-sdk``, builders for
Grafana 11.6). This module holds what the three dashboards share, so they look and read alike:

* one Prometheus datasource, chosen through the ``datasource`` variable (default: the provisioned
  ``contactmon-prometheus``), so the same JSON works in a Grafana that names its Prometheus
  differently (a Kubernetes stack);
* the Okabe–Ito palette, safe for the common kinds of colour blindness, with fixed colours per
  municipality, norm, kind and channel, and status colours that are never the only signal: every
  status also has a text (value mappings), every target is a dashed line named "doel" in the
  legend, every axis has a unit and a label;
* large text for wall screens (big stat values, tall table rows, legends as tables).

Texts are Dutch: the team leads read them. Code and identifiers are English.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

import yaml
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders.common import TableSortByFieldState
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DashboardLink,
    DatasourceVariable,
    FieldColor,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as StatPanel
from grafana_foundation_sdk.builders.table import Panel as TablePanel
from grafana_foundation_sdk.builders.text import Panel as TextPanel
from grafana_foundation_sdk.builders.timeseries import Panel as TimeseriesPanel
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat
from grafana_foundation_sdk.models.text import TextMode

from events.vocabulary import Channel, Kind
from streams.core.config import DEFAULT_NORMS_PATH, NormsFile

DATASOURCE_UID = "contactmon-prometheus"
"""The uid of the provisioned Prometheus datasource (grafana/provisioning/datasources/)."""

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
"""What every panel and query uses: the datasource the ``datasource`` variable points at."""

TAGS = ["contactmon"]

RUNBOOK_BASE_URL = "https://github.com/contactmon/contactmon/blob/main/alerts/runbooks"
"""Where ``alerts/runbooks/`` is readable in a browser: the same base as the ``runbook_url`` of the
alert rules (``alerts/contactmon.rules.yml``). Change both for another Git host and run
``python -m streams.dashboards.build`` again."""

# The Okabe–Ito palette (Okabe & Ito, "Color Universal Design", 2008) without its black, which
# vanishes on Grafana's dark theme. Distinguishable with protanopia, deuteranopia and tritanopia.
OKABE_ITO = {
    "oranje": "#E69F00",
    "hemelsblauw": "#56B4E9",
    "blauwgroen": "#009E73",
    "geel": "#F0E442",
    "blauw": "#0072B2",
    "vermiljoen": "#D55E00",
    "roodpaars": "#CC79A7",
}
PALETTE = tuple(OKABE_ITO.values())

STATUS_OK = OKABE_ITO["hemelsblauw"]
STATUS_WARN = OKABE_ITO["oranje"]
STATUS_BAD = OKABE_ITO["vermiljoen"]
NEUTRAL = "#8E8E8E"  # threshold base where a value has no good/bad meaning

MUNICIPALITY_COLOURS = {
    "bergen": OKABE_ITO["oranje"],
    "castricum": OKABE_ITO["hemelsblauw"],
    "heiloo": OKABE_ITO["blauwgroen"],
    "uitgeest": OKABE_ITO["roodpaars"],
}

# Stat values big enough to read across a room; titles a little larger than Grafana's default.
STAT_TITLE_SIZE = 22
STAT_VALUE_SIZE = 56


@dataclass(frozen=True, slots=True)
class NormInfo:
    """A norm of the shipped norms file, as the dashboards need it."""

    id: str
    stage: str  # response | resolution | answer
    description: str
    target: float


@cache
def norms() -> tuple[NormInfo, ...]:
    """The norms of the shipped norms file (``streams/norms/default.yaml``), in file order.

    The dashboards group norms by stage (response, resolution, answer) and give each a colour; a
    deployment with other norm ids rebuilds the dashboards (``python -m streams.dashboards.build``).
    """
    parsed = NormsFile.model_validate(yaml.safe_load(DEFAULT_NORMS_PATH.read_text("utf-8")))
    return tuple(NormInfo(n.id, n.stage, n.description or n.id, n.target) for n in parsed.norms)


def norm_ids(stage: str) -> list[str]:
    """The ids of the shipped norms of one stage."""
    return [n.id for n in norms() if n.stage == stage]


def norm(norm_id: str) -> NormInfo:
    """One shipped norm by id (KeyError when the norms file has no such norm)."""
    for info in norms():
        if info.id == norm_id:
            return info
    raise KeyError(norm_id)


def series_colours() -> dict[str, str]:
    """A fixed colour per municipality, norm, kind and channel (a series keeps its colour).

    Seven colours for eight channels: ``social`` shares orange with ``telefoon``; the legend's
    text tells them apart, as everywhere.
    """
    colours = dict(MUNICIPALITY_COLOURS)
    for i, info in enumerate(norms()):
        colours[info.id] = PALETTE[i % len(PALETTE)]
    for i, kind in enumerate(Kind):
        colours[kind.value] = PALETTE[i % len(PALETTE)]
    for i, channel in enumerate(Channel):
        colours[channel.value] = PALETTE[i % len(PALETTE)]
    return colours


Panel = TypeVar("Panel", TimeseriesPanel, StatPanel, TablePanel)
PanelBuilder = TimeseriesPanel | StatPanel | TablePanel | TextPanel


def query(
    expr: str, legend: str = "", *, instant: bool = False, table_format: bool = False
) -> Dataquery:
    """A Prometheus query on the dashboard's datasource; the ref id is set by `with_queries`."""
    q = Dataquery().expr(expr).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    q = q.instant() if instant else q.range()
    if table_format:
        q = q.format(PromQueryFormat.TABLE)
    return q


ALL_SEGMENTS = 'segment=""'
"""The compliance ratio of all segments together carries an empty segment label."""
SOME_SEGMENT = 'segment!=""'
"""The compliance ratio of one segment (inwoner, ondernemer, …)."""


def sel(metric: str, *matchers: str) -> str:
    """A PromQL selector: ``sel("m", 'a="x"', 'b=~"$b"')`` is ``m{a="x", b=~"$b"}``."""
    given = [m for m in matchers if m]
    return f"{metric}{{{', '.join(given)}}}" if given else metric


def with_queries(panel: Panel, queries: Sequence[Dataquery]) -> Panel:
    """Attach ``queries`` to ``panel`` with ref ids A, B, C, …"""
    for index, q in enumerate(queries):
        panel = panel.with_target(q.ref_id(chr(ord("A") + index)))
    return panel


def thresholds(steps: Sequence[tuple[float | None, str]]) -> ThresholdsConfig:
    """Absolute thresholds; the first step's value is None (from minus infinity)."""
    return (
        ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=colour) for value, colour in steps])
    )


def status_mapping(good: str, bad: str) -> list[model.ValueMapping]:
    """Text for a 1/0 status (``>= bool``): the meaning is in words, the colour only repeats it."""
    return [
        model.ValueMap(
            options={
                "1": model.ValueMappingResult(text=good, color=STATUS_OK, index=0),
                "0": model.ValueMappingResult(text=bad, color=STATUS_BAD, index=1),
            }
        )
    ]


def _base(panel: Panel, title: str, description: str, unit: str, width: int, height: int) -> Panel:
    return (
        panel.title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
    )


def timeseries(
    title: str,
    description: str,
    *,
    unit: str,
    axis_label: str,
    queries: Sequence[Dataquery],
    width: int = 12,
    height: int = 10,
    min_value: float | None = 0,
    max_value: float | None = None,
) -> TimeseriesPanel:
    """A time series with a unit and a labelled axis, the legend as a table with the last value."""
    panel = _base(TimeseriesPanel(), title, description, unit, width, height)
    panel = (
        panel.axis_label(axis_label)
        .line_width(2)
        .fill_opacity(0)
        .show_points(common.VisibilityMode.NEVER)
        .color_scheme(FieldColor().mode(model.FieldColorModeId.PALETTE_CLASSIC_BY_NAME))
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    if min_value is not None:
        panel = panel.min(min_value)
    if max_value is not None:
        panel = panel.max(max_value)
    return with_queries(panel, queries)


def dashed_targets(panel: TimeseriesPanel) -> TimeseriesPanel:
    """Series whose name ends in "(doel)" are drawn dashed: the target line, named in the legend."""
    return panel.override_by_regexp(
        r".*\(doel\)$",
        [
            model.DynamicConfigValue(
                id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}
            ),
            model.DynamicConfigValue(id_val="custom.lineWidth", value=2),
        ],
    )


def js_regex_escape(text: str) -> str:
    """``text`` as a literal in a JavaScript regular expression (Grafana's field matchers)."""
    return re.sub(r"[.*+?^${}()|[\]\\]", lambda m: "\\" + m.group(0), text)


def colour_series(panel: Panel, values: Iterable[str]) -> Panel:
    """Give every series whose name starts with one of ``values`` that value's fixed colour."""
    colours = series_colours()
    for value in values:
        panel = panel.override_by_regexp(
            f"^{js_regex_escape(value)}( .*)?$",
            [
                model.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": colours[value]}
                )
            ],
        )
    return panel


def stat(
    title: str,
    description: str,
    *,
    unit: str,
    queries: Sequence[Dataquery],
    steps: Sequence[tuple[float | None, str]],
    width: int = 6,
    height: int = 7,
    graph: bool = False,
    decimals: int | None = None,
) -> StatPanel:
    """Big numbers, one per series (name and value), coloured by ``steps`` and labelled."""
    panel = _base(StatPanel(), title, description, unit, width, height)
    panel = (
        panel.thresholds(thresholds(steps))
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.AREA if graph else common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .orientation(common.VizOrientation.AUTO)
        .text(
            common_builders.VizTextDisplayOptions()
            .title_size(STAT_TITLE_SIZE)
            .value_size(STAT_VALUE_SIZE)
        )
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .no_value("geen gegevens")
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return with_queries(panel, queries)


def table(
    title: str,
    description: str,
    *,
    queries: Sequence[Dataquery],
    width: int = 24,
    height: int = 10,
    unit: str = "none",
) -> TablePanel:
    """A table with tall rows, fed by instant queries in table format."""
    panel = _base(TablePanel(), title, description, unit, width, height)
    panel = (
        panel.cell_height(common.TableCellHeight.LG)
        .show_header(True)
        .align(common.FieldTextAlignment.AUTO)
        .inspect(False)
        .no_value("—")
    )
    return with_queries(panel, queries)


def text(title: str, content: str, *, width: int = 24, height: int = 6) -> TextPanel:
    """A Markdown text panel (explanations that no metric can give)."""
    return (
        TextPanel().title(title).span(width).height(height).mode(TextMode.MARKDOWN).content(content)
    )


def organize(
    rename: Mapping[str, str], exclude: Sequence[str] = ("Time",)
) -> model.DataTransformerConfig:
    """Grafana's "organize" transformation: hide ``exclude``, rename and order the columns.

    ``rename`` maps the query's column names (``municipality``, ``Value #A``, …) to the titles
    shown, in the order they are shown; Grafana orders by the original names.
    """
    return model.DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": dict.fromkeys(exclude, True),
            "renameByName": dict(rename),
            "indexByName": {name: i for i, name in enumerate(rename)},
        },
    )


def merge() -> model.DataTransformerConfig:
    """Grafana's "merge" transformation: one row per label set across the instant queries."""
    return model.DataTransformerConfig(id_val="merge", options={})


def column(
    unit: str | None = None, *extra: model.DynamicConfigValue, decimals: int | None = None
) -> list[model.DynamicConfigValue]:
    """Field override properties for one table column: a unit, decimals and any other property."""
    props = [] if unit is None else [model.DynamicConfigValue(id_val="unit", value=unit)]
    if decimals is not None:
        props.append(model.DynamicConfigValue(id_val="decimals", value=decimals))
    return props + list(extra)


def link_property(title: str, url: str) -> model.DynamicConfigValue:
    """A data link on a column (e.g. from a municipality to its own dashboard)."""
    return model.DynamicConfigValue(id_val="links", value=[{"title": title, "url": url}])


def datasource_variable() -> DatasourceVariable:
    """The ``datasource`` variable: any Prometheus, the provisioned one by default."""
    return (
        DatasourceVariable("datasource")
        .label("Databron")
        .type("prometheus")
        .current(model.VariableOption(selected=True, text="Prometheus", value=DATASOURCE_UID))
        .description("De Prometheus met de metrics van de contactmonitor.")
    )


def runbook_link(title: str, runbook: str = "") -> DashboardLink:
    """A dashboard link to a runbook in ``alerts/runbooks/`` (or to the folder when empty)."""
    url = f"{RUNBOOK_BASE_URL}/{runbook}" if runbook else f"{RUNBOOK_BASE_URL}/"
    return (
        DashboardLink(title)
        .type(model.DashboardLinkType.LINK)
        .url(url)
        .icon("doc")
        .tooltip("Wat te doen bij een alert (runbook)")
        .target_blank(True)
        .keep_time(False)
        .include_vars(False)
        .as_dropdown(False)
        .tags([])
    )


def dashboard_links() -> list[Builder[model.DashboardLink]]:
    """Links to the other contactmon dashboards (by tag) and to the runbooks."""
    return [
        DashboardLink("Contactmonitor")
        .type(model.DashboardLinkType.DASHBOARDS)
        .tags(TAGS)
        .as_dropdown(True)
        .include_vars(True)
        .keep_time(True)
        .target_blank(False)
        .icon("external link")
        .tooltip("")
        .url(""),
        runbook_link("Runbooks (alerts)"),
    ]


def zero_text(text: str) -> list[model.ValueMapping]:
    """Show 0 as a word ("geen"), so an empty work queue reads as such without colour."""
    return [model.ValueMap(options={"0": model.ValueMappingResult(text=text, index=0)})]


def new_dashboard(uid: str, title: str, description: str) -> Dashboard:
    """A contactmon dashboard: fixed uid, tags, Dutch week, the datasource variable, links."""
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .editable()
        .timezone("browser")
        .week_start("monday")
        .time("now-7d", "now")
        .refresh("1m")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .links(dashboard_links())
        .with_variable(datasource_variable())
    )


def assemble(dashboard: Dashboard, rows: Sequence[tuple[str, Sequence[PanelBuilder]]]) -> Dashboard:
    """Add rows of panels in order, numbering the panels 1, 2, 3, … (stable ids for links)."""
    next_id = 1
    for title, panels in rows:
        dashboard = dashboard.with_row(Row(title).id(next_id))
        next_id += 1
        for panel in panels:
            dashboard = dashboard.with_panel(panel.id(next_id))
            next_id += 1
    return dashboard


def sort_by_column(name: str, *, descending: bool) -> TableSortByFieldState:
    """Sort a table by the column shown as ``name``."""
    return TableSortByFieldState().display_name(name).desc(descending)


def threshold_property(steps: Sequence[tuple[float | None, str]]) -> model.DynamicConfigValue:
    """Thresholds as a field override property (for one table column)."""
    return model.DynamicConfigValue(
        id_val="thresholds",
        value={
            "mode": "absolute",
            "steps": [{"color": colour, "value": value} for value, colour in steps],
        },
    )


def mapping_property(mappings: Sequence[model.ValueMapping]) -> model.DynamicConfigValue:
    """Value mappings as a field override property (for one table column)."""
    return model.DynamicConfigValue(id_val="mappings", value=[m.to_json() for m in mappings])


COLOUR_TEXT = model.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-text"})
"""Colour a table column's text by its thresholds or mappings (next to the text, never instead)."""
