"""The figures behind the simulator: who the municipalities are and how much contact they get.

Everything here is data. Volumes are anchored on Castricum (≈ 36,000 inhabitants, ≈ 205 Fixi reports
a month, ≈ 40 phone calls per working day) and scaled by population for the other municipalities,
so adding a municipality means adding one `Municipality` row. Complaints are anchored on the four
together: about 100 a year for ≈ 103,000 inhabitants.

The handling figures (shares on time, withdrawn, reopened, upheld, first-contact resolution, the
feedback score spread) are plausible values for a Dutch municipality's customer contact centre,
chosen so that the default norms are mostly met but not always: a monitor that only ever shows
green teaches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from events.vocabulary import CallChannel, Channel, Kind, Segment
from streams.core.deadlines import Unit

__all__ = [
    "ARRIVAL_HOURS",
    "CALL_PROFILES",
    "CALL_SLOTS",
    "CASTRICUM_POPULATION",
    "DEFAULT_MUNICIPALITIES",
    "GOOD_SCORES",
    "ITEM_PROFILES",
    "MELDING",
    "MUNICIPALITIES",
    "OFFICE_CLOSES",
    "OFFICE_OPENS",
    "POOR_SCORES",
    "SEGMENTS",
    "SLIPPED_ON_TIME",
    "TIMEZONE",
    "WEEKDAY_FACTORS",
    "CallProfile",
    "ItemProfile",
    "Municipality",
    "SimulationError",
    "Stage",
    "Weights",
    "municipality",
    "slipped",
]

TIMEZONE = "Europe/Amsterdam"
OFFICE_OPENS = (8, 30)  # local hour and minute: human actions happen from here …
OFFICE_CLOSES = (17, 0)  # … to here, on working days

Weights = tuple[tuple[str, float], ...]
"""Choices with relative weights, e.g. ``(("app", 55), ("webformulier", 35))``."""


class SimulationError(ValueError):
    """The simulator cannot make what was asked (an unknown municipality, an empty period)."""


@dataclass(frozen=True, slots=True)
class Municipality:
    """A municipality the simulator knows; volumes scale with ``population``."""

    slug: str
    cbs_code: str
    name: str
    population: int


CASTRICUM_POPULATION = 36_000

MUNICIPALITIES: dict[str, Municipality] = {
    m.slug: m
    for m in (
        Municipality("bergen", "GM0373", "Bergen (NH)", 29_000),
        Municipality("castricum", "GM0383", "Castricum", CASTRICUM_POPULATION),
        Municipality("heiloo", "GM0399", "Heiloo", 24_000),
        Municipality("uitgeest", "GM0450", "Uitgeest", 14_000),
    )
}
DEFAULT_MUNICIPALITIES: tuple[str, ...] = tuple(sorted(MUNICIPALITIES))


def municipality(slug: str) -> Municipality:
    """The municipality with this slug, or a `SimulationError` naming the known ones."""
    try:
        return MUNICIPALITIES[slug]
    except KeyError:
        known = ", ".join(sorted(MUNICIPALITIES))
        raise SimulationError(f"unknown municipality {slug!r} (known: {known})") from None


@dataclass(frozen=True, slots=True)
class Stage:
    """How a handling step (a response, a close) is timed against a deadline.

    With probability ``on_time`` the step happens at an office-hour moment strictly before the
    deadline of ``within`` ``unit`` (counted from the opening, or from the response when the kind
    says so); otherwise on one of the ``late_days`` working days after the deadline's day. Earlier
    working days are more likely: day i gets weight ``decay`` ** i.
    """

    unit: Unit
    within: int
    on_time: float
    decay: float
    late_days: int


@dataclass(frozen=True, slots=True)
class ItemProfile:
    """How one kind of item arrives and is handled.

    ``per_month`` is Castricum's volume; ``weekend_factor`` is the arrival rate on a non-working
    day relative to a working day (0: the item is only made by staff, in office hours).
    ``response`` is measured from the opening (or the resumption after a pause); ``resolution``
    from the opening, or from the response when ``resolution_from_response`` is set (kinds without
    a resolution norm, closed shortly after the answer).
    """

    kind: Kind
    source_system: str
    per_month: float
    weekend_factor: float
    channels: Weights
    categories: Weights
    segments: Weights
    response: Stage
    resolution: Stage
    resolution_from_response: bool = False
    paused_share: float = 0.0
    withdrawn_share: float = 0.0
    reopened_share: float = 0.0
    forwarded_share: float = 0.0
    upheld_share: float | None = None  # complaints only: the share found gegrond
    feedback_share: float = 0.0


@dataclass(frozen=True, slots=True)
class CallProfile:
    """How calls arrive on one live channel and how the queue treats them.

    ``per_working_day`` is Castricum's volume. Of the calls not abandoned, ``fast_share`` is
    answered within ``fast_wait`` seconds; the rest wait longer (exponential, mean ``slow_wait``
    beyond ``fast_wait``). Handling time is log-normal around ``handle_median`` seconds.
    """

    channel: CallChannel
    per_working_day: float
    queues: Weights
    abandoned_share: float
    fast_share: float
    fast_wait: int
    slow_wait: float
    abandon_wait: float  # mean seconds a caller waits before hanging up
    handle_median: float
    resolved_share: float
    feedback_share: float


SEGMENTS: Weights = (
    (Segment.INWONER.value, 82),
    (Segment.ONDERNEMER.value, 10),
    (Segment.MAATSCHAPPELIJKE_PARTNER.value, 3),
    (Segment.ONBEKEND.value, 5),
)
# Public-space reports come almost only from residents.
REPORT_SEGMENTS: Weights = (
    (Segment.INWONER.value, 86),
    (Segment.ONDERNEMER.value, 8),
    (Segment.MAATSCHAPPELIJKE_PARTNER.value, 2),
    (Segment.ONBEKEND.value, 4),
)

COMPLAINTS_PER_YEAR_ALL_FOUR = 100
ALL_FOUR_POPULATION = 103_000
# Castricum's share of the four's complaints, per month.
COMPLAINTS_PER_MONTH = (
    COMPLAINTS_PER_YEAR_ALL_FOUR / 12 * CASTRICUM_POPULATION / ALL_FOUR_POPULATION
)

MELDING = ItemProfile(
    kind=Kind.MELDING,
    source_system="fixi",
    per_month=205,
    weekend_factor=0.6,
    channels=(
        (Channel.APP.value, 55),
        (Channel.WEBFORMULIER.value, 35),
        (Channel.TELEFOON.value, 10),
    ),
    categories=(
        ("afval", 22),
        ("groen", 20),
        ("wegen", 18),
        ("straatverlichting", 12),
        ("verkeer", 8),
        ("riolering", 6),
        ("speelvoorzieningen", 4),
        ("overig", 10),
    ),
    segments=REPORT_SEGMENTS,
    response=Stage(Unit.WORKDAYS, 3, on_time=0.90, decay=0.6, late_days=6),
    resolution=Stage(Unit.WORKDAYS, 10, on_time=0.90, decay=0.85, late_days=12),
    reopened_share=0.02,
    withdrawn_share=0.01,
    forwarded_share=0.03,
    feedback_share=0.12,
)
VRAAG = ItemProfile(
    kind=Kind.VRAAG,
    source_system="kcc",
    per_month=140,
    weekend_factor=0.3,
    channels=((Channel.EMAIL.value, 60), (Channel.WEBFORMULIER.value, 40)),
    categories=(
        ("burgerzaken", 22),
        ("belastingen", 18),
        ("afval", 14),
        ("vergunningen", 12),
        ("zorg_en_welzijn", 14),
        ("overig", 20),
    ),
    segments=SEGMENTS,
    response=Stage(Unit.WORKDAYS, 3, on_time=0.90, decay=0.55, late_days=6),
    resolution=Stage(Unit.WORKDAYS, 2, on_time=1.0, decay=0.3, late_days=0),
    resolution_from_response=True,
    paused_share=0.08,
    withdrawn_share=0.02,
    reopened_share=0.02,
    forwarded_share=0.06,
    feedback_share=0.10,
)
TERUGBELVERZOEK = ItemProfile(
    kind=Kind.TERUGBELVERZOEK,
    source_system="kcc",
    per_month=60,
    weekend_factor=0.0,  # registered by the contact centre during a call
    channels=((Channel.TELEFOON.value, 100),),
    categories=(
        ("burgerzaken", 25),
        ("belastingen", 20),
        ("zorg_en_welzijn", 25),
        ("vergunningen", 10),
        ("overig", 20),
    ),
    segments=SEGMENTS,
    response=Stage(Unit.WORKDAYS, 2, on_time=0.90, decay=0.5, late_days=4),
    resolution=Stage(Unit.WORKDAYS, 1, on_time=1.0, decay=0.2, late_days=0),
    resolution_from_response=True,
    withdrawn_share=0.01,
    feedback_share=0.08,
)
KLACHT = ItemProfile(
    kind=Kind.KLACHT,
    source_system="kcc",
    per_month=COMPLAINTS_PER_MONTH,
    weekend_factor=0.3,
    channels=(
        (Channel.WEBFORMULIER.value, 50),
        (Channel.EMAIL.value, 30),
        (Channel.BRIEF.value, 12),
        (Channel.TELEFOON.value, 8),
    ),
    categories=(("bejegening", 30), ("afhandeling", 45), ("bereikbaarheid", 15), ("overig", 10)),
    segments=SEGMENTS,
    # The acknowledgement of receipt, then the decision within six weeks (Awb 9:11).
    response=Stage(Unit.WORKDAYS, 5, on_time=0.95, decay=0.6, late_days=5),
    resolution=Stage(Unit.WEEKS, 6, on_time=0.90, decay=0.97, late_days=15),
    withdrawn_share=0.05,
    upheld_share=0.45,
    feedback_share=0.15,
)
AANVRAAG = ItemProfile(
    kind=Kind.AANVRAAG,
    source_system="kcc",
    per_month=8,
    weekend_factor=0.2,
    channels=(
        (Channel.WEBFORMULIER.value, 70),
        (Channel.BALIE.value, 20),
        (Channel.EMAIL.value, 10),
    ),
    categories=(
        ("parkeervergunning", 35),
        ("evenementenvergunning", 20),
        ("subsidie", 20),
        ("overig", 25),
    ),
    segments=((Segment.INWONER.value, 60), (Segment.ONDERNEMER.value, 25), *SEGMENTS[2:]),
    response=Stage(Unit.WORKDAYS, 3, on_time=0.85, decay=0.6, late_days=5),
    resolution=Stage(Unit.WEEKS, 8, on_time=0.90, decay=0.95, late_days=15),
    paused_share=0.15,
    withdrawn_share=0.03,
    feedback_share=0.10,
)

ITEM_PROFILES: tuple[ItemProfile, ...] = (MELDING, VRAAG, TERUGBELVERZOEK, KLACHT, AANVRAAG)

CALL_QUEUES: Weights = (
    ("algemeen", 40),
    ("burgerzaken", 25),
    ("belastingen", 15),
    ("sociaal_domein", 20),
)
CALL_PROFILES: tuple[CallProfile, ...] = (
    CallProfile(
        channel=CallChannel.TELEFOON,
        per_working_day=40,
        queues=CALL_QUEUES,
        abandoned_share=0.06,
        fast_share=0.82,
        fast_wait=30,
        slow_wait=90,
        abandon_wait=70,
        handle_median=240,
        resolved_share=0.70,
        feedback_share=0.08,
    ),
    CallProfile(
        channel=CallChannel.CHAT,
        per_working_day=5,
        queues=(("algemeen", 100),),
        abandoned_share=0.08,
        fast_share=0.6,
        fast_wait=60,
        slow_wait=120,
        abandon_wait=90,
        handle_median=480,
        resolved_share=0.65,
        feedback_share=0.15,
    ),
    CallProfile(
        channel=CallChannel.BALIE,
        per_working_day=12,
        queues=(("burgerzaken", 80), ("algemeen", 20)),
        abandoned_share=0.02,
        fast_share=0.3,
        fast_wait=120,
        slow_wait=300,
        abandon_wait=600,
        handle_median=600,
        resolved_share=0.80,
        feedback_share=0.10,
    ),
)

# Local hour of the day (0–23) at which people send reports, e-mails and forms.
ARRIVAL_HOURS: tuple[float, ...] = (
    0.5, 0.3, 0.2, 0.2, 0.2, 0.4, 1.0, 3.0, 6.0, 8.0, 8.0, 7.5,
    7.0, 7.0, 7.0, 6.5, 6.0, 5.5, 5.0, 5.0, 4.5, 3.5, 2.0, 1.0,
)  # fmt: skip
# Half-hour slots from 08:30 to 17:00 at which calls and counter visits arrive.
CALL_SLOTS: tuple[float, ...] = (6, 10, 11, 11, 10, 9, 8, 6, 6, 7, 8, 8, 7, 6, 5, 4, 3)
# Monday … Friday: Mondays are busy, Friday afternoons quiet.
WEEKDAY_FACTORS: tuple[float, ...] = (1.2, 1.05, 1.0, 0.95, 0.8)

# Feedback scores 1–10: skewed to 7–8 when the contact went well, lower when it did not.
GOOD_SCORES: tuple[float, ...] = (1, 1, 2, 3, 5, 9, 24, 27, 16, 12)
POOR_SCORES: tuple[float, ...] = (5, 5, 7, 9, 13, 16, 18, 14, 7, 6)

SLIPPED_ON_TIME = 0.45
"""The melding response on-time share of a municipality whose norm is made to slip (demos)."""


def slipped(profile: ItemProfile) -> ItemProfile:
    """The profile with its response norm slipping: most responses late (for alerting demos)."""
    return replace(profile, response=replace(profile.response, on_time=SLIPPED_ON_TIME))
