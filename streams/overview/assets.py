"""The overview's style sheet and refresh script, served by the process itself.

No external resource: no web font (the system's DejaVu Sans or the browser's sans-serif), no
script or style from elsewhere; the page's Content-Security-Policy allows only these two files
(and the inline styles matplotlib writes into its SVG). Without JavaScript the page is complete
and a plain reload (or the "Ververs nu" link) shows the latest figures; with it, the figures are
fetched every few seconds and swapped in place (no reload, no flicker), and a button pauses that
(WCAG 2.2.2).

Colours: the Okabe–Ito palette of the dashboards. A status badge is the status colour behind
black text (contrast 5.4:1 or more) and always carries the status in words.
"""

from __future__ import annotations

import hashlib

# Okabe–Ito, as streams.dashboards.common (tests/unit/test_overview_page.py checks they agree).
STATUS_OK = "#56B4E9"  # hemelsblauw
STATUS_WARN = "#E69F00"  # oranje
STATUS_BAD = "#D55E00"  # vermiljoen
NEUTRAL = "#8E8E8E"
PLACE_COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442")
"""Per municipality in the norms file's order (bergen, castricum, heiloo, uitgeest, ...)."""

_STYLE = """
:root { color-scheme: light; --ink: #1a1a1a; --muted: #3d3d3d; --line: #c8c8c8; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0; color: var(--ink); background: #ffffff;
  font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 15px;
  line-height: 1.4;
}
a { color: #0a4f86; }
a:focus-visible, button:focus-visible { outline: 3px solid #0072B2; outline-offset: 2px; }
.skip { position: absolute; left: -9999px; top: 0; }
.skip:focus { left: 8px; top: 8px; background: #ffffff; padding: 4px 8px; z-index: 2; }
header.top, main, footer { max-width: 1500px; margin: 0 auto; padding: 0 16px; }
header.top { padding-top: 12px; display: flex; flex-wrap: wrap; align-items: baseline;
  gap: 4px 20px; }
h1 { font-size: 1.5rem; margin: 0; }
h2 { font-size: 1.3rem; margin: 0 0 6px; }
h3 { font-size: 1.02rem; margin: 0 0 4px; }
h4 { font-size: 0.95rem; margin: 8px 0 2px; }
p { margin: 0 0 6px; }
.scope, .stand, .small, figcaption { color: var(--muted); }
.controls { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; margin: 0; }
button { font: inherit; padding: 3px 10px; border: 1px solid #555555; border-radius: 4px;
  background: #f2f2f2; color: var(--ink); cursor: pointer; }
.notice { border-left: 4px solid var(--ink); background: #f2f2f2; padding: 6px 10px;
  margin: 8px 0; }
section.block { margin: 14px 0 22px; }
section.place { border-top: 3px solid var(--ink); padding-top: 10px; margin: 18px 0 26px; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; border: 1px solid #222222;
  margin-right: 0.4em; vertical-align: baseline; }
table { border-collapse: collapse; }
caption { text-align: left; font-weight: bold; padding: 0 0 3px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 6px; text-align: right;
  vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); background: #eef0f2; }
th[scope="row"] { text-align: left; font-weight: normal; }
thead th:first-child { text-align: left; }
table.summary { width: 100%; max-width: 860px; }
table.summary td.pair { white-space: nowrap; }
.unit { font-weight: normal; }
table.summary th, table.summary td { padding: 4px 6px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; color: #000000;
  font-weight: bold; white-space: nowrap; }
.badge.ok { background: @ok@; }
.badge.warn { background: @warn@; }
.badge.bad { background: @bad@; }
.badge.none { background: #e4e4e4; font-weight: normal; }
.headline { font-size: 1.05rem; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 26px; margin: 6px 0 10px; }
.facts > div { min-width: 0; flex: 1 1 19rem; }
ul.alerts { margin: 0; padding-left: 1.2em; }
ul.alerts li { margin: 0 0 3px; }
.norms { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 22rem), 1fr));
  gap: 14px; }
article.norm { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
  min-width: 0; }
article.norm.bad { border-left: 6px solid @bad@; }
article.norm.ok { border-left: 6px solid @ok@; }
article.norm.none { border-left: 6px solid @neutral@; }
.normline { font-size: 0.9rem; color: var(--muted); }
article.norm table { width: 100%; margin: 4px 0 6px; font-size: 0.93rem; }
figure { margin: 6px 0 0; }
svg.chart { width: 100%; height: auto; display: block; }
.nochart { border: 1px dashed var(--line); padding: 14px 8px; text-align: center;
  color: var(--muted); }
footer { border-top: 1px solid var(--line); margin-top: 24px; padding-top: 8px;
  padding-bottom: 20px; font-size: 0.88rem; color: var(--muted); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 600px) {
  body { font-size: 14px; }
  header.top, main, footer { padding: 0 10px; }
  header.top { padding-top: 8px; }
  table.summary th, table.summary td { padding: 3px 3px; font-size: 0.86rem; }
  th, td { padding: 3px 4px; }
}
""" + "".join(f".swatch.c{i} {{ background: {c}; }}\n" for i, c in enumerate(PLACE_COLOURS))
STYLE = (
    _STYLE.replace("@ok@", STATUS_OK)
    .replace("@warn@", STATUS_WARN)
    .replace("@bad@", STATUS_BAD)
    .replace("@neutral@", NEUTRAL)
)

SCRIPT = """\
// contactmon overview: fetch the figures every few seconds and swap them in place.
(function () {
  "use strict";
  var main = document.getElementById("inhoud");
  var button = document.getElementById("pauze");
  var state = document.getElementById("ververs-status");
  if (!main || !button || !window.fetch) { return; }
  var every = (parseInt(document.body.getAttribute("data-refresh"), 10) || 10) * 1000;
  var etag = main.getAttribute("data-etag");
  var paused = false, timer = null;
  function say(text) { if (state) { state.textContent = text; } }
  function schedule() {
    clearTimeout(timer);
    if (!paused) { timer = setTimeout(refresh, every); }
  }
  function refresh() {
    var headers = etag ? {"If-None-Match": etag} : {};
    fetch(main.getAttribute("data-fragment"),
          {headers: headers, cache: "no-store", credentials: "same-origin"})
      .then(function (r) {
        if (r.status === 304) { return null; }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        etag = r.headers.get("ETag");
        return r.text();
      })
      .then(function (html) {
        if (html !== null) { main.innerHTML = html; }
        say("Ververst automatisch elke " + every / 1000 + " seconden.");
      })
      .catch(function () {
        say("Verversen lukte niet; nieuwe poging over " + every / 1000 + " seconden.");
      })
      .then(schedule);
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    paused = !paused;
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    button.textContent = paused ? "Verversen hervatten" : "Verversen pauzeren";
    say(paused ? "Automatisch verversen staat stil." :
        "Ververst automatisch elke " + every / 1000 + " seconden.");
    if (!paused) { refresh(); } else { clearTimeout(timer); }
  });
  say("Ververst automatisch elke " + every / 1000 + " seconden.");
  schedule();
})();
"""


def fingerprint(text: str) -> str:
    """A short hash of an asset, for its URL (a new version is a new URL)."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


STYLE_VERSION = fingerprint(STYLE)
SCRIPT_VERSION = fingerprint(SCRIPT)
