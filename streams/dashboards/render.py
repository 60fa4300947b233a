"""The dashboards by file name, rendered to the JSON Grafana reads.

Each dashboard module has a ``dashboard()`` builder; `render` turns its model into plain JSON data
(dicts and lists) and `dumps` into the exact text checked in under ``grafana/dashboards/``: keys
sorted, two-space indent, UTF-8 without escapes, a trailing newline, so a rebuild of unchanged
code gives the same bytes and a review shows only real changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from streams.dashboards import gemeente, overzicht, pipeline

DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "overzicht": overzicht.dashboard,
    "gemeente": gemeente.dashboard,
    "monitor": pipeline.dashboard,  # the "Monitor" dashboard (module name: not the core's monitor)
}
"""File stem (``grafana/dashboards/<stem>.json``) → the function that builds that dashboard."""

JsonObject = dict[str, Any]


def render(name: str) -> JsonObject:
    """The dashboard ``name`` as Grafana's JSON model (plain dicts and lists)."""
    data: JsonObject = json.loads(JSONEncoder().encode(DASHBOARDS[name]().build()))
    return data


def render_all() -> dict[str, JsonObject]:
    """Every dashboard, by file stem."""
    return {name: render(name) for name in DASHBOARDS}


def dumps(data: JsonObject) -> str:
    """The checked-in text of a dashboard: sorted keys, indent 2, UTF-8, trailing newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
