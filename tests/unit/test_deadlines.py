"""Tests for streams.core.deadlines: worked examples of contract section 3, "Deadlines, exactly"."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from streams.core.calendar import BusinessCalendar
from streams.core.deadlines import (
    Unit,
    deadline,
    is_at_risk,
    paused_amount,
    working_days_between,
)

AMS = ZoneInfo("Europe/Amsterdam")
HOUR = 3600.0


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    """The instant of an Amsterdam wall-clock time (computed by zoneinfo, not the calendar)."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS).timestamp()


def end_of(year: int, month: int, day: int) -> float:
    """24:00 Amsterdam time of the given day, i.e. 00:00 of the next day."""
    return (
        datetime.fromordinal(date(year, month, day).toordinal() + 1).replace(tzinfo=AMS).timestamp()
    )


@pytest.fixture(scope="module")
def nl() -> BusinessCalendar:
    return BusinessCalendar()


class TestWorkdays:
    """`workdays` N ends at 24:00 local of the N-th working day after the day of opening."""

    def test_contract_example_monday_plus_three(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.WORKDAYS, 3, at(2024, 6, 3, 10)) == end_of(2024, 6, 6)

    @pytest.mark.parametrize(("n", "expected"), [(1, (2024, 6, 10)), (5, (2024, 6, 14))])
    def test_over_a_weekend(
        self, nl: BusinessCalendar, n: int, expected: tuple[int, int, int]
    ) -> None:
        assert deadline(nl, Unit.WORKDAYS, n, at(2024, 6, 7, 16)) == end_of(*expected)

    @pytest.mark.parametrize("opened", [at(2024, 6, 8, 11), at(2024, 6, 9, 11)])
    def test_opened_in_the_weekend_monday_is_day_one(
        self, nl: BusinessCalendar, opened: float
    ) -> None:
        assert deadline(nl, Unit.WORKDAYS, 1, opened) == end_of(2024, 6, 10)
        assert deadline(nl, Unit.WORKDAYS, 3, opened) == end_of(2024, 6, 12)

    def test_friday_2359_and_saturday_0000(self, nl: BusinessCalendar) -> None:
        friday_late = at(2024, 6, 7, 23, 59)
        assert deadline(nl, Unit.WORKDAYS, 1, friday_late) == end_of(2024, 6, 10)
        assert deadline(nl, Unit.WORKDAYS, 1, at(2024, 6, 8)) == end_of(2024, 6, 10)

    def test_sunday_2359_and_monday_0000(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.WORKDAYS, 1, at(2024, 6, 9, 23, 59)) == end_of(2024, 6, 10)
        assert deadline(nl, Unit.WORKDAYS, 1, at(2024, 6, 10)) == end_of(2024, 6, 11)

    def test_kings_day_2023_on_thursday(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.WORKDAYS, 1, at(2023, 4, 26, 9)) == end_of(2023, 4, 28)

    def test_kings_day_2025_on_saturday_changes_nothing(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.WORKDAYS, 1, at(2025, 4, 25, 9)) == end_of(2025, 4, 28)

    def test_good_friday_and_easter_monday_2024(self, nl: BusinessCalendar) -> None:
        # Thursday 28 March; Good Friday 29 March and Easter Monday 1 April are holidays.
        assert deadline(nl, Unit.WORKDAYS, 1, at(2024, 3, 28, 9)) == end_of(2024, 4, 2)

    def test_easter_monday_2023(self, nl: BusinessCalendar) -> None:
        # Thursday 6 April; Good Friday 7 April and Easter Monday 10 April are holidays.
        assert deadline(nl, Unit.WORKDAYS, 2, at(2023, 4, 6, 9)) == end_of(2023, 4, 12)

    def test_ascension_2024(self, nl: BusinessCalendar) -> None:
        # Monday 6 May + 3: Tuesday, Wednesday, (Ascension Thursday 9 May), Friday.
        assert deadline(nl, Unit.WORKDAYS, 3, at(2024, 5, 6, 10)) == end_of(2024, 5, 10)

    def test_ascension_2023(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.WORKDAYS, 1, at(2023, 5, 17, 14)) == end_of(2023, 5, 19)

    def test_whit_monday_2024(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.WORKDAYS, 1, at(2024, 5, 17, 14)) == end_of(2024, 5, 21)

    def test_christmas_2023(self, nl: BusinessCalendar) -> None:
        # Friday 22 December; Christmas falls on Monday 25 and Tuesday 26.
        assert deadline(nl, Unit.WORKDAYS, 1, at(2023, 12, 22, 11)) == end_of(2023, 12, 27)

    def test_christmas_2024(self, nl: BusinessCalendar) -> None:
        # Tuesday 24 December; Christmas on Wednesday and Thursday; day 1 Friday, day 2 Monday.
        assert deadline(nl, Unit.WORKDAYS, 2, at(2024, 12, 24, 11)) == end_of(2024, 12, 30)

    def test_new_year(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.WORKDAYS, 1, at(2024, 12, 31, 11)) == end_of(2025, 1, 2)

    def test_brugdag_listed_as_closed(self) -> None:
        cal = BusinessCalendar(closed_days=[date(2024, 5, 10)])
        assert deadline(cal, Unit.WORKDAYS, 3, at(2024, 5, 6, 10)) == end_of(2024, 5, 13)

    def test_holiday_listed_as_open(self) -> None:
        cal = BusinessCalendar(open_days=[date(2024, 5, 9)])
        assert deadline(cal, Unit.WORKDAYS, 3, at(2024, 5, 6, 10)) == end_of(2024, 5, 9)

    def test_calendars_do_not_share_memos(self, nl: BusinessCalendar) -> None:
        closed = BusinessCalendar(closed_days=[date(2024, 5, 10)])
        opened = at(2024, 5, 6, 10)
        for _ in range(2):
            assert deadline(nl, Unit.WORKDAYS, 3, opened) == end_of(2024, 5, 10)
            assert deadline(closed, Unit.WORKDAYS, 3, opened) == end_of(2024, 5, 13)

    @pytest.mark.parametrize(
        ("opened", "expected", "offset_hours"),
        [
            # Across the start of summer time (the change is on the Sunday in between).
            (at(2023, 3, 24, 10), end_of(2023, 3, 27), 2),
            (at(2024, 3, 28, 10), end_of(2024, 4, 2), 2),
            # Across the end of summer time.
            (at(2023, 10, 27, 10), end_of(2023, 10, 30), 1),
            (at(2024, 10, 25, 10), end_of(2024, 10, 28), 1),
        ],
    )
    def test_across_dst_still_ends_at_local_midnight(
        self, nl: BusinessCalendar, opened: float, expected: float, offset_hours: int
    ) -> None:
        due = deadline(nl, Unit.WORKDAYS, 1, opened)
        assert due == expected
        local = datetime.fromtimestamp(due, AMS)
        assert (local.hour, local.minute) == (0, 0)
        assert local.utcoffset() == timedelta(hours=offset_hours)

    def test_zero_workdays_ends_the_opening_day(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.WORKDAYS, 0, at(2024, 6, 3, 10)) == end_of(2024, 6, 3)

    def test_zero_workdays_on_a_saturday_is_due_at_once(self, nl: BusinessCalendar) -> None:
        opened = at(2024, 6, 8, 10)
        assert deadline(nl, Unit.WORKDAYS, 0, opened) == opened

    def test_float_within_is_accepted(self, nl: BusinessCalendar) -> None:
        opened = at(2024, 6, 3, 10)
        assert deadline(nl, Unit.WORKDAYS, 3.0, opened) == deadline(nl, Unit.WORKDAYS, 3, opened)

    def test_unit_given_as_its_string_value(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit("workdays"), 3, at(2024, 6, 3, 10)) == end_of(2024, 6, 6)


class TestCalendarDaysAndWeeks:
    """`calendar_days` and `weeks` end with the day N (7N) days on, or the next working day."""

    def test_lands_on_a_working_day(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.CALENDAR_DAYS, 3, at(2024, 6, 3, 10)) == end_of(2024, 6, 6)

    def test_lands_on_a_saturday(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.CALENDAR_DAYS, 5, at(2024, 6, 3, 10)) == end_of(2024, 6, 10)

    def test_lands_on_christmas(self, nl: BusinessCalendar) -> None:
        # Monday 23 December + 2 days = Christmas Day; Boxing Day too, so Friday 27 December.
        assert deadline(nl, Unit.CALENDAR_DAYS, 2, at(2024, 12, 23, 9)) == end_of(2024, 12, 27)

    def test_counts_from_a_weekend_opening_day(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.CALENDAR_DAYS, 3, at(2024, 6, 8, 10)) == end_of(2024, 6, 11)

    def test_opened_at_2359_counts_from_that_day(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.CALENDAR_DAYS, 1, at(2024, 6, 3, 23, 59)) == end_of(2024, 6, 4)
        assert deadline(nl, Unit.CALENDAR_DAYS, 1, at(2024, 6, 4)) == end_of(2024, 6, 5)

    def test_six_weeks_klacht_afhandeling(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.WEEKS, 6, at(2024, 1, 10, 15)) == end_of(2024, 2, 21)

    def test_six_weeks_landing_on_whit_monday(self, nl: BusinessCalendar) -> None:
        # Monday 8 April + 6 weeks = Whit Monday 20 May 2024, so Tuesday 21 May.
        assert deadline(nl, Unit.WEEKS, 6, at(2024, 4, 8, 15)) == end_of(2024, 5, 21)

    def test_one_week_landing_on_easter_monday(self, nl: BusinessCalendar) -> None:
        assert deadline(nl, Unit.WEEKS, 1, at(2024, 3, 25, 15)) == end_of(2024, 4, 2)

    def test_closed_day_counts_as_a_day_but_not_as_the_last(self) -> None:
        cal = BusinessCalendar(closed_days=[date(2024, 5, 10)])
        # Tuesday 7 May + 3 = Friday 10 May (closed) -> Monday 13 May.
        assert deadline(cal, Unit.CALENDAR_DAYS, 3, at(2024, 5, 7, 9)) == end_of(2024, 5, 13)

    def test_fractional_days_are_refused(self, nl: BusinessCalendar) -> None:
        with pytest.raises(ValueError, match="whole number of days"):
            deadline(nl, Unit.CALENDAR_DAYS, 2.5, at(2024, 6, 3, 10))


class TestElapsedUnits:
    """`hours` and `seconds` add the exact elapsed duration to the opening instant."""

    def test_seconds(self, nl: BusinessCalendar) -> None:
        opened = at(2024, 6, 3, 10)
        assert deadline(nl, Unit.SECONDS, 30, opened) == opened + 30

    def test_hours_ignore_weekends(self, nl: BusinessCalendar) -> None:
        opened = at(2024, 6, 7, 20)
        assert deadline(nl, Unit.HOURS, 24, opened) == at(2024, 6, 8, 20)

    def test_hours_across_start_of_summer_time(self, nl: BusinessCalendar) -> None:
        opened = at(2024, 3, 30, 22)
        due = deadline(nl, Unit.HOURS, 6, opened)
        assert due - opened == 6 * HOUR
        assert due == at(2024, 3, 31, 5)  # seven hours later on the wall clock

    def test_hours_across_end_of_summer_time(self, nl: BusinessCalendar) -> None:
        opened = at(2023, 10, 28, 22)
        due = deadline(nl, Unit.HOURS, 6, opened)
        assert due - opened == 6 * HOUR
        assert due == at(2023, 10, 29, 3)  # five hours later on the wall clock


class TestPauses:
    """A pause moves the deadline later: working time for workdays, elapsed time otherwise."""

    def test_pause_over_a_weekend_costs_no_working_time(self, nl: BusinessCalendar) -> None:
        assert paused_amount(nl, Unit.WORKDAYS, at(2024, 6, 8, 9), at(2024, 6, 10)) == 0.0

    def test_pause_friday_noon_to_monday_noon_is_one_working_day(
        self, nl: BusinessCalendar
    ) -> None:
        pause = paused_amount(nl, Unit.WORKDAYS, at(2024, 6, 7, 12), at(2024, 6, 10, 12))
        assert pause == pytest.approx(1.0)

    def test_workdays_deadline_moves_by_whole_days(self, nl: BusinessCalendar) -> None:
        opened = at(2024, 6, 3, 10)
        assert deadline(nl, Unit.WORKDAYS, 3, opened, paused=1.0) == end_of(2024, 6, 7)
        assert deadline(nl, Unit.WORKDAYS, 3, opened, paused=2.0) == end_of(2024, 6, 10)

    def test_workdays_deadline_moves_into_a_day(self, nl: BusinessCalendar) -> None:
        due = deadline(nl, Unit.WORKDAYS, 3, at(2024, 6, 3, 10), paused=0.5)
        assert due == pytest.approx(at(2024, 6, 7, 12))

    def test_workdays_pause_skips_a_holiday(self, nl: BusinessCalendar) -> None:
        # Base deadline end of Wednesday 8 May; one more working day skips Ascension.
        opened = at(2024, 5, 6, 10)
        assert deadline(nl, Unit.WORKDAYS, 2, opened, paused=1.0) == end_of(2024, 5, 10)

    def test_elapsed_pause_for_hours(self, nl: BusinessCalendar) -> None:
        opened = at(2024, 6, 3, 10)
        pause = paused_amount(nl, Unit.HOURS, at(2024, 6, 3, 11), at(2024, 6, 3, 13, 30))
        assert pause == 2.5 * HOUR
        assert deadline(nl, Unit.HOURS, 4, opened, paused=pause) == at(2024, 6, 3, 16, 30)

    def test_a_paused_weeks_deadline_on_a_weekend_moves_to_the_next_working_day(
        self, nl: BusinessCalendar
    ) -> None:
        # 6 weeks from Wednesday 10 January: the end of Wednesday 21 February; plus 72 hours paused
        # is Saturday 24 February 24:00 — a non-working day, so the end of Monday 26 February
        pause = paused_amount(nl, Unit.WEEKS, at(2024, 1, 12, 9), at(2024, 1, 15, 9))
        assert pause == 3 * 24 * HOUR
        due = deadline(nl, Unit.WEEKS, 6, at(2024, 1, 10, 15), paused=pause)
        assert due == end_of(2024, 2, 26)

    def test_a_paused_weeks_deadline_on_a_working_day_is_the_exact_moment(
        self, nl: BusinessCalendar
    ) -> None:
        # 30 hours paused: Friday 23 February 06:00, a working day — the moment itself
        due = deadline(nl, Unit.WEEKS, 6, at(2024, 1, 10, 15), paused=30 * HOUR)
        assert due == end_of(2024, 2, 21) + 30 * HOUR
        assert due == at(2024, 2, 23, 6)

    def test_a_paused_calendar_days_deadline_ending_at_midnight_belongs_to_the_day_before(
        self, nl: BusinessCalendar
    ) -> None:
        # 10 calendar days from Monday 3 June: the end of Thursday 13 June; 24 h paused ends at
        # Friday 14 June 24:00, which is the end of a working day, so it stays there
        due = deadline(nl, Unit.CALENDAR_DAYS, 10, at(2024, 6, 3, 10), paused=24 * HOUR)
        assert due == end_of(2024, 6, 14)

    @pytest.mark.parametrize("unit", [Unit.WORKDAYS, Unit.SECONDS])
    def test_pause_that_ends_before_it_starts_counts_zero(
        self, nl: BusinessCalendar, unit: Unit
    ) -> None:
        assert paused_amount(nl, unit, at(2024, 6, 3, 11), at(2024, 6, 3, 10)) == 0.0

    @pytest.mark.parametrize(("within", "paused"), [(-1, 0.0), (3, -0.5), (math.nan, 0.0)])
    def test_negative_or_nan_amounts(
        self, nl: BusinessCalendar, within: float, paused: float
    ) -> None:
        with pytest.raises(ValueError, match="finite and >= 0"):
            deadline(nl, Unit.WORKDAYS, within, at(2024, 6, 3, 10), paused=paused)


class TestWorkingDaysBetween:
    """Durations in working days are differences of working time."""

    def test_one_working_day(self, nl: BusinessCalendar) -> None:
        assert working_days_between(nl, at(2024, 6, 3, 10), at(2024, 6, 4, 10)) == pytest.approx(1)

    def test_over_a_weekend(self, nl: BusinessCalendar) -> None:
        taken = working_days_between(nl, at(2024, 6, 7, 18), at(2024, 6, 10, 6))
        assert taken == pytest.approx(0.5)

    def test_over_a_holiday(self, nl: BusinessCalendar) -> None:
        taken = working_days_between(nl, at(2024, 5, 8, 12), at(2024, 5, 10, 12))
        assert taken == pytest.approx(1.0)

    def test_negative_when_reversed(self, nl: BusinessCalendar) -> None:
        assert working_days_between(nl, at(2024, 6, 4), at(2024, 6, 3)) == -1


class TestAtRisk:
    """At risk: the deadline has not passed and is at most one working day away."""

    def test_more_than_one_working_day_away(self, nl: BusinessCalendar) -> None:
        due = end_of(2024, 6, 6)  # end of Thursday
        assert not is_at_risk(nl, due, at(2024, 6, 5, 23))

    def test_exactly_one_working_day_away(self, nl: BusinessCalendar) -> None:
        assert is_at_risk(nl, end_of(2024, 6, 6), at(2024, 6, 6))

    def test_within_the_last_working_day(self, nl: BusinessCalendar) -> None:
        assert is_at_risk(nl, end_of(2024, 6, 6), at(2024, 6, 6, 10))

    def test_a_passed_deadline_is_overdue_not_at_risk(self, nl: BusinessCalendar) -> None:
        due = end_of(2024, 6, 6)
        assert not is_at_risk(nl, due, due)
        assert not is_at_risk(nl, due, due + 1)

    def test_weekend_before_a_monday_deadline(self, nl: BusinessCalendar) -> None:
        due = end_of(2024, 6, 10)  # end of Monday
        assert not is_at_risk(nl, due, at(2024, 6, 7, 12))
        assert is_at_risk(nl, due, at(2024, 6, 8, 12))
