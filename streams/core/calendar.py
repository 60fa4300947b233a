"""The business calendar: working days, local days and working time in one timezone.

Time is a coordinate here. Instants are UTC epoch seconds (float); days are local calendar days in
the calendar's timezone, which last 23, 24 or 25 hours around a DST change. On top of that the
calendar defines *working time* W(t), measured in working days:

    W(t) = C(d) + (share of day d elapsed at t, if d is a working day, else 0),  d = local date of t

where C(d) counts the working days strictly before d since a fixed epoch (1 January 2000, or the
first year the holiday data covers when that is later; C is negative before the epoch). W is
monotone, flat on non-working days and rises by exactly 1 over each working day, so deadlines,
pauses and "working days taken" become plain arithmetic on W (see ``streams.core.deadlines``).

Why tables: the worker asks for W(t) per event, more than 100k times a second. Asking zoneinfo and
the holiday package each time is far too slow, so the calendar keeps per-day tables (the instant of
every local midnight, the working-day flag and C) for a span of years, answers with ``bisect`` in
O(log n) and never calls zoneinfo on the hot path. The span starts at the epoch and grows lazily,
in steps of whole years, when an instant or date outside it is asked for. The per-year midnights
(per timezone) and holidays (per country) are shared between calendars, so building a second
calendar, or one per test, is cheap.

Supported years are 1900–2200, narrowed to the years the holiday data covers (1966–2100 for NL).
Outside them a holiday-less calendar would be silently wrong, so the calendar raises
``CalendarRangeError`` instead.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_data

__all__ = ["BusinessCalendar", "CalendarError", "CalendarRangeError"]

MIN_YEAR = 1900
MAX_YEAR = 2200
EPOCH_YEAR = 2000
INITIAL_YEARS = 41  # the first table covers the epoch year and the 40 after it
GROWTH_YEARS = 10  # extra years added beyond the one asked for when the table grows


class CalendarError(ValueError):
    """A calendar setting is invalid; the message names the field (``calendar.<field>``)."""


class CalendarRangeError(CalendarError):
    """An instant, date or working time lies outside the years the calendar supports."""


@dataclass(frozen=True, slots=True)
class _Tables:
    """Per-day tables for the local days ``first_year``-01-01 … ``last_year``-12-31.

    Day ``i`` is the date with ordinal ``first_ordinal + i``. ``midnights`` and ``before`` have one
    entry more than there are days: the start of the day after the last, and C of that day.
    Replaced as a whole when the span grows, so a reader never sees half an update.
    """

    first_year: int
    last_year: int
    first_ordinal: int
    days: int
    midnights: list[float]  # instant of local 00:00 of day i
    before: list[int]  # C(day i): working days strictly before it since the epoch
    working: bytes  # 1 when day i is a working day


def _first_local_instant(zone: ZoneInfo, day: date) -> float:
    """The first instant whose local date is ``day``: local 00:00, or the clock change if skipped.

    Amsterdam changes its clocks at 02:00/03:00, so its midnights always exist; some zones (Chile,
    Lebanon, …) skip midnight instead, and then the day starts at the change itself.
    """
    naive = datetime(day.year, day.month, day.day)  # local wall time; the zone is attached below
    first = naive.replace(tzinfo=zone).timestamp()  # fold=0: the earlier reading of 00:00
    other = naive.replace(tzinfo=zone, fold=1).timestamp()
    if other >= first:  # 00:00 exists once, or twice (then the first one counts)
        return first
    # 00:00 falls in a gap: the change lies in [other, first]; find it to the second.
    low, high = math.floor(other), math.ceil(first)
    while low < high:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).date() >= day:
            high = middle
        else:
            low = middle + 1
    return float(low)


@cache
def _year_midnights(zone_name: str, year: int) -> tuple[float, ...]:
    """The first instant of every local day of ``year`` in the zone (shared by all calendars)."""
    zone = ZoneInfo(zone_name)
    first = date(year, 1, 1).toordinal()
    last = date(year, 12, 31).toordinal()
    return tuple(
        _first_local_instant(zone, date.fromordinal(ordinal)) for ordinal in range(first, last + 1)
    )


@cache
def _year_holidays(country: str, year: int) -> Mapping[int, str]:
    """The public holidays of ``country`` in ``year``: date ordinal -> name (package's wording)."""
    found = holiday_data.country_holidays(country, years=year)
    return {day.toordinal(): str(name) for day, name in found.items()}


def _open_zone(timezone: str) -> ZoneInfo:
    """Load the zone, turning zoneinfo's several error types into one ``CalendarError``."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise CalendarError(f"calendar.timezone: unknown time zone {timezone!r}") from error


def _holiday_years(country: str | None) -> tuple[int, int]:
    """The supported years: 1900–2200, narrowed to the years the holiday data covers."""
    if country is None:
        return MIN_YEAR, MAX_YEAR
    try:
        provider = holiday_data.country_holidays(country)
    except (NotImplementedError, KeyError, TypeError) as error:
        raise CalendarError(
            f"calendar.holidays: unknown holiday country {country!r} "
            "(an ISO 3166-1 code the `holidays` package knows, e.g. NL)"
        ) from error
    start = max(MIN_YEAR, int(getattr(provider, "start_year", MIN_YEAR)))
    end = min(MAX_YEAR, int(getattr(provider, "end_year", MAX_YEAR)))
    return start, end


def _day_ordinals(field: str, days: Iterable[date]) -> frozenset[int]:
    """Date ordinals of a closed/open day list; anything but a date is a ``CalendarError``."""
    ordinals = set()
    for day in days:
        if not isinstance(day, date) or isinstance(day, datetime):
            raise CalendarError(f"calendar.{field}: {day!r} is not a date (YYYY-MM-DD)")
        ordinals.add(day.toordinal())
    return frozenset(ordinals)


class BusinessCalendar:
    """Working days and working time in one timezone, with holidays, closed days and open days.

    A working day is Monday–Friday, not a public holiday of ``holidays`` (a country code for the
    `holidays` package; None: no holidays) and not in ``closed_days`` — unless it is listed in
    ``open_days``, which wins over everything (a Saturday listed as open is a working day too).
    The calendar never changes after construction; only its internal tables grow.
    """

    timezone: str
    holiday_country: str | None
    closed_days: frozenset[date]
    open_days: frozenset[date]

    def __init__(
        self,
        timezone: str = "Europe/Amsterdam",
        holidays: str | None = "NL",
        closed_days: Iterable[date] = (),
        open_days: Iterable[date] = (),
    ) -> None:
        _open_zone(timezone)  # validates the name; the tables load the zone by name (cached)
        self.timezone = timezone
        self.holiday_country = holidays
        self._min_year, self._max_year = _holiday_years(holidays)
        self._closed = _day_ordinals("closed_days", closed_days)
        self._open = _day_ordinals("open_days", open_days)
        self.closed_days = frozenset(date.fromordinal(o) for o in self._closed)
        self.open_days = frozenset(date.fromordinal(o) for o in self._open)
        self._epoch_year = min(max(EPOCH_YEAR, self._min_year), self._max_year)
        self._epoch_ordinal = date(self._epoch_year, 1, 1).toordinal()
        self._grow_lock = threading.Lock()
        self._months: dict[int, int] = {}  # local day ordinal -> month number (a few thousand)
        last = min(self._epoch_year + INITIAL_YEARS - 1, self._max_year)
        self._tables = self._build(self._epoch_year, last)

    def __repr__(self) -> str:
        return (
            f"BusinessCalendar(timezone={self.timezone!r}, holidays={self.holiday_country!r}, "
            f"closed_days={len(self._closed)}, open_days={len(self._open)})"
        )

    def supported_span(self) -> tuple[float, float]:
        """[start, end) in UTC epoch seconds of the years this calendar can reason about."""
        return (
            self.day_start(date(self._min_year, 1, 1)),
            self.day_end(date(self._max_year, 12, 31)),
        )

    # -- days ------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a working day (see the class docstring for the rule)."""
        tables, index = self._day(d)
        return bool(tables.working[index])

    def local_date(self, t: float) -> date:
        """The local calendar date of instant ``t``."""
        return date.fromordinal(self.local_ordinal(t))

    def month_number(self, t: float) -> int:
        """The local month of instant ``t`` as year * 12 + month - 1 (months in a row count up)."""
        ordinal = self.local_ordinal(t)
        month = self._months.get(ordinal)
        if month is None:
            d = date.fromordinal(ordinal)
            month = self._months[ordinal] = d.year * 12 + d.month - 1
        return month

    def local_ordinal(self, t: float) -> int:
        """The local date of instant ``t`` as ``date.toordinal()``: a cheap key for memos."""
        tables = self._tables
        index = bisect_right(tables.midnights, t) - 1
        if not 0 <= index < tables.days:
            tables, index = self._instant(t)
        return tables.first_ordinal + index

    def day_start(self, d: date) -> float:
        """The instant of local 00:00 of ``d`` (the first instant of ``d``)."""
        tables, index = self._day(d)
        return tables.midnights[index]

    def day_end(self, d: date) -> float:
        """The instant of local 24:00 of ``d``, which is ``day_start`` of the next day."""
        tables, index = self._day(d)
        return tables.midnights[index + 1]

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        tables, index = self._day(d)
        while True:
            # C rises right after each working day: the first index past d+1 where C exceeds
            # C(d+1) is the day after the next working day.
            after = bisect_right(tables.before, tables.before[index + 1])
            if after <= tables.days:
                return date.fromordinal(tables.first_ordinal + after - 1)
            if tables.last_year >= self._max_year:
                raise CalendarRangeError(
                    f"no working day after {d.isoformat()} before the end of {self._max_year}"
                )
            ordinal = tables.first_ordinal + index
            tables = self._grow(tables.first_year, tables.last_year + GROWTH_YEARS)
            index = ordinal - tables.first_ordinal

    def working_days_before(self, d: date) -> int:
        """C(d): the number of working days strictly before ``d`` since the calendar's epoch."""
        tables, index = self._day(d)
        return tables.before[index]

    # -- working time ----------------------------------------------------------------------

    def working_time(self, t: float) -> float:
        """W(t): working days elapsed at instant ``t`` since the epoch (see the module docs)."""
        tables = self._tables
        midnights = tables.midnights
        index = bisect_right(midnights, t) - 1
        if not 0 <= index < tables.days:
            tables, index = self._instant(t)
            midnights = tables.midnights
        if tables.working[index]:
            start = midnights[index]
            return tables.before[index] + (t - start) / (midnights[index + 1] - start)
        return float(tables.before[index])

    def from_working_time(self, w: float) -> float:
        """The smallest instant t with W(t) >= ``w``.

        For a whole number K that is 24:00 local of the working day d with C(d) = K − 1; a
        fraction lands inside the working day in proportion to its (23, 24 or 25 hour) length.
        """
        tables = self._tables
        before = tables.before
        after = bisect_left(before, w)  # the first day whose start already has W >= w
        if not 0 < after <= tables.days:
            tables, after = self._working_time_index(w)
            before = tables.before
        midnights = tables.midnights
        if before[after] == w or after == 0:
            return midnights[after]
        start = midnights[after - 1]  # day after-1 is a working day with C = before[after] - 1
        return start + (w - before[after - 1]) * (midnights[after] - start)

    # -- tables ----------------------------------------------------------------------------

    def _day(self, d: date) -> tuple[_Tables, int]:
        """The tables covering ``d`` and its index in them, growing them when needed."""
        tables = self._tables
        index = d.toordinal() - tables.first_ordinal
        if 0 <= index < tables.days:
            return tables, index
        self._check_year(d.year, d.isoformat())
        tables = self._grow(min(d.year, tables.first_year), max(d.year, tables.last_year))
        return tables, d.toordinal() - tables.first_ordinal

    def _instant(self, t: float) -> tuple[_Tables, int]:
        """The tables covering instant ``t`` and the index of its local day, growing if needed."""
        tables = self._tables
        index = bisect_right(tables.midnights, t) - 1
        if 0 <= index < tables.days:
            return tables, index
        if not math.isfinite(t):
            raise CalendarRangeError(f"instant {t!r} is not a finite number of seconds")
        try:
            year = datetime.fromtimestamp(t, UTC).year
        except (OverflowError, OSError, ValueError) as error:
            raise CalendarRangeError(f"instant {t!r} is outside the supported years") from error
        # The local year differs from the UTC year only in the first or last hours of a year.
        low = max(min(year - 1, tables.first_year), self._min_year)
        high = min(max(year + 1, tables.last_year), self._max_year)
        tables = self._grow(low, high)
        index = bisect_right(tables.midnights, t) - 1
        if not 0 <= index < tables.days:
            raise CalendarRangeError(
                f"instant {t!r} ({datetime.fromtimestamp(t, UTC).isoformat()}) is outside the "
                f"supported years {self._min_year}–{self._max_year}"
            )
        return tables, index

    def _working_time_index(self, w: float) -> tuple[_Tables, int]:
        """Grow the tables until working time ``w`` is inside them; ``bisect_left`` index of w."""
        if not math.isfinite(w):
            raise CalendarRangeError(f"working time {w!r} is not a finite number")
        tables = self._tables
        while True:
            after = bisect_left(tables.before, w)
            if 0 < after <= tables.days:
                return tables, after
            if after == 0 and tables.first_year > self._min_year:
                tables = self._grow(tables.first_year - GROWTH_YEARS, tables.last_year)
            elif after > tables.days and tables.last_year < self._max_year:
                tables = self._grow(tables.first_year, tables.last_year + GROWTH_YEARS)
            elif after == 0 and tables.before[0] == w:
                return tables, 0  # W(t) is undefined before the supported years
            else:
                raise CalendarRangeError(
                    f"working time {w!r} is outside the supported years "
                    f"{self._min_year}–{self._max_year}"
                )

    def _check_year(self, year: int, what: str) -> None:
        if not self._min_year <= year <= self._max_year:
            raise CalendarRangeError(
                f"{what} is outside the supported years {self._min_year}–{self._max_year}"
            )

    def _grow(self, first_year: int, last_year: int) -> _Tables:
        """Cover at least ``first_year``…``last_year`` (with some spare years), and return it."""
        with self._grow_lock:
            current = self._tables
            if first_year < current.first_year:
                first_year = max(first_year - GROWTH_YEARS, self._min_year)
            if last_year > current.last_year:
                last_year = min(last_year + GROWTH_YEARS, self._max_year)
            first_year = min(first_year, current.first_year)
            last_year = max(last_year, current.last_year)
            if (first_year, last_year) != (current.first_year, current.last_year):
                self._tables = self._build(first_year, last_year)
            return self._tables

    def _build(self, first_year: int, last_year: int) -> _Tables:
        """Build the tables for whole years; the span always contains the epoch."""
        first_year = min(first_year, self._epoch_year)
        last_year = max(last_year, self._epoch_year)
        midnights: list[float] = []
        holidays: set[int] = set()
        for year in range(first_year, last_year + 1):
            midnights.extend(_year_midnights(self.timezone, year))
            if self.holiday_country is not None:
                holidays.update(_year_holidays(self.holiday_country, year))
        midnights.append(_year_midnights(self.timezone, last_year + 1)[0])
        first_ordinal = date(first_year, 1, 1).toordinal()
        days = len(midnights) - 1
        working = bytearray(days)
        count = 0
        counts = [0]
        for index in range(days):
            ordinal = first_ordinal + index
            # Ordinal 1 (0001-01-01) is a Monday, so (ordinal - 1) % 7 is the weekday, Monday = 0.
            if ordinal in self._open or (
                (ordinal - 1) % 7 < 5 and ordinal not in holidays and ordinal not in self._closed
            ):
                working[index] = 1
                count += 1
            counts.append(count)
        at_epoch = counts[self._epoch_ordinal - first_ordinal]
        return _Tables(
            first_year=first_year,
            last_year=last_year,
            first_ordinal=first_ordinal,
            days=days,
            midnights=midnights,
            before=[value - at_epoch for value in counts],
            working=bytes(working),
        )
