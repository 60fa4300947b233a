"""The report's charts, drawn by matplotlib as inline SVG.

matplotlib (its object API, no pyplot state) rather than hand-written SVG: it lays out axes,
ticks and legends, and its SVG backend writes text as text (`svg.fonttype: none`), so the charts
stay sharp in print, searchable and selectable. Output is byte for byte reproducible: no date in
the metadata and a fixed `svg.hashsalt` per chart; every id inside a chart is prefixed with the
chart's id, so several charts in one HTML page never share one.

Accessibility: the municipalities keep the Okabe–Ito colours of the Grafana dashboards
(streams.dashboards.common.MUNICIPALITY_COLOURS), and since two of those are light on paper, every
line also has its own marker shape with a dark edge and its own dash pattern, so no chart relies on
colour alone; the norm is a black dashed line. Provisional months are drawn with hollow markers.
Every SVG gets `role="img"`, a `<title>` and a `<desc>` (the text alternative), and the HTML puts a
table with the same numbers beside it.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from typing import Any

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

OKABE_ITO_BLACK = "#000000"
COLOURS = {
    "bergen": "#E69F00",  # oranje, as on the dashboards
    "castricum": "#56B4E9",  # hemelsblauw
    "heiloo": "#009E73",  # blauwgroen
    "uitgeest": "#CC79A7",  # roodpaars
}
EXTRA_COLOURS = ("#0072B2", "#D55E00", "#F0E442")  # blauw, vermiljoen, geel: further municipalities
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
DASHES = ("-", (0, (6, 2)), (0, (2, 1.5)), (0, (6, 2, 2, 2)), "-", "-", "-")
EDGE = "#222222"
FONT = "DejaVu Sans"
FONT_SIZE = 9  # points at print size: the charts are drawn at the size they print
TREND_SIZE = (6.4, 3.1)  # inches
BAR_HEIGHT_PER_BAR = 0.11  # inches


@dataclass(frozen=True, slots=True)
class SeriesData:
    """One municipality's line or bars."""

    slug: str
    name: str
    values: Sequence[Decimal | int | None]
    provisional: Sequence[bool]


def colour(slug: str, index: int) -> str:
    return COLOURS.get(slug, EXTRA_COLOURS[index % len(EXTRA_COLOURS)])


def _number(value: float, places: int = 0) -> str:
    text = f"{value:.{places}f}".replace(".", ",")
    return text.replace("-", "\u2212")


def _svg(figure: Figure, chart_id: str, title: str, description: str) -> str:
    """The figure as an SVG element for inline use: no XML prolog, with role, title and desc."""
    buffer = io.StringIO()
    with rc_context({"svg.hashsalt": chart_id, "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # matplotlib numbers its ids per figure (figure_1, axes_1, ...): prefix them with the chart's
    # id, and every reference to them, so several charts in one page never share an id.
    text = re.sub(r'\bid="([^"]+)"', rf'id="{chart_id}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{chart_id}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{chart_id}-\1"', text)
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    text = re.sub(
        r"<svg ",
        f'<svg id="{chart_id}" role="img" aria-labelledby="{title_id} {desc_id}" class="chart" ',
        text,
        count=1,
    )
    head_end = text.index(">") + 1
    alt = (
        f'<title id="{title_id}">{escape(title)}</title>'
        f'<desc id="{desc_id}">{escape(description)}</desc>'
    )
    return text[:head_end] + alt + text[head_end:].rstrip() + "\n"


def _style(axes: object) -> None:
    from matplotlib.axes import Axes  # noqa: PLC0415 - typing only

    assert isinstance(axes, Axes)
    axes.spines["top"].set_visible(False)
    axes.spines["right"].set_visible(False)
    axes.tick_params(labelsize=FONT_SIZE, color="#444444", labelcolor="#222222")
    axes.grid(axis="y", color="#d0d0d0", linewidth=0.6)
    axes.set_axisbelow(True)


def trend_chart(
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[SeriesData],
    targets: Sequence[Decimal],
    *,
    percent: bool = True,
) -> str:
    """A line per municipality over the months `labels`; dashed norm lines at `targets`."""
    rc: Any = {"font.family": FONT, "font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1}
    with rc_context(rc):
        figure = Figure(figsize=TREND_SIZE, layout="constrained")
        axes = figure.add_subplot()
        _style(axes)
        x = list(range(len(labels)))
        seen: list[float] = []
        for index, s in enumerate(series):
            y = [math.nan if v is None else float(v) for v in s.values]
            seen.extend(v for v in y if not math.isnan(v))
            style: dict[str, Any] = {
                "color": colour(s.slug, index),
                "marker": MARKERS[index % len(MARKERS)],
                "markeredgecolor": EDGE,
                "markeredgewidth": 0.8,
                "markersize": 5.5,
            }
            axes.plot(
                x,
                y,
                linestyle=DASHES[index % len(DASHES)],
                linewidth=2,
                label=s.name,
                **style,
            )
            hollow = [(i, v) for i, (v, p) in enumerate(zip(y, s.provisional, strict=True)) if p]
            if hollow:
                axes.plot(
                    [i for i, _ in hollow],
                    [v for _, v in hollow],
                    linestyle="none",
                    markerfacecolor="white",
                    **style,
                )
        for target in sorted(set(targets)):
            axes.axhline(float(target), color=OKABE_ITO_BLACK, linestyle="--", linewidth=1.2)
            axes.annotate(
                f"norm {_number(float(target))}" + (" %" if percent else ""),
                xy=(1, float(target)),
                xycoords=("axes fraction", "data"),
                xytext=(2, 0),
                textcoords="offset points",
                va="center",
                fontsize=FONT_SIZE,
            )
            seen.append(float(target))
        axes.set_xticks(x, labels)
        axes.set_xlim(-0.4, len(labels) - 0.6)
        if percent and not targets and max(seen, default=0.0) < 50:  # e.g. abandonment: 0 up
            axes.set_ylim(0, math.ceil((max(seen, default=0.0) + 2) / 5) * 5)
            axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{_number(v)} %"))
        elif percent:
            low = min(seen, default=0.0)
            bottom = max(0.0, math.floor((low - 5) / 10) * 10)
            axes.set_ylim(bottom, 101)
            axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{_number(v)} %"))
        else:
            axes.set_ylim(0, max(max(seen, default=1.0) * 1.15, 1.0))
            axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _number(v)))
        if percent:
            bottom, top = axes.get_ylim()
            span = top - bottom
            axes.yaxis.set_major_locator(
                MultipleLocator(1 if span <= 10 else 5 if span <= 35 else 10)
            )
        else:
            axes.yaxis.set_major_locator(MaxNLocator(nbins=6))
        for tick in axes.get_xticklabels():
            tick.set_rotation(45)
            tick.set_horizontalalignment("right")
        axes.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.32),
            ncol=max(1, len(series)),
            frameon=False,
            fontsize=FONT_SIZE,
            handlelength=3,
        )
        return _svg(figure, chart_id, title, description)


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    groups: Sequence[str],
    series: Sequence[SeriesData],
    *,
    maximum: float,
) -> str:
    """Horizontal bars: one group per label in `groups`, one bar per municipality in each."""
    rc: Any = {"font.family": FONT, "font.size": FONT_SIZE}
    height = max(2.2, 0.7 + BAR_HEIGHT_PER_BAR * len(groups) * max(1, len(series)))
    hatches = ("", "////", "....", "xxxx", "\\\\\\\\", "++++", "oooo")
    with rc_context(rc):
        figure = Figure(figsize=(TREND_SIZE[0], height), layout="constrained")
        axes = figure.add_subplot()
        _style(axes)
        axes.grid(axis="x", color="#d0d0d0", linewidth=0.6)
        axes.grid(axis="y", visible=False)
        count = max(1, len(series))
        width = 0.8 / count
        for index, s in enumerate(series):
            positions = [g - 0.4 + width * (index + 0.5) for g in range(len(groups))]
            values = [0.0 if v is None else float(v) for v in s.values]
            bars = axes.barh(
                positions,
                values,
                height=width * 0.92,
                color=colour(s.slug, index),
                edgecolor=EDGE,
                linewidth=0.7,
                hatch=hatches[index % len(hatches)],
                label=s.name,
            )
            labels = ["" if v is None else _number(float(v), 1) for v in s.values]
            axes.bar_label(bars, labels=labels, padding=2, fontsize=FONT_SIZE - 0.5)
        axes.set_yticks(range(len(groups)), groups)
        axes.invert_yaxis()
        axes.set_xlim(0, maximum)
        axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _number(v)))
        axes.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncol=count,
            frameon=False,
            fontsize=FONT_SIZE,
        )
        return _svg(figure, chart_id, title, description)
