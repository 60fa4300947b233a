"""The monthly indicators (contract section 5): rows in, one tidy table of values out.

Pure: this module reads no store and writes no file; it takes the month's rows, a business
calendar and the month, and returns `ExportRow`s sorted by (municipality, indicator, norm, kind,
channel, segment). An empty cell means "all".

Which rows count for a month, whose boundaries are local midnights in the calendar's timezone:
items by the month they were opened in (a cohort: an item opened on 30 April counts for April even
when it closes in May), calls by the month they were queued in, feedback by the month it was given
in. Norm rows follow their item or call.

Values are ints (counts) or Decimals rounded half up to a fixed number of places: one for
percentages and wait seconds, two for working days and satisfaction scores. Rows whose value
would divide by zero, or take a quantile of nothing, are left out rather than written as 0.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Protocol, TypeVar

from streams.core.rows import CallRecord, FeedbackRecord, ItemRecord, NormRecord

COLUMNS = (
    "month",
    "municipality",
    "indicator",
    "norm",
    "kind",
    "channel",
    "segment",
    "value",
    "unit",
)
"""The export's columns, in order (contract section 5)."""

ALL = ""
"""The cell value that means "all" (no split on this column)."""

COMPLAINT = "klacht"
EXCLUDED_OUTCOMES = frozenset({"excluded", "abandoned"})

T = TypeVar("T")


class MonthFormatError(ValueError):
    """The month is not a YYYY-MM string naming a real month."""


class ExportCalendar(Protocol):
    """What the export needs of the business calendar (streams.core.calendar.BusinessCalendar)."""

    def day_start(self, d: date) -> float:
        """The instant (UTC epoch seconds) of local 00:00 on `d`."""
        ...

    def working_time(self, t: float) -> float:
        """W(t) in working days; W(b) − W(a) is the working days taken from a to b."""
        ...


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, as in `--month 2024-04`."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """`YYYY-MM` into a Month; anything else raises MonthFormatError."""
        match = re.fullmatch(r"(\d{4})-(\d{2})", text)
        if match is None or not (1 <= int(match[2]) <= 12) or not (1 <= int(match[1]) <= 9998):
            raise MonthFormatError(f"--month must be YYYY-MM, got {text!r}")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def created(self) -> datetime:
        """The month's first moment as a naive datetime: a fixed document date for exports."""
        return datetime(self.year, self.month, 1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def bounds(self, calendar: ExportCalendar) -> tuple[float, float]:
        """[start, end): local midnight of the first of this month and of the next."""
        return calendar.day_start(self.first_day), calendar.day_start(self.next().first_day)


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One value of the monthly table; the fields are the columns, in order."""

    month: str
    municipality: str
    indicator: str
    norm: str
    kind: str
    channel: str
    segment: str
    value: int | Decimal
    unit: str

    @property
    def sort_key(self) -> tuple[str, str, str, str, str, str]:
        return (
            self.municipality,
            self.indicator,
            self.norm,
            self.kind,
            self.channel,
            self.segment,
        )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks (numpy's default).

    Sorts first, so the result does not depend on the order of `values`.
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def fixed(value: float | Fraction, places: int) -> Decimal:
    """`value` rounded half up to `places` decimals, as a Decimal that prints that many.

    A Fraction is divided exactly; a float is taken at its shortest repr (so 2.675 rounds to 2.68,
    as a reader expects). A negative zero becomes zero.
    """
    if isinstance(value, Fraction):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        exact = Decimal(repr(value))
    result = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return result.copy_abs() if result.is_zero() else result


def _by(rows: Iterable[T], key: Callable[[T], str]) -> dict[str, list[T]]:
    """Rows grouped by a key, groups in sorted key order."""
    groups: dict[str, list[T]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return dict(sorted(groups.items()))


def _splits(
    rows: list[T], channel: Callable[[T], str], segment: Callable[[T], str]
) -> Iterator[tuple[str, str, list[T]]]:
    """(channel, segment, rows): all rows, then each segment present, then each channel present."""
    yield ALL, ALL, rows
    for seg, group in _by(rows, segment).items():
        yield ALL, seg, group
    for chan, group in _by(rows, channel).items():
        yield chan, ALL, group


@dataclass(frozen=True, slots=True)
class _NormFact:
    """A norm row with what the export needs of its item or call."""

    row: NormRecord
    channel: str
    segment: str
    duration_workdays: float | None  # item norms: W(achieved_at) − W(opened_at)
    wait_seconds: float | None  # call norms: answered_at − queued_at


@dataclass
class _Table:
    """Rows of one municipality and month, with the month and municipality cells filled in."""

    month: str
    municipality: str
    rows: list[ExportRow] = field(default_factory=list)

    def add(
        self,
        indicator: str,
        value: int | Decimal,
        unit: str,
        *,
        norm: str = ALL,
        kind: str = ALL,
        channel: str = ALL,
        segment: str = ALL,
    ) -> None:
        self.rows.append(
            ExportRow(
                self.month,
                self.municipality,
                indicator,
                norm,
                kind,
                channel,
                segment,
                value,
                unit,
            )
        )


def _item_rows(table: _Table, items: list[ItemRecord], end: float) -> None:
    """opened, closed, reopened, open_at_month_end, complaints_upheld per kind × split."""
    groups = [(ALL, items), *_by(items, lambda i: i.kind).items()]
    for kind, of_kind in groups:
        for channel, segment, rows in _splits(of_kind, lambda i: i.channel, lambda i: i.segment):
            cells = {"kind": kind, "channel": channel, "segment": segment}
            table.add("opened", len(rows), "count", **cells)
            table.add("closed", sum(not i.is_open for i in rows), "count", **cells)
            table.add("reopened", sum(i.reopened for i in rows), "count", **cells)
            still_open = sum(i.closed_at is None or i.closed_at >= end for i in rows)
            table.add("open_at_month_end", still_open, "count", **cells)
            if kind in (ALL, COMPLAINT):
                upheld = sum(i.kind == COMPLAINT and i.upheld is True for i in rows)
                table.add("complaints_upheld", upheld, "count", **cells)


def _met_pct(rows: Iterable[NormRecord]) -> Decimal | None:
    """met / (met + breached) × 100 with one decimal, or None when nothing was decided."""
    outcomes = [r.outcome for r in rows]
    met = outcomes.count("met")
    breached = outcomes.count("breached") + outcomes.count("very_late")
    if met + breached == 0:
        return None
    return fixed(Fraction(100 * met, met + breached), 1)


def _is_overdue(row: NormRecord, end: float) -> bool:
    """Deadline passed before month end while the stage had not happened by then."""
    return (
        row.outcome not in EXCLUDED_OUTCOMES
        and row.deadline is not None
        and row.deadline < end
        and (row.achieved_at is None or row.achieved_at >= end)
    )


def _norm_rows(table: _Table, facts: list[_NormFact], end: float) -> None:
    """Outcome counts, compliance, overdue and duration quantiles per norm × split."""
    for norm, of_norm in _by(facts, lambda f: f.row.norm).items():
        for channel, segment, group in _splits(of_norm, lambda f: f.channel, lambda f: f.segment):
            cells = {"norm": norm, "channel": channel, "segment": segment}
            rows = [f.row for f in group]
            outcomes = [r.outcome for r in rows]
            very_late = outcomes.count("very_late")
            table.add("norm_met", outcomes.count("met"), "count", **cells)
            table.add("norm_breached", outcomes.count("breached") + very_late, "count", **cells)
            table.add("norm_very_late", very_late, "count", **cells)
            table.add("norm_pending", outcomes.count("pending"), "count", **cells)
            pct = _met_pct(rows)
            if pct is not None:
                table.add("norm_met_pct", pct, "percent", **cells)
            overdue = sum(_is_overdue(r, end) for r in rows)
            table.add("overdue_at_month_end", overdue, "count", **cells)
            days = [f.duration_workdays for f in group if f.duration_workdays is not None]
            _add_quantiles(table, "duration_workdays", days, places=2, unit="workdays", cells=cells)
            waits = [f.wait_seconds for f in group if f.wait_seconds is not None]
            _add_quantiles(table, "wait_seconds", waits, places=1, unit="seconds", cells=cells)


def _add_quantiles(
    table: _Table, name: str, values: list[float], *, places: int, unit: str, cells: dict[str, str]
) -> None:
    """median_<name> and p90_<name>, left out when there are no values."""
    if values:
        table.add(f"median_{name}", fixed(percentile(values, 0.5), places), unit, **cells)
        table.add(f"p90_{name}", fixed(percentile(values, 0.9), places), unit, **cells)


def _call_rows(
    table: _Table, calls: list[CallRecord], call_norms: dict[str, list[NormRecord]]
) -> None:
    """Offered, answered, abandoned and answered-within-norm per channel × segment."""
    for channel, of_channel in [(ALL, calls), *_by(calls, lambda c: c.channel).items()]:
        segments = [(ALL, of_channel), *_by(of_channel, lambda c: c.segment).items()]
        for segment, rows in segments:
            cells = {"channel": channel, "segment": segment}
            outcomes = [c.outcome for c in rows]
            table.add("calls_offered", len(rows), "count", **cells)
            table.add("calls_answered", outcomes.count("answered"), "count", **cells)
            table.add("calls_abandoned", outcomes.count("abandoned"), "count", **cells)
            norm_rows = [n for c in rows for n in call_norms.get(c.subject, [])]
            for norm, of_norm in _by(norm_rows, lambda n: n.norm).items():
                pct = _met_pct(of_norm)
                if pct is not None:
                    table.add("calls_answered_within_norm_pct", pct, "percent", norm=norm, **cells)


def _feedback_rows(table: _Table, feedback: list[FeedbackRecord]) -> None:
    """Mean satisfaction score and number of scores per channel."""
    for channel, rows in [(ALL, feedback), *_by(feedback, lambda f: f.channel).items()]:
        table.add("satisfaction_count", len(rows), "count", channel=channel)
        if rows:
            mean = fixed(Fraction(sum(f.score for f in rows), len(rows)), 2)
            table.add("satisfaction_mean", mean, "score", channel=channel)


def _norm_facts(
    norms: Iterable[NormRecord],
    items: dict[str, ItemRecord],
    calls: dict[str, CallRecord],
    calendar: ExportCalendar,
) -> list[_NormFact]:
    """Norm rows joined to their item or call; rows of items or calls outside the month drop."""
    facts = []
    for row in norms:
        if row.family == "call":
            call = calls.get(row.subject)
            if call is None:
                continue
            wait = None if call.answered_at is None else call.answered_at - call.queued_at
            facts.append(_NormFact(row, call.channel, call.segment, None, wait))
        else:
            item = items.get(row.subject)
            if item is None:
                continue
            days = None
            if row.achieved_at is not None:
                days = calendar.working_time(row.achieved_at) - calendar.working_time(
                    item.opened_at
                )
            facts.append(_NormFact(row, item.channel, item.segment, days, None))
    return facts


def monthly_indicators(
    month: Month,
    calendar: ExportCalendar,
    municipalities: Sequence[str],
    *,
    items: Iterable[ItemRecord],
    norms: Iterable[NormRecord],
    calls: Iterable[CallRecord],
    feedback: Iterable[FeedbackRecord],
) -> list[ExportRow]:
    """The month's table: every indicator of contract section 5, sorted.

    Rows outside the month are ignored, so callers may pass more than the month. Every name in
    `municipalities` gets its rows, with zero counts when it had no activity; a municipality that
    has rows but is not named is exported too, so no data disappears from the table silently.
    """
    start, end = month.bounds(calendar)

    def in_month(t: float) -> bool:
        return start <= t < end

    month_items = _by((i for i in items if in_month(i.opened_at)), lambda i: i.municipality)
    month_calls = _by((c for c in calls if in_month(c.queued_at)), lambda c: c.municipality)
    month_feedback = _by((f for f in feedback if in_month(f.given_at)), lambda f: f.municipality)
    month_norms = _by(norms, lambda n: n.municipality)
    active = month_items.keys() | month_calls.keys() | month_feedback.keys()
    names = sorted(set(municipalities) | active)

    rows: list[ExportRow] = []
    for name in names:
        table = _Table(str(month), name)
        its = month_items.get(name, [])
        cls = month_calls.get(name, [])
        facts = _norm_facts(
            month_norms.get(name, []),
            {i.subject: i for i in its},
            {c.subject: c for c in cls},
            calendar,
        )
        call_norms: dict[str, list[NormRecord]] = defaultdict(list)
        for fact in facts:
            if fact.row.family == "call":
                call_norms[fact.row.subject].append(fact.row)
        _item_rows(table, its, end)
        _norm_rows(table, facts, end)
        _call_rows(table, cls, call_norms)
        _feedback_rows(table, month_feedback.get(name, []))
        rows.extend(table.rows)
    rows.sort(key=lambda r: r.sort_key)
    return rows
