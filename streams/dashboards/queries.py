"""Every panel query of the dashboards, with the dashboard variables filled in.

Grafana fills ``$municipality``, ``$kind``, ``$channel`` and ``$window`` in before a query goes to
Prometheus. `panel_queries` does the same for one municipality, with every other variable at its
default (the "All" value of a multi-value variable, the preset choice of a single one), so a test
can send exactly what a dashboard would send to a real Prometheus, or parse it as PromQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from streams.dashboards.render import JsonObject, render_all

ALL = "$__all"
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True, slots=True)
class PanelQuery:
    """One query of one panel, as Prometheus would receive it."""

    dashboard_uid: str
    panel_title: str
    ref_id: str
    expr: str
    instant: bool  # an instant query (a table or a "now" stat), else a range query


def iter_panels(board: JsonObject) -> Iterator[JsonObject]:
    """Every panel of a dashboard, also those nested in (collapsed) rows."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def variable_values(board: JsonObject, municipality: str) -> dict[str, str]:
    """What Grafana substitutes for each variable: ``municipality``, else the default choice."""
    values: dict[str, str] = {}
    for variable in board.get("templating", {}).get("list", []):
        name = variable["name"]
        current: Mapping[str, Any] = variable.get("current") or {}
        if name == "municipality":
            values[name] = municipality
        elif current.get("value") == ALL:
            values[name] = variable["allValue"]
        elif "value" in current:
            values[name] = str(current["value"])
    return values


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """``expr`` with ``$name`` and ``${name}`` replaced; ValueError names an unknown variable."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise ValueError(f"query uses ${name}, which the dashboard does not define: {expr}")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def panel_queries(
    municipality: str, dashboards: Mapping[str, JsonObject] | None = None
) -> list[PanelQuery]:
    """All (dashboard uid, panel title, ref id, expr, instant) with variables substituted."""
    boards = render_all() if dashboards is None else dashboards
    found: list[PanelQuery] = []
    for board in boards.values():
        values = variable_values(board, municipality)
        for panel in iter_panels(board):
            for target in panel.get("targets", []):
                if "expr" not in target:
                    continue
                found.append(
                    PanelQuery(
                        dashboard_uid=board["uid"],
                        panel_title=panel["title"],
                        ref_id=target["refId"],
                        expr=substitute(target["expr"], values),
                        instant=bool(target.get("instant", False)),
                    )
                )
    return found
