"""The built-in overview page: what a team lead sees without Grafana.

One source of truth: the page shows the contract's metrics and nothing else. Every figure on it is
computed by one pure function (`streams.overview.figures.build`) from metric samples, the same
series ``/metrics`` exposes and Prometheus stores, aggregated as the dashboards' PromQL aggregates
them (norm figures summed over segments; the compliance ratio of all segments together is the
series with an empty ``segment`` label). Two places feed it samples:

- the worker (`streams.live.web`, ``/overzicht`` on the metrics port): the bytes of its own
  ``/metrics`` exposition, so the page and a scrape at the same moment cannot disagree; the trend
  charts come from a small in-memory ring of recent samples per norm (`streams.overview.history`,
  bounded: six hours at one sample per 15 s), lost on a restart;
- ``contactmon overview --prometheus URL`` (one process for a cluster of workers): the same series
  from Prometheus (an instant query of the raw series, never a second formula), the trend charts
  from a range query of the same ratio, and the firing alerts from Alertmanager.

Modules: `figures` (samples → figures, pure), `history` (the worker's ring), `charts`
(matplotlib trend charts as inline SVG, the report's conventions), `page` (Dutch view rows and
the Jinja2 template), `assets` (the style sheet and the small refresh script the process serves),
`sources` (worker and Prometheus/Alertmanager sources, caching, chart rendering off the event
loop), `command` (``contactmon overview``).
"""
