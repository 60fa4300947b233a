"""Write the acceptance scenarios of the norm and calendar alerts as promtool test files.

The hand-written files in this directory pin each rule's thresholds and texts on simple series.
The files written here (``acceptance-*.test.yml``, ``calendar-end.test.yml``) check the rules
against what the users expect (issue 10), on series that look like a municipality's: Fixi reports
decided in office hours (09:00-17:00), breaches decided in a batch just after 24:00 of the
deadline day (the worker's sweep, visible in the 00:30 sample), nothing at weekends, on public
holidays or on the calendar's closed days, about 10 decisions a working day in Heiloo and 4 in
Uitgeest. The calendar gauges the worker exports (``streams.calendar_metrics``) are computed here
with the worker's own calendar code, so the scenarios see the same working days as production.

Every check is a PromQL query over ``ALERTS``, per municipality, so one scenario holds a 10-a-day
and a 4-a-day municipality side by side: "firing at" (fires by the deadline), "never firing in"
(not before the slip, quiet on noise) and "firing at every evaluation in" (stays up through
nights, weekends and holidays).

promtool's clock starts at 1970-01-01 00:00 UTC (a Thursday, New Year's Day), so the scenarios
live in early 1970: Dutch time was UTC+1 all year then, and before 29 March the rules' own clock
(contactmon.clock) agrees. Run after changing the rules or a scenario, and commit the result:

    .venv/bin/python alerts/tests/generate.py           # write
    .venv/bin/python alerts/tests/generate.py --check   # exit 1 when a file is not current
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from streams.calendar_metrics import LOOKBACK_WORKING_DAYS, working_days_back
from streams.core.calendar import BusinessCalendar

HERE = Path(__file__).resolve().parent
RULES = HERE.parent / "contactmon.rules.yml"

STEP = 3600  # seconds between samples
EVAL = 7200  # seconds between rule evaluations
DAY = 86400
HOUR = 3600
TIMEZONE = "Europe/Amsterdam"
CLOSED_DAY = date(1970, 1, 23)  # a closed day (brugdag) of the scenarios' norms calendar
CALENDAR = BusinessCalendar(TIMEZONE, "NL", closed_days=[CLOSED_DAY])
NORM = "melding-reactie"
TARGET = 0.90
OFFICE = (9, 17)  # met decisions fall in these local hours
SWEEP_DELAY = 3600  # breaches decided at 24:00 show in the first sample after the sweep (01:00)

NORM_ALERTS = (
    "ContactmonNormBurnRateFast",
    "ContactmonNormBurnRateSlow",
    "ContactmonNormOverdueItemsPilingUp",
    "ContactmonNormOverdueItemsStanding",
)
PAGE = "ContactmonNormBurnRateFast"
TICKET = "ContactmonNormBurnRateSlow"
PILING = "ContactmonNormOverdueItemsPilingUp"
STANDING = "ContactmonNormOverdueItemsStanding"
LABELS = {
    PAGE: {"severity": "page", "team": "klantcontact"},
    TICKET: {"severity": "ticket", "team": "klantcontact"},
    PILING: {"severity": "page", "team": "klantcontact"},
    STANDING: {"severity": "warning", "team": "klantcontact"},
    "ContactmonNoEvents": {"severity": "page", "team": "platform"},
}
GROUP_ORDER = ("contactmon.clock", "contactmon.norms", "contactmon.backlog", "contactmon.monitor")


# ---- time ----------------------------------------------------------------------------------


def local(day: date, hour: float = 0.0) -> int:
    """Seconds since the epoch of ``hour`` o'clock Dutch time on ``day``."""
    return int(CALENDAR.day_start(day) + hour * HOUR)


def duration(seconds: int) -> str:
    """A promtool duration: whole days and hours and minutes."""
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes = rest // 60
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "")
    text += f"{minutes}m" if minutes or not text else ""
    return text


def when(t: int) -> str:
    """A moment in Dutch words for the comments."""
    moment = datetime.fromtimestamp(t, UTC) + timedelta(hours=1)
    return moment.strftime("%a %d %b %H:%M")


def working_days(first: date, last: date) -> list[date]:
    days = []
    day = first
    while day <= last:
        if CALENDAR.is_working_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


# ---- series --------------------------------------------------------------------------------


def encode(values: Sequence[float | None]) -> str:
    """promtool's expanding notation: runs of equal steps as ``a+bxn``, gaps as ``_``."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        v = values[i]
        if v is None:
            j = i
            while j + 1 < len(values) and values[j + 1] is None:
                j += 1
            parts.append("_" if j == i else f"_x{j - i + 1}")
            i = j + 1
            continue
        j = i + 1
        step = None
        while j < len(values) and values[j] is not None:
            d = round(values[j] - values[j - 1], 9)  # type: ignore[operator]
            if step is None:
                step = d
            elif d != step:
                break
            j += 1
        run = j - i - 1  # values after the first in this run
        if step != 0 and run < 2:  # a lone step reads better as a plain value
            parts.append(number(v))
            i += 1
            continue
        if run == 0:
            parts.append(number(v))
        elif step == 0:
            parts.append(f"{number(v)}x{run}")
        else:
            sign = "+" if step and step > 0 else "-"
            parts.append(f"{number(v)}{sign}{number(abs(step or 0))}x{run}")
        i = j
    return " ".join(parts)


def number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(round(v, 9))


def spread(total: int, slots: int) -> list[int]:
    """``total`` items over ``slots`` as evenly as whole items go."""
    return [(total * (k + 1)) // slots - (total * k) // slots for k in range(slots)]


@dataclass
class Municipality:
    """One municipality's decisions: per working day how many and the share met."""

    slug: str
    per_day: Callable[[date], int]
    met_share: Callable[[date], float]
    base: int = 1000
    late_base: int = 100
    decided: dict[date, tuple[int, int]] = field(default_factory=dict)

    def plan(self, days: Sequence[date]) -> None:
        """Whole numbers of met and breached items per working day (the late share rounded
        cumulatively, so 0.4 a day gives 0, 1, 0, 1, 0 and the long-run share is exact)."""
        expected = 0.0
        given = 0
        for day in days:
            n = self.per_day(day)
            expected += n * (1 - self.met_share(day))
            late = max(0, min(n, math.floor(expected + 0.5) - given))
            given += late
            self.decided[day] = (n - late, late)

    def counters(self, times: Sequence[int]) -> tuple[list[float], list[float]]:
        """Cumulative met and breached counts at every sample time."""
        met_events: dict[int, int] = {}
        late_events: dict[int, int] = {}
        first, last = OFFICE
        slots = (last - first) * HOUR // STEP
        for day, (met, late) in self.decided.items():
            for k, count in enumerate(spread(met, slots)):
                t = local(day, first) + (k + 1) * STEP
                met_events[t] = met_events.get(t, 0) + count
            t = local(day + timedelta(days=1)) + SWEEP_DELAY
            late_events[t] = late_events.get(t, 0) + late
        met_values: list[float] = []
        late_values: list[float] = []
        met_total, late_total = self.base, self.late_base
        for t in times:
            met_total += met_events.get(t, 0)
            late_total += late_events.get(t, 0)
            met_values.append(met_total)
            late_values.append(late_total)
        return met_values, late_values


def worker_labels() -> str:
    return 'job="contactmon-worker",instance="worker-1:6066"'


def norm_series(m: Municipality, times: Sequence[int]) -> list[dict[str, str]]:
    met, late = m.counters(times)
    labels = f'{worker_labels()},municipality="{m.slug}",norm="{NORM}"'
    return [
        {"series": f'contact_norm_outcomes_total{{{labels},outcome="met"}}', "values": encode(met)},
        {
            "series": f'contact_norm_outcomes_total{{{labels},outcome="breached"}}',
            "values": encode(late),
        },
        {
            "series": f"contact_norm_target_ratio{{{labels}}}",
            "values": f"{TARGET}x{len(times) - 1}",
        },
    ]


def calendar_series(times: Sequence[int]) -> list[dict[str, str]]:
    """The worker's calendar gauges at every sample, from the worker's calendar code."""
    working = [float(CALENDAR.is_working_day(CALENDAR.local_date(t))) for t in times]
    out = [
        {"series": f"contact_calendar_working_day{{{worker_labels()}}}", "values": encode(working)}
    ]
    for n in LOOKBACK_WORKING_DAYS:
        values = [float(working_days_back(CALENDAR, t, n)) for t in times]
        out.append(
            {
                "series": f'contact_calendar_lookback_days{{{worker_labels()},working_days="{n}"}}',
                "values": encode(values),
            }
        )
    return out


# ---- checks --------------------------------------------------------------------------------


def alerts_selector(alert: str | None, slug: str) -> str:
    name = f'alertname="{alert}",' if alert else ""
    return f'ALERTS{{{name}alertstate="firing",municipality="{slug}"}}'


def at_evaluation(*moments: int) -> None:
    """ALERTS has samples only at evaluations: a check elsewhere would see nothing."""
    for t in moments:
        if t % EVAL:
            raise ValueError(f"{when(t)} is not an evaluation time (every {duration(EVAL)})")


def firing_at(alert: str, slug: str, t: int, why: str) -> dict[str, object]:
    at_evaluation(t)
    labels = {"alertname": alert, "alertstate": "firing", "municipality": slug, **LABELS[alert]}
    if alert != "ContactmonNoEvents":
        labels["norm"] = NORM
    text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {
        "__comment": f"{why}: {alert} firing for {slug} at {when(t)}",
        "expr": alerts_selector(alert, slug),
        "eval_time": duration(t),
        "exp_samples": [{"labels": f"ALERTS{{{text}}}", "value": 1}],
    }


def never_in(alert: str | None, slug: str, t0: int, t1: int, why: str) -> dict[str, object]:
    t1 -= t1 % EVAL  # the last evaluation up to t1
    what = alert or "no alert at all"
    return {
        "__comment": f"{why}: {what} not firing for {slug} from {when(t0)} to {when(t1)}",
        "expr": f"max_over_time({alerts_selector(alert, slug)}[{duration(t1 - t0)}])",
        "eval_time": duration(t1),
        "exp_samples": [],
    }


def always_in(alert: str, slug: str, t0: int, t1: int, why: str) -> dict[str, object]:
    # Range selections take the samples at both ends: one per evaluation, none missing.
    at_evaluation(t0, t1)
    evaluations = (t1 - t0) // EVAL + 1
    return {
        "__comment": (
            f"{why}: {alert} firing at every evaluation for {slug} from {when(t0)} to {when(t1)}"
        ),
        "expr": f"count_over_time({alerts_selector(alert, slug)}[{duration(t1 - t0)}])",
        "eval_time": duration(t1),
        "exp_samples": [
            {
                "labels": "{"
                + ",".join(
                    f'{k}="{v}"'
                    for k, v in sorted(
                        {
                            "alertname": alert,
                            "alertstate": "firing",
                            "municipality": slug,
                            "norm": NORM,
                            **LABELS[alert],
                        }.items()
                    )
                )
                + "}",
                "value": evaluations,
            }
        ],
    }


# ---- scenarios -----------------------------------------------------------------------------

START = date(1970, 1, 1)
WARM_UP_END = date(1970, 2, 2)  # 32 days of history: the 30-day windows are full after it


@dataclass
class Scenario:
    name: str
    title: str
    story: str
    end: date
    municipalities: list[Municipality]
    checks: list[dict[str, object]]
    extra_series: Callable[[Sequence[int]], list[dict[str, str]]] = lambda times: []

    def times(self) -> list[int]:
        return list(range(0, local(self.end) + 1, STEP))


def constant(value: float) -> Callable[[date], float]:
    return lambda day: value


def slip(first: date, last: date, share: float = 0.5) -> Callable[[date], float]:
    return lambda day: share if first <= day <= last else TARGET


def count(n: int) -> Callable[[date], int]:
    return lambda day: n


def slip_checks(
    start: date, last: date, quiet_from: date, hold: tuple[date, date]
) -> list[dict[str, object]]:
    """Heiloo paged within one working day of ``start`` 09:00, Uitgeest within two; neither
    before; both up at every evaluation over ``hold`` (09:00 to 13:00)."""
    slip_start = local(start, 9)
    one, two = working_days(start + timedelta(days=1), start + timedelta(days=10))[:2]
    checks: list[dict[str, object]] = []
    for slug, deadline, note in (
        ("heiloo", local(one, 9), "10 a day: within one working day"),
        ("uitgeest", local(two, 9), "4 a day: within two working days"),
    ):
        checks += [
            never_in(PAGE, slug, local(quiet_from), slip_start, "not before the slip"),
            firing_at(PAGE, slug, deadline, note),
            always_in(
                PAGE, slug, local(hold[0], 9), local(hold[1], 13), "stays up while the slip goes on"
            ),
        ]
    return checks


def slip_scenario() -> Scenario:
    """Heiloo (10 a day) and Uitgeest (4 a day) drop to 50 % met from a Tuesday 09:00 for two
    weeks and then recover."""
    start = date(1970, 1, 13)
    last = working_days(start, start + timedelta(days=13))[-1]
    after = working_days(last + timedelta(days=1), last + timedelta(days=7))
    end = after[3] + timedelta(days=1)
    heiloo = Municipality("heiloo", count(10), slip(start, last))
    uitgeest = Municipality("uitgeest", count(4), slip(start, last))
    two = working_days(start + timedelta(days=1), start + timedelta(days=10))[1]
    checks = slip_checks(start, last, date(1970, 1, 5), (two, last))
    # Recovered from the working day after the slip: quiet again within three working days
    # (at 4 a day one late item of four is still 25 % late: the page holds while the last
    # three working days still show the slip).
    checks += [
        never_in(PAGE, slug, local(after[3], 9), local(end), "resolved after the recovery")
        for slug in ("heiloo", "uitgeest")
    ]
    story = (
        f"Heiloo (10 decisions a working day) and Uitgeest (4) answer half their Fixi reports\n"
        f"late from {when(local(start, 9))} to {last:%a %d %b} (met in office hours, breached at\n"
        f"24:00), then on target again. The page fires by the next working day 09:00 (Heiloo)\n"
        f"and the one after (Uitgeest), not before the slip, and stays up at every evaluation\n"
        f"until the slip's last working day: nights, weekends, Monday mornings and the closed\n"
        f"day {CLOSED_DAY:%a %d %b} of the scenarios' calendar. Quiet again within three working\n"
        f"days of the recovery."
    )
    return Scenario("slip", "a slip from a Tuesday", story, end, [heiloo, uitgeest], checks)


def holiday_scenario() -> Scenario:
    """A slip from a Monday that runs across Easter (Good Friday and Easter Monday are no
    working days)."""
    start, last = date(1970, 3, 16), date(1970, 4, 2)
    heiloo = Municipality("heiloo", count(10), slip(start, last))
    uitgeest = Municipality("uitgeest", count(4), slip(start, last))
    end = date(1970, 4, 3)
    checks = slip_checks(start, last, WARM_UP_END, (date(1970, 3, 18), date(1970, 4, 1)))
    story = (
        "A slip from a Monday: Heiloo (10 a day) and Uitgeest (4 a day) answer half their\n"
        "Fixi reports late from Mon 16 Mar 09:00 to Thu 2 Apr, across Good Friday (27 Mar),\n"
        "the weekend and Easter Monday (30 Mar): five days without decisions. Paged by Tue\n"
        "09:00 (Heiloo) and Wed 09:00 (Uitgeest), not before, and up at every evaluation from\n"
        "Wed 18 Mar to Wed 1 Apr."
    )
    return Scenario(
        "holiday", "a slip from a Monday, across Easter", story, end, [heiloo, uitgeest], checks
    )


def noise_shares(seed: int, days: Sequence[date]) -> dict[date, float]:
    """Daily met shares between 85 % and 95 %, averaging exactly 90 % over the days."""
    rng = random.Random(seed)
    raw = [rng.uniform(0.85, 0.95) for _ in days]
    shift = TARGET - sum(raw) / len(raw)
    return {day: min(0.95, max(0.85, share + shift)) for day, share in zip(days, raw, strict=True)}


def noise_scenario() -> Scenario:
    end = date(1970, 3, 21)
    days = working_days(START, end)
    h, u = noise_shares(10, days), noise_shares(4, days)
    per_day = {day: 1 + (i % 2) for i, day in enumerate(days)}  # 1, 2, 1, 2, ...
    # One late item every fourth (Castricum) or sixth (Bergen) working day, on a 2-decision day.
    castricum_late, bergen_late = set(days[1::4]), set(days[3::6])
    municipalities = [
        Municipality("heiloo", count(10), lambda day: h[day]),
        Municipality("uitgeest", count(4), lambda day: u[day]),
        Municipality(
            "castricum", lambda day: per_day[day], lambda day: 0.5 if day in castricum_late else 1.0
        ),
        Municipality(
            "bergen", lambda day: per_day[day], lambda day: 0.5 if day in bergen_late else 1.0
        ),
    ]
    checks = [
        never_in(None, m.slug, local(WARM_UP_END), local(end), why)
        for m, why in zip(
            municipalities,
            (
                "healthy noise: nothing fires",
                "healthy noise: nothing fires",
                "very low volume: nothing fires",
                "very low volume: nothing fires",
            ),
            strict=True,
        )
    ]
    story = (
        "Healthy noise: seven weeks in which every working day's share met is drawn between\n"
        "85 % and 95 % (seeded), averaging exactly the target 90 %; Heiloo 10 and Uitgeest 4\n"
        "decisions a working day. Very low volume: Castricum and Bergen decide 1 or 2 a working\n"
        "day, and one item is late every fourth (Castricum) or sixth (Bergen) working day:\n"
        "17 % and 11 % late, above the budget in share but a handful of items. No alert fires\n"
        "for any of them at any\n"
        "evaluation (so none flaps either): no page, no ticket."
    )
    return Scenario(
        "noise", "healthy noise and very low volume", story, end, municipalities, checks
    )


def drift_scenario() -> Scenario:
    first = date(1970, 2, 16)
    drift_days = working_days(first, first + timedelta(days=20))
    last = drift_days[-1]
    step = {day: i / (len(drift_days) - 1) for i, day in enumerate(drift_days)}

    def share(day: date) -> float:
        if day < first:
            return 0.92
        return 0.92 - 0.08 * step.get(day, 1.0)

    end = last + timedelta(days=3)
    heiloo = Municipality("heiloo", count(10), share)
    uitgeest = Municipality("uitgeest", count(4), share)
    checks: list[dict[str, object]] = [
        firing_at(TICKET, "heiloo", local(last, 13), "10 a day: a ticket before the drift ends"),
    ]
    for slug in ("heiloo", "uitgeest"):
        checks += [
            never_in(TICKET, slug, local(WARM_UP_END), local(first), "no ticket before the drift"),
            never_in(PAGE, slug, local(WARM_UP_END), local(end), "a drift is never a page"),
        ]
    story = (
        f"A slow drift: the share met falls linearly from 92 % on {first:%a %d %b} to 84 % on\n"
        f"{last:%a %d %b} (three weeks, 15 working days), for Heiloo (10 a day) and Uitgeest (4\n"
        "a day). Heiloo's team lead gets a ticket before the drift ends; the page never fires.\n"
        "At 4 a day the drift adds about one late item a week to what the target allows, which\n"
        "healthy noise does too: Uitgeest gets no ticket here (see alerts/README.md)."
    )
    return Scenario("drift", "a slow drift", story, end, [heiloo, uitgeest], checks)


@dataclass
class Pile:
    """Overdue items of one municipality: a level that grows at each working night's sweep."""

    slug: str
    start: date
    level: int  # overdue before the pile starts
    growth: int  # more overdue after each working day from ``start`` on (0: a standing tail)

    def values(self, times: Sequence[int]) -> list[float]:
        batches = [
            local(day + timedelta(days=1)) + SWEEP_DELAY
            for day in working_days(self.start, CALENDAR.local_date(times[-1]))
        ]
        return [
            float(self.level + self.growth * len([b for b in batches if b <= t])) for t in times
        ]


def overdue_scenario() -> Scenario:
    start = date(1970, 1, 20)  # a Tuesday
    end = date(1970, 1, 31)
    municipalities = [
        Municipality("heiloo", count(10), constant(TARGET)),
        Municipality("castricum", count(10), constant(TARGET)),
        Municipality("uitgeest", count(4), constant(TARGET)),
        Municipality("bergen", count(4), constant(TARGET)),
    ]
    piles = [
        Pile("heiloo", start, 2, 5),  # +5 a working night: half a day's intake
        Pile("castricum", start, 15, 0),  # a standing tail of 15
        Pile("uitgeest", start, 1, 2),  # +2 a working night: half a day's intake
        Pile("bergen", start, 6, 0),  # a standing tail of 6 (1.5 days' intake)
    ]

    def overdue(times: Sequence[int]) -> list[dict[str, str]]:
        return [
            {
                "series": "contact_norm_overdue_items"
                f'{{{worker_labels()},municipality="{p.slug}",norm="{NORM}"}}',
                "values": encode(p.values(times)),
            }
            for p in piles
        ]

    nights = working_days(start, end)  # Tue 20, Wed 21, Thu 22, (closed Fri 23), Mon 26, ...
    quiet_from = date(1970, 1, 12)
    checks: list[dict[str, object]] = [
        # Heiloo: 7 after Tuesday night, 12 after Wednesday night (>= 10, +5).
        never_in(
            PILING,
            "heiloo",
            local(quiet_from),
            local(nights[1], 13),
            "not before the pile holds a day's intake",
        ),
        firing_at(PILING, "heiloo", local(nights[2], 9), "a growing pile pages (10 a day)"),
        # Uitgeest: 3, 5, 7: >= 5 and +2 after Wednesday night.
        firing_at(PILING, "uitgeest", local(nights[2], 9), "a growing pile pages (4 a day)"),
        never_in(PILING, "castricum", local(quiet_from), local(end), "a standing tail is no page"),
        never_in(PILING, "bergen", local(quiet_from), local(end), "a standing tail is no page"),
        firing_at(STANDING, "castricum", local(nights[1], 13), "a standing tail is a warning"),
        firing_at(STANDING, "bergen", local(nights[1], 13), "a standing tail is a warning"),
    ]
    story = (
        f"Overdue items from {start:%a %d %b}: Heiloo (10 a day) 2 overdue plus 5 more each\n"
        "working night; Uitgeest (4 a day) 1 plus 2 each night; Castricum (10 a day) a\n"
        "standing tail of 15, Bergen (4 a day) one of 6, around the clock. The growing piles\n"
        "page once they hold a working day's intake and grew by half of one in a working day;\n"
        "the standing tails are a warning to the team lead, never a page."
    )
    return Scenario(
        "overdue",
        "overdue items: a growing pile and a standing tail",
        story,
        end,
        municipalities,
        checks,
        overdue,
    )


def no_events_scenario() -> Scenario:
    """No events from a quiet municipality on a holiday, a weekend and a closed day."""
    end = date(1970, 1, 28)
    silent_from = local(date(1970, 1, 27), 9)

    def last_event(t: int, stop: int | None) -> float:
        day = CALENDAR.local_date(t)
        while True:
            if CALENDAR.is_working_day(day):
                first, last = local(day, 9), local(day, 16)
                if stop is not None:
                    last = min(last, stop)
                if t >= first and first <= last:
                    return float(min(t, last))
            day -= timedelta(days=1)

    def extra(times: Sequence[int]) -> list[dict[str, str]]:
        return [
            {
                "series": "contact_last_event_timestamp_seconds"
                f'{{{worker_labels()},municipality="{slug}"}}',
                "values": encode([last_event(t, stop) for t in times]),
            }
            for slug, stop in (("uitgeest", None), ("bergen", silent_from))
        ]

    checks = [
        never_in(
            "ContactmonNoEvents",
            "uitgeest",
            local(START),
            local(end),
            "quiet on a holiday, weekends and a closed day",
        ),
        never_in(
            "ContactmonNoEvents",
            "bergen",
            local(START),
            local(date(1970, 1, 27), 15),
            "quiet until a working day goes silent",
        ),
        firing_at(
            "ContactmonNoEvents",
            "bergen",
            local(date(1970, 1, 27), 17),
            "a silent working day pages",
        ),
    ]
    story = (
        "Uitgeest sends events only on working days between 09:00 and 16:00: nothing on New\n"
        f"Year's Day (Thu 01 Jan, a public holiday), at weekends or on the closed day\n"
        f"{CLOSED_DAY:%a %d %b}. ContactmonNoEvents stays quiet for it. Bergen goes silent on\n"
        "Tue 27 Jan at 09:00: more than 4 hours at the 15:00 evaluation, paged at 17:00 (the\n"
        "`for:` of 15 minutes, with evaluations every two hours here)."
    )
    return Scenario(
        "no-events", "no events: quiet on non-working days", story, end, [], checks, extra
    )


def scenarios() -> list[Scenario]:
    return [
        slip_scenario(),
        holiday_scenario(),
        noise_scenario(),
        drift_scenario(),
        overdue_scenario(),
        no_events_scenario(),
    ]


# ---- writing -------------------------------------------------------------------------------

HEADER = """\
# GENERATED by alerts/tests/generate.py: do not edit; change the generator and run
#   .venv/bin/python alerts/tests/generate.py
#
# promtool test rules, acceptance scenario "{title}" (issue 10).
#
{story}
#
# Samples every hour, rule evaluations every two hours; time 0 is Thu 1970-01-01 00:00 UTC
# (01:00 Dutch time). Each check's comment says what it shows.
"""


def yaml_value(value: object, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        lines = []
        for item in value:
            sub = yaml_value(item, indent + 2)
            lines.append(pad + "- " + sub[0].lstrip())
            lines += sub[1:]
        return lines
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, list | dict) and item:
                lines.append(f"{pad}{key}:")
                lines += yaml_value(item, indent + 2)
            elif isinstance(item, list):
                lines.append(f"{pad}{key}: []")
            else:
                lines.append(f"{pad}{key}: {scalar(item)}")
        return lines
    return [pad + scalar(value)]


def scalar(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value)
    text = str(value)
    return "'" + text.replace("'", "''") + "'"


def render(s: Scenario) -> str:
    times = s.times()
    series: list[dict[str, str]] = calendar_series(times)
    days = working_days(START, s.end)
    for m in s.municipalities:
        m.plan(days)
        series += norm_series(m, times)
    series += s.extra_series(times)
    lines = [
        HEADER.format(title=s.title, story="\n".join("# " + line for line in s.story.splitlines()))
    ]
    lines.append("rule_files:\n  - ../contactmon.rules.yml\n")
    lines.append("group_eval_order:\n" + "".join(f"  - {g}\n" for g in GROUP_ORDER))
    lines.append(f"evaluation_interval: {duration(EVAL)}\n")
    lines.append("tests:")
    lines.append(f"  - interval: {duration(STEP)}")
    lines.append("    input_series:")
    for entry in series:
        lines.append(f"      - series: {scalar(entry['series'])}")
        lines.append(f"        values: {scalar(entry['values'])}")
    lines.append("    promql_expr_test:")
    for check in s.checks:
        comment = str(check["__comment"])
        lines.append(f"      # {comment}")
        body = {k: v for k, v in check.items() if k != "__comment"}
        sub = yaml_value(body, 8)
        lines.append("      - " + sub[0].lstrip())
        lines += sub[1:]
    return "\n".join(lines) + "\n"


def calendar_end_test() -> str:
    """Both sides of ContactmonAlertmanagerCalendarEnding for the end written in the rules."""
    match = re.search(
        r"vector\((\d+)\)  # written by deploy/alertmanager/non_working_days.py", RULES.read_text()
    )
    if match is None:
        raise SystemExit(f"{RULES}: no calendar end written by non_working_days.py")
    end = int(match.group(1))
    interval = 30 * DAY
    # The first evaluation with less than 183 days left turns it pending; the next fires.
    pending = -(-(end - 183 * DAY + 1) // interval) * interval
    quiet, fires = pending - interval, pending + interval
    last = datetime.fromtimestamp(end - DAY, UTC).date()
    left = humanize(end - fires)
    return f"""\
# GENERATED by alerts/tests/generate.py from the calendar end in ../contactmon.rules.yml (which
# deploy/alertmanager/non_working_days.py writes): do not edit.
#
# promtool test rules: ContactmonAlertmanagerCalendarEnding. Alertmanager's list of holidays
# and closed days ends after {last.isoformat()} ({end} in Unix time); the ticket is pending
# from the first evaluation with less than 183 days left and fires at the next. Evaluated
# every 30 days: quiet at {humanize(end - quiet)} left, pending at {humanize(end - pending)},
# firing at {left}.

rule_files:
  - ../contactmon.rules.yml

group_eval_order:
{"".join(f"  - {g}{chr(10)}" for g in GROUP_ORDER)}
evaluation_interval: {duration(interval)}

tests:
  - interval: {duration(interval)}
    alert_rule_test:
      - eval_time: {duration(quiet)}
        alertname: ContactmonAlertmanagerCalendarEnding
        exp_alerts: []
      - eval_time: {duration(pending)}
        alertname: ContactmonAlertmanagerCalendarEnding
        exp_alerts: []
      - eval_time: {duration(fires)}
        alertname: ContactmonAlertmanagerCalendarEnding
        exp_alerts:
          - exp_labels:
              severity: ticket
              team: platform
            exp_annotations:
              summary: De feestdagenlijst van Alertmanager loopt over {left} af
              description: >-
                De lijst met feestdagen en sluitingsdagen waarop Alertmanager pages van
                klantcontact stilhoudt, loopt over {left} af. Daarna gaan pages ook op
                feestdagen uit. Genereer de lijst opnieuw met
                deploy/alertmanager/non_working_days.py en rol de configuratie uit.
              runbook_url: https://github.com/contactmon/contactmon/blob/main/alerts/runbooks/pipeline-health.md#contactmonalertmanagercalendarending
"""


def humanize(seconds: int) -> str:
    """Prometheus's humanizeDuration for whole days."""
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes, secs = divmod(rest, 60)
    return f"{days}d {hours}h {minutes}m {secs}s"


def outputs() -> Iterator[tuple[Path, str]]:
    for s in scenarios():
        yield HERE / f"acceptance-{s.name}.test.yml", render(s)
    yield HERE / "calendar-end.test.yml", calendar_end_test()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when stale")
    parser.add_argument("--only", nargs="*", default=None, help="scenario names to write")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs():
        if args.only is not None and not any(name in path.name for name in args.only):
            continue
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent.parent)}")
    if stale:
        names = ", ".join(str(p.relative_to(HERE.parent.parent)) for p in stale)
        print(
            f"not current: {names}; run .venv/bin/python alerts/tests/generate.py", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
