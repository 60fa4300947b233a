"""The report's figures: pure, from the monthly facts of the KPI layer (streams.export.kpi).

The report month, the eleven months before it (the trend), the same month a year earlier and the
half year the report month falls in (January or July up to the report month) all come from the
same `Fact`s the KPI export writes, added up where a period spans months, so the report, the KPI
table and the tidy export can never show different numbers for the same thing.

Nothing here reads a store, formats text or draws: `ReportFigures` is plain data for the summary,
the charts and the HTML.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from streams.core.rows import ItemRecord, NormRecord
from streams.export.indicators import ALL, Month
from streams.export.kpi import (
    ABANDONED,
    CHANNELS,
    OFFERED,
    PERCENT,
    RECEIVED,
    SATISFACTION,
    SEGMENTS,
    UPHELD,
    Fact,
    Indicator,
    NormInfo,
    catalogue,
    norm_base,
    target_percent,
    very_late_base,
)

TREND_MONTHS = 12


@dataclass(frozen=True, slots=True)
class Place:
    """A municipality as the report names it."""

    slug: str
    name: str
    code: str


@dataclass(frozen=True, slots=True)
class Cell:
    """One figure: numerator, denominator (None for a count), its value and whether provisional."""

    teller: int
    noemer: int | None
    value: int | Decimal | None
    voorlopig: bool
    undecided: int

    @property
    def known(self) -> bool:
        return self.value is not None

    @property
    def fraction(self) -> Fraction | None:
        """teller / noemer exactly (for comparing with a target), None for counts and 0/0."""
        if not self.noemer:
            return None
        return Fraction(self.teller, self.noemer)


@dataclass(frozen=True, slots=True)
class Line:
    """One municipality's row of a figure: now, a year ago, the half year, the trend."""

    place: Place
    current: Cell
    year_ago: Cell
    half_year: Cell
    trend: tuple[Cell, ...]  # aligned with ReportFigures.months
    target: Decimal | None  # percent, for norms

    @property
    def change(self) -> Decimal | None:
        """Current minus a year ago (percentage points for percentages), when both are known."""
        now, then = self.current.value, self.year_ago.value
        if now is None or then is None:
            return None
        return Decimal(now) - Decimal(then)

    @property
    def missed(self) -> bool:
        """Below its target this month (exactly, not after rounding); False without a target."""
        share = self.current.fraction
        if self.target is None or share is None:
            return False
        return share * 100 < Fraction(self.target)

    @property
    def outlook(self) -> Outlook | None:
        """Where this month ends while some of its cohort is undecided (as the live metrics
        contact_norm_month_projection_ratio and contact_norm_month_headroom_items say); None
        when the month is decided or the figure has no target."""
        return outlook(self.current, self.target)


@dataclass(frozen=True, slots=True)
class Outlook:
    """A month with undecided items: its best and worst share and the breaches it can take."""

    undecided: int
    best: Fraction  # every undecided item on time
    worst: Fraction  # every undecided item late
    headroom: int  # how many more may be late before the month falls below the target

    @property
    def certain(self) -> bool:
        """Met even if every undecided item is late."""
        return self.headroom >= self.undecided

    @property
    def lost(self) -> bool:
        """Missed even if every undecided item is on time."""
        return self.headroom < 0


def outlook(cell: Cell, target: Decimal | None) -> Outlook | None:
    """The :class:`Outlook` of a norm's month: ``cell`` (met / decided, undecided) against
    ``target`` (percent); None when nothing is undecided or there is no target."""
    if target is None or cell.noemer is None or cell.undecided <= 0:
        return None
    counted = cell.noemer + cell.undecided
    met, undecided = cell.teller, cell.undecided
    headroom = math.floor(met + undecided - Fraction(target) / 100 * counted)
    return Outlook(
        undecided, Fraction(met + undecided, counted), Fraction(met, counted), int(headroom)
    )


@dataclass(frozen=True, slots=True)
class Figure:
    """One indicator for every municipality."""

    indicator: Indicator
    lines: tuple[Line, ...]

    def line(self, slug: str) -> Line:
        return next(line for line in self.lines if line.place.slug == slug)


@dataclass(frozen=True, slots=True)
class NormFigures:
    """A norm: the figure, its splits this month, and the late items by category."""

    norm: NormInfo
    figure: Figure
    by_segment: dict[str, dict[str, Cell]]  # slug -> segment -> cell
    by_channel: dict[str, dict[str, Cell]]  # slug -> channel -> cell
    late_categories: dict[str, list[tuple[str, int]]]  # slug -> [(category, late)], most first
    very_late: Figure  # breached after more than three times the term, of the decided ones


@dataclass(frozen=True, slots=True)
class HalfYear:
    """The half year of the report month, up to and including it."""

    year: int
    half: int  # 1 or 2
    months: tuple[Month, ...]

    @property
    def label(self) -> str:
        """`2023H1`."""
        return f"{self.year}H{self.half}"

    @property
    def complete(self) -> bool:
        return len(self.months) == 6


@dataclass(frozen=True, slots=True)
class ReportFigures:
    """Everything the report shows, for one month."""

    month: Month
    months: tuple[Month, ...]  # the trend: eleven months before the report month, and it
    year_ago: Month
    half_year: HalfYear
    places: tuple[Place, ...]
    norms: tuple[NormFigures, ...]
    received: Figure  # Fixi reports received
    complaints: Figure  # complaints received
    upheld: Figure  # complaints upheld (share of the closed ones)
    offered: Figure  # phone calls offered
    abandoned: Figure  # phone calls abandoned (share of the offered ones)
    satisfaction: Figure  # mean score, all channels
    satisfaction_by_channel: dict[str, Figure]  # channel -> figure, channels with any score

    @property
    def has_data(self) -> dict[str, bool]:
        """Per municipality: anything at all this month."""
        return {
            p.slug: any(
                line.place.slug == p.slug and (line.current.teller or line.current.noemer)
                for fig in self.all_figures
                for line in fig.lines
            )
            for p in self.places
        }

    @property
    def all_figures(self) -> list[Figure]:
        return [
            *(n.figure for n in self.norms),
            self.received,
            self.complaints,
            self.upheld,
            self.offered,
            self.abandoned,
            self.satisfaction,
        ]


def trend_months(month: Month) -> tuple[Month, ...]:
    """The twelve months ending with `month`, oldest first."""
    months = [month]
    for _ in range(TREND_MONTHS - 1):
        months.append(previous(months[-1]))
    return tuple(reversed(months))


def previous(month: Month) -> Month:
    return Month(month.year - 1, 12) if month.month == 1 else Month(month.year, month.month - 1)


def year_before(month: Month) -> Month:
    return Month(month.year - 1, month.month)


def half_year_of(month: Month) -> HalfYear:
    first = 1 if month.month <= 6 else 7
    return HalfYear(
        month.year,
        1 if first == 1 else 2,
        tuple(Month(month.year, m) for m in range(first, month.month + 1)),
    )


def months_needed(month: Month) -> tuple[Month, ...]:
    """Every month whose facts the report needs, oldest first (thirteen)."""
    return (year_before(month), *trend_months(month))


def late_categories(
    items: Iterable[ItemRecord], norms: Iterable[NormRecord]
) -> dict[tuple[str, str], Counter[str]]:
    """Breached item norms of a month's cohort counted by the item's category.

    Key: (municipality, norm id). Norm rows without their item (outside the month) are skipped.
    """
    category = {(i.municipality, i.subject): i.category for i in items}
    found: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for row in norms:
        if row.outcome in ("breached", "very_late") and row.family == "item":
            cat = category.get((row.municipality, row.subject))
            if cat is not None:
                found[(row.municipality, row.norm)][cat] += 1
    return found


def _cell(fact: Fact | None, unit: str, count: bool) -> Cell:
    if fact is None:
        noemer = None if count else 0
        return Cell(0, noemer, 0 if count else None, False, 0)
    return Cell(fact.teller, fact.noemer, fact.value(unit), fact.voorlopig, fact.undecided)


class _Facts:
    """Facts by (month, municipality, base, segment, channel), with sums over months."""

    def __init__(self, facts: Mapping[Month, Sequence[Fact]]) -> None:
        self._by: dict[tuple[Month, str, str, str, str], Fact] = {
            (month, *f.key): f for month, rows in facts.items() for f in rows
        }

    def get(self, month: Month, slug: str, base: str, segment: str, channel: str) -> Fact | None:
        return self._by.get((month, slug, base, segment, channel))

    def total(
        self, months: Iterable[Month], slug: str, base: str, segment: str, channel: str
    ) -> Fact | None:
        found = [self.get(m, slug, base, segment, channel) for m in months]
        present = [f for f in found if f is not None]
        if not present:
            return None
        total = present[0]
        for fact in present[1:]:
            total = total.plus(fact)
        return total


def _figure(
    indicator: Indicator,
    facts: _Facts,
    places: Sequence[Place],
    month: Month,
    months: Sequence[Month],
    half: HalfYear,
    targets: Mapping[str, Mapping[str, float]],
) -> Figure:
    count = indicator.noemer == ""
    unit = indicator.eenheid
    key = (indicator.base, indicator.segment, indicator.channel)
    lines = []
    for place in places:
        target = None
        if indicator.norm_id is not None and indicator.norm_id in targets.get(place.slug, {}):
            target = target_percent(targets[place.slug][indicator.norm_id])
        lines.append(
            Line(
                place,
                _cell(facts.get(month, place.slug, *key), unit, count),
                _cell(facts.get(year_before(month), place.slug, *key), unit, count),
                _cell(facts.total(half.months, place.slug, *key), unit, count),
                tuple(_cell(facts.get(m, place.slug, *key), unit, count) for m in months),
                target,
            )
        )
    return Figure(indicator, tuple(lines))


def _splits(
    facts: _Facts, month: Month, places: Sequence[Place], base: str, axis: str
) -> dict[str, dict[str, Cell]]:
    values = SEGMENTS if axis == "segment" else CHANNELS
    result: dict[str, dict[str, Cell]] = {}
    for place in places:
        cells = {}
        for value in values:
            segment, channel = (value, ALL) if axis == "segment" else (ALL, value)
            fact = facts.get(month, place.slug, base, segment, channel)
            if fact is not None and fact.noemer:
                cells[value] = _cell(fact, PERCENT, count=False)
        result[place.slug] = cells
    return result


def report_figures(
    month: Month,
    facts: Mapping[Month, Sequence[Fact]],
    norms: Sequence[NormInfo],
    places: Sequence[Place],
    targets: Mapping[str, Mapping[str, float]],
    late: Mapping[tuple[str, str], Counter[str]],
) -> ReportFigures:
    """The report of `month` from the facts of `months_needed(month)` (missing months: no data).

    `late` is `late_categories` of the report month's rows.
    """
    months = trend_months(month)
    half = half_year_of(month)
    table = _Facts(facts)
    indicators = {i.id: i for i in catalogue(norms)}

    def figure(indicator: Indicator) -> Figure:
        return _figure(indicator, table, places, month, months, half, targets)

    norm_figures = []
    for norm in norms:
        indicator = next(
            i for i in indicators.values() if i.norm_id == norm.id and i.segment == ALL
        )
        base = norm_base(norm.id)
        norm_figures.append(
            NormFigures(
                norm,
                figure(indicator),
                _splits(table, month, places, base, "segment"),
                _splits(table, month, places, base, "channel"),
                {p.slug: late.get((p.slug, norm.id), Counter()).most_common() for p in places},
                figure(_by_base(indicators, very_late_base(norm.id))),
            )
        )
    by_channel = {}
    for channel in CHANNELS:
        fig = figure(indicators[f"{SATISFACTION}_{channel}"])
        if any(line.current.noemer for line in fig.lines):
            by_channel[channel] = fig
    return ReportFigures(
        month=month,
        months=months,
        year_ago=year_before(month),
        half_year=half,
        places=tuple(places),
        norms=tuple(norm_figures),
        received=figure(_by_base(indicators, f"{RECEIVED}:melding")),
        complaints=figure(_by_base(indicators, f"{RECEIVED}:klacht")),
        upheld=figure(_by_base(indicators, UPHELD)),
        offered=figure(_by_base(indicators, OFFERED)),
        abandoned=figure(_by_base(indicators, ABANDONED)),
        satisfaction=figure(indicators[SATISFACTION]),
        satisfaction_by_channel=by_channel,
    )


def _by_base(indicators: Mapping[str, Indicator], base: str) -> Indicator:
    return next(i for i in indicators.values() if i.base == base and i.segment == ALL)
