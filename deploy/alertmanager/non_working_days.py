"""Write the Alertmanager time interval that mutes business pages on days that are no working day.

Alertmanager knows weekdays and clock times, but not holidays, so the days themselves go into
its configuration: one `time_intervals` entry, `feestdagen`, with one sub-interval per date (a
whole day in the calendar's timezone). The dates come from the worker's own business calendar
(``streams.core.calendar.BusinessCalendar``, built from the norms file by
``streams.core.config.load_norms``): every Monday-Friday that is no working day there — the
public holidays of the `holidays` package and the norms file's ``closed_days``, unless listed in
``open_days``. So a day the monitor does not count as a working day is also a day without
business pages.

The list covers the current year and the three after it (a rolling three years ahead). The
script also writes the end of the list into ``alerts/contactmon.rules.yml``
(``contactmon:alertmanager_calendar_end:timestamp``), where ``ContactmonAlertmanagerCalendarEnding``
raises a ticket half a year before the list runs out; run ``alerts/tests/generate.py`` after it
(the promtool case of that alert is generated from the same value).

The output is a YAML fragment (deploy/alertmanager/non_working_days.yml) that
deploy/alertmanager.sh splices into the configuration template where the line `# @FEESTDAGEN@`
stands. Regenerate it once a year, and check that it is current with `--check` (the tests do):

    .venv/bin/python deploy/alertmanager/non_working_days.py                # this year + 3
    .venv/bin/python deploy/alertmanager/non_working_days.py --first-year 2027
    .venv/bin/python deploy/alertmanager/non_working_days.py --norms path/to/norms.yaml
    .venv/bin/python deploy/alertmanager/non_working_days.py --check
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import holidays as holiday_data

from streams.core.calendar import BusinessCalendar
from streams.core.config import load_norms

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_OUT = HERE / "non_working_days.yml"
RULES = ROOT / "alerts" / "contactmon.rules.yml"
INTERVAL_NAME = "feestdagen"
YEARS_AHEAD = 3
LANGUAGE = "nl"
END_LINE = re.compile(r"vector\((\d+)\)  # written by deploy/alertmanager/non_working_days.py")

WEEKDAYS_NL = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")


@dataclass(frozen=True)
class NonWorkingDay:
    """A Monday-Friday that is no working day, and why (a holiday's Dutch name, or closed)."""

    day: date
    name: str


def years_from(first_year: int) -> tuple[int, ...]:
    """The years the list covers: ``first_year`` and the YEARS_AHEAD after it."""
    return tuple(range(first_year, first_year + YEARS_AHEAD + 1))


def non_working_days(calendar: BusinessCalendar, years: Sequence[int]) -> list[NonWorkingDay]:
    """Every Monday-Friday of ``years`` that the calendar does not count as a working day."""
    names: dict[date, str] = {}
    if calendar.holiday_country is not None:
        found = holiday_data.country_holidays(
            calendar.holiday_country, years=sorted(years), language=LANGUAGE
        )
        names = {day: str(name) for day, name in found.items()}
    out = []
    day = date(min(years), 1, 1)
    while day.year <= max(years):
        if day.weekday() < 5 and not calendar.is_working_day(day):
            name = names.get(day, "sluitingsdag")
            if day in calendar.closed_days and day not in names:
                name = "sluitingsdag (normenbestand)"
            out.append(NonWorkingDay(day, name))
        day += timedelta(days=1)
    return out


def calendar_end(calendar: BusinessCalendar, years: Sequence[int]) -> int:
    """24:00 of the list's last day (31 December of the last year) in Unix time."""
    return int(calendar.day_end(date(max(years), 12, 31)))


def render_fragment(calendar: BusinessCalendar, years: Sequence[int]) -> str:
    """The YAML fragment: the `feestdagen` time interval, indented for the template's list.

    The template lists its time intervals two spaces in (`  - name: ...`), so the fragment
    does too. Every date is a whole day in the calendar's timezone; a comment names the day.
    """
    country = calendar.holiday_country or "none"
    lines = [
        f"  # Days without business pages {min(years)}–{max(years)}: every Monday–Friday that is",
        f"  # no working day in the norms calendar (public holidays of country {country}, the",
        "  # norms file's closed days). Written by deploy/alertmanager/non_working_days.py from",
        "  # the worker's calendar code: regenerate it yearly, do not edit it.",
        f"  - name: {INTERVAL_NAME}",
        "    time_intervals:",
    ]
    for entry in non_working_days(calendar, years):
        weekday = WEEKDAYS_NL[entry.day.weekday()]
        lines += [
            f"      # {entry.day.isoformat()} {entry.name} ({weekday})",
            f"      - years: ['{entry.day.year}']",
            f"        months: ['{entry.day.month}']",
            f"        days_of_month: ['{entry.day.day}']",
            f"        location: {calendar.timezone}",
        ]
    return "\n".join(lines) + "\n"


def rules_with_end(rules_text: str, end: int) -> str:
    """The rules file with the calendar end set to ``end``."""
    if END_LINE.search(rules_text) is None:
        raise SystemExit(f"{RULES}: no line 'vector(N)  # written by {Path(__file__).name}'")
    return END_LINE.sub(
        f"vector({end})  # written by deploy/alertmanager/non_working_days.py", rules_text
    )


def covered_years(fragment: str) -> tuple[int, ...]:
    """The years a written fragment says it covers (from its first line)."""
    match = re.search(r"Days without business pages (\d{4})–(\d{4})", fragment)
    if match is None:
        return ()
    return tuple(range(int(match.group(1)), int(match.group(2)) + 1))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Write the Alertmanager time interval of days without business pages."
    )
    parser.add_argument(
        "--first-year",
        type=int,
        default=None,
        help="the first year listed (default: this year; with --check: the file's own)",
    )
    parser.add_argument(
        "--norms", type=Path, default=None, help="the norms file (default: shipped)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="the fragment file (default: %(default)s)"
    )
    parser.add_argument(
        "--rules", type=Path, default=RULES, help="the rules file to write the end into"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a file differs from what would be written",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with --check, compare) the fragment and the end; 0 when done or current."""
    args = parse_args(argv)
    calendar = load_norms(args.norms).calendar
    current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
    if args.first_year is not None:
        years = years_from(args.first_year)
    elif args.check and covered_years(current):
        years = covered_years(current)
    else:
        years = years_from(datetime.now().year)
    fragment = render_fragment(calendar, years)
    rules = args.rules.read_text(encoding="utf-8")
    new_rules = rules_with_end(rules, calendar_end(calendar, years))
    if args.check:
        stale = [
            str(p)
            for p, old, new in ((args.out, current, fragment), (args.rules, rules, new_rules))
            if old != new
        ]
        if stale:
            print(
                f"not current for {min(years)}–{max(years)}: {', '.join(stale)}; run "
                ".venv/bin/python deploy/alertmanager/non_working_days.py"
                f" --first-year {min(years)}",
                file=sys.stderr,
            )
            return 1
        print(f"{args.out} and {args.rules} are current ({min(years)}–{max(years)})")
        return 0
    args.out.write_text(fragment, encoding="utf-8")
    args.rules.write_text(new_rules, encoding="utf-8")
    count = len(non_working_days(calendar, years))
    print(
        f"wrote {args.out} ({count} days, {min(years)}–{max(years)}) and the end into {args.rules}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
