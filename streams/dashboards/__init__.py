"""Grafana dashboards as code: Overzicht, Gemeente and Monitor, built with Grafana's Python SDK.

``python -m streams.dashboards.build`` writes ``grafana/dashboards/*.json`` and the Kubernetes
files generated from them and from the alert rules; ``--check`` fails when those are stale.
`panel_queries` lists every panel query with the variables filled in for one municipality (for
tests against a real Prometheus). Needs the ``dev`` extra (``grafana-foundation-sdk``).
"""

from streams.dashboards.queries import PanelQuery, panel_queries
from streams.dashboards.render import DASHBOARDS, render, render_all

__all__ = ["DASHBOARDS", "PanelQuery", "panel_queries", "render", "render_all"]
