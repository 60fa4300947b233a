"""Deadline arithmetic for norms (contract section 3, "Deadlines, exactly").

Every function takes the calendar and instants (UTC epoch seconds) and returns instants or working
time; nothing here reads a clock. The rules:

- ``workdays`` N: the end (24:00 local) of the N-th working day after the day of opening. With
  W the calendar's working time and d0 the local opening date, the target is
  K = C(d0) + (1 if d0 is a working day) + N and the deadline is the first instant with W >= K.
  Opened Monday 10:00 with N=3: the end of Thursday. Opened on a Saturday: Monday is day 1.
- ``calendar_days`` N and ``weeks`` N: the end of the day N (7·N) days after the day of opening;
  when that is not a working day, the end of the next working day (Algemene termijnenwet, art. 1).
- ``hours`` and ``seconds``: the opening instant plus the duration.
- Pauses move the deadline later by the paused time, measured exactly (contract section 3,
  clarifications of December 2026): working time W(resume) − W(pause) for ``workdays`` (a pause
  over a weekend or a holiday costs nothing), elapsed seconds for every other unit. For
  ``calendar_days`` and ``weeks`` the paused time is added to the Algemene termijnenwet deadline,
  and when that moment falls on a non-working day it moves to the end of the next working day.

Day-based deadlines depend only on the local opening date, so they are memoised per calendar
settings, keyed by (date ordinal, N): on the hot path a deadline is one bisect and one dict lookup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from streams.core.calendar import BusinessCalendar

__all__ = [
    "Unit",
    "deadline",
    "is_at_risk",
    "paused_amount",
    "working_days_between",
]

MEMO_LIMIT = 100_000  # entries per calendar and kind; a full memo is simply cleared


class Unit(StrEnum):
    """The unit a norm's ``within`` is counted in."""

    WORKDAYS = "workdays"
    CALENDAR_DAYS = "calendar_days"
    WEEKS = "weeks"
    HOURS = "hours"
    SECONDS = "seconds"


@dataclass(slots=True)
class _Memo:
    """Day-based deadlines already worked out for one calendar."""

    # (opening date ordinal, N) -> (working-time target K, deadline instant for no pause)
    workdays: dict[tuple[int, float], tuple[float, float]] = field(default_factory=dict)
    # (opening date ordinal, number of days) -> deadline instant for no pause
    days: dict[tuple[int, int], float] = field(default_factory=dict)


# Calendars with the same settings give the same deadlines, so the memos are keyed by the settings
# (not by the calendar object: a process has one calendar, a test run a handful of settings).
_CalendarKey = tuple[str, str | None, frozenset[date], frozenset[date]]
_MEMOS: dict[_CalendarKey, _Memo] = {}
_MEMOS_LIMIT = 64
_last_used: tuple[BusinessCalendar | None, _Memo] = (None, _Memo())


def _memo(cal: BusinessCalendar) -> _Memo:
    """The memo of ``cal``'s settings; the last one used is kept at hand."""
    global _last_used  # noqa: PLW0603 - a one-entry cache in front of the dictionary
    last_cal, memo = _last_used
    if last_cal is cal:
        return memo
    key = (cal.timezone, cal.holiday_country, cal.closed_days, cal.open_days)
    found = _MEMOS.get(key)
    if found is None:
        if len(_MEMOS) >= _MEMOS_LIMIT:
            _MEMOS.clear()
        found = _MEMOS[key] = _Memo()
    _last_used = (cal, found)
    return found


def deadline(
    cal: BusinessCalendar, unit: Unit, within: float, opened_at: float, paused: float = 0.0
) -> float:
    """The deadline instant of a norm of ``within`` ``unit`` for an item opened at ``opened_at``.

    ``paused`` is the total paused time so far, as ``paused_amount`` measures it (working days
    for ``workdays``, seconds otherwise); it moves the deadline later. The deadline is never
    earlier than the opening (which only matters for ``workdays`` 0 opened on a non-working day).
    """
    if not (0 <= within < math.inf and 0 <= paused < math.inf):  # also rejects NaN
        raise ValueError(f"within and paused must be finite and >= 0, got {within!r}, {paused!r}")
    if unit == Unit.WORKDAYS:
        return _workdays_deadline(cal, within, opened_at, paused)
    if unit == Unit.CALENDAR_DAYS:
        return _after_pause(cal, _days_deadline(cal, within, opened_at), paused)
    if unit == Unit.WEEKS:
        return _after_pause(cal, _days_deadline(cal, within * 7, opened_at), paused)
    if unit == Unit.HOURS:
        return opened_at + within * 3600.0 + paused
    if unit == Unit.SECONDS:
        return opened_at + within + paused
    raise ValueError(f"unknown deadline unit {unit!r}")


def _workdays_deadline(
    cal: BusinessCalendar, within: float, opened_at: float, paused: float
) -> float:
    opened_ordinal = cal.local_ordinal(opened_at)
    memo = _memo(cal).workdays
    key = (opened_ordinal, within)
    known = memo.get(key)
    if known is None:
        opened_on = date.fromordinal(opened_ordinal)
        target = cal.working_days_before(opened_on) + cal.is_working_day(opened_on) + within
        known = (target, cal.from_working_time(target))
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = known
    target, due = known
    if paused:
        due = cal.from_working_time(target + paused)
    return max(due, opened_at)


def _days_deadline(cal: BusinessCalendar, days: float, opened_at: float) -> float:
    """The end of the day ``days`` after opening, or of the next working day after it."""
    if days != int(days):
        raise ValueError(f"calendar_days and weeks need a whole number of days, got {days!r}")
    opened_ordinal = cal.local_ordinal(opened_at)
    memo = _memo(cal).days
    key = (opened_ordinal, int(days))
    due = memo.get(key)
    if due is None:
        last_day = date.fromordinal(opened_ordinal + int(days))
        if not cal.is_working_day(last_day):
            last_day = cal.next_working_day(last_day)
        due = cal.day_end(last_day)
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = due
    return due


def _after_pause(cal: BusinessCalendar, due: float, paused: float) -> float:
    """A day-based deadline moved by ``paused`` seconds; a moment on a non-working day moves on to
    the end of the next working day (24:00 itself belongs to the day it ends)."""
    if not paused:
        return due
    moved = due + paused
    day = date.fromordinal(cal.local_ordinal(moved))
    if cal.day_start(day) == moved:  # exactly 24:00: the end of the day before
        day = date.fromordinal(day.toordinal() - 1)
    if cal.is_working_day(day):
        return moved
    return cal.day_end(cal.next_working_day(day))


def paused_amount(cal: BusinessCalendar, unit: Unit, start: float, end: float) -> float:
    """How much a pause from ``start`` to ``end`` moves a deadline in ``unit``.

    Working days (W(end) − W(start)) for ``workdays``, elapsed seconds for every other unit. A
    pause that ends before it starts (events out of order) counts as zero rather than stopping
    the processing: a negative pause would move a deadline earlier, which the contract excludes.
    """
    if end <= start:
        return 0.0
    if unit == Unit.WORKDAYS:
        return cal.working_time(end) - cal.working_time(start)
    return end - start


def working_days_between(cal: BusinessCalendar, start: float, end: float) -> float:
    """Working days from ``start`` to ``end``: W(end) − W(start) (negative when end < start)."""
    return cal.working_time(end) - cal.working_time(start)


def is_at_risk(cal: BusinessCalendar, deadline: float, now: float) -> bool:
    """Whether a deadline has not passed yet but is at most one working day away."""
    return now < deadline and cal.working_time(deadline) - cal.working_time(now) <= 1
