"""The monthly indicators: cohorts on local month edges, every value, splits and stable order."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest

from streams.core.calendar import BusinessCalendar
from streams.core.rows import CallRecord, FeedbackRecord, ItemRecord, NormRecord
from streams.export.indicators import (
    COLUMNS,
    ExportRow,
    Month,
    MonthFormatError,
    fixed,
    monthly_indicators,
    percentile,
)
from tests.factories import at, call_record, feedback_record, item_record, norm_record

CALENDAR = BusinessCalendar()
APRIL = Month(2024, 4)
CONFIGURED = ("bergen", "castricum", "heiloo")


def item(
    subject: str, kind: str, channel: str, segment: str, opened: str, **changes: object
) -> ItemRecord:
    defaults = {"category": "overig", "source_system": None}
    return item_record(
        subject, opened, kind=kind, channel=channel, segment=segment, **{**defaults, **changes}
    )


def norm(
    subject: str, name: str, outcome: str, deadline: str, achieved: str | None = None
) -> NormRecord:
    return norm_record(
        subject,
        name,
        stage="resolution" if name.endswith("afhandeling") else "response",
        deadline=at(deadline),
        outcome=outcome,
        achieved_at=None if achieved is None else at(achieved),
    )


def call(
    subject: str, channel: str, segment: str, queued: str, outcome: str, *, after: float | None
) -> CallRecord:
    done = None if after is None else at(queued) + after
    return call_record(
        subject,
        queued,
        channel=channel,
        queue=None,
        segment=segment,
        answered_at=done if outcome == "answered" else None,
        abandoned_at=done if outcome == "abandoned" else None,
        outcome=outcome,
    )


def call_norm(subject: str, queued: str, outcome: str, achieved_after: float | None) -> NormRecord:
    queued_at = at(queued)
    return norm_record(
        subject,
        "telefoon-opname",
        family="call",
        deadline=queued_at + 30,
        outcome=outcome,
        achieved_at=None if achieved_after is None else queued_at + achieved_after,
    )


def score(key: str, channel: str, value: int, given: str, where: str = "bergen") -> FeedbackRecord:
    return feedback_record(key, given, where, channel=channel, kind=None, score=value)


ITEMS = [
    item(
        "b1",
        "melding",
        "app",
        "inwoner",
        "2024-04-02T10:00+02:00",
        responded_at=at("2024-04-03T10:00+02:00"),
        closed_at=at("2024-04-04T10:00+02:00"),
        resolution="afgehandeld",
        is_open=False,
    ),
    # Opened 30 April 23:30 local, 21:30 UTC: April's cohort.
    item("b2", "melding", "email", "ondernemer", "2024-04-30T23:30+02:00"),
    item(
        "b3",
        "klacht",
        "email",
        "inwoner",
        "2024-04-08T09:00+02:00",
        closed_at=at("2024-05-06T12:00+02:00"),
        upheld=True,
        reopened=1,
        is_open=False,
    ),
    # Opened 31 March 23:30 local (summer time began that night): March's cohort.
    item("b4", "vraag", "webformulier", "inwoner", "2024-03-31T23:30+02:00"),
    item(
        "b5",
        "klacht",
        "webformulier",
        "ondernemer",
        "2024-04-15T09:00+02:00",
        closed_at=at("2024-04-16T09:00+02:00"),
        upheld=False,
        is_open=False,
    ),
    item(
        "b6",
        "melding",
        "app",
        "inwoner",
        "2024-04-10T09:00+02:00",
        responded_at=at("2024-04-15T09:00+02:00"),
        closed_at=at("2024-04-25T09:00+02:00"),
        reopened=1,
        is_open=False,
    ),
    item("b7", "vraag", "email", "inwoner", "2024-04-22T09:00+02:00"),
    item("b-may", "melding", "app", "inwoner", "2024-05-01T00:00+02:00"),
    replace(
        item("c1", "vraag", "email", "inwoner", "2024-04-03T09:00+02:00"),
        municipality="castricum",
    ),
]

NORMS = [
    norm("b1", "melding-reactie", "met", "2024-04-06T00:00+02:00", "2024-04-03T10:00+02:00"),
    norm("b1", "melding-afhandeling", "met", "2024-04-17T00:00+02:00", "2024-04-04T10:00+02:00"),
    norm("b2", "melding-reactie", "pending", "2024-05-04T00:00+02:00"),
    norm("b2", "melding-afhandeling", "pending", "2024-05-15T00:00+02:00"),
    norm("b3", "klacht-afhandeling", "met", "2024-05-22T00:00+02:00", "2024-05-06T12:00+02:00"),
    norm("b4", "vraag-reactie", "breached", "2024-04-04T00:00+02:00"),
    norm("b5", "klacht-afhandeling", "met", "2024-05-28T00:00+02:00", "2024-04-16T09:00+02:00"),
    norm("b6", "melding-reactie", "breached", "2024-04-13T00:00+02:00", "2024-04-15T09:00+02:00"),
    norm("b6", "melding-afhandeling", "met", "2024-04-25T00:00+02:00", "2024-04-12T21:00+02:00"),
    norm("b7", "vraag-reactie", "breached", "2024-04-26T00:00+02:00"),
]

CALLS = [
    call("k1", "telefoon", "inwoner", "2024-04-02T10:00+02:00", "answered", after=20),
    call("k2", "telefoon", "ondernemer", "2024-04-03T11:00+02:00", "answered", after=45),
    call("k3", "telefoon", "inwoner", "2024-04-04T12:00+02:00", "abandoned", after=10),
    call("k4", "chat", "inwoner", "2024-04-05T09:00+02:00", "answered", after=60),
    call("k5", "telefoon", "inwoner", "2024-03-31T23:59+02:00", "answered", after=5),
]

CALL_NORMS = [
    call_norm("k1", "2024-04-02T10:00+02:00", "met", 20),
    call_norm("k2", "2024-04-03T11:00+02:00", "breached", 45),
    call_norm("k3", "2024-04-04T12:00+02:00", "abandoned", None),
    call_norm("k5", "2024-03-31T23:59+02:00", "met", 5),
]

FEEDBACK = [
    score("f1", "app", 8, "2024-04-03T12:00+02:00"),
    score("f2", "app", 7, "2024-04-04T12:00+02:00"),
    score("f3", "telefoon", 6, "2024-04-30T23:59+02:00"),
    score("f4", "email", 9, "2024-05-01T00:00+02:00"),
    score("f5", "app", 9, "2024-04-12T12:00+02:00", where="uitgeest"),
]


def export(month: Month = APRIL) -> list[ExportRow]:
    return monthly_indicators(
        month,
        CALENDAR,
        CONFIGURED,
        items=ITEMS,
        norms=NORMS + CALL_NORMS,
        calls=CALLS,
        feedback=FEEDBACK,
    )


@pytest.fixture(scope="module")
def april() -> list[ExportRow]:
    return export()


def value(
    rows: list[ExportRow],
    indicator: str,
    municipality: str = "bergen",
    *,
    norm: str = "",
    kind: str = "",
    channel: str = "",
    segment: str = "",
) -> int | Decimal | None:
    """The one value with these cells, or None when there is no such row."""
    key = (municipality, indicator, norm, kind, channel, segment)
    found = [r.value for r in rows if r.sort_key == key]
    assert len(found) <= 1, f"{key} appears {len(found)} times"
    return found[0] if found else None


class TestMonth:
    """A month parses from YYYY-MM and spans local midnight to local midnight."""

    def test_parse_and_print(self) -> None:
        assert Month.parse("2024-04") == APRIL
        assert str(Month(2024, 4)) == "2024-04"

    @pytest.mark.parametrize("text", ["2024-13", "2024-00", "2024-4", "april", "2024-04-01", ""])
    def test_a_bad_month_is_a_value_error_naming_the_option(self, text: str) -> None:
        with pytest.raises(MonthFormatError) as raised:
            Month.parse(text)
        assert isinstance(raised.value, ValueError)
        assert str(raised.value) == f"--month must be YYYY-MM, got {text!r}"

    def test_next_rolls_over_the_year(self) -> None:
        assert Month(2024, 12).next() == Month(2025, 1)
        assert Month(2024, 4).next() == Month(2024, 5)

    def test_bounds_are_local_midnights_across_dst(self) -> None:
        start, end = Month(2024, 3).bounds(CALENDAR)
        assert start == at("2024-03-01T00:00+01:00")
        assert end == at("2024-04-01T00:00+02:00")


class TestPercentileAndRounding:
    """Quantiles interpolate between closest ranks; values round half up to fixed places."""

    def test_linear_interpolation_like_numpy(self) -> None:
        assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
        assert percentile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)
        assert percentile([1.0, 3.0], 0.9) == pytest.approx(2.8)
        assert percentile([7.0], 0.9) == 7.0
        assert percentile([1.0, 2.0, 3.0], 0.0) == 1.0
        assert percentile([1.0, 2.0, 3.0], 1.0) == 3.0

    def test_no_values_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="no values"):
            percentile([], 0.5)

    def test_half_up_with_fixed_places(self) -> None:
        assert str(fixed(20.125, 2)) == "20.13"
        assert str(fixed(2.675, 2)) == "2.68"
        assert str(fixed(Fraction(200, 3), 1)) == "66.7"
        assert str(fixed(Fraction(100, 1), 1)) == "100.0"
        assert str(fixed(2.0, 2)) == "2.00"
        assert str(fixed(-0.0001, 2)) == "0.00"


class TestItems:
    """Item counts per kind and split, for the cohort opened in the month."""

    def test_all_kinds(self, april: list[ExportRow]) -> None:
        assert value(april, "opened") == 6
        assert value(april, "closed") == 4
        assert value(april, "reopened") == 2
        assert value(april, "open_at_month_end") == 3  # b2 and b7 never closed, b3 closed in May
        assert value(april, "complaints_upheld") == 1

    def test_per_kind(self, april: list[ExportRow]) -> None:
        assert value(april, "opened", kind="melding") == 3
        assert value(april, "closed", kind="melding") == 2
        assert value(april, "reopened", kind="melding") == 1
        assert value(april, "open_at_month_end", kind="melding") == 1
        assert value(april, "complaints_upheld", kind="melding") is None
        assert value(april, "opened", kind="klacht") == 2
        assert value(april, "open_at_month_end", kind="klacht") == 1
        assert value(april, "complaints_upheld", kind="klacht") == 1
        assert value(april, "opened", kind="vraag") == 1
        assert value(april, "opened", kind="aanvraag") is None

    def test_segment_and_channel_splits(self, april: list[ExportRow]) -> None:
        assert value(april, "opened", segment="inwoner") == 4
        assert value(april, "opened", segment="ondernemer") == 2
        assert value(april, "opened", channel="app") == 2
        assert value(april, "opened", channel="email") == 3
        assert value(april, "opened", channel="webformulier") == 1
        assert value(april, "complaints_upheld", kind="klacht", segment="ondernemer") == 0
        assert value(april, "complaints_upheld", kind="klacht", channel="email") == 1
        # Splits are beside each other, never crossed.
        assert value(april, "opened", channel="app", segment="inwoner") is None

    def test_cohort_boundary_on_the_local_month_edge(self, april: list[ExportRow]) -> None:
        # b2, opened 2024-04-30T23:30+02:00, counts for April; b4 (2024-03-31T23:30+02:00) and
        # b-may (2024-05-01T00:00+02:00) do not.
        assert value(april, "opened", segment="ondernemer", kind="melding") == 1
        march = export(Month(2024, 3))
        assert value(march, "opened") == 1
        assert value(march, "opened", kind="vraag") == 1
        assert value(export(Month(2024, 5)), "opened") == 1


class TestNorms:
    """Norm outcomes, compliance, overdue and working-day durations per norm and split."""

    def test_outcomes_and_compliance(self, april: list[ExportRow]) -> None:
        cells = {"norm": "melding-reactie"}
        assert value(april, "norm_met", **cells) == 1
        assert value(april, "norm_breached", **cells) == 1
        assert value(april, "norm_pending", **cells) == 1
        assert value(april, "norm_met_pct", **cells) == Decimal("50.0")
        assert value(april, "norm_met_pct", norm="melding-afhandeling") == Decimal("100.0")
        assert value(april, "norm_met_pct", norm="vraag-reactie") == Decimal("0.0")

    def test_durations_in_working_days(self, april: list[ExportRow]) -> None:
        # b1: Tue 10:00 → Wed 10:00 = 1; b6: Wed 09:00 → Mon 09:00 over a weekend = 3.
        assert value(april, "median_duration_workdays", norm="melding-reactie") == Decimal("2.00")
        assert value(april, "p90_duration_workdays", norm="melding-reactie") == Decimal("2.80")
        # b1: 2 working days; b6: Wed 09:00 → Fri 21:00 = 0.625 + 1 + 0.875 = 2.5.
        assert value(april, "median_duration_workdays", norm="melding-afhandeling") == Decimal(
            "2.25"
        )
        # b3: Mon 8 April 09:00 → Mon 6 May 12:00 = 20.125 working days (rounds half up).
        assert value(
            april, "p90_duration_workdays", norm="klacht-afhandeling", segment="inwoner"
        ) == Decimal("20.13")
        assert value(april, "median_duration_workdays", norm="klacht-afhandeling") == Decimal(
            "10.56"
        )
        assert value(april, "median_duration_workdays", norm="vraag-reactie") is None

    def test_overdue_at_month_end(self, april: list[ExportRow]) -> None:
        assert value(april, "overdue_at_month_end", norm="vraag-reactie") == 1  # b7, not b4
        assert value(april, "overdue_at_month_end", norm="melding-reactie") == 0
        assert value(april, "overdue_at_month_end", norm="telefoon-opname") == 0

    def test_splits_use_the_items_segment_and_channel(self, april: list[ExportRow]) -> None:
        cells = {"norm": "melding-reactie"}
        assert value(april, "norm_met_pct", segment="inwoner", **cells) == Decimal("50.0")
        assert value(april, "norm_pending", segment="ondernemer", **cells) == 1
        assert value(april, "norm_met_pct", segment="ondernemer", **cells) is None
        assert value(april, "norm_met", channel="app", **cells) == 1
        assert value(april, "median_duration_workdays", channel="email", **cells) is None
        assert all(r.kind == "" for r in april if r.indicator.startswith("norm_"))

    def test_call_norms_report_wait_seconds(self, april: list[ExportRow]) -> None:
        cells = {"norm": "telefoon-opname"}
        assert value(april, "norm_met", **cells) == 1
        assert value(april, "norm_breached", **cells) == 1
        assert value(april, "norm_met_pct", **cells) == Decimal("50.0")
        assert value(april, "median_wait_seconds", **cells) == Decimal("32.5")
        assert value(april, "p90_wait_seconds", **cells) == Decimal("42.5")
        assert value(april, "median_wait_seconds", segment="ondernemer", **cells) == Decimal("45.0")
        assert value(april, "median_duration_workdays", **cells) is None

    def test_excluded_and_abandoned_are_neither_decided_nor_overdue(self) -> None:
        withdrawn = item("w1", "vraag", "email", "inwoner", "2024-04-02T10:00+02:00")
        rows = monthly_indicators(
            APRIL,
            CALENDAR,
            ["bergen"],
            items=[withdrawn],
            norms=[norm("w1", "vraag-reactie", "excluded", "2024-04-06T00:00+02:00")],
            calls=[],
            feedback=[],
        )
        assert value(rows, "norm_met", norm="vraag-reactie") == 0
        assert value(rows, "norm_breached", norm="vraag-reactie") == 0
        assert value(rows, "norm_met_pct", norm="vraag-reactie") is None
        assert value(rows, "overdue_at_month_end", norm="vraag-reactie") == 0


class TestCalls:
    """Calls offered, answered and abandoned per channel × segment, with answer compliance."""

    def test_all_channels(self, april: list[ExportRow]) -> None:
        assert value(april, "calls_offered") == 4  # k5 was queued in March
        assert value(april, "calls_answered") == 3
        assert value(april, "calls_abandoned") == 1
        pct = "calls_answered_within_norm_pct"
        assert value(april, pct, norm="telefoon-opname") == Decimal("50.0")

    def test_channel_by_segment(self, april: list[ExportRow]) -> None:
        pct = "calls_answered_within_norm_pct"
        assert value(april, "calls_offered", channel="telefoon") == 3
        assert value(april, "calls_abandoned", channel="telefoon", segment="inwoner") == 1
        # k1 met; k3 was abandoned before its deadline, which is not in the norm.
        assert value(april, pct, norm="telefoon-opname", channel="telefoon", segment="inwoner") == (
            Decimal("100.0")
        )
        assert value(april, pct, norm="telefoon-opname", segment="ondernemer") == Decimal("0.0")
        assert value(april, "calls_offered", segment="inwoner") == 3
        assert value(april, "calls_answered", channel="chat", segment="inwoner") == 1
        assert value(april, pct, norm="telefoon-opname", channel="chat") is None


class TestFeedback:
    """Satisfaction per channel: mean score with two decimals and the number of scores."""

    def test_mean_and_count(self, april: list[ExportRow]) -> None:
        assert value(april, "satisfaction_count") == 3  # f4 was given in May
        assert value(april, "satisfaction_mean") == Decimal("7.00")
        assert value(april, "satisfaction_mean", channel="app") == Decimal("7.50")
        assert value(april, "satisfaction_count", channel="telefoon") == 1
        assert value(april, "satisfaction_mean", channel="email") is None


class TestTable:
    """Every municipality gets rows, in a deterministic order, whatever order the input had."""

    def test_municipality_without_activity_gets_zero_counts(self, april: list[ExportRow]) -> None:
        for indicator in (
            "opened",
            "closed",
            "reopened",
            "open_at_month_end",
            "complaints_upheld",
            "calls_offered",
            "calls_answered",
            "calls_abandoned",
            "satisfaction_count",
        ):
            assert value(april, indicator, "heiloo") == 0
        assert value(april, "satisfaction_mean", "heiloo") is None
        assert {r.municipality for r in april} == {"bergen", "castricum", "heiloo", "uitgeest"}
        assert value(april, "opened", "castricum") == 1
        assert value(april, "satisfaction_mean", "uitgeest") == Decimal("9.00")

    def test_rows_are_sorted_unique_and_complete(self, april: list[ExportRow]) -> None:
        keys = [r.sort_key for r in april]
        assert keys == sorted(keys)
        assert len(set(keys)) == len(keys)
        assert {r.month for r in april} == {"2024-04"}
        assert ExportRow.__slots__ == COLUMNS
        units = {r.indicator: r.unit for r in april}
        assert units["norm_met_pct"] == "percent"
        assert units["median_duration_workdays"] == "workdays"
        assert units["p90_wait_seconds"] == "seconds"
        assert units["satisfaction_mean"] == "score"
        assert units["opened"] == "count"

    def test_input_order_does_not_matter(self, april: list[ExportRow]) -> None:
        rng = random.Random(7)
        items, norms, calls, feedback = (
            rng.sample(ITEMS, len(ITEMS)),
            rng.sample(NORMS + CALL_NORMS, len(NORMS + CALL_NORMS)),
            rng.sample(CALLS, len(CALLS)),
            rng.sample(FEEDBACK, len(FEEDBACK)),
        )
        again = monthly_indicators(
            APRIL,
            CALENDAR,
            list(reversed(CONFIGURED)),
            items=items,
            norms=norms,
            calls=calls,
            feedback=feedback,
        )
        assert again == april
