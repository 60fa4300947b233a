"""The monthly report for the administrative dashboard and the board (issue 14, item 1).

Small modules, the pure ones apart: `figures` (the numbers, from the KPI facts of
streams.export.kpi), `summary` (the Dutch text), `nl` (Dutch formatting), `charts` (matplotlib
SVG), `template` and `html` (Jinja2), `pdf` (Chromium), `mail` (SMTP), and `run`, which reads the
store and writes and delivers the files (`contactmon report`).
"""
