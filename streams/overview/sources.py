"""Where the overview's samples come from, and the service that turns them into a cached page.

- `WorkerSource`: a worker's own ``/metrics`` exposition (the callable the metrics server
  serves), parsed on request, plus the in-memory ring of recent samples (`History`) that a
  background task fills every 15 seconds.
- `PrometheusSource`: the same series from Prometheus's HTTP API (one instant query of the raw
  series: the figures are still computed by `streams.overview.figures.build`), and the trend from
  a range query of the 1-day ratio (the series the ring keeps), over the last six hours or as far
  back as Prometheus has it.
- `AlertmanagerSource`: the firing alerts (Alertmanager's v2 API), for the cluster page.

`OverviewService` builds the page at most once per ``ttl`` seconds, whatever the number of
readers (50 readers refreshing every second cost one build a second), and draws the charts only
when a new sample has come, at most once a minute (`CHART_SECONDS`), in an executor: the worker
uses a child process, so drawing never holds its event loop or its GIL; the first page waits up to
`FIRST_CHARTS_WAIT` seconds for them and later pages show the previous charts until the new ones
are there. The chart process is started on the first view and stopped after
`CHARTS_IDLE_SECONDS` without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import math
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import aiohttp
import orjson
import structlog

from streams.logs import redact, register_url
from streams.overview.charts import ChartJob, render_charts
from streams.overview.figures import (
    NEEDED,
    TREND_WINDOW,
    Catalogue,
    Overview,
    Sample,
    build,
    parse_exposition,
    trend_values,
)
from streams.overview.history import SAMPLE_SECONDS, History, Key, Trend
from streams.overview.page import (
    Alert,
    Alerts,
    PageInput,
    percent,
    render_fragment,
    render_page,
)

log = structlog.get_logger(__name__)

TREND_SPAN_SECONDS = 6 * 3600.0
TREND_POINTS = 240
FIRST_CHARTS_WAIT = 8.0
CHART_SECONDS = 60.0  # charts are redrawn at most once a minute (the figures every build)
CHARTS_IDLE_SECONDS = 600.0
HTTP_TIMEOUT = 10.0


class SourceError(RuntimeError):
    """A source cannot give samples now (Prometheus unreachable, an answer not understood)."""


class FigureSource(Protocol):
    async def samples(self) -> list[Sample]: ...

    async def trends(self) -> dict[Key, Trend]: ...

    def trend_version(self) -> object: ...

    async def run(self) -> None: ...


class AlertSource(Protocol):
    async def alerts(self) -> Alerts: ...


# --- the worker ----------------------------------------------------------------------------


class WorkerSource:
    """A worker's own exposition and its ring of recent samples."""

    def __init__(
        self,
        render: Callable[[], bytes],
        catalogue: Catalogue,
        history: History | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._render = render
        self._catalogue = catalogue
        self.history = history if history is not None else History()
        self._clock = clock

    async def samples(self) -> list[Sample]:
        return parse_exposition(self._render().decode("utf-8"))

    def sample(self) -> None:
        """Add the current figures to the ring."""
        overview = build(parse_exposition(self._render().decode("utf-8")), self._catalogue)
        self.history.add(self._clock(), trend_values(overview))

    async def trends(self) -> dict[Key, Trend]:
        return self.history.trends()

    def trend_version(self) -> object:
        return self.history.version

    async def run(self) -> None:
        """Sample every `SAMPLE_SECONDS` until cancelled."""
        while True:
            try:
                self.sample()
            except Exception:  # a bad sample must not end the sampling
                log.exception("overview sample failed")
            await asyncio.sleep(SAMPLE_SECONDS)


# --- Prometheus and Alertmanager ---------------------------------------------------------


def public_url(url: str) -> str:
    """``url`` without user info (for the page and messages)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class _Http:
    """GET JSON from a base URL (user info in the URL becomes basic auth)."""

    def __init__(self, base: str, session: Callable[[], aiohttp.ClientSession]) -> None:
        register_url(base)  # a password in the URL never reaches a log
        parts = urllib.parse.urlsplit(base)
        self._auth = (
            aiohttp.BasicAuth(
                urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
            )
            if parts.username
            else None
        )
        self.base = public_url(base).rstrip("/")
        self._session = session

    async def get(self, path: str, params: Mapping[str, str]) -> Any:
        url = f"{self.base}{path}"
        timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT)
        try:
            async with self._session().get(
                url, params=dict(params), auth=self._auth, timeout=timeout
            ) as response:
                if response.status != 200:
                    raise SourceError(f"{self.base} antwoordde met HTTP {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            reason = type(exc).__name__ if not str(exc) else redact(str(exc))
            raise SourceError(f"{self.base} antwoordt niet ({reason})") from None


class PrometheusSource:
    """The contract's series of every worker, from Prometheus."""

    def __init__(
        self,
        url: str,
        session: Callable[[], aiohttp.ClientSession],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = _Http(url, session)
        self._clock = clock
        self.url = self._http.base

    async def _query(self, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        body = await self._http.get(path, params)
        if not isinstance(body, dict) or body.get("status") != "success":
            raise SourceError(f"Prometheus op {self.url} gaf geen bruikbaar antwoord")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def samples(self) -> list[Sample]:
        expr = '{__name__=~"' + "|".join(sorted(NEEDED)) + '"}'
        rows = await self._query("/api/v1/query", {"query": expr})
        out = []
        for row in rows:
            labels = dict(row["metric"])
            name = labels.pop("__name__", "")
            out.append(Sample(name, labels, float(row["value"][1])))
        return out

    async def trends(self) -> dict[Key, Trend]:
        """The 1-day ratio per (municipality, norm) over the last six hours (or less, when
        Prometheus has less: then in finer steps)."""
        expr = (
            "max by (municipality, norm) "
            f'(contact_norm_compliance_ratio{{window="{TREND_WINDOW}", segment=""}})'
        )
        end = self._clock()
        start = end - TREND_SPAN_SECONDS
        step = TREND_SPAN_SECONDS / TREND_POINTS
        rows = await self._range(expr, start, end, step)
        first = min((float(r["values"][0][0]) for r in rows if r["values"]), default=None)
        if first is not None and first > start + TREND_SPAN_SECONDS / 4:
            start = max(start, first - step)
            step = max(SAMPLE_SECONDS, (end - start) / TREND_POINTS)
            rows = await self._range(expr, start, end, step)
        times = sorted({float(t) for r in rows for t, _ in r["values"]})
        out: dict[Key, Trend] = {}
        for r in rows:
            key = (r["metric"].get("municipality", ""), r["metric"].get("norm", ""))
            by_time = {float(t): float(v) for t, v in r["values"]}
            values = tuple(
                None if (v := by_time.get(t)) is None or math.isnan(v) else v for t in times
            )
            out[key] = Trend(tuple(times), values)
        return out

    async def _range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[dict[str, Any]]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return await self._query("/api/v1/query_range", params)

    def trend_version(self) -> object:
        return int(self._clock() // SAMPLE_SECONDS)

    async def run(self) -> None:
        return None


class AlertmanagerSource:
    """The alerts that fire now (active: neither silenced nor inhibited)."""

    def __init__(self, url: str, session: Callable[[], aiohttp.ClientSession]) -> None:
        self._http = _Http(url, session)
        self.url = self._http.base

    async def alerts(self) -> Alerts:
        params = {"active": "true", "silenced": "false", "inhibited": "false"}
        try:
            body = await self._http.get("/api/v2/alerts", params)
        except SourceError as exc:
            return Alerts(configured=True, error=f"Alertmanager: {exc}.")
        if not isinstance(body, list):
            return Alerts(configured=True, error="Alertmanager gaf geen bruikbaar antwoord.")
        found = []
        for item in body:
            labels = item.get("labels", {})
            annotations = item.get("annotations", {})
            found.append(
                Alert(
                    name=str(labels.get("alertname", "")),
                    severity=str(labels.get("severity", "")),
                    summary=str(annotations.get("summary", "")),
                    municipality=labels.get("municipality") or None,
                    since=_epoch(item.get("startsAt")),
                    state=str(item.get("status", {}).get("state", "active")),
                )
            )
        order = {"page": 0, "warning": 1, "ticket": 2}
        found.sort(key=lambda a: (order.get(a.severity, 3), a.name, a.since or 0.0))
        return Alerts(configured=True, alerts=found)


def _epoch(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# --- charts off the event loop ---------------------------------------------------------------


class ChartRenderer:
    """Draws charts in a thread (``contactmon overview``, a process that does nothing else)."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self.used = 0.0

    async def render(self, jobs: Sequence[ChartJob]) -> list[str]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charts")
        self.used = time.monotonic()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, render_charts, list(jobs))

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


class ProcessChartRenderer(ChartRenderer):
    """Draws charts in a child process (``python -m streams.overview.charts``), for the worker.

    The child reads a JSON line of jobs on its standard input and answers with a JSON line of
    SVGs; it runs at a lower priority (nice 10) and ends when its input closes, so it never
    outlives the worker. It is started on the first drawing and stopped when the page is idle.
    """

    LIMIT = 64 << 20  # bytes of one answer line (24 charts are about 300 KB)

    def __init__(self) -> None:
        super().__init__()
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def render(self, jobs: Sequence[ChartJob]) -> list[str]:
        self.used = time.monotonic()
        async with self._lock:
            proc = self._proc
            if proc is None or proc.returncode is not None:
                proc = self._proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "streams.overview.charts",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    limit=self.LIMIT,
                )
            assert proc.stdin is not None
            assert proc.stdout is not None
            try:
                proc.stdin.write(orjson.dumps([asdict(job) for job in jobs]) + b"\n")
                await proc.stdin.drain()
                line = await proc.stdout.readline()
            except (OSError, ValueError, asyncio.LimitOverrunError) as exc:
                await self.close()
                raise RuntimeError(f"the chart process failed: {exc}") from None
            if not line:
                await self.close()
                raise RuntimeError("the chart process ended")
            svgs: list[str] = orjson.loads(line)
            return svgs

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the child ends at the end of its input
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# --- the service ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    """One build of the page: the whole document, the refreshable fragment and its tag."""

    page: bytes
    fragment: bytes
    etag: str
    at: float  # monotonic time of the build
    page_gzip: bytes = b""
    fragment_gzip: bytes = b""


class OverviewService:
    """The page of one source, built at most once per ``ttl`` seconds."""

    def __init__(
        self,
        source: FigureSource,
        catalogue: Catalogue,
        timezone: str,
        *,
        scope: Callable[[Overview], str],
        alerts: AlertSource | None = None,
        charts: ChartRenderer | None = None,
        ttl: float = 1.0,
        refresh: int = 10,
        expect_all: bool = False,
        clock: Callable[[], float] = time.time,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.source = source
        self.catalogue = catalogue
        self.timezone = timezone
        self._scope = scope
        self._alerts = alerts
        self._charts = charts or ChartRenderer()
        self.ttl = ttl
        self.refresh = refresh
        self._expect_all = expect_all
        self._clock = clock
        self._on_stop = on_stop
        self._lock = asyncio.Lock()
        self._cached: Rendered | None = None
        self._svgs: dict[Key, str] = {}
        self._svg_version: object = None
        self._drawn_at = 0.0
        self._chart_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.builds = 0

    async def start(self) -> None:
        """Start the source's background work (the worker's sampling) and the idle check."""
        self._tasks = [
            asyncio.create_task(self.source.run(), name="overview-source"),
            asyncio.create_task(self._close_idle_charts(), name="overview-charts-idle"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._chart_task is not None:
            self._chart_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._chart_task
        await self._charts.close()
        if self._on_stop is not None:
            await self._on_stop()

    async def _close_idle_charts(self) -> None:
        while True:
            await asyncio.sleep(60)
            idle = time.monotonic() - self._charts.used
            if idle > CHARTS_IDLE_SECONDS and (self._chart_task is None or self._chart_task.done()):
                await self._charts.close()

    async def rendered(self) -> Rendered:
        """The page, built now unless a build younger than ``ttl`` seconds exists."""
        cached = self._cached
        if cached is not None and time.monotonic() - cached.at < self.ttl:
            return cached
        async with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() - cached.at < self.ttl:
                return cached
            self._cached = await self._build()
            return self._cached

    async def _build(self) -> Rendered:
        taken_at = self._clock()
        notices: list[str] = []
        try:
            overview = build(
                await self.source.samples(), self.catalogue, expect_all=self._expect_all
            )
        except SourceError as exc:
            overview = Overview(())
            notices.append(
                f"Geen cijfers: {exc}. De pagina probeert het bij het verversen opnieuw."
            )
        alerts = await self._alerts.alerts() if self._alerts is not None else Alerts(False)
        svgs, notes = await self._charts_for(overview, notices)
        data = PageInput(
            overview=overview,
            charts=svgs,
            chart_notes=notes,
            alerts=alerts,
            taken_at=taken_at,
            timezone=self.timezone,
            scope=self._scope(overview),
            colour_index={slug: i for i, slug in enumerate(self.catalogue.names)},
            notices=notices,
            missing_names=[self.catalogue.name(s) for s in overview.missing],
            refresh=self.refresh,
        )
        fragment = render_fragment(data)
        etag = '"' + hashlib.sha256(fragment.encode()).hexdigest()[:20] + '"'
        page = render_page(data, fragment, etag).encode()
        body = fragment.encode()
        self.builds += 1
        # compressed once per build, not once per reader
        return Rendered(
            page,
            body,
            etag,
            time.monotonic(),
            gzip.compress(page, 6, mtime=0),
            gzip.compress(body, 6, mtime=0),
        )

    async def _charts_for(
        self, overview: Overview, notices: list[str]
    ) -> tuple[dict[Key, str], dict[Key, str]]:
        """The charts of the current trend (or the previous ones while they are drawn)."""
        try:
            trends = await self.source.trends()
        except SourceError as exc:
            notices.append(f"Geen verloop: {exc}.")
            return {}, {}
        jobs, notes = self._jobs(overview, trends)
        version = self.source.trend_version()
        wanted = {_key_of(job) for job in jobs}
        # due: a chart is missing (the first view, a new series), or the last drawing is a
        # minute old
        due = not wanted <= self._svgs.keys() or time.monotonic() - self._drawn_at >= CHART_SECONDS
        idle = self._chart_task is None or self._chart_task.done()
        if jobs and version != self._svg_version and due and idle:
            self._drawn_at = time.monotonic()
            self._chart_task = asyncio.create_task(self._draw(jobs, version))
        if self._svg_version is None and self._chart_task is not None:
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(self._chart_task), FIRST_CHARTS_WAIT)
        svgs = {k: v for k, v in self._svgs.items() if k in wanted}
        for key in wanted - svgs.keys():
            notes[key] = "Het verloop wordt getekend; het staat er bij de volgende verversing."
        return svgs, notes

    async def _draw(self, jobs: Sequence[ChartJob], version: object) -> None:
        try:
            svgs = await self._charts.render(jobs)
        except Exception:
            log.exception("overview charts failed")
            return
        self._svgs = {_key_of(job): svg for job, svg in zip(jobs, svgs, strict=True)}
        self._svg_version = version

    def _jobs(
        self, overview: Overview, trends: Mapping[Key, Trend]
    ) -> tuple[list[ChartJob], dict[Key, str]]:
        jobs: list[ChartJob] = []
        notes: dict[Key, str] = {}
        for place in overview.places:
            for norm in place.norms:
                key = (place.slug, norm.id)
                trend = trends.get(key)
                known = trend.known() if trend is not None else []
                if trend is None or len(trend.times) < 2:
                    notes[key] = (
                        "Nog te weinig metingen voor een verloop (elke "
                        f"{SAMPLE_SECONDS:.0f} seconden één)."
                    )
                    continue
                if not known:
                    notes[key] = "Geen verloop: in de laatste 24 uur is niets beslist."
                    continue
                zone_times = trend.times
                description = (
                    f"Lijngrafiek van het aandeel op tijd over de laatste 24 uur, "
                    f"{_clock_text(zone_times[0], self.timezone)} tot "
                    f"{_clock_text(zone_times[-1], self.timezone)}: nu "
                    f"{percent(known[-1])}, laagste {percent(min(known))}, hoogste "
                    f"{percent(max(known))}"
                    + (
                        f"; doel {percent(norm.target, 0)} (gestippelde lijn)."
                        if norm.target is not None
                        else "."
                    )
                )
                jobs.append(
                    ChartJob(
                        key=key,
                        chart_id=f"chart-{place.slug}--{norm.id}",
                        title=f"Verloop op tijd: {norm.meta.title}, {place.name}",
                        description=description,
                        times=trend.times,
                        values=trend.values,
                        target=norm.target,
                        timezone=self.timezone,
                    )
                )
        return jobs, notes


def _key_of(job: ChartJob) -> Key:
    return job.key


def _clock_text(epoch: float, timezone: str) -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo(timezone)).strftime("%H:%M")
