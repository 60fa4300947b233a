"""The KPI table and the Swing layout: teller/noemer add up to the month's figures, the files are
byte-identical on every run and equal to a golden file, and --previous-month is Amsterdam's."""

from __future__ import annotations

import csv
import io
import os
import stat
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from streams.core.config import load_norms
from streams.core.rows import CallRecord, FeedbackRecord, ItemRecord, NormRecord, OutcomeBatch
from streams.export.indicators import Month
from streams.export.kpi import (
    KPI_COLUMNS,
    MISSING,
    Fact,
    cbs_period,
    month_facts,
    swing_table,
)
from streams.export.run import (
    indicators_of,
    month_kpi,
    previous_month,
    read_month,
    run_tables,
    tidy_rows,
)
from streams.store import open_store

GOLDEN = Path(__file__).with_name("test_export_kpi_golden")
CONFIG = load_norms()
MONTH = Month(2024, 3)
UPDATE = os.environ.get("CONTACTMON_UPDATE_GOLDEN") == "1"


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def item(subject: str, opened: str, municipality: str = "bergen", **changes: object) -> ItemRecord:
    row = ItemRecord(
        municipality=municipality,
        subject=subject,
        kind="melding",
        channel="app",
        segment="inwoner",
        category="afval",
        source_system="fixi",
        team=None,
        opened_at=at(opened),
        responded_at=None,
        closed_at=None,
        resolution=None,
        upheld=None,
        reopened=0,
        is_open=True,
    )
    return replace(row, **changes)  # type: ignore[arg-type]


def verdict(
    subject: str, norm: str, outcome: str, municipality: str = "bergen", family: str = "item"
) -> NormRecord:
    decided = None if outcome == "pending" else at("2024-03-20T12:00:00+01:00")
    return NormRecord(
        municipality=municipality,
        subject=subject,
        norm=norm,
        stage="answer" if family == "call" else "response",
        family=family,
        deadline=at("2024-03-25T00:00:00+01:00"),
        outcome=outcome,
        decided_at=decided,
        achieved_at=decided if outcome == "met" else None,
    )


def call(subject: str, queued: str, outcome: str, municipality: str = "bergen") -> CallRecord:
    q = at(queued)
    return CallRecord(
        municipality=municipality,
        subject=subject,
        channel="telefoon",
        queue="algemeen",
        segment="onbekend",
        queued_at=q,
        answered_at=q + 20 if outcome == "answered" else None,
        abandoned_at=q + 40 if outcome == "abandoned" else None,
        ended_at=q + 200 if outcome == "answered" else None,
        resolved=None,
        outcome=outcome,
    )


def feedback(key: str, score: int, channel: str, municipality: str = "bergen") -> FeedbackRecord:
    return FeedbackRecord(
        municipality, key, channel, "melding", score, at("2024-03-12T10:00+01:00")
    )


def golden_batch() -> OutcomeBatch:
    """A small, hand-made March 2024: Bergen and Heiloo busy, Castricum and Uitgeest silent."""
    batch = OutcomeBatch()
    outcomes = ["met"] * 7 + ["breached"] * 2 + ["pending"]
    for n, outcome in enumerate(outcomes):
        segment = "ondernemer" if n % 3 == 0 else "inwoner"
        batch.items.append(item(f"b{n}", "2024-03-04T09:00:00+01:00", segment=segment))
        batch.norms.append(verdict(f"b{n}", "melding-reactie", outcome))
        batch.norms.append(verdict(f"b{n}", "melding-afhandeling", "met" if n < 9 else "pending"))
    batch.items.append(item("h1", "2024-03-31T23:30:00+02:00", "heiloo", channel="webformulier"))
    batch.norms.append(verdict("h1", "melding-reactie", "breached", "heiloo"))
    batch.items.append(item("old", "2024-02-28T10:00:00+01:00"))  # February: not in March
    batch.norms.append(verdict("old", "melding-reactie", "breached"))
    k = item("k1", "2024-03-05T10:00:00+01:00", kind="klacht", channel="email")
    closed = at("2024-03-15T10:00+01:00")
    batch.items.append(replace(k, closed_at=closed, upheld=True, is_open=False))
    batch.items.append(item("k2", "2024-03-06T10:00:00+01:00", kind="klacht", channel="brief"))
    for n, outcome in enumerate(["answered", "answered", "answered", "abandoned", "waiting"]):
        batch.calls.append(call(f"c{n}", "2024-03-07T10:00:00+01:00", outcome))
        if outcome == "answered":
            batch.norms.append(
                verdict(f"c{n}", "telefoon-opname", "met" if n else "breached", family="call")
            )
    batch.feedback += [
        feedback("f1", 8, "app"),
        feedback("f2", 7, "app"),
        feedback("f3", 4, "telefoon"),
        feedback("f4", 9, "balie", "heiloo"),
    ]
    return batch


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'golden.sqlite3'}"
    with open_store(url) as store:
        store.write(golden_batch())
    return url


def tables(url: str) -> tuple[list, list, list[Fact]]:  # type: ignore[type-arg]
    with open_store(url, create=False) as store:
        data = read_month(store, MONTH, CONFIG.calendar)
    tidy = tidy_rows(data, CONFIG.calendar, CONFIG.slugs)
    facts, kpi = month_kpi(data, tidy, CONFIG)
    return tidy, kpi, facts


class TestNumeratorsAndDenominators:
    def test_norm_rows_are_the_tidy_tables_counts(self, store_url: str) -> None:
        tidy, kpi, _ = tables(store_url)
        value = {
            (r.municipality, r.indicator, r.norm, r.channel, r.segment): r.value
            for r in tidy
            if r.kind == ""
        }
        codes = {m.cbs_code: m.slug for m in CONFIG.municipalities}
        checked = 0
        for row in kpi:
            norm = row.indicator_id.replace("_", "-")
            slug = codes[row.gemeentecode]
            if (slug, "norm_met", norm, "", "") in value:
                met = value[(slug, "norm_met", norm, "", "")]
                breached = value[(slug, "norm_breached", norm, "", "")]
                assert row.teller == met
                assert row.noemer == met + breached
                assert row.waarde == value.get((slug, "norm_met_pct", norm, "", ""))
                checked += 1
        assert checked >= 4

    def test_bergens_march_by_hand(self, store_url: str) -> None:
        _, kpi, _ = tables(store_url)
        rows = {(r.gemeentecode, r.indicator_id): r for r in kpi}
        reactie = rows[("GM0373", "melding_reactie")]
        assert (reactie.teller, reactie.noemer, reactie.waarde) == (7, 9, Decimal("77.8"))
        assert reactie.norm == Decimal("90.0")
        assert reactie.voorlopig == 1  # one report still undecided
        assert rows[("GM0373", "melding_afhandeling")].voorlopig == 1
        assert rows[("GM0399", "melding_reactie")].waarde == Decimal("0.0")
        assert rows[("GM0399", "melding_reactie")].voorlopig == 0
        castricum = rows[("GM0383", "melding_reactie")]
        assert (castricum.teller, castricum.noemer, castricum.waarde) == (0, 0, None)
        verlaten = rows[("GM0373", "telefoon_verlaten")]
        assert (verlaten.teller, verlaten.noemer, verlaten.voorlopig) == (1, 5, 1)
        assert rows[("GM0373", "telefoon_aangeboden")].noemer is None
        gegrond = rows[("GM0373", "klachten_gegrond")]
        assert (gegrond.teller, gegrond.noemer, gegrond.voorlopig) == (1, 1, 1)
        tevreden = rows[("GM0373", "tevredenheid")]
        assert (tevreden.teller, tevreden.noemer, tevreden.waarde) == (19, 3, Decimal("6.33"))
        assert rows[("GM0373", "tevredenheid_app")].waarde == Decimal("7.50")
        assert rows[("GM0373", "meldingen_ontvangen")].teller == 10  # February's not counted

    def test_segments_add_up_to_the_whole(self, store_url: str) -> None:
        _, kpi, _ = tables(store_url)
        sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        whole = {}
        segments = ("inwoner", "ondernemer", "maatschappelijke_partner", "onbekend")
        for row in kpi:
            for s in segments:
                if row.indicator_id.endswith("_" + s):
                    base = row.indicator_id.removesuffix("_" + s)
                    sums[(row.gemeentecode, base)][0] += row.teller
                    sums[(row.gemeentecode, base)][1] += row.noemer or 0
                    break
            else:
                whole[(row.gemeentecode, row.indicator_id)] = (row.teller, row.noemer)
        assert sums
        for key, (teller, noemer) in sums.items():
            assert whole[key] == (teller, noemer), key

    def test_satisfaction_matches_the_tidy_mean(self, store_url: str) -> None:
        tidy, _, facts = tables(store_url)
        means = {
            (r.municipality, r.channel): r.value for r in tidy if r.indicator == "satisfaction_mean"
        }
        for fact in facts:
            if fact.base == "tevredenheid":
                assert fact.value("rapportcijfer") == means[(fact.municipality, fact.channel)]

    def test_months_add_up_field_by_field(self) -> None:
        a = Fact("bergen", "norm:melding-reactie", "", "", 7, 9, 1)
        b = Fact("bergen", "norm:melding-reactie", "", "", 3, 4, 0)
        total = a.plus(b)
        assert (total.teller, total.noemer, total.undecided) == (10, 13, 1)
        assert total.value("%") == Decimal("76.9")
        assert Fraction(10, 13) * 100 > Decimal("76.9")  # rounded, not truncated, for the table

    def test_month_facts_ignore_feedback_of_another_month(self) -> None:
        late = FeedbackRecord("bergen", "x", "app", None, 1, at("2024-04-01T00:00:00+02:00"))
        facts = month_facts(MONTH, CONFIG.calendar, [], [late])
        assert facts == []


class TestSwing:
    def test_one_row_per_municipality_and_a_column_per_indicator(self, store_url: str) -> None:
        _, kpi, _ = tables(store_url)
        indicators = indicators_of(CONFIG)
        columns, rows = swing_table(kpi, indicators)
        assert columns[:2] == ("gemeentecode", "periode")
        assert len(columns) == 2 + len(indicators)
        assert [r[0] for r in rows] == ["GM0373", "GM0383", "GM0399", "GM0450"]
        assert {r[1] for r in rows} == {"2024MM03"}
        castricum = dict(zip(columns, rows[1], strict=True))
        assert castricum["melding_reactie"] == MISSING
        assert castricum["meldingen_ontvangen"] == 0  # a count is 0, never missing
        bergen = dict(zip(columns, rows[0], strict=True))
        assert bergen["melding_reactie"] == Decimal("77.8")


class TestFiles:
    def test_golden_files_and_byte_identical_reruns(self, store_url: str, tmp_path: Path) -> None:
        out = tmp_path / "out"
        first = run_tables(store_url, MONTH, ["tidy", "kpi", "swing"], "csv", out, CONFIG)
        assert all(w.changed for w in first)
        names = sorted(p.name for p in out.iterdir())
        assert names == [
            "contactmon-export-2024-03.csv",
            "contactmon-kpi-2024-03.csv",
            "contactmon-swing-2024-03.csv",
        ]
        for name in ("contactmon-kpi-2024-03.csv", "contactmon-swing-2024-03.csv"):
            produced = (out / name).read_bytes()
            if UPDATE:
                (GOLDEN / name).write_bytes(produced)
            assert produced == (GOLDEN / name).read_bytes(), name
        before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.iterdir()}
        again = run_tables(store_url, MONTH, ["tidy", "kpi", "swing"], "csv", out, CONFIG)
        assert not any(w.changed for w in again)
        after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.iterdir()}
        assert after == before
        for path in out.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) & 0o137 == 0, path  # 0640 or stricter

    def test_kpi_csv_columns_and_json_xlsx(self, store_url: str, tmp_path: Path) -> None:
        (path,) = [w.path for w in run_tables(store_url, MONTH, ["kpi"], "csv", tmp_path, CONFIG)]
        header = next(csv.reader(io.StringIO(path.read_text("utf-8"))))
        assert tuple(header) == KPI_COLUMNS
        for fmt in ("json", "xlsx"):
            (w,) = run_tables(store_url, MONTH, ["kpi"], fmt, tmp_path, CONFIG)
            (again,) = run_tables(store_url, MONTH, ["kpi"], fmt, tmp_path, CONFIG)
            assert w.changed
            assert not again.changed

    def test_tidy_bytes_are_those_of_the_contract_export(
        self, store_url: str, tmp_path: Path
    ) -> None:
        from streams.export.run import run_export  # noqa: PLC0415

        old = run_export(
            store_url, "2024-03", "csv", tmp_path / "old.csv", CONFIG.calendar, CONFIG.slugs
        )
        (new,) = run_tables(store_url, MONTH, ["tidy"], "csv", tmp_path / "new.csv", CONFIG)
        assert new.path.read_bytes() == old.read_bytes()


class TestPreviousMonth:
    @pytest.mark.parametrize(
        ("now", "expected"),
        [
            ("2024-03-31T22:30:00+00:00", Month(2024, 3)),  # 1 April 00:30 in Amsterdam
            ("2024-03-31T21:30:00+00:00", Month(2024, 2)),  # still 31 March there
            ("2024-01-02T06:00:00+01:00", Month(2023, 12)),
            ("2024-12-31T23:30:00+00:00", Month(2024, 12)),  # 1 January 00:30 local
        ],
    )
    def test_in_amsterdam(self, now: str, expected: Month) -> None:
        moment = datetime.fromisoformat(now).astimezone(UTC)
        assert previous_month("Europe/Amsterdam", moment) == expected

    def test_cbs_notation(self) -> None:
        assert cbs_period(Month(2026, 3)) == "2026MM03"
        assert cbs_period(Month(2026, 12)) == "2026MM12"
