"""Property tests for the calendar's working time and the deadline rules (hypothesis)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.calendar import BusinessCalendar
from streams.core.deadlines import Unit, deadline, paused_amount

AMS = ZoneInfo("Europe/Amsterdam")
NL = BusinessCalendar()
# Brugdagen closed, one holiday and one Saturday open: the rules must hold for any calendar.
CUSTOM = BusinessCalendar(
    closed_days=[date(2024, 5, 10), date(2025, 5, 30), date(2030, 12, 27)],
    open_days=[date(2024, 5, 9), date(2025, 6, 7)],
)
CALENDARS = st.sampled_from([NL, CUSTOM])

FIRST = datetime(1970, 1, 1, tzinfo=AMS).timestamp()
LAST = datetime(2100, 3, 31, tzinfo=AMS).timestamp()  # leaves room for deadlines within 2100
MICROSECOND = 1_000_000


def instants_between(low: float, high: float) -> st.SearchStrategy[float]:
    """Instants on whole microseconds: zoneinfo (via datetime) rounds anything finer, so an
    instant a fraction of a microsecond before midnight would already be "tomorrow" for it."""
    return st.integers(round(low * MICROSECOND), round(high * MICROSECOND)).map(
        lambda us: us / MICROSECOND
    )


def _local(year: int, month: int, day: int, hour: int = 0) -> float:
    return datetime(year, month, day, hour, tzinfo=AMS).timestamp()


# Local midnights around the 2023 and 2024 DST changes and holidays, and the changes themselves.
EDGES = [
    _local(2023, 3, 26),
    _local(2023, 3, 26, 3),
    _local(2023, 3, 27),
    _local(2023, 10, 29),
    _local(2023, 10, 29, 2),
    _local(2023, 10, 30),
    _local(2023, 12, 25),
    _local(2024, 3, 31),
    _local(2024, 3, 31, 3),
    _local(2024, 4, 1),
    _local(2024, 5, 9),
    _local(2024, 10, 27),
    _local(2024, 10, 27, 2),
    _local(2024, 10, 28),
    _local(2025, 4, 26),
]
NEAR_EDGES = st.builds(
    lambda edge, offset: edge + offset,
    st.sampled_from(EDGES),
    st.integers(-7200 * MICROSECOND, 7200 * MICROSECOND).map(lambda us: us / MICROSECOND),
)
SOME_INSTANTS = st.one_of(
    instants_between(FIRST, LAST),
    instants_between(_local(2023, 1, 1), _local(2025, 12, 31)),
    NEAR_EDGES,
)
DAY_UNITS = st.sampled_from([Unit.WORKDAYS, Unit.CALENDAR_DAYS, Unit.WEEKS])
ELAPSED_UNITS = st.sampled_from([Unit.HOURS, Unit.SECONDS])
FAST = settings(max_examples=200, deadline=None)


def local_midnight_ends_working_day(cal: BusinessCalendar, t: float) -> bool:
    """Whether ``t`` is 00:00 local and the local day before it is a working day."""
    wall = datetime.fromtimestamp(t, AMS)
    return (wall.hour, wall.minute, wall.second, wall.microsecond) == (0, 0, 0, 0) and (
        cal.is_working_day(wall.date() - timedelta(days=1))
    )


class TestDeadlineProperties:
    """Deadlines never precede the opening, only move later with pauses, and end working days."""

    @FAST
    @given(cal=CALENDARS, unit=DAY_UNITS, within=st.integers(0, 20), opened=SOME_INSTANTS)
    def test_day_deadline_not_before_opening(
        self, cal: BusinessCalendar, unit: Unit, within: int, opened: float
    ) -> None:
        assert deadline(cal, unit, within, opened) >= opened

    @FAST
    @given(
        cal=CALENDARS,
        unit=ELAPSED_UNITS,
        within=st.floats(0, 1e6, allow_nan=False),
        opened=SOME_INSTANTS,
    )
    def test_elapsed_deadline_not_before_opening(
        self, cal: BusinessCalendar, unit: Unit, within: float, opened: float
    ) -> None:
        assert deadline(cal, unit, within, opened) >= opened

    @FAST
    @given(
        cal=CALENDARS,
        unit=st.sampled_from(list(Unit)),
        within=st.integers(0, 20),
        opened=SOME_INSTANTS,
        first=st.floats(0, 20, allow_nan=False),
        more=st.floats(0, 20, allow_nan=False),
    )
    def test_more_pause_never_moves_a_deadline_earlier(
        self,
        *,
        cal: BusinessCalendar,
        unit: Unit,
        within: int,
        opened: float,
        first: float,
        more: float,
    ) -> None:
        scale = 1.0 if unit == Unit.WORKDAYS else 86400.0  # working days vs seconds
        shorter = deadline(cal, unit, within, opened, paused=first * scale)
        longer = deadline(cal, unit, within, opened, paused=(first + more) * scale)
        if unit in (Unit.CALENDAR_DAYS, Unit.WEEKS):
            # The contract moves a paused day deadline that lands on a non-working day to the end
            # of the next working day; a longer pause landing on that working day itself can end
            # earlier than that. It never ends before the unmoved moment of the shorter pause.
            base = deadline(cal, unit, within, opened)
            assert longer >= base + first * scale
            assert longer >= base + (first + more) * scale
        else:
            assert longer >= shorter

    @FAST
    @given(cal=CALENDARS, within=st.integers(1, 40), opened=SOME_INSTANTS)
    def test_workdays_deadline_ends_the_nth_working_day(
        self, cal: BusinessCalendar, within: int, opened: float
    ) -> None:
        due = deadline(cal, Unit.WORKDAYS, within, opened)
        assert local_midnight_ends_working_day(cal, due)
        # Count the working days after the opening day one by one, without working time.
        opened_on = datetime.fromtimestamp(opened, AMS).date()
        last_day = datetime.fromtimestamp(due, AMS).date() - timedelta(days=1)
        days = (last_day - opened_on).days
        counted = sum(cal.is_working_day(opened_on + timedelta(days=i)) for i in range(1, days + 1))
        assert counted == within

    @FAST
    @given(
        cal=CALENDARS,
        unit=st.sampled_from([Unit.CALENDAR_DAYS, Unit.WEEKS]),
        within=st.integers(0, 12),
        opened=SOME_INSTANTS,
    )
    def test_calendar_deadline_ends_the_first_working_day_from_day_n(
        self, cal: BusinessCalendar, unit: Unit, within: int, opened: float
    ) -> None:
        due = deadline(cal, unit, within, opened)
        assert local_midnight_ends_working_day(cal, due)
        day_n = datetime.fromtimestamp(opened, AMS).date() + timedelta(
            days=within * (7 if unit == Unit.WEEKS else 1)
        )
        last_day = datetime.fromtimestamp(due, AMS).date() - timedelta(days=1)
        assert last_day >= day_n
        skipped = (day_n + timedelta(days=i) for i in range((last_day - day_n).days))
        assert not any(cal.is_working_day(d) for d in skipped)

    @FAST
    @given(cal=CALENDARS, start=SOME_INSTANTS, length=st.floats(0, 30 * 86400.0))
    def test_workdays_pause_is_at_most_the_elapsed_days(
        self, cal: BusinessCalendar, start: float, length: float
    ) -> None:
        pause = paused_amount(cal, Unit.WORKDAYS, start, start + length)
        assert 0 <= pause <= length / 86400.0 * 1.05 + 1e-9  # a day is at least 23 hours


class TestWorkingTimeProperties:
    """W is monotone, flat off working days, and from_working_time is its left inverse."""

    @FAST
    @given(cal=CALENDARS, a=SOME_INSTANTS, b=SOME_INSTANTS)
    def test_monotone(self, cal: BusinessCalendar, a: float, b: float) -> None:
        low, high = min(a, b), max(a, b)
        assert cal.working_time(low) <= cal.working_time(high)

    @FAST
    @given(cal=CALENDARS, t=SOME_INSTANTS)
    def test_rises_by_one_over_each_working_day(self, cal: BusinessCalendar, t: float) -> None:
        day = cal.local_date(t)
        start, end = cal.day_start(day), cal.day_end(day)
        rise = cal.working_time(end) - cal.working_time(start)
        assert rise == (1 if cal.is_working_day(day) else 0)
        assert cal.working_time(start) <= cal.working_time(t) <= cal.working_time(end)

    @FAST
    @given(cal=CALENDARS, t=SOME_INSTANTS)
    def test_from_working_time_of_working_time_is_not_later(
        self, cal: BusinessCalendar, t: float
    ) -> None:
        # Float rounding of W (about 1e-12 working days) allows a microsecond of slack.
        assert cal.from_working_time(cal.working_time(t)) <= t + 1e-6

    @FAST
    @given(cal=CALENDARS, fraction=st.floats(0, 1))
    def test_working_time_of_from_working_time(
        self, cal: BusinessCalendar, fraction: float
    ) -> None:
        low, high = cal.working_time(FIRST), cal.working_time(LAST)
        w = low + fraction * (high - low)
        assert abs(cal.working_time(cal.from_working_time(w)) - w) <= 1e-6

    @FAST
    @given(cal=CALENDARS, k=st.integers(0, 100), start=SOME_INSTANTS)
    def test_whole_working_time_is_a_local_midnight(
        self, cal: BusinessCalendar, k: int, start: float
    ) -> None:
        w = round(cal.working_time(start)) + k
        assert local_midnight_ends_working_day(cal, cal.from_working_time(w))

    @FAST
    @given(t=SOME_INSTANTS)
    def test_local_date_agrees_with_zoneinfo(self, t: float) -> None:
        assert NL.local_date(t) == datetime.fromtimestamp(t, AMS).date()
        assert NL.day_start(NL.local_date(t)) <= t < NL.day_end(NL.local_date(t))
