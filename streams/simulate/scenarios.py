"""Named scenarios: event streams with exactly known outcomes, for demos and acceptance tests.

The plain generator draws its outcomes at random, so its compliance figures wobble around the
profile's shares. A scenario fixes them instead: it decides up front which items meet which norm
and then places every moment on the right side of the deadline that
`streams.core.deadlines.deadline` computes, so a replay must reproduce the scenario's figures to
the item. Scenarios are registered by name in `SCENARIOS` for ``contactmon simulate --scenario``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from events.vocabulary import EventType, Resolution
from streams.core.calendar import BusinessCalendar
from streams.core.deadlines import Unit, deadline
from streams.simulate.generator import (
    MIN_GAP,
    Event,
    EventStream,
    OfficeHours,
    choose,
    simulate,
)
from streams.simulate.profiles import MELDING, TIMEZONE, SimulationError

__all__ = [
    "CASTRICUM_2023H1",
    "SCENARIOS",
    "Scenario",
    "ScenarioFigures",
    "castricum_2023h1",
    "heiloo_slip_2024_03",
]


@dataclass(frozen=True, slots=True)
class ScenarioFigures:
    """What a report-norm scenario promises: reports opened and how many met each norm."""

    municipality: str
    first_day: date  # local date of the first opening
    last_day: date  # local date of the last opening (inclusive)
    reports: int
    response_workdays: int  # the melding-reactie norm
    responded_in_time: int
    close_workdays: int  # the melding-afhandeling norm
    closed_in_time: int


CASTRICUM_2023H1 = ScenarioFigures(
    municipality="castricum",
    first_day=date(2023, 1, 1),
    last_day=date(2023, 6, 30),
    reports=1232,
    response_workdays=3,
    responded_in_time=round(0.88 * 1232),  # 1084
    close_workdays=10,
    closed_in_time=round(0.91 * 1232),  # 1121
)
"""Castricum's Fixi reports in the first half of 2023: 88 % responded to within 3 working days and
91 % closed within 10 (the figures the monitor was first asked to reproduce)."""

RESPONSE_DECAY = 0.6  # on-time responses come mostly on the first working days
CLOSE_DECAY = 0.85
LATE_RESPONSE_DAYS = 6  # a late response lands on one of the 6 working days after the deadline
LATE_CLOSE_DAYS = 12


def castricum_2023h1(seed: int) -> list[Event]:
    """Castricum's Fixi reports of 2023-01-01 … 2023-06-30 with the exact figures above.

    Only reports (no calls, questions or feedback), none withdrawn or paused. Every report is
    responded to and closed (follow-ups run into July), never closed before its response, so the
    response norm's outcome is decided by ``item.responded`` alone.
    """
    return reports_scenario(CASTRICUM_2023H1, seed)


def reports_scenario(figures: ScenarioFigures, seed: int) -> list[Event]:
    """Fixi reports whose norm outcomes are exactly ``figures``, in event-time order."""
    rng = random.Random(f"{seed}:reports:{figures.municipality}")
    hours = OfficeHours(BusinessCalendar(timezone=TIMEZONE))
    stream = EventStream(figures.municipality, rng)
    days = [
        figures.first_day + timedelta(days=n)
        for n in range((figures.last_day - figures.first_day).days + 1)
    ]
    weights = [1.0 if hours.is_working_day(day) else MELDING.weekend_factor for day in days]
    opened = sorted(
        hours.arrival(rng, day) for day in rng.choices(days, weights, k=figures.reports)
    )
    response_met = set(rng.sample(range(figures.reports), figures.responded_in_time))
    close_met = set(rng.sample(range(figures.reports), figures.closed_in_time))
    for n, at in enumerate(opened):
        _report(stream, hours, figures, at, response_ok=n in response_met, close_ok=n in close_met)
    stream.rows.sort(key=lambda row: row[:2])
    return [event for _, _, event in stream.rows]


def _report(
    stream: EventStream,
    hours: OfficeHours,
    figures: ScenarioFigures,
    opened: int,
    *,
    response_ok: bool,
    close_ok: bool,
) -> None:
    """One report whose response and close fall on the chosen sides of their deadlines."""
    rng = stream.rng
    cal = hours.calendar
    subject = stream.subject("fixi")
    data = {
        "kind": MELDING.kind.value,
        "channel": choose(rng, MELDING.channels),
        "category": choose(rng, MELDING.categories),
        "segment": choose(rng, MELDING.segments),
        "source_system": "fixi",
    }
    stream.emit(opened, EventType.ITEM_OPENED, "fixi", subject, data)
    response_due = deadline(cal, Unit.WORKDAYS, figures.response_workdays, opened)
    close_due = deadline(cal, Unit.WORKDAYS, figures.close_workdays, opened)
    if response_ok:
        responded = hours.office_moment(rng, opened + MIN_GAP, response_due, RESPONSE_DECAY)
    elif close_ok:
        # Late, but leave a working day before the close deadline to close in time.
        latest = deadline(cal, Unit.WORKDAYS, figures.close_workdays - 1, opened)
        responded = hours.office_moment(rng, response_due, latest, RESPONSE_DECAY)
    else:
        responded = hours.office_moment_within(
            rng, response_due, LATE_RESPONSE_DAYS, RESPONSE_DECAY
        )
    if responded is None:  # cannot happen for workday norms of a day or more
        raise SimulationError(f"no office time to respond to a report opened at {opened}")
    if close_ok:
        closed = hours.office_moment(rng, responded + MIN_GAP, close_due, CLOSE_DECAY)
    else:
        after = max(close_due, responded + MIN_GAP)
        closed = hours.office_moment_within(rng, after, LATE_CLOSE_DAYS, CLOSE_DECAY)
    if closed is None:  # cannot happen: the response leaves a working day before the deadline
        raise SimulationError(f"no office time to close a report opened at {opened}")
    resolution = Resolution.AFGEHANDELD
    if rng.random() < MELDING.forwarded_share:
        resolution = Resolution.DOORGESTUURD
    stream.emit(responded, EventType.ITEM_RESPONDED, "fixi", subject, {})
    stream.emit(closed, EventType.ITEM_CLOSED, "fixi", subject, {"resolution": resolution.value})


def heiloo_slip_2024_03(seed: int) -> list[Event]:
    """All four municipalities in March 2024, Heiloo's melding responses slipping (alert demo)."""
    return simulate(date(2024, 3, 1), date(2024, 4, 1), seed=seed, slip={"heiloo"})


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named, seeded event stream."""

    name: str
    description: str
    build: Callable[[int], list[Event]]


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "castricum_2023h1",
            "Castricum, Fixi reports 2023-01-01…06-30: 1232 reports, 1084 responded within "
            "3 working days, 1121 closed within 10",
            castricum_2023h1,
        ),
        Scenario(
            "heiloo_slip_2024_03",
            "all four municipalities, March 2024, Heiloo's melding responses mostly late",
            heiloo_slip_2024_03,
        ),
    )
}
