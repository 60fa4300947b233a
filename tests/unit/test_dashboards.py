"""The Grafana dashboards as code: they build, are checked in current, and query what exists."""

from __future__ import annotations

import shutil
import types
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import orjson
import promql_parser
import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from streams.core.config import load_norms
from streams.core.monitor import Monitor
from streams.dashboards import DASHBOARDS, PanelQuery, panel_queries, render_all
from streams.dashboards.build import DASHBOARD_DIR, expected_files, main, stale_files
from streams.dashboards.common import (
    DATASOURCE_UID,
    MUNICIPALITY_COLOURS,
    NEUTRAL,
    OKABE_ITO,
    RUNBOOK_BASE_URL,
    js_regex_escape,
)
from streams.dashboards.queries import iter_panels, substitute
from streams.dashboards.render import dumps
from streams.exposition import monitor_registry, render
from streams.live.health import HealthCollector
from streams.live.runtime import LiveRuntime, PartitionStats
from streams.simulate.generator import simulate

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "grafana" / "provisioning"
WALL = 4_102_444_800.0  # far after the simulated month: no event is "from the future"
UIDS = {"contactmon-overzicht", "contactmon-gemeente", "contactmon-monitor"}
SCRAPE_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
ALLOWED_COLOURS = {c.upper() for c in OKABE_ITO.values()} | {NEUTRAL.upper()}


class Exporter:
    """What the exporter really exposes: label names per sample name, values per label name."""

    def __init__(self) -> None:
        self.labels: dict[str, set[str]] = {"up": set(SCRAPE_LABELS)}
        self.values: dict[str, set[str]] = defaultdict(set)

    def add_exposition(self, text: str) -> None:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.labels.setdefault(sample.name, set(SCRAPE_LABELS)).update(sample.labels)
                for name, value in sample.labels.items():
                    self.values[name].add(value)


@pytest.fixture(scope="module")
def exporter() -> Exporter:
    """A simulated month replayed by the core in-process, plus the worker's health metrics."""
    monitor = Monitor(load_norms())
    for ev in simulate(date(2024, 3, 1), date(2024, 4, 1), seed=3):
        monitor.process(orjson.dumps(ev), WALL)
    monitor.process(b"not json", WALL)  # a rejection, so contact_events_rejected_total has samples
    monitor.finish()
    found = Exporter()
    found.add_exposition(render(monitor_registry(monitor)).decode())
    # in the middle of March, so this month's cohort (projection, headroom) is there too
    mid_march = datetime(2024, 3, 20, 12, tzinfo=UTC).timestamp()
    found.add_exposition(render(monitor_registry(monitor, now=lambda: mid_march)).decode())
    fake = types.SimpleNamespace(
        owned={0: PartitionStats(processed=5, skipped=1, last_delay=2.0, last_checkpoint_at=1.0)},
        next_offset={0: 5},
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HealthCollector(cast(LiveRuntime, fake), lambda partition: 3))
    found.add_exposition(render(registry).decode())
    return found


@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    return render_all()


@pytest.fixture(scope="module")
def queries(boards: dict[str, dict[str, Any]]) -> list[PanelQuery]:
    return panel_queries("heiloo", boards)


def nodes(expr: promql_parser.Expr) -> Iterator[promql_parser.Expr]:
    """Every node of a parsed expression, depth first."""
    seen: list[promql_parser.Expr] = []
    promql_parser.walk(expr, pre_visit=seen.append)
    return iter(seen)


def selectors(expr: promql_parser.Expr) -> list[promql_parser.VectorSelector]:
    return [n for n in nodes(expr) if isinstance(n, promql_parser.VectorSelector)]


def labels_of(exporter: Exporter, expr: promql_parser.Expr) -> set[str]:
    """The label names the series under ``expr`` can carry."""
    found = set(SCRAPE_LABELS)
    for selector in selectors(expr):
        found |= exporter.labels.get(selector.name or "", set())
    return found


def colours_in(value: object) -> Iterator[str]:
    """Every colour named in a JSON value (keys ``color`` and ``fixedColor``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in {"color", "fixedColor"} and isinstance(item, str):
                yield item
            else:
                yield from colours_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from colours_in(item)


class TestBuild:
    """Every dashboard builds, with stable unique uids, and the checked-in JSON is current."""

    def test_every_dashboard_builds_with_its_uid(self, boards: dict[str, dict[str, Any]]) -> None:
        assert set(boards) == {"overzicht", "gemeente", "monitor"}
        assert {b["uid"] for b in boards.values()} == UIDS
        for stem, board in boards.items():
            assert board["uid"] == f"contactmon-{stem}"
            assert board["title"].startswith("Contactmonitor — ")

    def test_the_build_is_deterministic(self) -> None:
        first, second = render_all(), render_all()
        assert {k: dumps(v) for k, v in first.items()} == {k: dumps(v) for k, v in second.items()}

    def test_json_text_is_sorted_with_a_trailing_newline(self) -> None:
        text = (ROOT / DASHBOARD_DIR / "overzicht.json").read_text(encoding="utf-8")
        assert text.endswith("}\n")
        assert text == dumps(orjson.loads(text))

    def test_checked_in_files_are_current(self) -> None:
        assert main(["--check"]) == 0, "run: python -m streams.dashboards.build"

    def test_check_finds_a_stale_a_missing_and_an_unknown_file(self, tmp_path: Path) -> None:
        (tmp_path / "alerts").mkdir()
        shutil.copy(ROOT / "alerts" / "contactmon.rules.yml", tmp_path / "alerts")
        assert main(["--check", "--root", str(tmp_path)]) == 1  # nothing written yet
        assert main(["--root", str(tmp_path)]) == 0
        assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.*")) == sorted(
            [*expected_files(tmp_path), "alerts/contactmon.rules.yml"]
        )
        assert stale_files(tmp_path) == []
        assert main(["--check", "--root", str(tmp_path)]) == 0
        (tmp_path / DASHBOARD_DIR / "monitor.json").write_text("{}\n", encoding="utf-8")
        (tmp_path / DASHBOARD_DIR / "gemeente.json").unlink()
        (tmp_path / DASHBOARD_DIR / "oud.json").write_text("{}\n", encoding="utf-8")
        assert stale_files(tmp_path) == [
            f"{DASHBOARD_DIR}/gemeente.json",
            f"{DASHBOARD_DIR}/monitor.json",
            f"{DASHBOARD_DIR}/oud.json",
        ]
        assert main(["--check", "--root", str(tmp_path)]) == 1
        assert main(["--root", str(tmp_path)]) == 0
        assert stale_files(tmp_path) == [f"{DASHBOARD_DIR}/oud.json"]

    def test_a_changed_alert_rule_makes_the_prometheus_rule_stale(self, tmp_path: Path) -> None:
        (tmp_path / "alerts").mkdir()
        rules = tmp_path / "alerts" / "contactmon.rules.yml"
        shutil.copy(ROOT / "alerts" / "contactmon.rules.yml", rules)
        assert main(["--root", str(tmp_path)]) == 0
        rules.write_text("groups: []\n", encoding="utf-8")
        assert stale_files(tmp_path) == ["deploy/k8s/base/generated/prometheusrule.yaml"]

    def test_grafanas_own_model_reads_the_json_back_unchanged(
        self, boards: dict[str, dict[str, Any]]
    ) -> None:
        register_default_plugins()
        for board in boards.values():
            model = DashboardModel.from_json(board)
            assert orjson.loads(JSONEncoder().encode(model)) == board

    def test_panel_ids_are_unique_per_dashboard(self, boards: dict[str, dict[str, Any]]) -> None:
        for board in boards.values():
            ids = [p["id"] for p in iter_panels(board)]
            assert len(ids) == len(set(ids)), board["uid"]
            assert 0 not in ids


class TestQueries:
    """Every panel query parses as PromQL and names only metrics and labels the exporter has."""

    def test_every_dashboard_has_queries_with_variables_filled_in(
        self, queries: list[PanelQuery]
    ) -> None:
        assert {q.dashboard_uid for q in queries} == UIDS
        assert all("$" not in q.expr for q in queries)
        assert any('municipality="heiloo"' in q.expr for q in queries)
        assert any('municipality=~"heiloo"' in q.expr for q in queries)

    def test_every_query_parses(self, queries: list[PanelQuery]) -> None:
        for q in queries:
            promql_parser.parse(q.expr)  # raises ValueError on bad PromQL

    def test_the_parser_rejects_bad_promql(self) -> None:
        with pytest.raises(ValueError, match="parenthesis"):
            promql_parser.parse("sum(rate(contact_events_total[5m])")

    def test_every_metric_exists(self, queries: list[PanelQuery], exporter: Exporter) -> None:
        for q in queries:
            for selector in selectors(promql_parser.parse(q.expr)):
                assert selector.name in exporter.labels, (q.panel_title, selector.name)

    def test_every_matcher_label_exists_on_its_metric(
        self, queries: list[PanelQuery], exporter: Exporter
    ) -> None:
        for q in queries:
            for selector in selectors(promql_parser.parse(q.expr)):
                for matcher in selector.matchers.matchers:
                    assert matcher.name in exporter.labels[selector.name or ""], (
                        q.panel_title,
                        str(selector),
                    )

    def test_every_exact_label_value_is_one_the_exporter_uses(
        self, queries: list[PanelQuery], exporter: Exporter
    ) -> None:
        for q in queries:
            for selector in selectors(promql_parser.parse(q.expr)):
                for m in selector.matchers.matchers:
                    if m.op == promql_parser.MatchOp.Equal and m.name not in SCRAPE_LABELS:
                        assert m.value in exporter.values[m.name], (q.panel_title, str(m))

    def test_grouping_and_matching_labels_exist_below_them(
        self, queries: list[PanelQuery], exporter: Exporter
    ) -> None:
        for q in queries:
            for node in nodes(promql_parser.parse(q.expr)):
                if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
                    assert set(node.modifier.labels) <= labels_of(exporter, node.expr), q.expr
                if isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
                    both = labels_of(exporter, node.lhs) | labels_of(exporter, node.rhs)
                    matching = node.modifier.matching
                    used = set(matching.labels if matching else [])
                    used |= set(node.modifier.group_labels or [])
                    assert used <= both, q.expr

    def test_a_made_up_label_is_caught(self, exporter: Exporter) -> None:
        expr = promql_parser.parse('sum by (segment) (contact_items_open{municipality="heiloo"})')
        aggregate = next(n for n in nodes(expr) if isinstance(n, promql_parser.AggregateExpr))
        assert aggregate.modifier is not None
        assert "segment" not in labels_of(exporter, aggregate.expr)

    def test_variable_queries_name_existing_metrics_and_labels(
        self, boards: dict[str, dict[str, Any]], exporter: Exporter
    ) -> None:
        for board in boards.values():
            for variable in board["templating"]["list"]:
                if variable["type"] != "query":
                    continue
                inner = variable["query"].removeprefix("label_values(").removesuffix(")")
                selector_text, label = (part.strip() for part in inner.rsplit(",", 1))
                (selector,) = selectors(promql_parser.parse(selector_text))
                assert label in exporter.labels[selector.name or ""]

    def test_panel_queries_builds_the_dashboards_itself(self, queries: list[PanelQuery]) -> None:
        own = panel_queries("heiloo")
        assert own == queries
        assert [q.expr for q in panel_queries("bergen")] == [
            q.expr.replace('"heiloo"', '"bergen"') for q in queries
        ]

    def test_substitute_refuses_an_unknown_variable(self) -> None:
        assert substitute('x{a="$a", b="${b}"}', {"a": "1", "b": "2"}) == 'x{a="1", b="2"}'
        with pytest.raises(ValueError, match=r"\$segment"):
            substitute('x{segment="$segment"}', {})


class TestContent:
    """The panels the team leads asked for are there, in Dutch, readable without colour."""

    def test_every_panel_has_a_title_and_a_description(
        self, boards: dict[str, dict[str, Any]]
    ) -> None:
        for board in boards.values():
            assert board["description"]
            for panel in iter_panels(board):
                assert panel["title"]
                if panel["type"] != "row":
                    assert panel.get("description") or panel["type"] == "text", panel["title"]

    def test_every_graph_has_a_unit_and_an_axis_label(
        self, boards: dict[str, dict[str, Any]]
    ) -> None:
        for board in boards.values():
            for panel in iter_panels(board):
                if panel["type"] in {"timeseries", "stat"}:
                    assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
                if panel["type"] == "timeseries":
                    assert panel["fieldConfig"]["defaults"]["custom"]["axisLabel"], panel["title"]

    def test_colours_are_colour_blind_safe(self, boards: dict[str, dict[str, Any]]) -> None:
        used = {c.upper() for board in boards.values() for c in colours_in(board["panels"])}
        assert used
        assert used <= ALLOWED_COLOURS

    def test_every_value_mapping_says_it_in_words(self, boards: dict[str, dict[str, Any]]) -> None:
        mappings = [
            option
            for board in boards.values()
            for panel in iter_panels(board)
            for source in [panel.get("fieldConfig", {}).get("defaults", {})]
            + [
                {"mappings": prop["value"]}
                for override in panel.get("fieldConfig", {}).get("overrides", [])
                for prop in override["properties"]
                if prop["id"] == "mappings"
            ]
            for mapping in source.get("mappings", [])
            for option in mapping["options"].values()
        ]
        texts = {m["text"] for m in mappings}
        assert {"haalt doel", "onder doel", "bereikbaar", "niet bereikbaar", "geen"} <= texts

    def test_tables_rename_and_order_every_column_they_show(
        self, boards: dict[str, dict[str, Any]]
    ) -> None:
        tables = [p for b in boards.values() for p in iter_panels(b) if p["type"] == "table"]
        assert len(tables) >= 4
        for panel in tables:
            (organize,) = [t for t in panel["transformations"] if t["id"] == "organize"]
            options = organize["options"]
            assert list(options["indexByName"]) == list(options["renameByName"])
            values = [name for name in options["renameByName"] if name.startswith("Value #")]
            assert len(values) == len(panel["targets"]), panel["title"]
            shown = set(options["renameByName"].values())
            assert panel["options"]["sortBy"][0]["displayName"] in shown

    def test_targets_are_drawn_as_named_dashed_lines(
        self, boards: dict[str, dict[str, Any]]
    ) -> None:
        checked = 0
        for board in boards.values():
            for panel in iter_panels(board):
                legends = [t.get("legendFormat", "") for t in panel.get("targets", [])]
                has_target = any(
                    "contact_norm_target_ratio" in t["expr"] for t in panel.get("targets", [])
                )
                if has_target and panel["type"] == "timeseries":
                    assert any(legend.endswith("(doel)") for legend in legends)
                    overrides = panel["fieldConfig"]["overrides"]
                    assert any(o["matcher"]["options"] == r".*\(doel\)$" for o in overrides)
                    checked += 1
        assert checked >= 4

    def test_overzicht_puts_the_worst_first(self, boards: dict[str, dict[str, Any]]) -> None:
        for panel in iter_panels(boards["overzicht"]):
            if panel["type"] == "stat":
                for target in panel["targets"]:
                    top = promql_parser.parse(target["expr"])
                    assert isinstance(top, promql_parser.Call), target["expr"]
                    assert top.func.name in {"sort", "sort_desc"}
            if panel["type"] == "table":
                assert panel["options"]["sortBy"], panel["title"]

    def test_overzicht_shows_the_phone_service_level(self, queries: list[PanelQuery]) -> None:
        phone = [
            q
            for q in queries
            if q.dashboard_uid == "contactmon-overzicht" and 'norm="telefoon-opname"' in q.expr
        ]
        assert any("contact_norm_compliance_ratio" in q.expr for q in phone)

    def test_gemeente_filters_by_its_variables_and_splits_by_segment(
        self, boards: dict[str, dict[str, Any]]
    ) -> None:
        board = boards["gemeente"]
        names = {v["name"] for v in board["templating"]["list"]}
        assert {"municipality", "kind", "channel", "window", "datasource"} == names
        exprs = [t["expr"] for p in iter_panels(board) for t in p.get("targets", [])]
        assert all('municipality="$municipality"' in e for e in exprs)
        assert any('kind=~"$kind"' in e for e in exprs)
        assert any('channel=~"$channel"' in e for e in exprs)
        assert "maandexport" in board["description"]
        assert any("by (segment)" in e for e in exprs)
        assert any('segment!=""' in e for e in exprs)
        assert any("contact_norm_month_headroom_items" in e for e in exprs)
        assert any("contact_norm_month_projection_ratio" in e for e in exprs)

    def test_gemeente_splits_by_category_and_shows_very_late(
        self, boards: dict[str, dict[str, Any]], exporter: Exporter
    ) -> None:
        exprs = [t["expr"] for p in iter_panels(boards["gemeente"]) for t in p.get("targets", [])]
        by_category = [e for e in exprs if "by (category)" in e]
        assert any("contact_norm_overdue_items" in e for e in by_category)
        assert any('outcome=~"very_late"' in e for e in by_category)
        assert any('outcome="very_late"' in e for e in exprs)  # in the decisions per day
        # the simulated month gave categories series of their own, and no more than ten
        assert 2 <= len(exporter.values["category"] - {"overig"}) <= 10

    def test_compliance_ratios_pick_all_segments_or_one(
        self, boards: dict[str, dict[str, Any]]
    ) -> None:
        for board in boards.values():
            for panel in iter_panels(board):
                for target in panel.get("targets", []):
                    expr = target["expr"]
                    if "contact_norm_compliance_ratio" in expr:
                        assert 'segment=""' in expr or 'segment!=""' in expr, panel["title"]

    def test_gemeente_shows_durations_in_time_units(
        self, boards: dict[str, dict[str, Any]]
    ) -> None:
        units = {
            p["fieldConfig"]["defaults"]["unit"]
            for p in iter_panels(boards["gemeente"])
            if any("handling_duration" in t["expr"] for t in p.get("targets", []))
        }
        assert units <= {"s", "none"}  # "s" scales to hours and days; the table sets dtdurations

    def test_monitor_watches_the_pipeline(self, queries: list[PanelQuery]) -> None:
        text = " ".join(q.expr for q in queries if q.dashboard_uid == "contactmon-monitor")
        for needle in (
            "rate(contact_events_total",
            "contact_events_rejected_total",
            "contact_worker_processing_delay_seconds",
            "contact_worker_consumer_lag",
            "time() - contact_last_event_timestamp_seconds",
            'up{job="contactmon-worker"}',
            "contact_worker_partitions_owned",
        ):
            assert needle in text, needle

    def test_series_names_are_matched_literally(self) -> None:
        assert js_regex_escape("melding-reactie") == "melding-reactie"
        assert js_regex_escape("a.b (doel)") == r"a\.b \(doel\)"
        assert js_regex_escape("[x]|y\\") == r"\[x\]\|y\\"

    def test_municipalities_keep_their_colour(self) -> None:
        assert len(set(MUNICIPALITY_COLOURS.values())) == len(MUNICIPALITY_COLOURS)
        assert set(MUNICIPALITY_COLOURS) == set(load_norms().slugs)


class TestLinks:
    """Runbook links point at the runbooks the alert rules name."""

    def runbook_urls(self) -> set[str]:
        rules = yaml.safe_load((ROOT / "alerts" / "contactmon.rules.yml").read_text("utf-8"))
        return {
            rule["annotations"]["runbook_url"]
            for group in rules["groups"]
            for rule in group["rules"]
            if "runbook_url" in rule.get("annotations", {})
        }

    def test_runbook_links_match_the_alert_rules(self, boards: dict[str, dict[str, Any]]) -> None:
        links = [
            link["url"]
            for board in boards.values()
            for holder in [board, *iter_panels(board)]
            for link in holder.get("links", [])
            if link["url"].startswith(RUNBOOK_BASE_URL)
        ]
        urls = self.runbook_urls()
        assert urls
        assert {u.rsplit("/", 1)[0] for u in urls} == {RUNBOOK_BASE_URL}
        anchored = [link for link in links if "#" in link]
        assert len(anchored) >= 8
        assert set(anchored) <= urls
        files = {url.split("#")[0] for url in urls} | {f"{RUNBOOK_BASE_URL}/"}
        assert {link.split("#")[0] for link in links} <= files

    def test_every_dashboard_links_to_the_runbooks(self, boards: dict[str, dict[str, Any]]) -> None:
        for board in boards.values():
            assert any(link["url"] == f"{RUNBOOK_BASE_URL}/" for link in board["links"])


class TestProvisioning:
    """The provisioning files point at the datasource and the dashboards that exist."""

    def test_the_datasource_is_the_dashboards_default(
        self, boards: dict[str, dict[str, Any]]
    ) -> None:
        config = yaml.safe_load((PROVISIONING / "datasources" / "contactmon.yml").read_text())
        uids = {d["uid"] for d in config["datasources"] if d["type"] == "prometheus"}
        assert uids == {DATASOURCE_UID}
        for board in boards.values():
            (variable,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
            assert variable["current"]["value"] in uids
            for panel in iter_panels(board):
                for holder in [panel, *panel.get("targets", [])]:
                    if "datasource" in holder:
                        assert holder["datasource"]["uid"] == "${datasource}"

    def test_the_dashboard_provider_loads_the_built_dashboards(self) -> None:
        config = yaml.safe_load((PROVISIONING / "dashboards" / "contactmon.yml").read_text())
        (provider,) = config["providers"]
        assert provider["type"] == "file"
        assert provider["options"]["path"].startswith("/")
        built = {f"{stem}.json" for stem in DASHBOARDS}
        assert {p.name for p in (ROOT / DASHBOARD_DIR).glob("*.json")} == built
