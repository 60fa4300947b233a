"""A seeded, reproducible stream of contract events (CloudEvents) for the configured municipalities.

`simulate` opens items and queues calls in a period ``[start, end)`` of local dates and follows each
of them to the end of its life: responses, pauses, closes, reopenings, answers, hang-ups and
feedback, also when that end lies after the period. The events come back as plain dicts (the JSON
objects of contract section 2) in event-time order; `write_jsonl` writes them one per line.

Realism lives in three places: the volumes and shares of `profiles`, the business calendar (people
send reports at any hour, also at weekends; staff respond, close and answer only in office hours on
working days), and the norms' own deadline arithmetic (`streams.core.deadlines.deadline`), which
decides whether a step lands before or after its deadline.

Reproducibility: every random choice, uuids included, comes from one `random.Random` per
municipality, seeded with ``f"{seed}:{slug}"``. String seeds are hashed with SHA-512 by the
standard library, so they do not depend on ``PYTHONHASHSEED``; and a municipality's stream is the
same whichever other municipalities are simulated alongside it. Event times are whole seconds, so
they survive the RFC 3339 round trip exactly.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import orjson

from events.vocabulary import SPECVERSION, EventType, Resolution
from streams.core.calendar import BusinessCalendar
from streams.core.deadlines import deadline
from streams.simulate.profiles import (
    ARRIVAL_HOURS,
    CALL_PROFILES,
    CALL_SLOTS,
    CASTRICUM_POPULATION,
    DEFAULT_MUNICIPALITIES,
    GOOD_SCORES,
    ITEM_PROFILES,
    OFFICE_CLOSES,
    OFFICE_OPENS,
    POOR_SCORES,
    SEGMENTS,
    TIMEZONE,
    WEEKDAY_FACTORS,
    CallProfile,
    ItemProfile,
    SimulationError,
    Stage,
    Weights,
    municipality,
    slipped,
)

__all__ = [
    "MIN_GAP",
    "Event",
    "EventStream",
    "OfficeHours",
    "choose",
    "event_time",
    "follow_item",
    "poisson",
    "score",
    "shuffle_arrival",
    "simulate",
    "stage_moment",
    "write_jsonl",
]

Event = dict[str, Any]
"""One contract event: a CloudEvents 1.0 object in structured mode, ready for ``orjson.dumps``."""

ZONE = ZoneInfo(TIMEZONE)
MIN_GAP = 300  # seconds between an event and the first human action that follows it
WORKING_DAYS_PER_YEAR = 253  # Monday–Friday minus the Dutch public holidays on weekdays, roughly
SUBJECT_HEX = {"fixi": 6, "kcc": 8}  # pseudonymous subject: "<system>-<hex digits>"
REOPEN_HANDLING = 5  # working days within which a reopened item is usually closed again


def event_time(event: Event) -> float:
    """The event's ``time`` as UTC epoch seconds."""
    return datetime.fromisoformat(event["time"]).timestamp()


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's product method; fine for the daily means used here)."""
    if mean <= 0:
        return 0
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def choose(rng: random.Random, weights: Weights) -> str:
    """One value of ``weights``, drawn in proportion to its weight."""
    values = [value for value, _ in weights]
    return rng.choices(values, weights=[weight for _, weight in weights])[0]


def score(rng: random.Random, went_well: bool) -> int:
    """A feedback score 1–10: mostly 7–8 when the contact went well, spread lower when not."""
    return rng.choices(range(1, 11), weights=GOOD_SCORES if went_well else POOR_SCORES)[0]


class OfficeHours:
    """Moments in the business calendar: office hours on working days, arrivals, later moments.

    Wraps a `BusinessCalendar` with the local office window (08:30–17:00) and caches it per date.
    All moments are whole epoch seconds.
    """

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self._windows: dict[date, tuple[int, int]] = {}

    def window(self, day: date) -> tuple[int, int]:
        """The office window of ``day`` as epoch seconds: [opening, closing)."""
        found = self._windows.get(day)
        if found is None:
            found = self._windows[day] = (
                _local(day, *OFFICE_OPENS),
                _local(day, *OFFICE_CLOSES),
            )
        return found

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day of the calendar."""
        return self.calendar.is_working_day(day)

    def office_moment(
        self, rng: random.Random, after: float, before: float, decay: float
    ) -> int | None:
        """An office-hour moment t with ``after`` < t < ``before``, or None when there is none.

        Every working day with office time in that interval is a candidate; the i-th of them gets
        weight ``decay`` ** i, so earlier days are more likely (most work is done soon).
        """
        spans: list[tuple[int, int]] = []
        day = self.calendar.local_date(after)
        last = self.calendar.local_date(before)
        low, high = math.floor(after) + 1, math.ceil(before) - 1
        while day <= last:
            if self.is_working_day(day):
                opens, closes = self.window(day)
                first, final = max(opens, low), min(closes - 1, high)
                if first <= final:
                    spans.append((first, final))
            day += timedelta(days=1)
        if not spans:
            return None
        first, final = rng.choices(spans, weights=[decay**i for i in range(len(spans))])[0]
        return rng.randint(first, final)

    def office_moment_within(
        self, rng: random.Random, after: float, working_days: int, decay: float
    ) -> int:
        """An office-hour moment after ``after`` on one of the next ``working_days`` working days.

        The day of ``after`` counts as the first when it still has office time left after it.
        """
        day = self.calendar.local_date(after)
        if not (self.is_working_day(day) and self.window(day)[1] - 1 > after):
            day = self.calendar.next_working_day(day)
        for _ in range(max(working_days, 1) - 1):
            day = self.calendar.next_working_day(day)
        moment = self.office_moment(rng, after, self.calendar.day_end(day), decay)
        if moment is None:  # cannot happen: the first candidate day has office time after `after`
            raise SimulationError(f"no office time after {after!r}")
        return moment

    def arrival(self, rng: random.Random, day: date) -> int:
        """A moment on local ``day`` at which a person sends something (any hour, by day mostly)."""
        hour = rng.choices(range(24), weights=ARRIVAL_HOURS)[0]
        return _local(day, hour, 0) + rng.randrange(3600)

    def call_arrival(self, rng: random.Random, day: date) -> int:
        """A moment in the office window of ``day``, busiest in the morning."""
        slot = rng.choices(range(len(CALL_SLOTS)), weights=CALL_SLOTS)[0]
        return self.window(day)[0] + slot * 1800 + rng.randrange(1800)

    def later(self, rng: random.Random, t: float, least: int, most: int) -> int:
        """A person's moment between ``least`` and ``most`` seconds after ``t``, not at night."""
        moment = math.floor(t) + rng.randint(least, most)
        hour = datetime.fromtimestamp(moment, ZONE).hour
        if hour < 7:  # people sleep; move the moment into the morning
            moment += (7 - hour) * 3600 + rng.randrange(3600)
        return moment


def _local(day: date, hour: int, minute: int) -> int:
    """The epoch second of local ``hour``:``minute`` on ``day`` (the earlier one around DST)."""
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).timestamp())


class EventStream:
    """One municipality's events as they are made: ids, subjects and order keys from one rng."""

    def __init__(self, slug: str, rng: random.Random) -> None:
        self.slug = slug
        self.rng = rng
        self.rows: list[tuple[int, int, Event]] = []
        self._subjects: set[str] = set()

    def subject(self, system: str) -> str:
        """A new pseudonymous subject such as ``fixi-3c1e9a`` or ``kcc-8f2a01d3``.

        Unique within the municipality; never all digits, so it cannot pass for a phone number.
        """
        digits = SUBJECT_HEX[system]
        while True:
            code = f"{self.rng.getrandbits(4 * digits):0{digits}x}"
            subject = f"{system}-{code}"
            if not code.isdigit() and subject not in self._subjects:
                self._subjects.add(subject)
                return subject

    def emit(
        self, t: int, kind: EventType, system: str, subject: str, data: dict[str, Any]
    ) -> None:
        """Record one event at epoch second ``t``; ``data`` gets the municipality first."""
        event: Event = {
            "specversion": SPECVERSION,
            "id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "source": f"urn:nld:gemeente:{self.slug}:{system}",
            "type": kind.full,
            "time": datetime.fromtimestamp(t, ZONE).isoformat(),
            "subject": subject,
            "datacontenttype": "application/json",
            "data": {"municipality": self.slug, **data},
        }
        self.rows.append((t, len(self.rows), event))


def simulate(
    start: date,
    end: date,
    municipalities: Iterable[str] = DEFAULT_MUNICIPALITIES,
    *,
    seed: int = 1,
    slip: Collection[str] = (),
    calendar: BusinessCalendar | None = None,
) -> list[Event]:
    """Events for items and calls opened in local dates ``[start, end)``, in event-time order.

    Follow-up events (responses, closes, feedback) come along even when they fall after ``end``,
    so every item opened in the period reaches its end. ``slip`` names municipalities whose
    melding response norm slips: most of their reports are answered late (for alerting demos).
    """
    if end <= start:
        raise SimulationError(f"the period is empty: end {end} is not after start {start}")
    slugs = list(dict.fromkeys(municipalities))
    profiles = [municipality(slug) for slug in slugs]
    unknown_slip = sorted(set(slip) - set(slugs))
    if unknown_slip:
        raise SimulationError(
            f"--slip names municipalities that are not simulated: {', '.join(unknown_slip)}"
        )
    hours = OfficeHours(calendar or BusinessCalendar(timezone=TIMEZONE))
    rows: list[tuple[int, int, int, Event]] = []
    for index, place in enumerate(profiles):
        stream = EventStream(place.slug, random.Random(f"{seed}:{place.slug}"))
        scale = place.population / CASTRICUM_POPULATION
        for item in ITEM_PROFILES:
            chosen = slipped(item) if place.slug in slip and item.kind == "melding" else item
            _items(stream, hours, profile=chosen, scale=scale, start=start, end=end)
        for call in CALL_PROFILES:
            _calls(stream, hours, profile=call, scale=scale, start=start, end=end)
        rows.extend((t, index, seq, event) for t, seq, event in stream.rows)
    rows.sort(key=lambda row: row[:3])
    return [row[3] for row in rows]


def _days(start: date, end: date) -> Iterable[date]:
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


def _items(
    stream: EventStream,
    hours: OfficeHours,
    *,
    profile: ItemProfile,
    scale: float,
    start: date,
    end: date,
) -> None:
    """Open this kind's items day by day (Poisson counts) and follow each to its end."""
    # Spread a year's volume over working days (weight 1) and other days (weekend_factor).
    weighted_days = WORKING_DAYS_PER_YEAR + (365 - WORKING_DAYS_PER_YEAR) * profile.weekend_factor
    per_working_day = profile.per_month * 12 * scale / weighted_days
    for day in _days(start, end):
        working = hours.is_working_day(day)
        mean = per_working_day * (1.0 if working else profile.weekend_factor)
        for _ in range(poisson(stream.rng, mean)):
            if profile.weekend_factor:
                opened = hours.arrival(stream.rng, day)
            else:
                opened = hours.call_arrival(stream.rng, day)
            follow_item(stream, hours, profile, opened)


def stage_moment(
    rng: random.Random,
    hours: OfficeHours,
    stage: Stage,
    reference: float,
    after: float,
    *,
    on_time: bool,
) -> int:
    """When a handling step happens: an office-hour moment after ``after`` (plus a short gap).

    On time: strictly before the deadline of ``stage`` counted from ``reference``, if there is
    office time left for it. Late (or on time impossible): strictly after that deadline, on one of
    the stage's ``late_days`` working days after it.
    """
    due = deadline(hours.calendar, stage.unit, stage.within, reference)
    if on_time:
        moment = hours.office_moment(rng, after + MIN_GAP, due, stage.decay)
        if moment is not None:
            return moment
    return hours.office_moment_within(rng, max(due, after + MIN_GAP), stage.late_days, stage.decay)


def follow_item(stream: EventStream, hours: OfficeHours, profile: ItemProfile, opened: int) -> None:
    """Emit one item's life: opened, maybe paused/resumed or withdrawn, responded, closed, …"""
    rng = stream.rng
    system = profile.source_system
    subject = stream.subject(system)
    kind = profile.kind.value
    channel = choose(rng, profile.channels)
    stream.emit(
        opened,
        EventType.ITEM_OPENED,
        system,
        subject,
        {
            "kind": kind,
            "channel": channel,
            "category": choose(rng, profile.categories),
            "segment": choose(rng, profile.segments),
            "source_system": system,
        },
    )
    if rng.random() < profile.withdrawn_share:
        # The person withdraws within two days, before anyone reacted: excluded from the norms.
        withdrawn = hours.later(rng, opened, 600, 2 * 86400)
        resolution = {"resolution": Resolution.INGETROKKEN.value}
        stream.emit(withdrawn, EventType.ITEM_CLOSED, system, subject, resolution)
        return
    base = opened
    if rng.random() < profile.paused_share:
        # Incomplete: staff ask for more information, the person answers days later.
        due = deadline(hours.calendar, profile.response.unit, profile.response.within, opened)
        paused = hours.office_moment(rng, opened + MIN_GAP, due, 0.5)
        if paused is not None:
            stream.emit(paused, EventType.ITEM_PAUSED, system, subject, {})
            base = hours.later(rng, paused, 3600, 6 * 86400)
            stream.emit(base, EventType.ITEM_RESUMED, system, subject, {})
    response_on_time = rng.random() < profile.response.on_time
    responded = stage_moment(rng, hours, profile.response, base, base, on_time=response_on_time)
    stream.emit(responded, EventType.ITEM_RESPONDED, system, subject, {})
    reference = responded if profile.resolution_from_response else base
    close_on_time = rng.random() < profile.resolution.on_time
    closed = stage_moment(
        rng, hours, profile.resolution, reference, responded, on_time=close_on_time
    )
    close: dict[str, Any] = {"resolution": Resolution.AFGEHANDELD.value}
    if rng.random() < profile.forwarded_share:
        close["resolution"] = Resolution.DOORGESTUURD.value
    if profile.upheld_share is not None:
        close["upheld"] = rng.random() < profile.upheld_share
    stream.emit(closed, EventType.ITEM_CLOSED, system, subject, close)
    if rng.random() < profile.reopened_share:
        # The person says it was not solved after all; it is handled again within days.
        reopened = hours.later(rng, closed, 3600, 10 * 86400)
        stream.emit(reopened, EventType.ITEM_REOPENED, system, subject, {})
        closed = hours.office_moment_within(rng, reopened + MIN_GAP, REOPEN_HANDLING, 0.6)
        again = {"resolution": Resolution.AFGEHANDELD.value}
        stream.emit(closed, EventType.ITEM_CLOSED, system, subject, again)
    if rng.random() < profile.feedback_share:
        given = hours.later(rng, closed, 3600, 2 * 86400)
        went_well = response_on_time and close_on_time and close.get("upheld") is not True
        feedback = {
            "channel": channel,
            "score": score(rng, went_well),
            "kind": kind,
            "about": subject,
        }
        stream.emit(given, EventType.FEEDBACK_GIVEN, system, subject, feedback)


def _calls(
    stream: EventStream,
    hours: OfficeHours,
    *,
    profile: CallProfile,
    scale: float,
    start: date,
    end: date,
) -> None:
    """Queue this channel's calls in office hours on working days and play each one out."""
    rng = stream.rng
    channel = profile.channel.value
    for day in _days(start, end):
        if not hours.is_working_day(day):
            continue
        mean = profile.per_working_day * scale * WEEKDAY_FACTORS[day.weekday()]
        for _ in range(poisson(rng, mean)):
            queued = hours.call_arrival(rng, day)
            subject = stream.subject("kcc")
            segment = choose(rng, SEGMENTS)
            data = {"channel": channel, "queue": choose(rng, profile.queues), "segment": segment}
            stream.emit(queued, EventType.CALL_QUEUED, "kcc", subject, data)
            if rng.random() < profile.abandoned_share:
                gave_up = queued + 3 + round(rng.expovariate(1 / profile.abandon_wait))
                stream.emit(gave_up, EventType.CALL_ABANDONED, "kcc", subject, {})
                continue
            if rng.random() < profile.fast_share:
                wait = rng.randint(2, profile.fast_wait)
            else:
                wait = profile.fast_wait + 1 + round(rng.expovariate(1 / profile.slow_wait))
            answered = queued + wait
            stream.emit(answered, EventType.CALL_ANSWERED, "kcc", subject, {})
            handling = rng.lognormvariate(math.log(profile.handle_median), 0.6)
            ended = answered + round(min(max(handling, 30.0), 3 * 3600.0))
            resolved = rng.random() < profile.resolved_share
            stream.emit(ended, EventType.CALL_ENDED, "kcc", subject, {"resolved": resolved})
            if rng.random() < profile.feedback_share:
                # A short survey right after the contact (SMS or the chat window).
                given = ended + rng.randint(60, 3600)
                went_well = resolved and wait <= profile.fast_wait
                feedback = {"channel": channel, "score": score(rng, went_well), "about": subject}
                stream.emit(given, EventType.FEEDBACK_GIVEN, "kcc", subject, feedback)


def shuffle_arrival(events: Sequence[Event], minutes: float, seed: int) -> list[Event]:
    """The events in a plausible arrival order: each delayed by a random 0–``minutes`` jitter.

    Tests out-of-order arrival: an event may arrive up to ``minutes`` after later-timed ones.
    Seeded (``f"{seed}:arrival"``), so the same input and seed give the same order.
    """
    if minutes <= 0:
        return list(events)
    rng = random.Random(f"{seed}:arrival")
    span = minutes * 60
    arrivals = [(event_time(event) + rng.uniform(0, span), n) for n, event in enumerate(events)]
    arrivals.sort()
    return [events[n] for _, n in arrivals]


def write_jsonl(events: Iterable[Event], out: BinaryIO) -> int:
    """Write the events as JSON Lines (UTF-8, one object per line); returns how many."""
    count = 0
    for event in events:
        out.write(orjson.dumps(event) + b"\n")
        count += 1
    return count
