"""Tests for streams.core.calendar: working days, local days and working time W(t)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from streams.core.calendar import BusinessCalendar, CalendarError, CalendarRangeError

AMS = ZoneInfo("Europe/Amsterdam")
HOUR = 3600.0


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    """The instant of an Amsterdam wall-clock time (computed by zoneinfo, not the calendar)."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS).timestamp()


def wall(t: float) -> datetime:
    """The Amsterdam wall-clock time of instant ``t``."""
    return datetime.fromtimestamp(t, AMS)


@pytest.fixture(scope="module")
def nl() -> BusinessCalendar:
    return BusinessCalendar()


class TestConstruction:
    """The calendar validates its settings and names the offending field."""

    def test_defaults_are_amsterdam_and_dutch_holidays(self, nl: BusinessCalendar) -> None:
        assert nl.timezone == "Europe/Amsterdam"
        assert nl.holiday_country == "NL"
        assert nl.closed_days == frozenset()
        assert nl.open_days == frozenset()

    @pytest.mark.parametrize("zone", ["Europe/Amsterdan", "", "../etc/passwd", "UTC+2"])
    def test_unknown_timezone(self, zone: str) -> None:
        with pytest.raises(CalendarError, match=r"calendar\.timezone"):
            BusinessCalendar(timezone=zone)

    @pytest.mark.parametrize("country", ["XX", "nl", ""])
    def test_unknown_holiday_country(self, country: str) -> None:
        with pytest.raises(CalendarError, match=r"calendar\.holidays"):
            BusinessCalendar(holidays=country)

    def test_closed_day_that_is_not_a_date(self) -> None:
        with pytest.raises(CalendarError, match=r"calendar\.closed_days"):
            BusinessCalendar(closed_days=["2024-05-10"])  # type: ignore[list-item]

    def test_open_day_that_is_a_datetime(self) -> None:
        with pytest.raises(CalendarError, match=r"calendar\.open_days"):
            BusinessCalendar(open_days=[datetime(2024, 5, 9, tzinfo=AMS)])

    def test_calendar_error_is_a_value_error(self) -> None:
        assert issubclass(CalendarError, ValueError)
        assert issubclass(CalendarRangeError, CalendarError)

    def test_closed_and_open_days_are_kept(self) -> None:
        cal = BusinessCalendar(closed_days=[date(2024, 5, 10)], open_days=[date(2024, 5, 9)])
        assert cal.closed_days == {date(2024, 5, 10)}
        assert cal.open_days == {date(2024, 5, 9)}


class TestWorkingDays:
    """A working day is Monday–Friday, not a holiday, not closed — unless listed as open."""

    def test_weekdays_are_working_days(self, nl: BusinessCalendar) -> None:
        week = [date(2024, 6, 3) + timedelta(days=i) for i in range(7)]  # Monday … Sunday
        assert [nl.is_working_day(d) for d in week] == [True] * 5 + [False] * 2

    @pytest.mark.parametrize(
        "day",
        [
            pytest.param(date(2023, 4, 10), id="Easter Monday 2023"),
            pytest.param(date(2024, 4, 1), id="Easter Monday 2024"),
            pytest.param(date(2023, 4, 27), id="King's Day 2023"),
            pytest.param(date(2023, 5, 18), id="Ascension Day 2023"),
            pytest.param(date(2024, 5, 9), id="Ascension Day 2024"),
            pytest.param(date(2024, 5, 20), id="Pentecost Monday 2024"),
            pytest.param(date(2023, 12, 25), id="Christmas Day 2023"),
            pytest.param(date(2023, 12, 26), id="Second Day of Christmas 2023"),
            pytest.param(date(2024, 12, 25), id="Christmas Day 2024"),
            pytest.param(date(2024, 12, 26), id="Second Day of Christmas 2024"),
            pytest.param(date(2024, 1, 1), id="New Year's Day 2024"),
            pytest.param(date(2025, 1, 1), id="New Year's Day 2025"),
            # the `holidays` package counts Good Friday
            pytest.param(date(2024, 3, 29), id="Good Friday 2024"),
        ],
    )
    def test_weekday_holidays_are_not_working_days(self, nl: BusinessCalendar, day: date) -> None:
        assert day.weekday() < 5
        assert not nl.is_working_day(day)

    def test_kings_day_2025_moves_to_saturday(self, nl: BusinessCalendar) -> None:
        # 27 April 2025 is a Sunday, so King's Day is celebrated on Saturday 26 April: it takes
        # no weekday off instead.
        assert nl.is_working_day(date(2025, 4, 25))
        assert nl.is_working_day(date(2025, 4, 28))

    def test_without_holidays_christmas_is_a_working_day(self) -> None:
        cal = BusinessCalendar(holidays=None)
        assert cal.is_working_day(date(2024, 12, 25))
        assert not cal.is_working_day(date(2024, 12, 28))  # still a Saturday

    def test_closed_day_is_not_a_working_day(self) -> None:
        brugdag = date(2024, 5, 10)  # the Friday after Ascension
        cal = BusinessCalendar(closed_days=[brugdag])
        assert not cal.is_working_day(brugdag)
        assert cal.is_working_day(date(2024, 5, 13))

    def test_open_day_wins_over_holiday_and_closure(self) -> None:
        ascension = date(2024, 5, 9)
        cal = BusinessCalendar(closed_days=[ascension], open_days=[ascension])
        assert cal.is_working_day(ascension)
        assert not BusinessCalendar().is_working_day(ascension)  # a holiday without the listing

    def test_open_day_on_a_saturday(self) -> None:
        cal = BusinessCalendar(open_days=[date(2024, 6, 8)])
        assert cal.is_working_day(date(2024, 6, 8))
        assert not cal.is_working_day(date(2024, 6, 9))

    @pytest.mark.parametrize(
        ("day", "expected"),
        [
            (date(2024, 6, 7), date(2024, 6, 10)),  # Friday -> Monday
            (date(2024, 6, 8), date(2024, 6, 10)),  # Saturday -> Monday
            (date(2024, 6, 4), date(2024, 6, 5)),  # Tuesday -> Wednesday
            (date(2023, 12, 22), date(2023, 12, 27)),  # over Christmas on Monday/Tuesday
            (date(2024, 12, 24), date(2024, 12, 27)),  # over Christmas on Wednesday/Thursday
            (date(2024, 12, 31), date(2025, 1, 2)),  # over New Year
            (date(2024, 3, 28), date(2024, 4, 2)),  # over Good Friday and Easter
            (date(2024, 5, 17), date(2024, 5, 21)),  # over Whit Monday
        ],
    )
    def test_next_working_day(self, nl: BusinessCalendar, day: date, expected: date) -> None:
        assert nl.next_working_day(day) == expected

    def test_working_days_before_counts_from_the_epoch(self, nl: BusinessCalendar) -> None:
        assert nl.working_days_before(date(2000, 1, 1)) == 0
        # Monday 3 June 2024 to Monday 10 June 2024: five working days.
        week = nl.working_days_before(date(2024, 6, 10)) - nl.working_days_before(date(2024, 6, 3))
        assert week == 5


class TestLocalDays:
    """Local days are found in the calendar's timezone, 23, 24 or 25 hours long."""

    def test_local_date_around_midnight(self, nl: BusinessCalendar) -> None:
        assert nl.local_date(at(2024, 6, 4) - 1) == date(2024, 6, 3)
        assert nl.local_date(at(2024, 6, 4)) == date(2024, 6, 4)
        # 23:30 UTC on 3 June is already 4 June in Amsterdam (CEST, +02:00).
        utc = datetime(2024, 6, 3, 23, 30, tzinfo=ZoneInfo("UTC")).timestamp()
        assert nl.local_date(utc) == date(2024, 6, 4)

    def test_local_ordinal_matches_local_date(self, nl: BusinessCalendar) -> None:
        t = at(2024, 6, 4, 12)
        assert nl.local_ordinal(t) == date(2024, 6, 4).toordinal()

    def test_day_start_and_end(self, nl: BusinessCalendar) -> None:
        assert nl.day_start(date(2024, 6, 4)) == at(2024, 6, 4)
        assert nl.day_end(date(2024, 6, 4)) == at(2024, 6, 5)

    @pytest.mark.parametrize(
        ("day", "hours"),
        [
            (date(2023, 3, 26), 23),
            (date(2023, 10, 29), 25),
            (date(2024, 3, 31), 23),
            (date(2024, 10, 27), 25),
            (date(2024, 10, 28), 24),
        ],
    )
    def test_day_length_across_dst(self, nl: BusinessCalendar, day: date, hours: int) -> None:
        assert nl.day_end(day) - nl.day_start(day) == hours * HOUR
        assert wall(nl.day_end(day)).time().hour == 0

    def test_local_date_in_the_repeated_hour(self, nl: BusinessCalendar) -> None:
        # 27 October 2024: 02:00–03:00 happens twice; both readings are still 27 October.
        first = datetime(2024, 10, 27, 2, 30, tzinfo=AMS).timestamp()
        second = datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=AMS).timestamp()
        assert second - first == HOUR
        assert nl.local_date(first) == nl.local_date(second) == date(2024, 10, 27)

    def test_zone_that_skips_midnight(self) -> None:
        # Chile moved 11 September 2022 00:00 to 01:00: that day starts at 01:00 local.
        santiago = ZoneInfo("America/Santiago")
        cal = BusinessCalendar(timezone="America/Santiago", holidays=None)
        start = cal.day_start(date(2022, 9, 11))
        assert start == datetime(2022, 9, 11, 1, 0, tzinfo=santiago).timestamp()
        assert cal.day_end(date(2022, 9, 11)) - start == 23 * HOUR
        assert cal.local_date(start - 1) == date(2022, 9, 10)
        assert cal.local_date(start) == date(2022, 9, 11)


class TestWorkingTime:
    """W(t) stands still on non-working days and rises by one over each working day."""

    def test_rises_by_one_over_a_working_day(self, nl: BusinessCalendar) -> None:
        assert nl.working_time(at(2024, 6, 5)) - nl.working_time(at(2024, 6, 4)) == 1

    def test_fraction_of_the_day(self, nl: BusinessCalendar) -> None:
        monday = nl.working_time(at(2024, 6, 3))
        assert nl.working_time(at(2024, 6, 3, 6)) == pytest.approx(monday + 0.25)
        assert nl.working_time(at(2024, 6, 3, 18)) == pytest.approx(monday + 0.75)

    def test_flat_over_the_weekend(self, nl: BusinessCalendar) -> None:
        friday_end = nl.working_time(at(2024, 6, 8))
        assert nl.working_time(at(2024, 6, 8, 13)) == friday_end
        assert nl.working_time(at(2024, 6, 9, 23, 59)) == friday_end
        assert nl.working_time(at(2024, 6, 10)) == friday_end

    def test_flat_over_a_holiday(self, nl: BusinessCalendar) -> None:
        start = nl.working_time(at(2024, 5, 9))
        assert nl.working_time(at(2024, 5, 9, 15)) == start
        assert nl.working_time(at(2024, 5, 10)) == start

    def test_whole_numbers_at_midnight(self, nl: BusinessCalendar) -> None:
        w = nl.working_time(at(2024, 6, 4))
        assert w == math.floor(w) == nl.working_days_before(date(2024, 6, 4))

    def test_fraction_on_a_23_hour_working_day(self) -> None:
        # Sunday 31 March 2024 (DST starts) made a working day by listing it as open.
        cal = BusinessCalendar(open_days=[date(2024, 3, 31)])
        start = cal.working_time(at(2024, 3, 31))
        noon = datetime(2024, 3, 31, 12, tzinfo=AMS).timestamp()  # 11 hours after midnight
        assert cal.working_time(noon) == pytest.approx(start + 11 / 23)
        assert cal.from_working_time(start + 0.5) == pytest.approx(at(2024, 3, 31) + 11.5 * HOUR)
        assert cal.working_time(at(2024, 4, 1)) == start + 1

    def test_from_working_time_of_a_whole_number_is_end_of_working_day(
        self, nl: BusinessCalendar
    ) -> None:
        thursday = date(2024, 5, 9)  # Ascension: not a working day
        k = nl.working_days_before(thursday)  # = C(Wednesday) + 1
        assert nl.from_working_time(k) == at(2024, 5, 9)  # 24:00 Wednesday, not Thursday
        assert nl.from_working_time(k + 1) == at(2024, 5, 11)  # 24:00 Friday

    def test_from_working_time_of_a_fraction(self, nl: BusinessCalendar) -> None:
        k = nl.working_days_before(date(2024, 6, 4))
        assert nl.from_working_time(k + 0.5) == pytest.approx(at(2024, 6, 4, 12))

    def test_round_trip(self, nl: BusinessCalendar) -> None:
        t = at(2024, 6, 4, 9, 45)
        assert nl.from_working_time(nl.working_time(t)) == pytest.approx(t, abs=1e-6)


class TestRange:
    """The tables grow lazily; outside the supported years the calendar refuses to guess."""

    def test_growing_keeps_the_epoch(self) -> None:
        cal = BusinessCalendar()
        before = cal.working_time(at(2024, 6, 4, 12))
        assert cal.local_date(at(1970, 1, 1, 12)) == date(1970, 1, 1)  # grows backwards
        assert cal.local_date(at(2100, 12, 31, 23, 59)) == date(2100, 12, 31)  # and forwards
        assert cal.working_time(at(2024, 6, 4, 12)) == before
        assert cal.working_time(at(1970, 1, 1, 12)) < 0  # before the 2000 epoch

    def test_from_working_time_grows_the_tables(self) -> None:
        wednesday = date(2090, 6, 14)
        reference = BusinessCalendar()
        assert reference.is_working_day(wednesday)
        k = reference.working_days_before(wednesday) + 1
        cal = BusinessCalendar()  # fresh: its tables do not reach 2090 yet
        assert cal.from_working_time(k) == at(2090, 6, 15)  # 24:00 Wednesday

    def test_date_far_ahead_grows_the_tables(self) -> None:
        cal = BusinessCalendar()
        assert cal.next_working_day(date(2099, 12, 31)) == date(2100, 1, 4)

    @pytest.mark.parametrize("t", [at(2101, 1, 1), at(1960, 1, 1), math.inf, -math.inf, math.nan])
    def test_instant_outside_supported_years(self, nl: BusinessCalendar, t: float) -> None:
        with pytest.raises(CalendarRangeError):
            nl.working_time(t)

    def test_date_outside_supported_years(self, nl: BusinessCalendar) -> None:
        with pytest.raises(CalendarRangeError, match="1966–2100"):
            nl.is_working_day(date(2150, 1, 1))

    def test_working_time_outside_supported_years(self, nl: BusinessCalendar) -> None:
        with pytest.raises(CalendarRangeError):
            nl.from_working_time(1e9)
        with pytest.raises(CalendarRangeError):
            nl.from_working_time(math.nan)

    def test_without_holidays_the_range_is_wider(self) -> None:
        cal = BusinessCalendar(holidays=None)
        assert cal.local_date(at(1950, 7, 1, 12)) == date(1950, 7, 1)
