"""The overview's figures, ring and page (`streams.overview`), without a browser or a broker.

The figures are checked against the exposition a replay of a simulated month writes (the bytes a
worker's /metrics would serve), aggregated here independently with prometheus_client's parser.
"""

from __future__ import annotations

import asyncio
import html.parser
import math
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.cli import main
from streams.core.config import load_norms
from streams.dashboards import common, gemeente, overzicht
from streams.overview import assets, figures
from streams.overview.charts import ChartJob, render_charts, thin
from streams.overview.figures import (
    Catalogue,
    Sample,
    build,
    compliance_status,
    count_status,
    headroom_status,
    parse_exposition,
    trend_values,
)
from streams.overview.history import History
from streams.overview.page import Alert, Alerts, PageInput, duration, percent, render_fragment
from streams.overview.sources import OverviewService, WorkerSource

SLUGS = ("bergen", "castricum", "heiloo", "uitgeest")


@pytest.fixture(scope="module")
def exposition(simulated_month: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A worker's /metrics after a simulated March, up to a Thursday evening inside it."""
    folder = tmp_path_factory.mktemp("overview")
    cutoff = datetime.fromisoformat("2024-03-28T18:00:00+01:00")  # windows hold decisions
    kept = [
        line
        for line in simulated_month.read_text().splitlines()
        if line and datetime.fromisoformat(orjson.loads(line)["time"]) < cutoff
    ]
    cut = folder / "cut.jsonl"
    cut.write_text("\n".join(kept) + "\n")
    out = folder / "metrics.prom"
    assert main(["replay", str(cut), "--no-store", "--metrics-file", str(out)]) == 0
    return out.read_text()


def reference(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def total(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(
        v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items())
    )


def only(
    samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str
) -> float | None:
    found = [
        v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items())
    ]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


class TestParse:
    def test_the_needed_samples_as_prometheus_client_reads_them(self, exposition: str) -> None:
        ours = {
            (s.name, tuple(sorted(s.labels.items()))): s.value for s in parse_exposition(exposition)
        }
        theirs = {
            (n, tuple(sorted(ls.items()))): v
            for n, ls, v in reference(exposition)
            if n in figures.NEEDED
        }
        assert ours.keys() == theirs.keys()
        for key, value in theirs.items():
            assert ours[key] == value or (math.isnan(value) and math.isnan(ours[key])), key

    def test_escaped_labels_and_timestamps(self) -> None:
        text = (
            "# HELP contact_items_open x\n"
            'contact_items_open{municipality="a\\"b",kind="x,y}z"} 3 1700000000000\n'
            "contact_items_open 4\n"
            'other_metric{municipality="a"} 9\n'
        )
        got = parse_exposition(text)
        assert got == [
            Sample("contact_items_open", {"municipality": 'a"b', "kind": "x,y}z"}, 3.0),
            Sample("contact_items_open", {}, 4.0),
        ]


class TestBuild:
    def test_every_figure_is_the_dashboards_aggregation(self, exposition: str) -> None:
        ref = reference(exposition)
        overview = build(parse_exposition(exposition), Catalogue.of(load_norms()))
        assert [p.slug for p in overview.places] == list(SLUGS)
        assert [p.name for p in overview.places] == [
            "Bergen (NH)",
            "Castricum",
            "Heiloo",
            "Uitgeest",
        ]
        config = load_norms()
        for place in overview.places:
            m = place.slug
            assert [n.id for n in place.norms] == list(config.norm_ids)
            for n in place.norms:
                kw = {"municipality": m, "norm": n.id}
                assert n.overdue == total(ref, "contact_norm_overdue_items", **kw)
                assert n.at_risk == total(ref, "contact_norm_at_risk_items", **kw)
                assert n.target == only(ref, "contact_norm_target_ratio", **kw)
                for window in ("1d", "7d", "30d"):
                    want = only(
                        ref, "contact_norm_compliance_ratio", **kw, segment="", window=window
                    )
                    assert n.compliance[window] == want
                assert n.best == only(
                    ref, "contact_norm_month_projection_ratio", **kw, bound="best"
                )
                assert n.headroom == only(ref, "contact_norm_month_headroom_items", **kw)
                if n.meta.family == "item":
                    assert n.open == total(
                        ref, "contact_items_open", municipality=m, kind=n.meta.kind or ""
                    )
                    assert n.p90 == only(
                        ref,
                        "contact_handling_duration_seconds",
                        municipality=m,
                        kind=n.meta.kind or "",
                        stage=n.meta.stage,
                        window="7d",
                        quantile="0.9",
                    )
                else:
                    assert n.open == total(
                        ref, "contact_calls_waiting", municipality=m, channel="telefoon"
                    )
            assert place.calls_waiting == total(ref, "contact_calls_waiting", municipality=m)
        statuses = {n.status(w) for p in overview.places for n in p.norms for w in ("1d", "7d")}
        assert {"ok", "bad"} <= statuses  # the month has both

    def test_several_workers_and_segments(self) -> None:
        def s(name: str, value: float, **labels: str) -> Sample:
            return Sample(
                name, {"municipality": "heiloo", "norm": "melding-reactie", **labels}, value
            )

        samples = [
            s("contact_norm_target_ratio", 0.9, instance="a"),
            s("contact_norm_overdue_items", 2, segment="inwoner"),
            s("contact_norm_overdue_items", 3, segment="ondernemer"),
            s("contact_norm_compliance_ratio", 0.5, segment="inwoner", window="1d"),
            s("contact_norm_compliance_ratio", 0.8, segment="", window="1d"),
            s("contact_norm_compliance_ratio", float("nan"), segment="", window="7d"),
            Sample("contact_norm_target_ratio", {"municipality": "nergens", "norm": "x"}, 0.8),
        ]
        overview = build(samples, Catalogue.of(load_norms()), expect_all=True)
        heiloo = overview.place("heiloo")
        (norm,) = heiloo.norms
        assert norm.overdue == 5
        assert norm.compliance == {"1d": 0.8, "7d": None, "30d": None}
        assert norm.status("1d") == "bad"
        assert norm.meta.title == "Meldingen binnen 3 werkdagen gereageerd"
        assert [p.slug for p in overview.places] == ["heiloo", "nergens"]  # known ones first
        assert overview.place("nergens").norms[0].meta.title == "x"
        assert overview.missing == ["bergen", "castricum", "uitgeest"]

    def test_status_steps_are_the_dashboards(self) -> None:
        assert (compliance_status(0.9, 0.9), compliance_status(0.89, 0.9)) == ("ok", "bad")
        assert compliance_status(None, 0.9) == "none"
        assert [count_status(v) for v in (0, 1, 9, 10)] == ["ok", "warn", "warn", "bad"]
        assert overzicht.COUNT_STEPS == (
            (None, common.STATUS_OK),
            (figures.COUNT_WARN, common.STATUS_WARN),
            (figures.COUNT_BAD, common.STATUS_BAD),
        )
        assert [headroom_status(v) for v in (-1, 0, 2, 3)] == ["bad", "warn", "warn", "ok"]
        assert gemeente.HEADROOM_STEPS == (
            (None, common.STATUS_BAD),
            (figures.HEADROOM_WARN, common.STATUS_WARN),
            (figures.HEADROOM_OK, common.STATUS_OK),
        )

    def test_the_palette_is_the_dashboards(self) -> None:
        assert assets.STATUS_OK == common.STATUS_OK
        assert assets.STATUS_WARN == common.STATUS_WARN
        assert assets.STATUS_BAD == common.STATUS_BAD
        assert assets.NEUTRAL == common.NEUTRAL
        for slug, index in zip(SLUGS, range(4), strict=True):
            assert assets.PLACE_COLOURS[index] == common.MUNICIPALITY_COLOURS[slug]


class TestHistory:
    def test_a_bounded_ring_in_order(self) -> None:
        h = History(capacity=3)
        for t in range(1, 6):
            h.add(float(t), {("a", "n"): t / 10, ("b", "n"): None if t < 4 else 1.0})
        trends = h.trends()
        assert len(h) == 3
        assert trends["a", "n"].times == (3.0, 4.0, 5.0)
        assert trends["a", "n"].values == (0.3, 0.4, 0.5)
        assert trends["b", "n"].values == (None, 1.0, 1.0)
        h.add(5.0, {("a", "n"): 0.9})  # not later: ignored
        assert h.trends()["a", "n"].values[-1] == 0.5

    def test_a_series_that_stops_coming_is_forgotten_once_empty(self) -> None:
        h = History(capacity=2)
        h.add(1.0, {("a", "n"): 0.5})
        h.add(2.0, {("b", "n"): 0.5})
        assert h.trends()["a", "n"].values == (0.5, None)
        h.add(3.0, {("b", "n"): 0.5})
        assert ("a", "n") not in h.trends()
        with pytest.raises(ValueError, match="at least two"):
            History(capacity=1)


class Cells(html.parser.HTMLParser):
    """id -> (data-value, text) of every element with both, from a rendered page."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, tuple[str, str]] = {}
        self._open: list[tuple[str, str, list[str]]] = []
        self.headings: list[tuple[str, str]] = []
        self._heading: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-value" in a and a.get("id"):
            self._open.append((tag, a["id"] or "", []))
        if tag in {"h1", "h2", "h3"}:
            self._heading = (tag, [])

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, ident, parts = self._open.pop()
            self.cells[ident] = ("".join(parts), "")
        if self._heading is not None and tag == self._heading[0]:
            self.headings.append((tag, " ".join("".join(self._heading[1]).split())))
            self._heading = None

    def handle_data(self, data: str) -> None:
        for _, _, parts in self._open:
            parts.append(data)
        if self._heading is not None:
            self._heading[1].append(data)


def values(page: str) -> dict[str, str]:
    return dict(re.findall(r'id="([^"]+)" data-value="([^"]*)"', page))


@pytest.fixture(scope="module")
def page(exposition: str) -> str:
    catalogue = Catalogue.of(load_norms())
    overview = build(parse_exposition(exposition), catalogue)
    alerts = Alerts(
        configured=True,
        alerts=[
            Alert("ContactmonNormBurnRateFast", "page", "Heiloo <b>laat</b>", "heiloo", 0.0),
            Alert("ContactmonWorkerDown", "page", "worker weg", None, None),
        ],
    )
    data = PageInput(
        overview=overview,
        charts={},
        chart_notes={},
        alerts=alerts,
        taken_at=1_711_641_600.0,
        timezone="Europe/Amsterdam",
        scope="test",
        colour_index={s: i for i, s in enumerate(SLUGS)},
    )
    return render_fragment(data)


class TestPage:
    def test_every_municipality_and_norm_with_headings(self, page: str) -> None:
        parser = Cells()
        parser.feed(page)
        h2 = [text for tag, text in parser.headings if tag == "h2"]
        assert h2[1:] == ["Bergen (NH)", "Castricum", "Heiloo", "Uitgeest"]
        h3 = [text for tag, text in parser.headings if tag == "h3"]
        assert h3.count("Meldingen binnen 3 werkdagen gereageerd") == 4
        assert h3.count("Telefoongesprekken binnen 30 seconden opgenomen") == 4

    def test_figures_carry_their_exact_value_and_dutch_text(
        self, page: str, exposition: str
    ) -> None:
        ref = reference(exposition)
        got = values(page)
        parser = Cells()
        parser.feed(page)
        for m in SLUGS:
            for norm in load_norms().norm_ids:
                kw = {"municipality": m, "norm": norm}
                overdue = total(ref, "contact_norm_overdue_items", **kw)
                assert float(got[f"{m}--{norm}--overdue"]) == overdue
                ratio = only(ref, "contact_norm_compliance_ratio", **kw, segment="", window="7d")
                cell = f"{m}--{norm}--compliance-7d"
                assert got[cell] == ("" if ratio is None else repr(ratio))
                text = parser.cells[cell][0]
                assert percent(ratio) in text
                target = only(ref, "contact_norm_target_ratio", **kw)
                words = "nog niets beslist" if ratio is None else "onder doel"
                assert (words in text) == (ratio is None or ratio < (target or 0)), (cell, text)

    def test_alerts_are_listed_and_escaped(self, page: str) -> None:
        assert "ContactmonNormBurnRateFast" in page
        assert "Heiloo &lt;b&gt;laat&lt;/b&gt;" in page
        assert "<b>laat" not in page
        assert 'id="heiloo--alerts" data-value="1"' in page
        assert "Alerts over de monitor zelf" in page

    def test_formatting(self) -> None:
        assert percent(0.881) == "88,1\u00a0%"
        assert percent(None) == "\u2013"
        assert duration(45) == "45\u00a0s"
        assert duration(600) == "10\u00a0min"
        assert duration(3.5 * 3600) == "3,5\u00a0uur"
        assert duration(2.1 * 86400) == "2,1\u00a0dagen"


class TestCharts:
    def test_a_chart_is_an_image_with_a_text_alternative(self) -> None:
        job = ChartJob(
            key=("heiloo", "melding-reactie"),
            chart_id="chart-heiloo--melding-reactie",
            title="Verloop",
            description="Lijngrafiek van het aandeel op tijd",
            times=tuple(1_700_000_000.0 + 15 * i for i in range(400)),
            values=tuple(None if i < 5 else (i % 10) / 10 for i in range(400)),
            target=0.9,
            timezone="Europe/Amsterdam",
        )
        (svg,) = render_charts([job])
        assert svg.startswith('<svg id="chart-heiloo--melding-reactie" role="img"')
        assert "<title id=" in svg
        assert "<desc id=" in svg
        assert "doel 90" in svg
        assert "<script" not in svg

    def test_thin_keeps_the_last_point(self) -> None:
        times, vals = thin(list(range(1000)), list(range(1000)), limit=100)
        assert len(times) <= 100
        assert times[-1] == 999
        assert vals[-1] == 999


class TestService:
    def test_one_build_per_ttl_whatever_the_readers(self, exposition: str) -> None:
        calls = 0

        def render() -> bytes:
            nonlocal calls
            calls += 1
            return exposition.encode()

        config = load_norms()
        catalogue = Catalogue.of(config)
        source = WorkerSource(render, catalogue)
        service = OverviewService(
            source, catalogue, "Europe/Amsterdam", scope=lambda _o: "test", ttl=60.0
        )

        async def run() -> Iterator[bytes]:
            got = await asyncio.gather(*(service.rendered() for _ in range(50)))
            return iter([g.page for g in got])

        pages = list(asyncio.run(run()))
        assert len(set(pages)) == 1
        assert service.builds == 1
        assert calls == 1
        assert b"Nog te weinig metingen" in pages[0]
        source.sample()
        source.sample()
        assert len(source.history) == 2
        assert set(source.history.trends()) == set(
            trend_values(build(parse_exposition(exposition), catalogue))
        )
