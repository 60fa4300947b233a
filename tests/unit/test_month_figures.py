"""Version 2 metrics: every norm figure split by segment, very late breaches, and where this
month's cohort will end (projection and headroom), checked against hand computations."""

from __future__ import annotations

import csv
from pathlib import Path

from streams.cli import main
from streams.core.config import load_norms
from streams.core.monitor import Monitor
from streams.export.indicators import Month
from streams.exposition import monitor_registry
from streams.report.run import compute_figures
from tests.factories import event, opened, ts

WALL = 4_102_444_800.0
REACTIE = {"municipality": "castricum", "norm": "melding-reactie"}
OTHER = {"category": "overig"}  # the test items' category is too small for a series of its own


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
        assert get(outcome, {**REACTIE, **OTHER, "segment": "ondernemer", "outcome": "met"}) == 1
        assert (
            get(outcome, {**REACTIE, **OTHER, "segment": "ondernemer", "outcome": "breached"}) == 1
        )
        assert get(outcome, {**REACTIE, **OTHER, "segment": "inwoner", "outcome": "met"}) == 1
        overdue = "contact_norm_overdue_items"
        assert get(overdue, {**REACTIE, **OTHER, "segment": "ondernemer"}) == 1
        assert get(overdue, {**REACTIE, **OTHER, "segment": "inwoner"}) == 0
        ratio = "contact_norm_compliance_ratio"
        assert get(ratio, {**REACTIE, "segment": "ondernemer", "window": "30d"}) == 0.5
        assert get(ratio, {**REACTIE, "segment": "", "window": "30d"}) == 2 / 3


KINDS = (
    ("melding", "app"),
    ("vraag", "email"),
    ("terugbelverzoek", "telefoon"),
    ("klacht", "webformulier"),
    ("aanvraag", "webformulier"),
)
SEGMENT_WORDS = ("inwoner", "ondernemer", "maatschappelijke_partner", "onbekend")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(m: Monitor, now: str) -> Samples:
    """Every sample of the exposition at ``now``: (name, sorted labels) -> value."""
    reg = monitor_registry(m, now=lambda: ts(now))
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in reg.collect()
        for s in family.samples
    }


def summed(found: Samples, name: str, without: tuple[str, ...]) -> dict[tuple[object, ...], float]:
    """``sum without (without) (name)``."""
    sums: dict[tuple[object, ...], float] = {}
    for (sample, labels), value in found.items():
        if sample == name:
            key = tuple(kv for kv in labels if kv[0] not in without)
            sums[key] = sums.get(key, 0) + value
    return sums


def counters(found: Samples) -> Samples:
    return {k: v for k, v in found.items() if k[0].endswith("_total")}


class TestCategories:
    """Outcomes and overdue items per category: the ten that first reach twenty items opened
    keep a series for good, the rest is overig; the sums are the unsplit figures."""

    def test_the_first_ten_to_reach_twenty_items_get_a_series(self) -> None:
        raws = []
        for i in range(25):  # c0..c11 reach twenty in this order; c12 never does
            for c in range(13):
                if c < 12 or i < 5:
                    raws.append(
                        opened(
                            f"c{c}-{i}", f"2024-05-13 {8 + c // 2:02d}:{i:02d}", category=f"c{c}"
                        )
                    )
        m = monitor(*raws)
        assert m.shards["castricum"].totals.categories.names == [f"c{c}" for c in range(10)]
        m.advance(ts("2024-05-20 10:00"))
        found = samples(m, "2024-05-20 10:00")
        labels = {dict(k[1]).get("category") for k in found if k[0] == "contact_norm_overdue_items"}
        assert labels == {"overig", *(f"c{c}" for c in range(10))}
        overdue = "contact_norm_overdue_items"
        # the twentieth item of a category (the one that earns the slot) and those before stay
        # in overig; five later ones each of c0..c9 have the category's own series
        c0 = {**REACTIE, "segment": "onbekend", "category": "c0"}
        assert found[(overdue, tuple(sorted(c0.items())))] == 5
        # a slot's series are there from the start, at 0 (so increase() misses no decision),
        # for every item norm; calls have no category
        klacht = {**c0, "norm": "klacht-afhandeling", "outcome": "met"}
        assert found[("contact_norm_outcomes_total", tuple(sorted(klacht.items())))] == 0
        phone = {**c0, "norm": "telefoon-opname", "outcome": "met"}
        assert ("contact_norm_outcomes_total", tuple(sorted(phone.items()))) not in found
        total = sum(
            v
            for (n, lab), v in found.items()
            if n == overdue and dict(lab)["norm"] == "melding-reactie"
        )
        assert total == 12 * 25 + 5

    def test_sums_without_category_are_the_unsplit_figures(self) -> None:
        raws = [
            opened(f"f{c}-{i}", "2024-05-13 10:00", category=f"c{c}", segment=SEGMENT_WORDS[i % 4])
            for c in range(3)
            for i in range(40)
        ]
        raws += [
            event("item.responded", f"f{c}-{i}", "2024-05-14 10:00")
            for c in range(3)
            for i in range(0, 40, 3)
        ]
        raws += [
            event("item.responded", f"f{c}-{i}", "2024-06-14 10:00")
            for c in range(3)
            for i in range(1, 40, 3)
        ]
        m = monitor(*raws)
        m.advance(ts("2024-07-01 10:00"))
        found = samples(m, "2024-07-01 10:00")
        totals = m.shards["castricum"].totals
        by_outcome = summed(found, "contact_norm_outcomes_total", ("segment", "category"))
        for norm in totals.norm_ids:
            for outcome in ("met", "breached", "very_late"):
                key = (("municipality", "castricum"), ("norm", norm), ("outcome", outcome))
                assert by_outcome[key] == totals.outcomes(norm, outcome)
        assert (
            by_outcome[
                (("municipality", "castricum"), ("norm", "melding-reactie"), ("outcome", "met"))
            ]
            == 42
        )
        overdue = summed(found, "contact_norm_overdue_items", ("category",))
        waiting, _ = m.shards["castricum"].waiting_by_norm(ts("2024-07-01 10:00"))
        for i, norm in enumerate(totals.norm_ids):
            for s, segment in enumerate(SEGMENT_WORDS):
                key = (("municipality", "castricum"), ("norm", norm), ("segment", segment))
                assert overdue[key] == sum(waiting[i][s * 11 : (s + 1) * 11])
        reactie = [v for k, v in overdue.items() if ("norm", "melding-reactie") in k]
        assert sum(reactie) == 3 * 13  # 14 responded in time and 13 late of each category's 40
        # every series of version 2 (per segment) is still there, with or without a category
        segments = set(summed(found, "contact_norm_outcomes_total", ("category",)))
        assert len(segments) == 4 * 4 * len(totals.norm_ids) * 3  # municipalities, segments

    def test_counters_never_go_down_when_the_ranking_changes(self) -> None:
        m = monitor()
        before: Samples = {}
        mondays = ["2024-05-13", "2024-05-20", "2024-05-27", "2024-06-03"]
        # first small categories, then ten big ones take the slots, then a bigger one comes
        # that finds no slot free: it counts as overig, and no series goes down or away
        waves = [[f"klein{c}" for c in range(5)], [f"groot{c}" for c in range(10)], ["nieuw"]]
        for wave, categories in enumerate(waves):
            for i in range(30 if wave else 5):
                for c in categories:
                    m.process(opened(f"{c}-{i}", f"{mondays[wave]} 10:00", category=c), WALL)
                    if i % 2:
                        m.process(
                            event("item.responded", f"{c}-{i}", f"{mondays[wave]} 11:00"), WALL
                        )
            m.advance(ts(f"{mondays[wave + 1]} 09:00"))
            now = counters(samples(m, f"{mondays[wave + 1]} 09:00"))
            for key, value in before.items():
                assert key in now, key
                assert now[key] >= value, key
            before = now
        slots = m.shards["castricum"].totals.categories.names
        assert slots == [f"groot{c}" for c in range(10)]
        labels = {
            dict(k[1]).get("category") for k in before if k[0] == "contact_norm_outcomes_total"
        }
        assert "nieuw" not in labels
        assert "klein0" not in labels

    def test_series_stay_bounded_with_four_municipalities(self) -> None:
        """The worst case: every municipality fills its ten slots, and every norm is decided
        and overdue for every segment and category."""
        raws = []
        municipalities = ("bergen", "castricum", "heiloo", "uitgeest")
        for muni in municipalities:
            for c in range(30):
                for i in range(20):  # every category reaches twenty: the first ten get slots
                    raws.append(
                        opened(f"w{c}-{i}", "2024-05-13 10:00", municipality=muni, category=f"c{c}")
                    )
            for c in range(30):
                for kind, channel in KINDS:
                    for segment in SEGMENT_WORDS:
                        subject = f"{kind}-{segment}-{c}"
                        raws.append(
                            opened(
                                subject,
                                "2024-05-13 11:00",
                                municipality=muni,
                                kind=kind,
                                channel=channel,
                                category=f"c{c}",
                                segment=segment,
                            )
                        )
                        raws.append(
                            opened(
                                subject + "-met",
                                "2024-05-13 11:00",
                                municipality=muni,
                                kind=kind,
                                channel=channel,
                                category=f"c{c}",
                                segment=segment,
                            )
                        )
                        raws.append(
                            event("item.responded", subject + "-met", "2024-05-13 12:00", muni)
                        )
                        raws.append(
                            event(
                                "item.closed",
                                subject + "-met",
                                "2024-05-13 12:00",
                                muni,
                                resolution="afgehandeld",
                            )
                        )
            for segment in SEGMENT_WORDS:
                raws.append(
                    event(
                        "call.queued",
                        f"call-{segment}",
                        "2024-05-13 10:00",
                        muni,
                        channel="telefoon",
                        segment=segment,
                    )
                )
        m = monitor(*raws)
        found = samples(m, "2024-09-02 10:00")
        outcomes = {k for k in found if k[0] == "contact_norm_outcomes_total"}
        overdue = {k for k in found if k[0] == "contact_norm_overdue_items"}
        # five item norms x 4 segments x 11 categories x 3 outcomes, the phone norm only overig
        assert len(outcomes) == 4 * (5 * 4 * 11 * 3 + 4 * 3)
        assert len(overdue) == 4 * (5 * 4 * 11 + 4)
        assert len(found) < 6000, len(found)


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

    def test_the_report_says_what_the_metrics_say(self, tmp_path: Path) -> None:
        raws = [opened(f"f{i}", "2024-06-03 10:00") for i in range(10)]
        raws += [event("item.responded", f"f{i}", "2024-06-04 10:00") for i in range(8)]
        now = "2024-06-05 12:00"
        reg = monitor_registry(monitor(*raws), now=lambda: ts(now))
        data = tmp_path / "events.jsonl"
        data.write_bytes(b"\n".join(raws) + b"\n")
        store = f"sqlite:///{tmp_path / 's.sqlite3'}"
        until = "2024-06-05T12:00:00+02:00"
        assert main(["replay", str(data), "--store", store, "--until", until]) == 0
        figures = compute_figures(store, Month(2024, 6), load_norms())
        line = next(n for n in figures.norms if n.norm.id == "melding-reactie").figure
        ahead = line.line("castricum").outlook
        assert ahead is not None
        get = reg.get_sample_value
        assert ahead.headroom == get("contact_norm_month_headroom_items", REACTIE) == 1
        best = get("contact_norm_month_projection_ratio", {**REACTIE, "bound": "best"})
        worst = get("contact_norm_month_projection_ratio", {**REACTIE, "bound": "worst"})
        assert (float(ahead.best), float(ahead.worst)) == (best, worst) == (1.0, 0.8)


class TestVeryLateInTheExport:
    """The export counts very late breaches apart (norm_very_late) and within norm_breached;
    the KPI table has their share of the decided ones (melding_reactie_zeer_laat)."""

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
        kpi = tmp_path / "kpi.csv"
        args = ["export", "--month", "2024-05", "--table", "kpi", "--store", store]
        assert main([*args, "--out", str(kpi)]) == 0
        by_id = {
            r["indicator_id"]: r
            for r in csv.DictReader(kpi.open())
            if r["gemeentecode"] == "GM0383"
        }
        very_late = by_id["melding_reactie_zeer_laat"]
        assert (very_late["teller"], very_late["noemer"], very_late["waarde"]) == ("1", "3", "33.3")
        assert very_late["norm"] == ""  # a share to watch, not a norm with a target
