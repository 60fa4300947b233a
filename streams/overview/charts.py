"""The small trend chart per norm: matplotlib, inline SVG, the report's conventions.

The charts are drawn by matplotlib's object API and turned into inline SVG by the report's own
helper (`streams.report.charts`): text stays text, ids are prefixed per chart, and every chart
carries ``role="img"``, a ``<title>`` and a ``<desc>`` (its text alternative, which also says the
latest, lowest and highest value). The line is the Okabe–Ito blue, the target a black dashed line
named "doel" on the chart, so nothing relies on colour.

Drawing costs tens of milliseconds per chart, so `render_charts` is a plain function of plain data:
the worker runs it in a child process (``python -m streams.overview.charts``, `main`), away from
its event loop and its GIL, and only when a new sample has come and someone looks at the page.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

LINE = "#0072B2"  # Okabe–Ito blue: 5.3:1 against white
TARGET = "#000000"
GRID = "#d0d0d0"
SIZE = (3.6, 1.35)  # inches; drawn at this size, scaled to the card's width by CSS
FONT_SIZE = 8.5
MAX_POINTS = 180


@dataclass(frozen=True, slots=True)
class ChartJob:
    """One chart to draw: plain data, so it can cross to another process."""

    key: tuple[str, str]  # (municipality, norm)
    chart_id: str
    title: str
    description: str
    times: tuple[float, ...]
    values: tuple[float | None, ...]
    target: float | None
    timezone: str


def thin(
    times: Sequence[float], values: Sequence[float | None], limit: int = MAX_POINTS
) -> tuple[list[float], list[float | None]]:
    """At most ``limit`` points: every k-th sample, and always the last."""
    n = len(times)
    if n <= limit:
        return list(times), list(values)
    step = math.ceil(n / limit)
    picks = list(range(n - 1, -1, -step))[::-1]
    return [times[i] for i in picks], [values[i] for i in picks]


def _percent(value: float) -> str:
    return f"{value * 100:.0f}\u00a0%"


def trend_svg(job: ChartJob) -> str:
    """The chart of one job as an inline ``<svg>`` element."""
    # matplotlib is imported here, in the process that draws: a worker that never shows the page
    # never loads it
    from matplotlib import rc_context  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.ticker import FixedLocator, FuncFormatter  # noqa: PLC0415

    from streams.report.charts import FONT, _svg  # noqa: PLC0415

    zone = ZoneInfo(job.timezone)
    times, values = thin(job.times, job.values)
    rc: Any = {"font.family": FONT, "font.size": FONT_SIZE}
    with rc_context(rc):
        figure = Figure(figsize=SIZE)
        axes = figure.add_axes((0.14, 0.2, 0.82, 0.74))
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        axes.tick_params(labelsize=FONT_SIZE, color="#444444", labelcolor="#222222", length=3)
        axes.grid(axis="y", color=GRID, linewidth=0.6)
        axes.set_axisbelow(True)
        y = [math.nan if v is None else v for v in values]
        axes.plot(times, y, color=LINE, linewidth=2, solid_capstyle="round")
        known = [(t, v) for t, v in zip(times, y, strict=True) if not math.isnan(v)]
        if known:  # the latest value as a dot, so a single point shows too
            axes.plot([known[-1][0]], [known[-1][1]], "o", color=LINE, markersize=4)
        if job.target is not None:
            axes.axhline(job.target, color=TARGET, linestyle=(0, (4, 2)), linewidth=1.1)
            axes.annotate(
                f"doel {_percent(job.target)}",
                xy=(0, job.target),
                xycoords=("axes fraction", "data"),
                xytext=(3, -2),
                textcoords="offset points",
                ha="left",
                va="top",
                fontsize=FONT_SIZE - 0.5,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
            )
        axes.set_ylim(0, 1.04)
        axes.yaxis.set_major_locator(FixedLocator([0, 0.5, 1]))
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _percent(v)))
        first, last = times[0], times[-1]
        span = max(last - first, 1.0)
        axes.set_xlim(first - span * 0.01, last + span * 0.01)
        axes.xaxis.set_major_locator(FixedLocator([first, (first + last) / 2, last]))
        clock = "%H:%M" if last - first >= 600 else "%H:%M:%S"  # distinct ticks on a short span
        axes.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _: datetime.fromtimestamp(v, zone).strftime(clock))
        )
        return _svg(figure, job.chart_id, job.title, job.description)


def render_charts(jobs: Sequence[ChartJob]) -> list[str]:
    """Every job's SVG, in order."""
    return [trend_svg(job) for job in jobs]


def _job(data: dict[str, Any]) -> ChartJob:
    return ChartJob(
        key=(data["key"][0], data["key"][1]),
        chart_id=data["chart_id"],
        title=data["title"],
        description=data["description"],
        times=tuple(data["times"]),
        values=tuple(data["values"]),
        target=data["target"],
        timezone=data["timezone"],
    )


def main() -> int:
    """The chart process of a worker: a JSON line of jobs in, a JSON line of SVGs out, until the
    input ends (`streams.overview.sources.ProcessChartRenderer`)."""
    import orjson  # noqa: PLC0415

    with contextlib.suppress(OSError):
        os.nice(10)  # the worker's events come first
    for line in sys.stdin.buffer:
        jobs = [_job(item) for item in orjson.loads(line)]
        sys.stdout.buffer.write(orjson.dumps(render_charts(jobs)) + b"\n")
        sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
