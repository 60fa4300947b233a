"""The Alertmanager configuration: rendering, amtool checks, routes, office hours, a live run.

deploy/alertmanager.sh renders deploy/alertmanager/alertmanager.yml into a state directory of
the test session's own. The rendered YAML is read in Python (placeholders, the office-hours
gate evaluated for given moments, the holiday list), checked and routed by amtool, and finally
run by a real Alertmanager that notifies a webhook receiver in the test: grouping per
municipality and inhibition while the monitor is blind.
"""

from __future__ import annotations

import calendar
import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from streams.core.calendar import BusinessCalendar
from streams.core.config import load_norms
from tests.integration.conftest import REPO, DeployScript, free_ports
from tests.integration.webhook import Body, WebhookReceiver

pytestmark = pytest.mark.integration

AM_SH = REPO / "deploy" / "alertmanager.sh"
AM_DIR = REPO / "deploy" / "alertmanager"
NON_WORKING_PY = AM_DIR / "non_working_days.py"
NON_WORKING_YML = AM_DIR / "non_working_days.yml"
RULES_FILE = REPO / "alerts" / "contactmon.rules.yml"
# Regenerate the list when it covers less than this much beyond today (the rules' ticket
# ContactmonAlertmanagerCalendarEnding comes at half a year; this test a year and a half earlier).
MIN_COVERAGE_DAYS = 2 * 365

SCRIPT_TIMEOUT_S = 300.0  # a cold start may install the Debian package first
AMTOOL_TIMEOUT_S = 30.0
DELIVERY_TIMEOUT_S = 20.0
# Where a test must show that something does NOT arrive (an inhibited page), it waits this long:
# with a group_wait of 1s and a group_interval of 2s, a notification that was going to come comes
# within about two intervals. Positive outcomes are waited for as conditions, never slept on.
QUIET_PERIOD_S = 4.0

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PLACEHOLDER_URL = "http://127.0.0.1:9/placeholder"
CLOSED_SMARTHOST = "127.0.0.1:9"  # nothing listens: no test ever mails the outside world

ONCALL = "oncall-webhook"
EMAIL = "teamlead-email"
TICKET = "ticket"

BLIND_ALERTS = (
    "ContactmonWorkerDown",
    "ContactmonNoPartitionsOwned",
    "ContactmonNoEvents",
    "ContactmonMunicipalityNotMonitored",
    "ContactmonProcessingDelayHigh",
    "ContactmonConsumerLagGrowing",
)
PLATFORM_ALERTS = (*BLIND_ALERTS, "ContactmonDeadLettersRising")

EXPECTED_TREE = """\
Routing tree:
.
└── default-route  receiver: oncall-webhook
    ├── {team="platform"}  receiver: oncall-webhook
    │   └── {severity="ticket"}  receiver: ticket
    └── {team="klantcontact"}  receiver: teamlead-email
        ├── {severity="page"}  receiver: oncall-webhook
        ├── {severity="warning"}  receiver: teamlead-email
        └── {severity="ticket"}  receiver: ticket
"""

Config = dict[str, Any]
Labels = dict[str, str]


# ---- the script ------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertmanagerScript(DeployScript):
    """Runs deploy/alertmanager.sh with a state root of its own and the given environment."""

    script = AM_SH
    timeout_s = SCRIPT_TIMEOUT_S
    noun = "Alertmanager"

    env: Mapping[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "CONTACTMON_AM_SMARTHOST": CLOSED_SMARTHOST, **self.env}

    def log_file(self, port: int) -> Path:
        return self.state_root / f"alertmanager-{port}" / "alertmanager.log"

    def render(self, port: int, *args: str) -> Path:
        """Render the configuration for `port`; the path of the rendered file."""
        result = self.run("render", "--port", str(port), *args)
        if result.returncode != 0:
            pytest.fail(self.explain(port, "rendering the configuration failed", result))
        return Path(result.stdout.strip().splitlines()[-1])


def load(path: Path) -> Config:
    """A rendered configuration as YAML data."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def state_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alertmanager-state")


@pytest.fixture(scope="module")
def office_hours_config(state_root: Path) -> Path:
    """The configuration as deployed: business pages in office hours only."""
    script = AlertmanagerScript(state_root, {"CONTACTMON_AM_ONCALL_URL": PLACEHOLDER_URL})
    return script.render(9093)


@pytest.fixture(scope="module")
def always_open_config(state_root: Path) -> Path:
    """The test variant: no office-hours muting, short group timings, one webhook URL."""
    script = AlertmanagerScript(
        state_root,
        {
            "CONTACTMON_AM_ALWAYS_OPEN": "1",
            "CONTACTMON_AM_GROUP_WAIT": "1s",
            "CONTACTMON_AM_GROUP_INTERVAL": "2s",
        },
    )
    return script.render(9094, "--webhook-url", "http://127.0.0.1:8080/hook")


# ---- routes in the YAML ----------------------------------------------------------------


def child_route(route: Config, matchers: Sequence[str]) -> Config:
    """The child route of `route` whose matchers are exactly `matchers`."""
    for child in route.get("routes", []):
        if list(child.get("matchers", [])) == list(matchers):
            assert isinstance(child, dict)
            return child
    raise AssertionError(f"no child route with matchers {list(matchers)} in {route}")


def route_at(config: Config, path: Sequence[Sequence[str]]) -> list[Config]:
    """The routes from the root along `path` (one matcher list per level), root first."""
    routes = [config["route"]]
    for matchers in path:
        routes.append(child_route(routes[-1], matchers))
    return routes


def effective(routes: Sequence[Config], key: str) -> Any:
    """A setting as Alertmanager sees it on the last route: its own, else the nearest parent's."""
    for route in reversed(routes):
        if key in route:
            return route[key]
    return None


BUSINESS_PAGE = (['team="klantcontact"'], ['severity="page"'])


# ---- time intervals, evaluated as Alertmanager does --------------------------------------

WEEKDAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTH_NAMES = tuple(name.lower() for name in calendar.month_name)  # "" at 0, january at 1


def span(text: str | int) -> tuple[str, str]:
    """The two ends of an inclusive range "a:b" (or a single value "a")."""
    start, _, end = str(text).lower().partition(":")
    return start, end or start


def number(value: str, names: Sequence[str]) -> int:
    """A value as a number: its index in `names` when it is a name, else the integer."""
    return names.index(value) if value in names else int(value)


def in_ranges(value: int, ranges: Sequence[str | int], names: Sequence[str] = ()) -> bool:
    """Whether `value` lies in one of `ranges`; no ranges at all means every value."""
    if not ranges:
        return True
    for item in ranges:
        start, end = span(item)
        if number(start, names) <= value <= number(end, names):
            return True
    return False


def in_days_of_month(moment: datetime, ranges: Sequence[str | int]) -> bool:
    """Days of the month, where -1 is the month's last day (Alertmanager's convention)."""
    if not ranges:
        return True
    last = calendar.monthrange(moment.year, moment.month)[1]
    for item in ranges:
        start, end = (int(part) for part in span(item))
        start, end = (day if day > 0 else last + 1 + day for day in (start, end))
        if start <= moment.day <= end:
            return True
    return False


def minutes(clock: str) -> int:
    """A clock time "HH:MM" as minutes after midnight ("24:00" is 1440)."""
    hours, _, mins = clock.partition(":")
    return int(hours) * 60 + int(mins)


def in_time_interval(spec: Config, moment: datetime) -> bool:
    """Whether `moment` lies in one time interval: every field given must match (in location)."""
    local = moment.astimezone(ZoneInfo(spec.get("location", "UTC")))
    times = spec.get("times", [])
    minute_of_day = local.hour * 60 + local.minute
    if times and not any(
        minutes(t["start_time"]) <= minute_of_day < minutes(t["end_time"]) for t in times
    ):
        return False
    weekday = (local.weekday() + 1) % 7  # Python: Monday 0; Alertmanager's names: Sunday 0
    return (
        in_ranges(weekday, spec.get("weekdays", []), WEEKDAY_NAMES)
        and in_days_of_month(local, spec.get("days_of_month", []))
        and in_ranges(local.month, spec.get("months", []), MONTH_NAMES)
        and in_ranges(local.year, spec.get("years", []))
    )


def in_named_interval(config: Config, name: str, moment: datetime) -> bool:
    """Whether `moment` lies in one of the time intervals named `name` in the configuration."""
    named = {entry["name"]: entry["time_intervals"] for entry in config.get("time_intervals", [])}
    assert name in named, f"the route names time interval {name!r}, which is not defined"
    return any(in_time_interval(spec, moment) for spec in named[name])


def route_open(config: Config, route: Config, moment: datetime) -> bool:
    """Whether `route` notifies at `moment`: inside an active interval, outside every mute one."""
    active = route.get("active_time_intervals", [])
    if active and not any(in_named_interval(config, name, moment) for name in active):
        return False
    return not any(
        in_named_interval(config, name, moment) for name in route.get("mute_time_intervals", [])
    )


def amsterdam(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A moment given in Dutch local time, as UTC (as Alertmanager's clock would hold it)."""
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM).astimezone(UTC)


# ---- the list of days without business pages ------------------------------------------


@cache
def non_working_module() -> ModuleType:
    """deploy/alertmanager/non_working_days.py, loaded once from its path (deploy/ is none)."""
    spec = importlib.util.spec_from_file_location("contactmon_non_working_days", NON_WORKING_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def covered_years() -> tuple[int, ...]:
    years: tuple[int, ...] = non_working_module().covered_years(
        NON_WORKING_YML.read_text(encoding="utf-8")
    )
    return years


class TestNonWorkingDays:
    """The checked-in interval is what the worker's calendar says, for three years ahead."""

    def test_checked_in_fragment_is_current(self) -> None:
        module = non_working_module()
        years = covered_years()
        assert len(years) == module.YEARS_AHEAD + 1
        expected = str(module.render_fragment(load_norms().calendar, years))
        assert NON_WORKING_YML.read_text(encoding="utf-8") == expected, (
            "deploy/alertmanager/non_working_days.yml is stale: run "
            f".venv/bin/python deploy/alertmanager/non_working_days.py --first-year {years[0]}"
        )

    def test_check_mode_agrees(self) -> None:
        result = subprocess.run(
            [sys.executable, str(NON_WORKING_PY), "--check"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    def test_check_mode_finds_a_stale_file(self, tmp_path: Path) -> None:
        stale = tmp_path / "non_working_days.yml"
        stale.write_text(NON_WORKING_YML.read_text(encoding="utf-8").replace("'27'", "'28'"))
        rules = tmp_path / "rules.yml"
        rules.write_text(RULES_FILE.read_text(encoding="utf-8"))
        assert (
            non_working_module().main(["--check", "--out", str(stale), "--rules", str(rules)]) == 1
        )

    def test_rules_know_where_the_list_ends(self) -> None:
        """ContactmonAlertmanagerCalendarEnding reads the end the generator wrote."""
        module = non_working_module()
        end = module.calendar_end(load_norms().calendar, covered_years())
        assert f"vector({end})  # written by deploy/alertmanager/non_working_days.py" in (
            RULES_FILE.read_text(encoding="utf-8")
        )
        last = datetime.fromtimestamp(end - 1, AMSTERDAM)
        assert (last.month, last.day, last.hour) == (12, 31, 23)

    def test_holidays_and_closed_days_from_the_worker_calendar(self) -> None:
        module = non_working_module()
        calendar = BusinessCalendar(
            closed_days=[date(2027, 5, 7)],  # the Friday after Ascension Day 2027
            open_days=[date(2026, 12, 26)],
        )
        days = {entry.day: entry.name for entry in module.non_working_days(calendar, (2026, 2027))}
        assert days[date(2026, 4, 27)] == "Koningsdag"
        assert days[date(2027, 5, 6)] == "Hemelvaartsdag"
        assert days[date(2027, 5, 7)] == "sluitingsdag (normenbestand)"
        assert date(2026, 12, 26) not in days  # a Saturday anyway, and open
        assert all(day.weekday() < 5 for day in days)  # weekends are outside office hours
        assert all(not calendar.is_working_day(day) for day in days)
        weekdays_off = [
            date.fromordinal(o)
            for o in range(date(2026, 1, 1).toordinal(), date(2027, 12, 31).toordinal() + 1)
            if date.fromordinal(o).weekday() < 5
            and not calendar.is_working_day(date.fromordinal(o))
        ]
        assert sorted(days) == weekdays_off

    def test_fragment_lists_the_default_calendar(self) -> None:
        days = non_working_module().non_working_days(load_norms().calendar, covered_years())
        text = NON_WORKING_YML.read_text(encoding="utf-8")
        assert text.count("- years:") == len(days)
        assert {date(2026, 4, 27), date(2027, 5, 6)} <= {entry.day for entry in days}

    def test_covers_well_ahead(self) -> None:
        end = date(covered_years()[-1], 12, 31)
        left = (end - datetime.now(AMSTERDAM).date()).days
        assert left >= MIN_COVERAGE_DAYS, (
            f"the list of days without business pages ends on {end} ({left} days from now): "
            "regenerate it with .venv/bin/python deploy/alertmanager/non_working_days.py, then "
            ".venv/bin/python alerts/tests/generate.py"
        )


# ---- the rendered YAML -----------------------------------------------------------------


class TestRenderedConfig:
    """The script fills every placeholder and keeps the routing of the template."""

    def test_no_placeholder_left(self, office_hours_config: Path, always_open_config: Path) -> None:
        for path in (office_hours_config, always_open_config):
            text = path.read_text(encoding="utf-8")
            assert "@" not in text.replace("@example.nl", ""), text

    def test_webhook_urls(self, office_hours_config: Path, always_open_config: Path) -> None:
        receivers = {r["name"]: r for r in load(office_hours_config)["receivers"]}
        assert receivers[ONCALL]["webhook_configs"][0]["url"] == PLACEHOLDER_URL
        assert receivers[TICKET]["webhook_configs"][0]["url"].startswith("https://tickets.")
        opened = {r["name"]: r for r in load(always_open_config)["receivers"]}
        for name in (ONCALL, TICKET):  # --webhook-url points both webhooks at one receiver
            assert opened[name]["webhook_configs"][0]["url"] == "http://127.0.0.1:8080/hook"

    def test_group_timings(self, office_hours_config: Path, always_open_config: Path) -> None:
        deployed = load(office_hours_config)["route"]
        assert (deployed["group_wait"], deployed["group_interval"]) == ("30s", "5m")
        for_tests = load(always_open_config)["route"]
        assert (for_tests["group_wait"], for_tests["group_interval"]) == ("1s", "2s")

    def test_templates_beside_the_config(self, office_hours_config: Path) -> None:
        (pattern,) = load(office_hours_config)["templates"]
        assert sorted(office_hours_config.parent.glob(pattern))

    def test_email_goes_through_the_smarthost(self, office_hours_config: Path) -> None:
        assert load(office_hours_config)["global"]["smtp_smarthost"] == CLOSED_SMARTHOST

    def test_business_pages_are_gated(self, office_hours_config: Path) -> None:
        page = route_at(load(office_hours_config), BUSINESS_PAGE)[-1]
        assert page["active_time_intervals"] == ["kantooruren"]
        assert page["mute_time_intervals"] == ["feestdagen"]

    def test_only_business_pages_are_gated(self, office_hours_config: Path) -> None:
        config = load(office_hours_config)

        def gated(route: Config) -> list[Config]:
            own = (
                [route]
                if "active_time_intervals" in route or "mute_time_intervals" in route
                else []
            )
            return own + [found for child in route.get("routes", []) for found in gated(child)]

        assert gated(config["route"]) == [route_at(config, BUSINESS_PAGE)[-1]]

    def test_always_open_drops_only_the_gate(
        self, office_hours_config: Path, always_open_config: Path
    ) -> None:
        opened = load(always_open_config)
        page = route_at(opened, BUSINESS_PAGE)[-1]
        assert "active_time_intervals" not in page
        assert "mute_time_intervals" not in page
        deployed = load(office_hours_config)
        for key in ("inhibit_rules", "time_intervals"):
            assert opened[key] == deployed[key]
        assert "office-hours muting left out" in always_open_config.read_text(encoding="utf-8")

    def test_every_blind_alert_inhibits_norm_alerts(self, office_hours_config: Path) -> None:
        rules = load(office_hours_config)["inhibit_rules"]
        blind = [r for r in rules if any("ContactmonWorkerDown" in m for m in r["source_matchers"])]
        assert len(blind) == 2  # the global sources and the per-municipality ones
        for rule in blind:
            (names,) = (m for m in rule["source_matchers"] if m.startswith("alertname=~"))
            assert set(names.split('"')[1].split("|")) == set(BLIND_ALERTS)
            assert rule["target_matchers"] == ['team="klantcontact"']
        assert sorted(rule.get("equal", []) for rule in blind) == [[], ["municipality"]]

    def test_a_bad_duration_is_refused(self, state_root: Path) -> None:
        script = AlertmanagerScript(state_root, {"CONTACTMON_AM_GROUP_WAIT": "soon"})
        result = script.run("render", "--port", "9095")
        assert result.returncode == 1
        assert "CONTACTMON_AM_GROUP_WAIT must be a duration" in result.stderr


class TestOfficeHours:
    """Business pages go out Monday–Friday 08:00–17:30 Dutch time, not on public holidays."""

    @pytest.mark.parametrize(
        ("moment", "is_open"),
        [
            pytest.param(amsterdam(2026, 12, 1, 10, 0), True, id="tuesday-10:00"),
            pytest.param(amsterdam(2026, 12, 1, 7, 30), False, id="tuesday-07:30"),
            pytest.param(amsterdam(2026, 12, 1, 8, 0), True, id="tuesday-08:00"),
            pytest.param(amsterdam(2026, 12, 1, 17, 29), True, id="tuesday-17:29"),
            pytest.param(amsterdam(2026, 12, 1, 17, 30), False, id="tuesday-17:30"),
            pytest.param(amsterdam(2026, 12, 5, 10, 0), False, id="saturday"),
            pytest.param(amsterdam(2026, 12, 6, 10, 0), False, id="sunday"),
            pytest.param(amsterdam(2026, 4, 27, 10, 0), False, id="koningsdag-2026"),
            pytest.param(amsterdam(2027, 5, 6, 10, 0), False, id="hemelvaartsdag-2027"),
            pytest.param(amsterdam(2026, 4, 28, 10, 0), True, id="day-after-koningsdag"),
            pytest.param(amsterdam(2026, 7, 7, 8, 0), True, id="summer-time-08:00"),
            pytest.param(amsterdam(2026, 7, 7, 7, 59), False, id="summer-time-07:59"),
        ],
    )
    def test_business_page_route(
        self, office_hours_config: Path, moment: datetime, is_open: bool
    ) -> None:
        config = load(office_hours_config)
        assert route_open(config, route_at(config, BUSINESS_PAGE)[-1], moment) is is_open

    @pytest.mark.parametrize(
        "moment",
        [amsterdam(2026, 12, 5, 3, 0), amsterdam(2026, 4, 27, 10, 0)],
        ids=["saturday-night", "koningsdag"],
    )
    def test_platform_alerts_around_the_clock(
        self, office_hours_config: Path, moment: datetime
    ) -> None:
        config = load(office_hours_config)
        platform = route_at(config, [['team="platform"']])[-1]
        assert route_open(config, platform, moment)

    def test_always_open_variant(self, always_open_config: Path) -> None:
        config = load(always_open_config)
        page = route_at(config, BUSINESS_PAGE)[-1]
        assert route_open(config, page, amsterdam(2026, 4, 27, 3, 0))


# ---- amtool ----------------------------------------------------------------------------


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run amtool (installed by deploy/alertmanager.sh install) and return its result."""
    return subprocess.run(
        ["amtool", *args],
        capture_output=True,
        text=True,
        timeout=AMTOOL_TIMEOUT_S,
        check=False,
        env={**os.environ, "TZ": "Europe/Amsterdam"},
    )


@pytest.fixture(scope="module")
def installed(state_root: Path) -> None:
    """The Alertmanager binaries, installed by the script when missing (fails when it cannot)."""
    result = AlertmanagerScript(state_root).run("install")
    if result.returncode != 0:
        pytest.fail(
            f"deploy/alertmanager.sh install exited with {result.returncode}\n"
            f"--- stdout ---\n{result.stdout.rstrip()}\n--- stderr ---\n{result.stderr.rstrip()}"
        )


@dataclass(frozen=True)
class RouteResult:
    """What `amtool config routes test --tree` says about one label set."""

    receivers: list[str]
    path: list[list[str]]  # the matchers of each route below the root, top first


def routes_test(config: Path, labels: Labels) -> RouteResult:
    """Route `labels` through `config` with amtool."""
    args = [f"{key}={value}" for key, value in labels.items()]
    result = amtool("config", "routes", "test", "--tree", f"--config.file={config}", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    path = []
    for line in lines:
        if "{" in line and "}" in line:
            inner = line[line.index("{") + 1 : line.rindex("}")]
            path.append([matcher.strip() for matcher in inner.split(",")])
    return RouteResult(receivers=lines[-1].split(","), path=path)


@dataclass(frozen=True)
class RouteCase:
    """A label set and where it must go: receiver, grouping and the office-hours gate."""

    labels: Labels
    receiver: str
    group_by: list[str]
    gated: bool = False


def norm(alertname: str, severity: str, municipality: str) -> Labels:
    """The labels of a business-norm alert."""
    return {
        "alertname": alertname,
        "severity": severity,
        "team": "klantcontact",
        "municipality": municipality,
        "norm": "melding-reactie",
    }


def platform(alertname: str, severity: str = "page") -> Labels:
    """The labels of a monitor-blind (platform) alert."""
    return {"alertname": alertname, "severity": severity, "team": "platform"}


ROUTE_CASES = {
    "norm-page-heiloo": RouteCase(
        norm("ContactmonNormBurnRateFast", "page", "heiloo"), ONCALL, ["municipality"], gated=True
    ),
    "overdue-page-bergen": RouteCase(
        norm("ContactmonNormOverdueItemsPilingUp", "page", "bergen"), ONCALL, ["municipality"], True
    ),
    "at-risk-warning-castricum": RouteCase(
        norm("ContactmonNormItemsAtRisk", "warning", "castricum"),
        EMAIL,
        ["alertname", "municipality"],
    ),
    "slow-burn-ticket-uitgeest": RouteCase(
        norm("ContactmonNormBurnRateSlow", "ticket", "uitgeest"),
        TICKET,
        ["alertname", "municipality"],
    ),
    "platform-ticket": RouteCase(
        platform("ContactmonDeadLettersRising", "ticket"), TICKET, ["alertname"]
    ),
    "unknown-team": RouteCase(
        {"alertname": "Something", "severity": "page"}, ONCALL, ["alertname"]
    ),
    **{
        f"platform-{name}-{severity}": RouteCase(platform(name, severity), ONCALL, ["alertname"])
        for name in PLATFORM_ALERTS
        for severity in ("page", "warning")
    },
}


class TestAmtool:
    """amtool accepts both variants, and routes every kind of alert where it belongs."""

    @pytest.mark.usefixtures("installed")
    def test_check_config(self, office_hours_config: Path, always_open_config: Path) -> None:
        for path in (office_hours_config, always_open_config):
            result = amtool("check-config", str(path))
            assert result.returncode == 0, result.stdout + result.stderr
            assert "SUCCESS" in result.stdout
            assert "3 inhibit rules" in result.stdout
            assert "3 receivers" in result.stdout
            assert "1 templates" in result.stdout

    @pytest.mark.usefixtures("installed")
    def test_routing_tree(self, office_hours_config: Path) -> None:
        result = amtool("config", "routes", "show", f"--config.file={office_hours_config}")
        assert result.returncode == 0, result.stderr
        shown = result.stdout.replace("\u00a0", " ")  # amtool pads "│" with no-break spaces
        assert shown.strip() == EXPECTED_TREE.strip()

    @pytest.mark.usefixtures("installed")
    @pytest.mark.parametrize("case", ROUTE_CASES.values(), ids=ROUTE_CASES.keys())
    def test_route(self, office_hours_config: Path, case: RouteCase) -> None:
        found = routes_test(office_hours_config, case.labels)
        assert found.receivers == [case.receiver]
        routes = route_at(load(office_hours_config), found.path)
        assert routes[-1]["receiver"] == case.receiver  # the YAML walk agrees with amtool
        assert effective(routes, "group_by") == case.group_by
        gates = (routes[-1].get("active_time_intervals"), routes[-1].get("mute_time_intervals"))
        assert gates == ((["kantooruren"], ["feestdagen"]) if case.gated else (None, None))

    @pytest.mark.usefixtures("installed")
    def test_verify_receivers_fails_on_a_wrong_receiver(self, office_hours_config: Path) -> None:
        labels = [
            f"{k}={v}" for k, v in norm("ContactmonNormItemsAtRisk", "warning", "heiloo").items()
        ]
        right = amtool(
            "config", "routes", "test", f"--config.file={office_hours_config}",
            f"--verify.receivers={EMAIL}", *labels,
        )  # fmt: skip
        wrong = amtool(
            "config", "routes", "test", f"--config.file={office_hours_config}",
            f"--verify.receivers={ONCALL}", *labels,
        )  # fmt: skip
        assert (right.returncode, wrong.returncode != 0) == (0, True)

    @pytest.mark.usefixtures("installed")
    def test_always_open_routes_alike(self, always_open_config: Path) -> None:
        for case in ROUTE_CASES.values():
            assert routes_test(always_open_config, case.labels).receivers == [case.receiver]


# ---- the Dutch templates ---------------------------------------------------------------

TEMPLATE_DATA: Body = {
    "receiver": EMAIL,
    "status": "firing",
    "externalURL": "http://127.0.0.1:9093/",
    "groupLabels": {"alertname": "ContactmonNormItemsAtRisk", "municipality": "castricum"},
    "commonLabels": norm("ContactmonNormItemsAtRisk", "warning", "castricum"),
    "commonAnnotations": {},
    "alerts": [
        {
            "status": "firing",
            "labels": norm("ContactmonNormItemsAtRisk", "warning", "castricum"),
            "annotations": {
                "summary": "12 meldingen dreigen de reactienorm te missen",
                "description": "Binnen één werkdag <verlopen> 12 meldingen & er komen er bij",
                "runbook_url": "https://runbooks.example.nl/contactmon#items-at-risk",
            },
            "startsAt": "2026-04-28T08:15:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph",
        }
    ],
}


def render_template(config: Path, name: str, tmp_path: Path, kind: str = "text") -> str:
    """Render the named template of the rendered config with TEMPLATE_DATA, through amtool."""
    data = tmp_path / "data.json"
    data.write_text(json.dumps(TEMPLATE_DATA), encoding="utf-8")
    result = amtool(
        "template", "render",
        f"--template.glob={config.parent / 'templates' / '*.tmpl'}",
        f"--template.text={{{{ template {json.dumps(name)} . }}}}",
        f"--template.type={kind}",
        f"--template.data={data}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.usefixtures("installed")
class TestTemplates:
    """The team leads' e-mail is in Dutch, addressed per municipality, with all the fields."""

    def test_address(self, office_hours_config: Path, tmp_path: Path) -> None:
        rendered = render_template(office_hours_config, "contactmon.teamlead.adres", tmp_path)
        assert rendered.strip() == "teamlead-castricum@example.nl"

    def test_subject(self, office_hours_config: Path, tmp_path: Path) -> None:
        rendered = render_template(office_hours_config, "contactmon.email.onderwerp", tmp_path)
        assert rendered.strip() == (
            "[contactmon] Actief: Castricum — ContactmonNormItemsAtRisk (norm melding-reactie)"
        )

    def test_text_body(self, office_hours_config: Path, tmp_path: Path) -> None:
        body = render_template(office_hours_config, "contactmon.email.tekst", tmp_path)
        for expected in (
            "Gemeente:     Castricum",
            "Norm:         melding-reactie",
            "Samenvatting: 12 meldingen dreigen de reactienorm te missen",
            "Toelichting:  Binnen één werkdag <verlopen> 12 meldingen & er komen er bij",
            "Runbook:      https://runbooks.example.nl/contactmon#items-at-risk",
            "Sinds:        28-04-2026 10:15 CEST",  # Dutch time, from 08:15 UTC
        ):
            assert expected in body

    def test_html_body_is_escaped(self, office_hours_config: Path, tmp_path: Path) -> None:
        html = render_template(office_hours_config, "contactmon.email.html", tmp_path, "html")
        assert "&lt;verlopen&gt; 12 meldingen &amp; er komen er bij" in html
        assert '<a href="https://runbooks.example.nl/contactmon#items-at-risk">' in html
        assert '<html lang="nl">' in html


# ---- a real Alertmanager ---------------------------------------------------------------


@dataclass
class RunningAlertmanager:
    """An Alertmanager started by deploy/alertmanager.sh, notifying `receiver`."""

    script: AlertmanagerScript
    port: int
    receiver: WebhookReceiver

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post_alerts(self, *alerts: Labels, annotations: Mapping[str, str] | None = None) -> None:
        """POST firing alerts to the v2 API."""
        body = [
            {"labels": labels, "annotations": dict(annotations or {"summary": "test"})}
            for labels in alerts
        ]
        self._post(body)

    def resolve(self, labels: Labels) -> None:
        """POST an alert again with endsAt now: resolved."""
        now = datetime.now(UTC).isoformat()
        self._post([{"labels": labels, "endsAt": now}])

    def _post(self, body: list[Body]) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def alerts(self, *matchers: str) -> list[Body]:
        """GET /api/v2/alerts (inhibited ones included) filtered by label matchers."""
        query = urllib.parse.urlencode(
            [("inhibited", "true"), ("silenced", "true"), ("active", "true")]
            + [("filter", matcher) for matcher in matchers]
        )
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts?{query}", timeout=10) as response:
            found = json.load(response)
        assert isinstance(found, list)
        return found


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    """Poll `check` until it holds, at most `timeout` seconds; whether it did."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def alerts_in(bodies: list[Body], **labels: str) -> list[Body]:
    """The alerts in the received notifications whose labels include `labels`."""
    return [
        alert
        for body in bodies
        for alert in body["alerts"]
        if all(alert["labels"].get(key) == value for key, value in labels.items())
    ]


def notifications_for(bodies: list[Body], **group_labels: str) -> list[Body]:
    """The firing notifications whose group labels include `group_labels`."""
    return [
        body
        for body in bodies
        if body["status"] == "firing"
        and all(body["groupLabels"].get(key) == value for key, value in group_labels.items())
    ]


@pytest.fixture
def start_alertmanager(
    state_root: Path,
) -> Iterator[Callable[[Mapping[str, str]], RunningAlertmanager]]:
    """Starts Alertmanagers on free ports (test settings plus `env`); stops them afterwards.

    A start that fails fails the test with the script's output and the log's tail.
    """
    started: list[RunningAlertmanager] = []

    def start(env: Mapping[str, str]) -> RunningAlertmanager:
        receiver = WebhookReceiver().start()
        (port,) = free_ports(1)
        script = AlertmanagerScript(
            state_root,
            {"CONTACTMON_AM_ALWAYS_OPEN": "1", "CONTACTMON_AM_GROUP_WAIT": "1s", **env},
        )
        running = RunningAlertmanager(script, port, receiver)
        started.append(running)
        try:
            result = script.run("start", "--port", str(port), "--webhook-url", receiver.url)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(
                f"deploy/alertmanager.sh start did not finish within {exc.timeout:.0f}s\n"
                + script.log_tail(port)
            )
        if result.returncode != 0:
            pytest.fail(script.explain(port, "Alertmanager could not start", result))
        return running

    try:
        yield start
    finally:
        failures = []
        for running in started:
            stopped = running.script.run("stop", "--port", str(running.port))
            running.receiver.stop()
            if stopped.returncode != 0:
                failures.append(running.script.explain(running.port, "did not stop", stopped))
        if failures:
            pytest.fail("\n".join(failures))


class TestLiveAlertmanager:
    """A real Alertmanager groups a municipality's pages and holds back blind judgements."""

    def test_groups_pages_per_municipality(
        self, start_alertmanager: Callable[[Mapping[str, str]], RunningAlertmanager]
    ) -> None:
        am = start_alertmanager({})
        am.post_alerts(
            norm("ContactmonNormBurnRateFast", "page", "heiloo"),
            {**norm("ContactmonNormBurnRateFast", "page", "heiloo"), "norm": "vraag-reactie"},
            norm("ContactmonNormBurnRateFast", "page", "castricum"),
        )
        assert am.receiver.wait_for(
            lambda bodies: len(alerts_in(bodies, alertname="ContactmonNormBurnRateFast")) >= 3,
            DELIVERY_TIMEOUT_S,
        ), am.receiver.bodies
        # No waiting for "nothing more": a group's next notification could only come a
        # group_interval (the template's 5m here) after its first, and all three alerts were
        # posted at once, so each group's first flush holds all of its alerts.
        bodies = am.receiver.bodies
        assert len(bodies) == 2, bodies

        (heiloo,) = notifications_for(bodies, municipality="heiloo")
        assert heiloo["receiver"] == ONCALL
        assert heiloo["groupLabels"] == {"municipality": "heiloo"}
        assert sorted(a["labels"]["norm"] for a in heiloo["alerts"]) == [
            "melding-reactie",
            "vraag-reactie",
        ]
        (castricum,) = notifications_for(bodies, municipality="castricum")
        assert castricum["receiver"] == ONCALL
        assert [a["labels"]["municipality"] for a in castricum["alerts"]] == ["castricum"]

    def test_worker_down_inhibits_norm_alerts(
        self, start_alertmanager: Callable[[Mapping[str, str]], RunningAlertmanager]
    ) -> None:
        am = start_alertmanager({"CONTACTMON_AM_GROUP_INTERVAL": "2s"})
        worker_down = platform("ContactmonWorkerDown")
        am.post_alerts(worker_down)
        assert am.receiver.wait_for(
            lambda bodies: bool(alerts_in(bodies, alertname="ContactmonWorkerDown")),
            DELIVERY_TIMEOUT_S,
        ), am.receiver.bodies
        (source,) = am.alerts('alertname="ContactmonWorkerDown"')

        uitgeest = norm("ContactmonNormBurnRateFast", "page", "uitgeest")
        am.post_alerts(uitgeest)

        def inhibited() -> bool:
            found = am.alerts('municipality="uitgeest"')
            return len(found) == 1 and found[0]["status"]["inhibitedBy"] == [source["fingerprint"]]

        assert wait_until(inhibited, DELIVERY_TIMEOUT_S), am.alerts('municipality="uitgeest"')
        assert am.alerts('municipality="uitgeest"')[0]["status"]["state"] == "suppressed"
        time.sleep(QUIET_PERIOD_S)
        assert not alerts_in(am.receiver.bodies, municipality="uitgeest"), am.receiver.bodies

        # The receiver would have had it: once the worker is back, the page goes out.
        am.resolve(worker_down)
        assert am.receiver.wait_for(
            lambda bodies: bool(notifications_for(bodies, municipality="uitgeest")),
            DELIVERY_TIMEOUT_S,
        ), am.receiver.bodies

    def test_blind_for_one_municipality_and_page_over_warning(
        self, start_alertmanager: Callable[[Mapping[str, str]], RunningAlertmanager]
    ) -> None:
        am = start_alertmanager({})
        am.post_alerts(
            {**platform("ContactmonNoEvents", "warning"), "municipality": "bergen"},
            norm("ContactmonNormBurnRateFast", "page", "bergen"),
            norm("ContactmonNormBurnRateFast", "page", "castricum"),
            norm("ContactmonNormItemsAtRisk", "warning", "castricum"),
            {**norm("ContactmonNormItemsAtRisk", "warning", "castricum"), "norm": "vraag-reactie"},
        )
        (no_events,) = am.alerts('alertname="ContactmonNoEvents"')
        (castricum_page,) = am.alerts('severity="page"', 'municipality="castricum"')
        expected = {
            ('municipality="bergen"', 'team="klantcontact"'): [no_events["fingerprint"]],
            ('severity="page"', 'municipality="castricum"'): [],
            ('severity="warning"', 'norm="melding-reactie"'): [castricum_page["fingerprint"]],
            ('severity="warning"', 'norm="vraag-reactie"'): [],
        }

        def inhibitors() -> dict[tuple[str, ...], list[str]]:
            found = {matchers: am.alerts(*matchers) for matchers in expected}
            return {
                m: [i for a in alerts for i in a["status"]["inhibitedBy"]]
                for m, alerts in found.items()
            }

        assert wait_until(lambda: inhibitors() == expected, DELIVERY_TIMEOUT_S), inhibitors()
        assert am.receiver.wait_for(
            lambda bodies: bool(notifications_for(bodies, municipality="castricum")),
            DELIVERY_TIMEOUT_S,
        ), am.receiver.bodies
        time.sleep(QUIET_PERIOD_S)
        assert not alerts_in(am.receiver.bodies, municipality="bergen", team="klantcontact")


class TestDeployScript:
    """deploy/alertmanager.sh start is idempotent, reloads a changed config, and stops cleanly."""

    def test_lifecycle(
        self,
        state_root: Path,
        start_alertmanager: Callable[[Mapping[str, str]], RunningAlertmanager],
    ) -> None:
        am = start_alertmanager({})
        pid_file = state_root / f"alertmanager-{am.port}" / "alertmanager.pid"
        pid = pid_file.read_text().strip()
        status = am.script.run("status", "--port", str(am.port))
        assert status.returncode == 0
        assert f"pid {pid}" in status.stdout

        again = am.script.run("start", "--port", str(am.port), "--webhook-url", am.receiver.url)
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stdout
        assert "reloaded" not in again.stdout

        moved = am.script.run(
            "start", "--port", str(am.port), "--webhook-url", am.receiver.url + "/moved"
        )
        assert moved.returncode == 0, moved.stderr
        assert "reloaded" in moved.stdout
        assert pid_file.read_text().strip() == pid
        am.post_alerts(platform("ContactmonNoPartitionsOwned"))
        assert am.receiver.wait_for(bool, DELIVERY_TIMEOUT_S)
        assert am.receiver.paths == ["/webhook/moved"]

        stopped = am.script.run("stop", "--port", str(am.port))
        assert stopped.returncode == 0, stopped.stderr
        assert not Path(f"/proc/{pid}").exists()
        assert am.script.run("status", "--port", str(am.port)).returncode == 3

    def test_port_in_use(self, state_root: Path) -> None:
        with WebhookReceiver() as squatter:
            port = int(squatter.url.split(":")[2].split("/")[0])
            result = AlertmanagerScript(state_root).run("start", "--port", str(port))
        assert result.returncode == 1
        assert "in use by another process" in result.stderr
