"""The business calendar on /metrics: is today a working day, and how far back do N working days go.

Prometheus knows weekdays (in UTC) but not the norms file's calendar: public holidays, the
organisation's closed days and its open days. The alert rules need two things from it
(``alerts/contactmon.rules.yml``, group ``contactmon.calendar``):

- ``contact_calendar_working_day``: 1 when today, in the calendar's timezone, is a working day
  (section 3 of the contract: Monday–Friday, not a holiday, not a closed day, unless open), else 0.
  "No events" only alerts on working days.
- ``contact_calendar_lookback_days{working_days="N"}``: the whole calendar days from the start of
  the N-th working day before today to the start of today. A range of that many days, ending now,
  holds the decisions of the last N working days (those met during them and those breached at
  their 24:00) plus today's so far. On a Wednesday N=1 gives 1, on a Monday 3, on the Tuesday
  after Easter Monday 5. The rules pick their range with it: windows in working days.

Nothing here depends on events or partitions: the values come from the calendar and the wall clock
at scrape time, the same on every worker (the rules take ``max``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.core.calendar import BusinessCalendar

LOOKBACK_WORKING_DAYS: tuple[int, ...] = (1, 2, 3, 10)


def working_days_back(calendar: BusinessCalendar, t: float, n: int) -> int:
    """Calendar days from the start of the n-th working day before the local day of ``t`` to the
    start of that day (n >= 1)."""
    today = calendar.local_date(t)
    day, found = today, 0
    while found < n:
        day = date.fromordinal(day.toordinal() - 1)
        found += calendar.is_working_day(day)
    return (today - day).days


class CalendarCollector(Collector):
    """Exposes ``contact_calendar_working_day`` and ``contact_calendar_lookback_days``."""

    def __init__(
        self,
        calendar: BusinessCalendar,
        now: Callable[[], float] = time.time,
        lookbacks: Sequence[int] = LOOKBACK_WORKING_DAYS,
    ) -> None:
        self._calendar = calendar
        self._now = now
        self._lookbacks = tuple(lookbacks)

    def collect(self) -> Iterator[Metric]:
        t = self._now()
        working = GaugeMetricFamily(
            "contact_calendar_working_day",
            "1 when today (the norms calendar's timezone) is a working day, else 0.",
        )
        today = self._calendar.local_date(t)
        working.add_metric([], 1.0 if self._calendar.is_working_day(today) else 0.0)
        yield working
        lookback = GaugeMetricFamily(
            "contact_calendar_lookback_days",
            "Calendar days from the start of the N-th working day before today to today's start.",
            labels=["working_days"],
        )
        for n in self._lookbacks:
            lookback.add_metric([str(n)], float(working_days_back(self._calendar, t, n)))
        yield lookback
