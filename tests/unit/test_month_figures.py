"""Version 2 metrics: every norm figure split by segment, very late breaches, and where this
month's cohort will end (projection and headroom), checked against hand computations."""

from __future__ import annotations

import csv
from pathlib import Path

from streams.cli import main
from streams.core.config import load_norms
from streams.core.monitor import Monitor
from streams.exposition import monitor_registry, render
from tests.factories import event, opened, ts

WALL = 4_102_444_800.0
REACTIE = {"municipality": "castricum", "norm": "melding-reactie"}


def monitor(*raws: bytes) -> Monitor:
    m = Monitor(load_norms(), lateness=0)
    for raw in raws:
        m.process(raw, WALL)
    return m


class TestSegments:
    """Outcomes, overdue and compliance per segment; summed without segment they are the total."""

    def test_split_by_segment(self) -> None:
        m = monitor(
            opened("r1", "2024-05-13 10:00", segment="inwoner"),
            opened("o1", "2024-05-13 10:00", segment="ondernemer"),
            opened("o2", "2024-05-13 10:00", segment="ondernemer"),
            event("item.responded", "r1", "2024-05-14 10:00"),
            event("item.responded", "o1", "2024-05-14 10:00"),
        )
        m.advance(ts("2024-05-20 10:00"))
        reg = monitor_registry(m, now=lambda: ts("2024-05-20 10:00"))
        get = reg.get_sample_value
        outcome = "contact_norm_outcomes_total"
        assert get(outcome, {**REACTIE, "segment": "ondernemer", "outcome": "met"}) == 1
        assert get(outcome, {**REACTIE, "segment": "ondernemer", "outcome": "breached"}) == 1
        assert get(outcome, {**REACTIE, "segment": "inwoner", "outcome": "met"}) == 1
        overdue = "contact_norm_overdue_items"
        assert get(overdue, {**REACTIE, "segment": "ondernemer"}) == 1
        assert get(overdue, {**REACTIE, "segment": "inwoner"}) == 0
        ratio = "contact_norm_compliance_ratio"
        assert get(ratio, {**REACTIE, "segment": "ondernemer", "window": "30d"}) == 0.5
        assert get(ratio, {**REACTIE, "segment": "", "window": "30d"}) == 2 / 3

    def test_series_stay_bounded(self) -> None:
        m = monitor(*[opened(f"f{i}", "2024-05-13 10:00", category=f"c{i}") for i in range(300)])
        text = render(monitor_registry(m, now=lambda: ts("2024-05-20 10:00"))).decode()
        series = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert len(series) < 6000


class TestVeryLate:
    """A breach whose stage comes after three times the norm's duration is also very late."""

    def test_answered_after_three_times_the_norm(self) -> None:
        # 3 working days from Monday 13 May 2024 end Thursday 16 May; 9 end Monday 27 May
        # (Whit Monday 20 May is a holiday)
        m = monitor(
            opened("late", "2024-05-13 10:00"),
            opened("very", "2024-05-13 10:00"),
            event("item.responded", "late", "2024-05-21 10:00"),
            event("item.responded", "very", "2024-05-29 10:00"),
        )
        totals = m.shards["castricum"].totals
        assert totals.outcomes("melding-reactie", "breached") == 2
        assert totals.outcomes("melding-reactie", "very_late") == 1

    def test_never_answered_becomes_very_late_when_the_time_passes(self) -> None:
        m = monitor(opened("never", "2024-05-13 10:00"))
        m.advance(ts("2024-05-27 23:59"))
        assert m.shards["castricum"].totals.outcomes("melding-reactie", "very_late") == 0
        m.advance(ts("2024-05-28 00:00"))
        assert m.shards["castricum"].totals.outcomes("melding-reactie", "very_late") == 1
        m.process(event("item.responded", "never", "2024-05-30 10:00"), WALL)
        assert m.shards["castricum"].totals.outcomes("melding-reactie", "very_late") == 1


class TestMonthProjection:
    """Best and worst share of this month's cohort, and the breaches it can still take."""

    def test_hand_computation(self) -> None:
        # June 2024: 10 reports opened; by 10 June 3 met, 1 breached, 6 undecided; target 0.90
        raws = [opened(f"f{i}", "2024-06-03 10:00") for i in range(10)]
        raws += [event("item.responded", f"f{i}", "2024-06-04 10:00") for i in range(3)]
        raws += [opened("may", "2024-05-31 10:00")]  # May's cohort: not in June's figures
        m = monitor(*raws)
        m.advance(ts("2024-06-07 00:00"))
        reg = monitor_registry(m, now=lambda: ts("2024-06-05 12:00"))
        get = reg.get_sample_value
        best = get("contact_norm_month_projection_ratio", {**REACTIE, "bound": "best"})
        worst = get("contact_norm_month_projection_ratio", {**REACTIE, "bound": "worst"})
        headroom = get("contact_norm_month_headroom_items", REACTIE)
        # the deadline (end of Thursday 6 June) has passed for f3..f9: 3 met, 7 breached
        assert (best, worst) == (0.3, 0.3)
        assert headroom == 3 - 9  # met 3 + undecided 0 − 0.9 × 10 = −6: already lost

    def test_undecided_items_count_both_ways(self) -> None:
        raws = [opened(f"f{i}", "2024-06-03 10:00") for i in range(10)]
        raws += [event("item.responded", f"f{i}", "2024-06-04 10:00") for i in range(8)]
        m = monitor(*raws)
        reg = monitor_registry(m, now=lambda: ts("2024-06-05 12:00"))
        get = reg.get_sample_value
        assert get("contact_norm_month_projection_ratio", {**REACTIE, "bound": "best"}) == 1.0
        assert get("contact_norm_month_projection_ratio", {**REACTIE, "bound": "worst"}) == 0.8
        # 8 met + 2 undecided − 0.9 × 10 = 1: one more may be late
        assert get("contact_norm_month_headroom_items", REACTIE) == 1


class TestVeryLateInTheExport:
    """The export counts very late breaches apart (norm_very_late) and within norm_breached."""

    def test_export_rows(self, tmp_path: Path) -> None:
        data = tmp_path / "events.jsonl"
        data.write_bytes(
            b"\n".join(
                [
                    opened("late", "2024-05-13 10:00"),
                    opened("very", "2024-05-13 10:00"),
                    opened("fine", "2024-05-13 10:00"),
                    event("item.responded", "fine", "2024-05-14 10:00"),
                    event("item.responded", "late", "2024-05-21 10:00"),
                    event("item.responded", "very", "2024-05-29 10:00"),
                ]
            )
            + b"\n"
        )
        store = f"sqlite:///{tmp_path / 's.sqlite3'}"
        until = "2024-07-01T00:00:00+02:00"
        assert main(["replay", str(data), "--store", store, "--until", until]) == 0
        out = tmp_path / "export.csv"
        assert main(["export", "--month", "2024-05", "--store", store, "--out", str(out)]) == 0
        rows = {
            (r["indicator"], r["municipality"]): r["value"]
            for r in csv.DictReader(out.open())
            if r["norm"] == "melding-reactie" and not r["channel"] and not r["segment"]
        }
        assert rows[("norm_met", "castricum")] == "1"
        assert rows[("norm_breached", "castricum")] == "2"
        assert rows[("norm_very_late", "castricum")] == "1"
        assert rows[("norm_met_pct", "castricum")] == "33.3"
