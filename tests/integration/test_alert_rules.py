"""The alert rules with the real Prometheus tools: promtool's checks and unit tests, and a live run.

Prometheus and promtool come from Debian's package through ``deploy/prometheus.sh install``
(which installs it as root, unless CONTACTMON_ALLOW_APT=0). When promtool cannot be had these
tests fail; they never skip. The live tests start a Prometheus of their own with
``deploy/prometheus.sh start`` on a free port, scraping a real exposition (a replayed simulated
month served over HTTP), and stop it again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from streams.calendar_metrics import CalendarCollector, working_days_back
from streams.cli import main
from streams.core.config import load_norms
from streams.exposition import monitor_registry, render
from streams.replay import replay
from tests.integration.conftest import free_ports

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_SH = ROOT / "deploy" / "prometheus.sh"
RULES_FILE = ROOT / "alerts" / "contactmon.rules.yml"
TESTS_DIR = ROOT / "alerts" / "tests"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

SCRIPT_TIMEOUT_S = 600.0  # a cold install runs apt-get
PROMTOOL_TIMEOUT_S = 600.0
READY_TIMEOUT_S = 60.0


def rules_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text())
    return data


def rule_expr(record: str) -> str:
    """The expression of the recording rule named ``record``."""
    for group in rules_data()["groups"]:
        for rule in group["rules"]:
            if rule.get("record") == record:
                return str(rule["expr"])
    raise AssertionError(f"no recording rule {record}")


def run_script(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run deploy/prometheus.sh with its own state root."""
    env = {**os.environ, "CONTACTMON_STATE": str(state), "CONTACTMON_SCRAPE_INTERVAL": "1s"}
    return subprocess.run(
        ["bash", str(PROMETHEUS_SH), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )


def explain(what: str, result: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(
        [
            f"{what}: exit code {result.returncode}",
            "--- stdout ---",
            result.stdout.rstrip(),
            "--- stderr ---",
            result.stderr.rstrip(),
        ]
    )


@pytest.fixture(scope="module")
def promtool(tmp_path_factory: pytest.TempPathFactory) -> str:
    """promtool's path, after deploy/prometheus.sh install made sure it is there."""
    state = tmp_path_factory.mktemp("prometheus-install")
    installed = run_script(state, "install")
    if installed.returncode != 0:
        pytest.fail(explain("deploy/prometheus.sh install failed", installed))
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("deploy/prometheus.sh install succeeded, but promtool is not on PATH")
    return path


def run_promtool(promtool: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT_S,
        check=False,
    )


class TestPromtool:
    """promtool accepts the rules, their unit tests pass, and a rendered configuration checks."""

    def test_check_rules(self, promtool: str) -> None:
        result = run_promtool(promtool, "check", "rules", str(RULES_FILE))
        assert result.returncode == 0, explain("promtool check rules", result)
        count = sum(len(group["rules"]) for group in rules_data()["groups"])
        assert f"SUCCESS: {count} rules found" in result.stdout

    def test_there_are_unit_tests(self) -> None:
        names = {path.name for path in TESTS_DIR.glob("*.test.yml")}
        assert len(names) >= 10
        assert {"acceptance-slip.test.yml", "norm-burn-fast.test.yml"} <= names

    # One promtool run per file, so pytest-xdist can spread them (the acceptance scenarios take
    # 5-15 s each on two cores).
    @pytest.mark.parametrize("test_file", sorted(p.name for p in TESTS_DIR.glob("*.test.yml")))
    def test_unit_tests_pass(self, promtool: str, test_file: str) -> None:
        result = run_promtool(promtool, "test", "rules", str(TESTS_DIR / test_file))
        assert result.returncode == 0, explain(f"promtool test rules {test_file}", result)
        assert "SUCCESS" in result.stdout, result.stdout

    @pytest.mark.parametrize(
        ("test_file", "old", "new", "alert"),
        [
            # a surprise threshold of 3.0 instead of 3.5: 4 late of 10 would page
            (
                "norm-burn-fast.test.yml",
                "contactmon:norm_breach_surprise:nats_1wd >= 3.5",
                "contactmon:norm_breach_surprise:nats_1wd >= 3.0",
                "ContactmonNormBurnRateFast",
            ),
            # no minimum of late items: 2 of 2 would page
            (
                "norm-burn-fast.test.yml",
                "contactmon:norm_breached:increase1wd >= 3",
                "contactmon:norm_breached:increase1wd >= 2",
                "ContactmonNormBurnRateFast",
            ),
            # a shorter keep_firing_for: the page would resolve 15 minutes earlier
            (
                "norm-burn-fast.test.yml",
                "for: 30m\n        keep_firing_for: 1h",
                "for: 30m\n        keep_firing_for: 45m",
                "ContactmonNormBurnRateFast",
            ),
            # no volume floor for the ticket: Uitgeest would get it a day early
            (
                "norm-burn-slow.test.yml",
                "contactmon:norm_decided:increase30d >= 60",
                "contactmon:norm_decided:increase30d >= 50",
                "ContactmonNormBurnRateSlow",
            ),
            # a `for:` 15 seconds shorter
            (
                "monitor.test.yml",
                "== 0\n        for: 2m",
                "== 0\n        for: 1m45s",
                "ContactmonWorkerDown",
            ),
        ],
    )
    def test_unit_tests_catch_a_changed_rule(
        self, promtool: str, tmp_path: Path, test_file: str, old: str, new: str, alert: str
    ) -> None:
        rules = RULES_FILE.read_text()
        assert rules.count(old) == 1
        (tmp_path / "contactmon.rules.yml").write_text(rules.replace(old, new))
        (tmp_path / "tests").mkdir()
        shutil.copy(TESTS_DIR / test_file, tmp_path / "tests" / test_file)
        result = run_promtool(promtool, "test", "rules", f"tests/{test_file}", cwd=tmp_path)
        assert result.returncode != 0, result.stdout
        assert f"alertname: {alert}," in result.stdout + result.stderr

    def test_rendered_config_passes_check_config(self, promtool: str, tmp_path: Path) -> None:
        (port,) = free_ports(1)
        rendered = run_script(
            tmp_path,
            "render",
            "--port",
            str(port),
            "--targets",
            "10.0.0.1:6066,worker-2.example:6066",
            "--alertmanager",
            "127.0.0.1:19093",
        )
        assert rendered.returncode == 0, explain("deploy/prometheus.sh render", rendered)
        config = Path(rendered.stdout.strip().splitlines()[-1])
        assert config == tmp_path / f"prometheus-{port}" / "prometheus.yml"
        checked = run_promtool(promtool, "check", "config", str(config))
        assert checked.returncode == 0, explain("promtool check config", checked)
        assert "SUCCESS" in checked.stdout
        data = yaml.safe_load(config.read_text())
        assert data["global"]["scrape_interval"] == "1s"
        assert data["rule_files"] == [str(ROOT / "alerts" / "*.rules.yml")]
        [job] = data["scrape_configs"]
        assert job["job_name"] == "contactmon-worker"
        assert job["static_configs"] == [{"targets": ["10.0.0.1:6066", "worker-2.example:6066"]}]
        [manager] = data["alerting"]["alertmanagers"]
        assert manager["static_configs"] == [{"targets": ["127.0.0.1:19093"]}]

    def test_render_refuses_a_bad_target(self, promtool: str, tmp_path: Path) -> None:
        rendered = run_script(tmp_path, "render", "--targets", "no-port-here")
        assert rendered.returncode == 1
        assert "--targets must be host:port, got 'no-port-here'" in rendered.stderr


# ---- a live Prometheus -------------------------------------------------------------------


class _Exposition(BaseHTTPRequestHandler):
    """Serves one fixed exposition at /metrics, as a worker would."""

    body = b""

    def do_GET(self) -> None:
        status = 200 if self.path == "/metrics" else 404
        body = self.body if status == 200 else b"not found\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: Prometheus scrapes every second."""


@pytest.fixture(scope="module")
def worker_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real exposition (March 2024 replayed) served over HTTP; yields host:port."""
    tmp = tmp_path_factory.mktemp("exposition")
    month = tmp / "march.jsonl"
    assert main(["simulate", "--start", "2024-03-01", "--months", "1", "--out", str(month)]) == 0
    until = datetime(2024, 4, 15, tzinfo=UTC).timestamp()
    config = load_norms()
    monitor, _ = replay([month], config, store_url=None, until=until)
    registry = monitor_registry(monitor)
    registry.register(CalendarCollector(config.calendar))  # as the worker does (wall clock)
    handler = type("Exposition", (_Exposition,), {"body": render(registry)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def api(base: str, path: str, **params: str) -> Any:
    """The `data` of a successful Prometheus HTTP API call."""
    url = f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


@dataclass(frozen=True)
class LivePrometheus:
    """A Prometheus started by deploy/prometheus.sh: its URL, port, state root and arguments."""

    url: str
    port: int
    state: Path
    start_args: tuple[str, ...]

    def pid(self) -> str:
        return (self.state / f"prometheus-{self.port}" / "prometheus.pid").read_text().strip()


@pytest.fixture(scope="module")
def prometheus(
    promtool: str, worker_metrics: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LivePrometheus]:
    """A Prometheus started by deploy/prometheus.sh, scraping the exposition."""
    state = tmp_path_factory.mktemp("prometheus-state")
    port, alertmanager_port = free_ports(2)  # nothing listens on the Alertmanager's port
    args = (
        "--port",
        str(port),
        "--targets",
        worker_metrics,
        "--alertmanager",
        f"127.0.0.1:{alertmanager_port}",
    )
    started = run_script(state, "start", *args)
    if started.returncode != 0:
        run_script(state, "stop", "--port", str(port))
        pytest.fail(explain("deploy/prometheus.sh start failed", started))
    live = LivePrometheus(f"http://127.0.0.1:{port}", port, state, args)
    try:
        wait_for_scrape(live.url)
        yield live
    finally:
        stopped = run_script(state, "stop", "--port", str(port))
        status = run_script(state, "status", "--port", str(port))
        if stopped.returncode != 0 or status.returncode != 3:
            pytest.fail(explain("deploy/prometheus.sh did not stop Prometheus", stopped))


def wait_for_scrape(base: str) -> None:
    """Wait until Prometheus has scraped the worker's exposition."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        result = api(base, "query", query='up{job="contactmon-worker"}')["result"]
        if result and result[0]["value"][1] == "1":
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus at {base} did not scrape the exposition")


def wait_for_result(base: str, query: str) -> list[dict[str, Any]]:
    """The result of ``query`` once it is not empty."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        result: list[dict[str, Any]] = api(base, "query", query=query)["result"]
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"{query} stayed empty at {base}")


class TestLivePrometheus:
    """A Prometheus started by the script loads every rule and evaluates them on real metrics."""

    def test_loads_every_rule_group(self, prometheus: LivePrometheus) -> None:
        groups = api(prometheus.url, "rules")["groups"]
        loaded = {g["name"]: [r["name"] for r in g["rules"]] for g in groups}
        expected = {
            g["name"]: [r.get("record") or r["alert"] for r in g["rules"]]
            for g in rules_data()["groups"]
        }
        assert loaded == expected

    def test_start_again_reloads_the_running_one(self, prometheus: LivePrometheus) -> None:
        pid = prometheus.pid()
        again = run_script(prometheus.state, "start", *prometheus.start_args)
        assert again.returncode == 0, explain("second start", again)
        assert "already running" in again.stdout
        assert "reloaded" in again.stdout
        assert prometheus.pid() == pid
        status = run_script(prometheus.state, "status", "--port", str(prometheus.port))
        assert status.returncode == 0
        assert f"pid {pid}" in status.stdout

    def test_norm_rules_on_a_real_exposition(self, prometheus: LivePrometheus) -> None:
        config = load_norms()
        expected = {
            (m, norm.id): norm.target
            for m, norms in config.norms_by_municipality.items()
            for norm in norms
        }
        norm_ids = set(config.norm_ids)
        targets = api(prometheus.url, "query", query=rule_expr("contactmon:norm_target:ratio"))
        got = {
            (s["metric"]["municipality"], s["metric"]["norm"]): float(s["value"][1])
            for s in targets["result"]
        }
        assert got == expected
        # Only norms with a budget get one: klacht-afhandeling (target 1.0) is left out.
        query = rule_expr("contactmon:norm_error_budget:ratio").replace(
            "contactmon:norm_target:ratio", "(" + rule_expr("contactmon:norm_target:ratio") + ")"
        )
        budgets = api(prometheus.url, "query", query=query)["result"]
        assert {s["metric"]["norm"] for s in budgets} == norm_ids - {"klacht-afhandeling"}
        assert len(budgets) == len(expected) - len(config.slugs)
        # increase() needs two scrapes in its window.
        decided = wait_for_result(prometheus.url, rule_expr("contactmon:norm_decided:increase1d"))
        assert len(decided) == len(expected)
        assert all(float(s["value"][1]) == 0 for s in decided)  # the same exposition each time

    def test_calendar_rules_read_the_worker_calendar(self, prometheus: LivePrometheus) -> None:
        """The working-day rules take the worker's gauges (holidays included), not the fallback."""
        calendar = load_norms().calendar
        for n in (1, 2, 3):
            [sample] = wait_for_result(prometheus.url, rule_expr(f"contactmon:lookback_days:{n}wd"))
            # The exposition is fixed, rendered at the fixture's start: compare with then-ish.
            assert float(sample["value"][1]) in {
                working_days_back(calendar, time.time() - delay, n) for delay in (0, 600)
            }
        [working] = wait_for_result(
            prometheus.url, rule_expr("contactmon:working_day:europe_amsterdam")
        )
        today = calendar.local_date(time.time())
        assert float(working["value"][1]) == float(calendar.is_working_day(today))

    def test_local_time_matches_zoneinfo(self, prometheus: LivePrometheus) -> None:
        """Hour by hour from 2020 to 2040 the clock rules give Dutch time, except in the hour
        before each switch (00:00-01:00 UTC on the last Sunday of March and October)."""
        offset = "(" + rule_expr("contactmon:utc_offset_hours:europe_amsterdam") + ")"

        def inlined(record: str) -> str:
            return rule_expr(record).replace("contactmon:utc_offset_hours:europe_amsterdam", offset)

        expressions = {
            "offset": offset,
            "hour": inlined("contactmon:local_hour:europe_amsterdam"),
            "weekday": inlined("contactmon:local_day_of_week:europe_amsterdam"),
        }
        wrong: set[datetime] = set()
        switches: set[datetime] = set()
        for year in range(2020, 2041):
            start = datetime(year, 1, 1, tzinfo=UTC)
            end = datetime(year, 12, 31, 23, tzinfo=UTC)
            series = {
                name: query_range(prometheus.url, expr, start, end)
                for name, expr in expressions.items()
            }
            hour = start
            while hour <= end:
                local = hour.astimezone(AMSTERDAM)
                expected = {
                    "offset": int(local.utcoffset() / timedelta(hours=1)),  # type: ignore[operator]
                    "hour": local.hour,
                    "weekday": local.isoweekday() % 7,
                }
                if any(series[name][hour] != expected[name] for name in expressions):
                    wrong.add(hour)
                if (hour + timedelta(hours=1)).astimezone(AMSTERDAM).utcoffset() != (
                    local.utcoffset()
                ):
                    switches.add(hour)
                hour += timedelta(hours=1)
        assert len(switches) == 2 * 21
        assert all(s.weekday() == 6 and s.hour == 0 for s in switches)
        assert wrong == switches


def query_range(base: str, expr: str, start: datetime, end: datetime) -> dict[datetime, int]:
    """Hourly values of ``expr`` from ``start`` to ``end`` (both included)."""
    data = api(
        base,
        "query_range",
        query=expr,
        start=str(start.timestamp()),
        end=str(end.timestamp()),
        step="3600",
    )
    [series] = data["result"]
    return {datetime.fromtimestamp(float(t), UTC): int(float(v)) for t, v in series["values"]}
