"""Write the Alertmanager time interval that mutes business pages on Dutch public holidays.

Alertmanager knows weekdays and clock times, but not holidays, so the days themselves go into
its configuration: one `time_intervals` entry, `feestdagen`, with one sub-interval per date (a
whole day in Europe/Amsterdam). The dates come from the `holidays` package with the same
country and categories the norms' business calendar uses (streams/core/calendar.py), so a day
the monitor does not count as a working day is also a day without business pages.

The output is a YAML fragment (deploy/alertmanager/holidays.yml) that deploy/alertmanager.sh
splices into the configuration template where the line `# @FEESTDAGEN@` stands. Regenerate it
each year, and check that it is current with `--check` (the tests do):

    python deploy/alertmanager/holidays.py                      # 2026 and 2027
    python deploy/alertmanager/holidays.py --years 2027 2028
    python deploy/alertmanager/holidays.py --check
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent

COUNTRY = "NL"
LANGUAGE = "nl"
LOCATION = "Europe/Amsterdam"
INTERVAL_NAME = "feestdagen"
DEFAULT_YEARS = (2026, 2027)
DEFAULT_OUT = HERE / "holidays.yml"

WEEKDAYS_NL = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")


@dataclass(frozen=True)
class Holiday:
    """One public holiday: its date and its Dutch name as the `holidays` package spells it."""

    day: date
    name: str


def holidays_package() -> ModuleType:
    """The `holidays` package, found past this file of the same name.

    Run as a script, Python puts this file's directory first on sys.path, where this very
    file would shadow the package; that entry is dropped before the import.
    """
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
    return importlib.import_module("holidays")


def public_holidays(years: Iterable[int]) -> list[Holiday]:
    """The Dutch public holidays of `years`, in date order."""
    found = holidays_package().country_holidays(
        COUNTRY, years=sorted(set(years)), language=LANGUAGE
    )
    return [Holiday(day, str(name)) for day, name in sorted(found.items())]


def render_fragment(years: Sequence[int]) -> str:
    """The YAML fragment: the `feestdagen` time interval, indented for the template's list.

    The template lists its time intervals two spaces in (`  - name: ...`), so the fragment
    does too. Every date is a whole day in Europe/Amsterdam; a comment names the holiday.
    """
    span = f"{min(years)}–{max(years)}" if len(set(years)) > 1 else f"{years[0]}"
    lines = [
        f"  # Dutch public holidays {span} (the `holidays` package, country {COUNTRY}): business",
        "  # pages stay muted on these days. Written by deploy/alertmanager/holidays.py:",
        "  # regenerate it (python deploy/alertmanager/holidays.py --years ...), do not edit it.",
        f"  - name: {INTERVAL_NAME}",
        "    time_intervals:",
    ]
    for holiday in public_holidays(years):
        weekday = WEEKDAYS_NL[holiday.day.weekday()]
        lines += [
            f"      # {holiday.day.isoformat()} {holiday.name} ({weekday})",
            f"      - years: ['{holiday.day.year}']",
            f"        months: ['{holiday.day.month}']",
            f"        days_of_month: ['{holiday.day.day}']",
            f"        location: {LOCATION}",
        ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: the years, where to write, and whether only to check."""
    parser = argparse.ArgumentParser(
        description="Write the Alertmanager time interval of Dutch public holidays."
    )
    parser.add_argument(
        "--years",
        type=int,
        nargs="+",
        default=list(DEFAULT_YEARS),
        help="the years to list (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="the fragment file (default: %(default)s)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the file differs from what would be written",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with --check, compare) the fragment; 0 when done or current, 1 when stale."""
    args = parse_args(argv)
    fragment = render_fragment(args.years)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != fragment:
            years = " ".join(map(str, args.years))
            print(
                f"{args.out} is not current for {years}: "
                f"run python deploy/alertmanager/holidays.py --years {years}",
                file=sys.stderr,
            )
            return 1
        print(f"{args.out} is current")
        return 0
    args.out.write_text(fragment, encoding="utf-8")
    print(f"wrote {args.out} ({len(public_holidays(args.years))} holidays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
