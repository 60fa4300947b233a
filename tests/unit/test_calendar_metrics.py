"""The calendar gauges the alert rules read: working day today, and working-day lookbacks."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from streams.calendar_metrics import CalendarCollector, working_days_back
from streams.core.calendar import BusinessCalendar

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM).timestamp()


CALENDAR = BusinessCalendar(closed_days=[date(2026, 5, 15)])  # the Friday after Ascension Day


@pytest.mark.parametrize(
    ("moment", "n", "days"),
    [
        (at(2026, 3, 4), 1, 1),  # Wednesday: Tuesday
        (at(2026, 3, 4), 2, 2),  # Wednesday: Monday
        (at(2026, 3, 4), 3, 5),  # Wednesday: the Friday before
        (at(2026, 3, 2), 1, 3),  # Monday: Friday
        (at(2026, 3, 2, 0, 0), 1, 3),  # Monday at midnight is Monday already
        (at(2026, 3, 1, 23, 59), 1, 2),  # Sunday evening: Friday
        (at(2026, 3, 7), 1, 1),  # Saturday: Friday
        (at(2026, 4, 7), 1, 5),  # Tuesday after Easter Monday: Thursday (Good Friday is off too)
        (at(2026, 5, 18), 1, 5),  # Monday after Ascension Day and the closed Friday: Wednesday
        (at(2026, 3, 4), 10, 14),
    ],
)
def test_lookback(moment: float, n: int, days: int) -> None:
    assert working_days_back(CALENDAR, moment, n) == days


def exposition(moment: float) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CalendarCollector(CALENDAR, now=lambda: moment))
    return generate_latest(registry).decode()


def test_exposition_on_a_working_day() -> None:
    text = exposition(at(2026, 4, 7))
    assert "contact_calendar_working_day 1.0" in text
    assert 'contact_calendar_lookback_days{working_days="1"} 5.0' in text
    assert 'contact_calendar_lookback_days{working_days="10"} 18.0' in text


@pytest.mark.parametrize(
    "moment",
    [
        at(2026, 4, 6),  # Easter Monday
        at(2026, 5, 15),  # a closed day of the norms file
        at(2026, 3, 7),  # Saturday
        at(2026, 3, 2, 0, 30) - 3600,  # Sunday 23:30
    ],
)
def test_not_a_working_day(moment: float) -> None:
    assert "contact_calendar_working_day 0.0" in exposition(moment)


def test_an_open_day_is_a_working_day() -> None:
    calendar = BusinessCalendar(open_days=[date(2026, 4, 6)])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CalendarCollector(calendar, now=lambda: at(2026, 4, 6)))
    text = generate_latest(registry).decode()
    assert "contact_calendar_working_day 1.0" in text
    assert 'contact_calendar_lookback_days{working_days="1"} 4.0' in text  # Thursday 2 April
