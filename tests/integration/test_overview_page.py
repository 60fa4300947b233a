"""The overview page as a team lead gets it: served by a real worker and by `contactmon overview`,
rendered by a real headless Chromium, checked by axe-core, held against /metrics.

One stack for the file: a worker on the real broker fed a simulated month (event clock, so the
figures stand still once every event is processed), a real Prometheus scraping it every second, a
real Alertmanager holding one alert for Heiloo, and `contactmon overview` reading both.

Checked:
- every figure on the worker's page (each carries its exact value in ``data-value``) equals what
  the worker's /metrics says at the same moment, aggregated as the dashboards' PromQL does, and
  the cluster page (from Prometheus) shows the same figures and Heiloo's alert;
- in Chromium at 1366×768 and at 390×844 (a phone): nothing sticks out of the page, every
  municipality and norm is there with its heading, every chart has a title and a description;
  screenshots (viewport and full page) go to $CONTACTMON_OVERVIEW_SCREENSHOTS when set, else to a
  temporary directory;
- axe-core (npm, `npm ci` from the project's package-lock.json when node_modules is missing), run
  in that browser on both pages at both sizes: no serious or critical violation;
- the page refreshes itself in place (no navigation), and without JavaScript it is complete.

Chromium (the Debian package `chromium`) is installed with apt-get when missing; the test fails,
never skips, when it cannot be.
"""

from __future__ import annotations

import asyncio
import base64
import html.parser
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from streams.core.config import load_norms
from streams.overview.history import SAMPLE_SECONDS
from tests.integration.conftest import free_ports
from tests.integration.webhook import WebhookReceiver
from tests.integration.worker_harness import (
    Names,
    Samples,
    Worker,
    contract_only,
    lines_of,
    produce,
    total,
    wait_until,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SLUGS = ("bergen", "castricum", "heiloo", "uitgeest")
NAMES = ("Bergen (NH)", "Castricum", "Heiloo", "Uitgeest")
SIZES = {"desktop": (1366, 768, False), "phone": (390, 844, True)}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-allow-origins=*",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
HEILOO_SUMMARY = "Heiloo: reactietermijn meldingen te laat (test)"


# ---- the parts ------------------------------------------------------------------------------


def ensure_chromium() -> None:
    """Install Chromium with apt-get when missing (CI machines are fresh)."""
    if shutil.which("chromium") is not None:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail("the overview page tests need Chromium: apt-get install chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "chromium", "fonts-dejavu-core"],
        check=True,
        env=env,
        capture_output=True,
    )


def ensure_axe() -> str:
    """axe-core's source, installed by `npm ci` from the project's lock file when missing."""
    if not AXE.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("the accessibility test needs npm (Debian: apt-get install npm)")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0 or not AXE.is_file():
            pytest.fail(f"npm ci could not install axe-core:\n{done.stdout}\n{done.stderr}")
    return AXE.read_text(encoding="utf-8")


def script(name: str, *args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(ROOT / "deploy" / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"deploy/{name} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        body: bytes = r.read()
        return body


def prometheus_query(port: int, expr: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    result: list[dict[str, Any]] = json.loads(get(url))["data"]["result"]
    return result


@dataclass
class Stack:
    worker: Worker
    prom_port: int
    am_port: int
    overview_port: int
    overview: subprocess.Popen[bytes]
    tmp: Path

    @property
    def worker_page(self) -> str:
        return f"http://127.0.0.1:{self.worker.port}/overzicht"

    @property
    def cluster_page(self) -> str:
        return f"http://127.0.0.1:{self.overview_port}/overzicht"


def post_alert(am_port: int) -> None:
    now = datetime.now(UTC)
    alert = {
        "labels": {
            "alertname": "ContactmonNormBurnRateFast",
            "severity": "page",
            "team": "klantcontact",
            "municipality": "heiloo",
            "norm": "melding-reactie",
        },
        "annotations": {"summary": HEILOO_SUMMARY},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{am_port}/api/v2/alerts",
        data=json.dumps([alert]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 200


@pytest.fixture(scope="module")
def stack(
    kafka_broker: str, simulated_month: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    ensure_chromium()
    tmp = tmp_path_factory.mktemp("overview")
    env = {
        **os.environ,
        "CONTACTMON_STATE": str(tmp / "state"),
        "CONTACTMON_AM_GROUP_WAIT": "1s",
        "CONTACTMON_AM_ALWAYS_OPEN": "1",
    }
    prom_port, am_port, overview_port = free_ports(3)
    receiver = WebhookReceiver()
    receiver.start()
    worker = Worker(
        kafka_broker,
        Names(),
        tmp,
        f"sqlite:///{tmp / 'store.sqlite3'}",
        CONTACTMON_CLOCK="event",
        CONTACTMON_LATENESS="0",
    )
    overview: subprocess.Popen[bytes] | None = None
    started: list[str] = []
    try:
        worker.start()
        script(
            "alertmanager.sh",
            "start",
            "--port",
            str(am_port),
            "--webhook-url",
            receiver.url,
            env=env,
        )
        started.append("alertmanager.sh")
        config = tmp / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "scrape_configs": [
                        {
                            "job_name": "contactmon-worker",
                            "static_configs": [{"targets": [f"127.0.0.1:{worker.port}"]}],
                        }
                    ],
                }
            )
        )
        script("prometheus.sh", "start", "--port", str(prom_port), "--config", str(config), env=env)
        started.append("prometheus.sh")
        wait_until("the worker owns its partitions", lambda: worker.owned() > 0)
        cutoff = datetime.fromisoformat("2024-03-28T18:00:00+01:00")
        lines = [
            line
            for line in lines_of(simulated_month)
            if datetime.fromisoformat(orjson.loads(line)["time"]) < cutoff
        ]
        produce(kafka_broker, worker.env["CONTACTMON_EVENTS_TOPIC"], lines)
        wait_until("every event processed", lambda: worker.next_offsets() >= len(lines))
        post_alert(am_port)
        log = (tmp / "overview.log").open("ab")
        overview = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("contactmon")),
                "overview",
                "--prometheus",
                f"http://127.0.0.1:{prom_port}",
                "--alertmanager",
                f"http://127.0.0.1:{am_port}",
                "--port",
                str(overview_port),
                "--refresh",
                "5",
            ],
            stdout=log,
            stderr=log,
            cwd=tmp,
        )
        wait_until(
            "contactmon overview to serve",
            lambda: get(f"http://127.0.0.1:{overview_port}/healthz") == b"ok\n",
            timeout=60,
            ignoring=(OSError,),
        )
        wait_until(
            "Prometheus to scrape every event processed",
            lambda: (
                sum(
                    float(r["value"][1])
                    for r in prometheus_query(prom_port, "contact_worker_next_offset")
                )
                >= len(lines)
            ),
            timeout=60,
        )
        yield Stack(worker, prom_port, am_port, overview_port, overview, tmp)
    finally:
        if overview is not None:
            overview.terminate()
            overview.wait(timeout=30)
        worker.stop()
        for name, port in (("prometheus.sh", prom_port), ("alertmanager.sh", am_port)):
            if name in started:
                script(name, "stop", "--port", str(port), env=env)
        receiver.stop()


# ---- reading a page -------------------------------------------------------------------------


class Figures(html.parser.HTMLParser):
    """id -> (data-value, visible text) of every element that carries both."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, tuple[str, str]] = {}
        self._open: list[tuple[str, str, str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id") and "data-value" in a:
            self._open.append((tag, a["id"] or "", a["data-value"] or "", []))
        elif self._open and self._open[-1][0] == tag:
            self._open.append((tag, "", "", []))  # a nested element of the same tag

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, ident, value, parts = self._open.pop()
            if ident:
                self.cells[ident] = (value, " ".join("".join(parts).split()))

    def handle_data(self, data: str) -> None:
        for *_, parts in self._open:
            parts.append(data)


def figures_of(html: str) -> dict[str, tuple[str, str]]:
    parser = Figures()
    parser.feed(html)
    return parser.cells


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def only(samples: Samples, name: str, **labels: str) -> float | None:
    want = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    assert len(found) <= 1, (name, labels)
    return found[0] if found else None


def expected(metrics: Samples) -> dict[str, float | None]:
    """Every figure of the worker page, computed here from /metrics as the dashboards do."""
    config = load_norms()
    out: dict[str, float | None] = {}
    for m in SLUGS:
        out[f"{m}--calls-waiting"] = total(metrics, "contact_calls_waiting", municipality=m)
        for norm in config.norms_by_municipality[m]:
            key = f"{m}--{norm.id}"
            kw = {"municipality": m, "norm": norm.id}
            out[f"{key}--overdue"] = total(metrics, "contact_norm_overdue_items", **kw)
            out[f"{key}--at-risk"] = total(metrics, "contact_norm_at_risk_items", **kw)
            for window in ("1d", "7d", "30d"):
                out[f"{key}--compliance-{window}"] = only(
                    metrics, "contact_norm_compliance_ratio", **kw, segment="", window=window
                )
            for bound in ("best", "worst"):
                out[f"{key}--month-{bound}"] = only(
                    metrics, "contact_norm_month_projection_ratio", **kw, bound=bound
                )
            out[f"{key}--headroom"] = only(metrics, "contact_norm_month_headroom_items", **kw)
            if norm.family == "call":
                out[f"{key}--open"] = total(
                    metrics, "contact_calls_waiting", municipality=m, channel=norm.channel or ""
                )
                out[f"{key}--answered-1d"] = out[f"{key}--compliance-1d"]
            else:
                out[f"{key}--open"] = total(
                    metrics, "contact_items_open", municipality=m, kind=norm.kind or ""
                )
                for q, name in (("0.5", "p50"), ("0.9", "p90")):
                    out[f"{key}--{name}"] = only(
                        metrics,
                        "contact_handling_duration_seconds",
                        municipality=m,
                        kind=norm.kind or "",
                        stage=norm.stage,
                        window="7d",
                        quantile=q,
                    )
        out[f"{m}--overdue"] = total(metrics, "contact_norm_overdue_items", municipality=m)
        out[f"{m}--at-risk"] = total(metrics, "contact_norm_at_risk_items", municipality=m)
    return out


# ---- figures --------------------------------------------------------------------------------


class TestFigures:
    def test_the_worker_page_equals_its_metrics_at_the_same_moment(self, stack: Stack) -> None:
        before = contract_only(stack.worker.scrape())
        time.sleep(1.1)  # older than the page's one-second cache: built from this state
        page = get(f"{stack.worker_page}/inhoud").decode()
        after = contract_only(stack.worker.scrape())
        assert before == after  # one moment: nothing moved while the page was built
        shown = figures_of(page)
        want = expected(after)
        assert len(want) > 150
        for ident, value in want.items():
            assert ident in shown, ident
            assert number(shown[ident][0]) == value, (ident, shown[ident], value)
        # the text says the same as the value
        heiloo = shown["heiloo--melding-reactie--compliance-7d"]
        ratio = want["heiloo--melding-reactie--compliance-7d"]
        assert ratio is not None
        assert f"{ratio * 100:.1f}".replace(".", ",") in heiloo[1]
        assert shown["castricum--vraag-reactie--overdue"][1] in {
            "geen",
            str(int(want["castricum--vraag-reactie--overdue"] or 0)),
        }

    def test_the_cluster_page_shows_the_same_figures_from_prometheus(self, stack: Stack) -> None:
        worker = figures_of(get(f"{stack.worker_page}/inhoud").decode())
        cluster = figures_of(get(f"{stack.cluster_page}/inhoud").decode())
        common = worker.keys() & cluster.keys()
        assert len(common) > 150
        differ = {k: (worker[k], cluster[k]) for k in common if worker[k][0] != cluster[k][0]}
        assert not differ

    def test_the_cluster_page_lists_heiloos_alert(self, stack: Stack) -> None:
        page = get(f"{stack.cluster_page}/inhoud").decode()
        shown = figures_of(page)
        assert shown["heiloo--alerts"][0] == "1"
        assert shown["castricum--alerts"][0] == "0"
        heiloo = page[page.index('id="gemeente-heiloo"') : page.index('id="gemeente-uitgeest"')]
        assert "ContactmonNormBurnRateFast" in heiloo
        assert HEILOO_SUMMARY in heiloo
        assert "oproep" in heiloo


# ---- the browser ----------------------------------------------------------------------------


class Tab:
    """One Chromium tab over the DevTools protocol (a websocket)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._waiting:
                self._waiting.pop(data["id"]).set_result(data)
            else:
                await self.events.put(data)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        answer = await asyncio.wait_for(future, 120)
        if "error" in answer:
            raise AssertionError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer["result"]
        return result

    async def open(self, url: str) -> None:
        while not self.events.empty():
            self.events.get_nowait()
        await self.send("Page.navigate", url=url)
        while True:
            event = await asyncio.wait_for(self.events.get(), 120)
            if event.get("method") == "Page.loadEventFired":
                return

    async def evaluate(self, expression: str, *, wait: bool = False) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=wait
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def size(self, width: int, height: int, mobile: bool) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )

    async def screenshot(self, path: Path, *, full: bool = False) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full:
            params["captureBeyondViewport"] = True
            metrics = await self.send("Page.getLayoutMetrics")
            content = metrics["cssContentSize"]
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": content["width"],
                "height": content["height"],
                "scale": 1,
            }
        shot = await self.send("Page.captureScreenshot", **params)
        path.write_bytes(base64.b64decode(shot["data"]))

    async def close(self) -> None:
        await self._ws.close()
        self._reader.cancel()


class Browser:
    """A headless Chromium with a fresh profile and the DevTools protocol on a free port."""

    def __init__(self, profile: Path) -> None:
        self.proc = subprocess.Popen(
            [
                "chromium",
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        wait_until("Chromium's DevTools port", port_file.is_file, timeout=60)
        self.port = int(port_file.read_text().split()[0])

    async def tab(self, session: aiohttp.ClientSession) -> Tab:
        async with session.put(f"http://127.0.0.1:{self.port}/json/new?about:blank") as r:
            target = await r.json()
        ws = await session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        tab = Tab(ws)
        await tab.send("Page.enable")
        await tab.send("Runtime.enable")
        return tab

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


LAYOUT = r"""
(() => {
  const width = document.documentElement.clientWidth, outside = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg") && el.tagName.toLowerCase() !== "svg") continue;
    if (el.closest(".skip") || el.closest(".sr-only") || el.closest("[hidden]")) continue;
    const b = el.getBoundingClientRect();
    if ((b.width > 0 || b.height > 0) && (b.right > width + 1 || b.left < -1))
      outside.push(el.tagName + "#" + el.id + "." + el.className + " " +
                   Math.round(b.left) + ".." + Math.round(b.right));
  }
  const text = (sel) => [...document.querySelectorAll(sel)].map(
    (e) => e.textContent.replace(/\s+/g, " ").trim());
  const charts = [...document.querySelectorAll("svg.chart")].map((s) => ({
    id: s.id, width: s.getBoundingClientRect().width,
    title: (s.querySelector("title") || {}).textContent || "",
    desc: (s.querySelector("desc") || {}).textContent || ""}));
  return {width, scrollWidth: document.documentElement.scrollWidth, outside: outside.slice(0, 20),
          h1: text("h1"), h2: text("h2"), h3: text("article.norm h3"), charts,
          stand: text("p.stand")[0] || "", button: !document.getElementById("pauze").hidden};
})()
"""

AXE_RUN = """
axe.run(document, {runOnly: {type: "tag", values: %s}, resultTypes: ["violations"]})
  .then((r) => r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
     nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" "))})))
"""


def screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("CONTACTMON_OVERVIEW_SCREENSHOTS", tmp_path / "shots"))
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture(scope="module")
def browser_results(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both pages at both sizes in Chromium: layout, axe-core, screenshots; then refresh and
    no-JavaScript checks on the cluster page."""
    axe = ensure_axe()
    # charts need two samples in the worker's ring (one every SAMPLE_SECONDS)
    wait_until(
        "the worker page to show its charts",
        lambda: get(stack.worker_page).count(b'<svg id="chart-') >= 20,
        timeout=SAMPLE_SECONDS * 4 + 30,
        every=2,
    )
    wait_until(
        "the cluster page to show its charts",
        lambda: get(stack.cluster_page).count(b'<svg id="chart-') >= 20,
        timeout=60,
        every=2,
    )
    tmp = tmp_path_factory.mktemp("browser")
    shots = screenshot_dir(tmp)
    results: dict[str, Any] = {"shots": shots}

    async def run() -> None:
        browser = Browser(tmp / "profile")
        try:
            async with aiohttp.ClientSession() as session:
                tab = await browser.tab(session)
                for page, url in (("worker", stack.worker_page), ("cluster", stack.cluster_page)):
                    for size, (width, height, mobile) in SIZES.items():
                        await tab.size(width, height, mobile)
                        await tab.open(url)
                        name = f"{page}-{size}"
                        await tab.screenshot(shots / f"overzicht-{name}.png")
                        await tab.screenshot(shots / f"overzicht-{name}-volledig.png", full=True)
                        results[name] = await tab.evaluate(LAYOUT)
                        await tab.evaluate(axe)
                        results[f"axe-{name}"] = await tab.evaluate(
                            AXE_RUN % json.dumps(AXE_TAGS), wait=True
                        )
                # refresh in place: no navigation, new figures (the stand moves on)
                await tab.size(1366, 768, False)
                await tab.open(stack.cluster_page)
                await tab.evaluate("window.__stayed = true")
                first = (await tab.evaluate(LAYOUT))["stand"]
                await asyncio.sleep(12)
                results["refresh"] = {
                    "stayed": await tab.evaluate("window.__stayed === true"),
                    "before": first,
                    "after": (await tab.evaluate(LAYOUT))["stand"],
                }
                # without JavaScript
                await tab.send("Emulation.setScriptExecutionDisabled", value=True)
                await tab.open(stack.cluster_page)
                dom = await tab.send("DOM.getDocument", depth=-1)
                outer = await tab.send("DOM.getOuterHTML", nodeId=dom["root"]["nodeId"])
                results["nojs-html"] = outer["outerHTML"]
                await tab.screenshot(shots / "overzicht-cluster-zonder-javascript.png")
                await tab.close()
        finally:
            browser.close()

    asyncio.run(run())
    (shots / "axe.json").write_text(
        json.dumps({k: v for k, v in results.items() if k.startswith("axe-")}, indent=2)
    )
    return results


class TestInTheBrowser:
    @pytest.mark.parametrize("page", ["worker", "cluster"])
    @pytest.mark.parametrize("size", list(SIZES))
    def test_nothing_overflows_and_everything_is_there(
        self, browser_results: dict[str, Any], page: str, size: str
    ) -> None:
        layout = browser_results[f"{page}-{size}"]
        width = SIZES[size][0]
        assert layout["width"] == width
        assert layout["scrollWidth"] == width
        assert layout["outside"] == []
        assert layout["h1"] == ["Contactmonitor — overzicht"]
        assert layout["h2"][1:] == list(NAMES)
        config = load_norms()
        titles = layout["h3"]
        assert len(titles) == len(SLUGS) * len(config.norm_ids)
        assert titles.count("Meldingen binnen 3 werkdagen gereageerd") == 4
        assert titles.count("Telefoongesprekken binnen 30 seconden opgenomen") == 4
        charts = layout["charts"]
        assert len(charts) >= 20  # a norm with nothing decided in 24 hours has none
        for chart in charts:
            assert chart["width"] > 250, chart["id"]
            assert chart["title"].startswith("Verloop op tijd: "), chart["id"]
            assert "doel" in chart["desc"], chart["id"]
        assert layout["button"]  # the pause button, shown by the script
        for name in (f"overzicht-{page}-{size}.png", f"overzicht-{page}-{size}-volledig.png"):
            assert (browser_results["shots"] / name).stat().st_size > 10_000

    @pytest.mark.parametrize("page", ["worker", "cluster"])
    @pytest.mark.parametrize("size", list(SIZES))
    def test_axe_finds_no_serious_violation(
        self, browser_results: dict[str, Any], page: str, size: str
    ) -> None:
        violations = browser_results[f"axe-{page}-{size}"]
        serious = [v for v in violations if v["impact"] in {"serious", "critical"}]
        assert serious == [], json.dumps(violations, indent=1)

    def test_the_page_refreshes_in_place(self, browser_results: dict[str, Any]) -> None:
        refresh = browser_results["refresh"]
        assert refresh["stayed"]  # no navigation
        assert refresh["before"] != refresh["after"], refresh

    def test_without_javascript_the_page_is_complete(self, browser_results: dict[str, Any]) -> None:
        page = browser_results["nojs-html"]
        shown = figures_of(page)
        assert all(f"{m}--overdue" in shown for m in SLUGS)
        assert re.search(r'<button id="pauze"[^>]*hidden', page)  # nothing that needs a script
        assert '<a href="/overzicht">Ververs nu</a>' in page
