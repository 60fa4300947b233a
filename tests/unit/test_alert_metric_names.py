"""Every metric and label the alert rules use exists in the exporter, and every alert is complete.

A rename in ``streams/core/metrics.py`` or ``streams/live/health.py`` must not silently blind an
alert: a selector of a metric nobody exports returns nothing, and an alert on nothing never
fires. The expressions in ``alerts/contactmon.rules.yml`` are parsed with a PromQL parser
(promql-parser) and checked against what the exporter really produces: the exposition of a
replayed simulated month (``streams.exposition.render``) and the samples a worker's
``HealthCollector`` and ``CalendarCollector`` yield. The checker follows the labels through the
expression: selectors may only match labels their metric has, ``by``/``on``/``group_left`` only
name labels their operands carry, and operands joined without ``on`` must carry the same labels
(otherwise ``and`` quietly matches nothing). Recording rules are checked in file order and then
count as metrics with the labels they produce.

Beside that, every alert must be complete (severity, team, Dutch texts, a runbook section that
exists) and have promtool cases on both sides (``alerts/tests/*.test.yml``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import promql_parser as pp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from streams.calendar_metrics import CalendarCollector
from streams.cli import main
from streams.core.config import load_norms
from streams.exposition import monitor_registry, render
from streams.live.health import HealthCollector
from streams.live.runtime import LiveRuntime, PartitionStats
from streams.replay import replay

ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = ROOT / "alerts" / "contactmon.rules.yml"
TESTS_DIR = ROOT / "alerts" / "tests"
RUNBOOKS = ROOT / "alerts" / "runbooks"
RUNBOOK_BASE = "https://github.com/contactmon/contactmon/blob/main/alerts/runbooks/"

# Prometheus adds these to every scraped series; `up` is Prometheus's own.
TARGET_LABELS = frozenset({"job", "instance"})
PROMETHEUS_SERIES = {"up": TARGET_LABELS}

UNTIL = datetime(2024, 4, 15, tzinfo=UTC).timestamp()
WALL = datetime(2025, 1, 1, tzinfo=UTC).timestamp()  # late enough that no event is in the future
BAD_LINES = b'not json\n{"specversion": "1.0"}\n'

Labels = frozenset[str]


# ---- what the exporter exports -----------------------------------------------------------


def exposition_labels(text: str) -> dict[str, Labels]:
    """Sample name -> label names, from a text exposition."""
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in found.items()}


def calendar_labels() -> dict[str, Labels]:
    """Sample name -> label names of the worker's calendar gauges."""
    collector = CalendarCollector(load_norms().calendar, now=lambda: WALL)
    found: dict[str, set[str]] = {}
    for family in collector.collect():
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in found.items()}


def health_labels() -> dict[str, Labels]:
    """Sample name -> label names of the worker's health metrics, for one owned partition."""
    stats = PartitionStats(processed=12, skipped=1, last_delay=2.5, last_checkpoint_at=WALL)
    runtime = SimpleNamespace(owned={0: stats}, next_offset={0: 13})
    collector = HealthCollector(cast(LiveRuntime, runtime), lambda partition: 3)
    found: dict[str, set[str]] = {}
    for family in collector.collect():
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in found.items()}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Labels]:
    """Every series name a worker serves, with its labels (target labels included)."""
    tmp = tmp_path_factory.mktemp("alert-names")
    month = tmp / "march.jsonl"
    assert main(["simulate", "--start", "2024-03-01", "--months", "1", "--out", str(month)]) == 0
    bad = tmp / "bad.jsonl"  # so the rejection counter has samples, not only a TYPE line
    bad.write_bytes(BAD_LINES)
    monitor, _ = replay([month, bad], load_norms(), store_url=None, until=UNTIL, now=WALL)
    text = render(monitor_registry(monitor, now=lambda: UNTIL)).decode()
    names = {**exposition_labels(text), **health_labels(), **calendar_labels()}
    return {name: labels | TARGET_LABELS for name, labels in names.items()}


# ---- the rules -----------------------------------------------------------------------------


def rules() -> list[dict[str, Any]]:
    """Every rule of the rules file, in file order."""
    data = yaml.safe_load(RULES_FILE.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def selectors(expr: pp.Expr) -> Iterator[pp.VectorSelector]:
    """Every vector selector in an expression (those inside range selectors too)."""
    found: list[pp.VectorSelector] = []

    def visit(node: pp.Expr) -> None:
        if isinstance(node, pp.VectorSelector):
            found.append(node)
        elif isinstance(node, pp.MatrixSelector):
            found.append(node.vector_selector)

    pp.walk(expr, visit)
    return iter(found)


# ---- following labels through an expression ------------------------------------------------

# Functions whose result has no labels, or is a scalar, when called without a vector argument.
DATE_FUNCTIONS = {"hour", "minute", "month", "year", "day_of_week", "day_of_month", "days_in_month"}


@dataclass
class LabelChecker:
    """Infers the labels of an expression's result and records every label misused on the way."""

    known: dict[str, Labels]
    problems: list[str] = field(default_factory=list)

    def check(self, name: str, expr: str) -> Labels | None:
        """The labels of ``expr``'s result (None: a scalar); problems are added to ``problems``."""
        return self._labels(pp.parse(expr), name)

    def _problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")

    def _selector(self, node: pp.VectorSelector, where: str) -> Labels:
        name = node.name or ""
        labels = self.known.get(name)
        if labels is None:
            self._problem(where, f"{name} is neither exported nor recorded")
            return frozenset()
        for matcher in node.matchers.matchers:
            if matcher.name != "__name__" and matcher.name not in labels:
                self._problem(where, f"{name} has no label {matcher.name!r}")
        return labels

    def _labels(self, node: pp.Expr, where: str) -> Labels | None:
        if isinstance(node, pp.NumberLiteral | pp.StringLiteral):
            return None
        if isinstance(node, pp.VectorSelector):
            return self._selector(node, where)
        if isinstance(node, pp.MatrixSelector):
            return self._selector(node.vector_selector, where)
        if isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
            return self._labels(node.expr, where)
        if isinstance(node, pp.Call):
            return self._call(node, where)
        if isinstance(node, pp.AggregateExpr):
            return self._aggregate(node, where)
        if isinstance(node, pp.BinaryExpr):
            return self._binary(node, where)
        raise AssertionError(f"{where}: unexpected expression node {type(node).__name__}")

    def _call(self, node: pp.Call, where: str) -> Labels | None:
        name = node.func.name
        args = [self._labels(arg, where) for arg in node.args]
        if name in {"time", "scalar", "pi"}:
            return None
        if name == "vector" or (name in DATE_FUNCTIONS and not args):
            return frozenset()
        if name in {"absent", "absent_over_time"}:
            selector = node.args[0]
            if isinstance(selector, pp.MatrixSelector):
                selector = selector.vector_selector
            if not isinstance(selector, pp.VectorSelector):
                return frozenset()
            return frozenset(
                m.name
                for m in selector.matchers.matchers
                if m.op == pp.MatchOp.Equal and m.name != "__name__"
            )
        if name in {"label_replace", "label_join"}:
            destination = node.args[1]
            assert isinstance(destination, pp.StringLiteral)
            return (args[0] or frozenset()) | {destination.val}
        vectors = [labels for labels in args if labels is not None]
        return vectors[0] if vectors else None

    def _aggregate(self, node: pp.AggregateExpr, where: str) -> Labels:
        inner = self._labels(node.expr, where) or frozenset()
        modifier = node.modifier
        if modifier is None:
            return frozenset()
        named = frozenset(modifier.labels)
        for label in sorted(named - inner):
            self._problem(
                where, f"{node.op} by/without {label!r}, which its operand does not carry"
            )
        if modifier.type == pp.AggModifierType.By:
            return named
        return inner - named

    def _binary(self, node: pp.BinaryExpr, where: str) -> Labels | None:
        lhs = self._labels(node.lhs, where)
        rhs = self._labels(node.rhs, where)
        if lhs is None or rhs is None:
            return rhs if lhs is None else lhs
        op = str(node.op)
        modifier = node.modifier
        matching = modifier.matching if modifier is not None else None
        if matching is None:
            if op == "or":
                return lhs | rhs
            if lhs != rhs:
                self._problem(
                    where,
                    f"'{op}' joins {sorted(lhs)} with {sorted(rhs)} without on(): nothing matches",
                )
            return lhs
        named = frozenset(matching.labels)
        if matching.type == pp.LabelModifierType.Include:
            for side, labels in (("left", lhs), ("right", rhs)):
                for label in sorted(named - labels):
                    self._problem(where, f"'{op}' on({label}), absent on the {side} side")
        extra = frozenset(modifier.group_labels or ()) if modifier is not None else frozenset()
        if modifier is not None and modifier.card == pp.VectorMatchCardinality.ManyToOne:
            for label in sorted(extra - rhs):
                self._problem(where, f"group_left({label}), absent on the right side")
            return lhs | extra
        if modifier is not None and modifier.card == pp.VectorMatchCardinality.OneToMany:
            for label in sorted(extra - lhs):
                self._problem(where, f"group_right({label}), absent on the left side")
            return rhs | extra
        return lhs


def checked_rules(exported: dict[str, Labels]) -> tuple[LabelChecker, dict[str, Labels]]:
    """Check every rule in file order; returns the checker and each alert's result labels."""
    checker = LabelChecker({**exported, **PROMETHEUS_SERIES})
    alert_labels: dict[str, Labels] = {}
    for rule in rules():
        name = rule.get("record") or rule["alert"]
        labels = checker.check(name, rule["expr"]) or frozenset()
        if "record" in rule:
            checker.known[rule["record"]] = labels
        else:
            alert_labels[name] = labels
    return checker, alert_labels


# ---- the tests -----------------------------------------------------------------------------


class TestMetricsExist:
    """Every metric the rules select is one the workers export (or a rule records)."""

    def test_every_selected_metric_is_exported_or_recorded(
        self, exported: dict[str, Labels]
    ) -> None:
        recorded = recorded_names()
        used = {
            selector.name or ""
            for rule in rules()
            for selector in selectors(pp.parse(rule["expr"]))
        }
        missing = sorted(used - recorded - set(exported) - set(PROMETHEUS_SERIES))
        assert missing == []
        # The check looked at the real thing: the core and the worker metrics are both in use.
        assert {
            "contact_norm_outcomes_total",
            "contact_norm_target_ratio",
            "contact_norm_overdue_items",
            "contact_last_event_timestamp_seconds",
            "contact_events_rejected_total",
            "contact_worker_partitions_owned",
            "contact_worker_events_processed_total",
            "contact_worker_consumer_lag",
            "contact_calendar_working_day",
            "contact_calendar_lookback_days",
        } <= used

    def test_every_recorded_series_the_rules_read_is_recorded_earlier(self) -> None:
        seen: set[str] = set()
        for rule in rules():
            for selector in selectors(pp.parse(rule["expr"])):
                name = selector.name or ""
                if name.startswith("contactmon:"):
                    assert name in seen, f"{rule.get('record') or rule['alert']} reads {name}"
            if "record" in rule:
                seen.add(rule["record"])

    def test_the_exposition_holds_the_contract_metrics(self, exported: dict[str, Labels]) -> None:
        assert exported["contact_norm_outcomes_total"] == TARGET_LABELS | {
            "municipality",
            "norm",
            "segment",  # contract section 4, version 2
            "category",  # contract section 4, version 2: ten largest categories plus overig
            "outcome",
        }
        assert exported["contact_events_rejected_total"] == TARGET_LABELS | {"reason"}
        assert exported["contact_worker_consumer_lag"] == TARGET_LABELS | {"partition"}


class TestLabelsExist:
    """Every label a rule selects, groups or joins by is on the series it applies to."""

    def test_no_rule_misuses_a_label(self, exported: dict[str, Labels]) -> None:
        checker, _ = checked_rules(exported)
        assert checker.problems == []

    def test_norm_alerts_carry_municipality_and_norm(self, exported: dict[str, Labels]) -> None:
        _, alert_labels = checked_rules(exported)
        for alert in alerts():
            if alert["labels"]["team"] == "klantcontact":
                assert {"municipality", "norm"} <= alert_labels[alert["alert"]], alert["alert"]

    def test_annotations_only_use_labels_the_alert_has(self, exported: dict[str, Labels]) -> None:
        _, alert_labels = checked_rules(exported)
        for alert in alerts():
            text = " ".join(alert["annotations"].values())
            used = set(re.findall(r"\$labels\.(\w+)", text))
            assert used <= alert_labels[alert["alert"]], alert["alert"]

    def test_annotation_queries_read_recorded_series(self) -> None:
        recorded = recorded_names()
        for alert in alerts():
            text = " ".join(alert["annotations"].values())
            assert set(re.findall(r"contactmon:[\w:]+", text)) <= recorded, alert["alert"]


SMALL_EXPORTER: dict[str, Labels] = {
    "contact_norm_outcomes_total": frozenset({"municipality", "norm", "outcome"}),
    "contact_worker_consumer_lag": frozenset({"instance", "partition"}),
    "contact_worker_events_processed_total": frozenset({"instance", "partition"}),
    "contact_norm_target_ratio": frozenset({"municipality", "norm"}),
}


class TestCheckerCatchesMistakes:
    """The label checker fails on the mistakes it is there to find."""

    def problems(self, expr: str) -> list[str]:
        checker = LabelChecker(dict(SMALL_EXPORTER))
        checker.check("test", expr)
        return checker.problems

    def test_a_renamed_metric(self) -> None:
        assert self.problems("rate(contact_norm_outcome_total[1d])") == [
            "test: contact_norm_outcome_total is neither exported nor recorded"
        ]

    def test_a_selector_label_the_metric_lacks(self) -> None:
        assert self.problems('contact_norm_target_ratio{outcome="met"}') == [
            "test: contact_norm_target_ratio has no label 'outcome'"
        ]

    def test_grouping_by_a_label_the_operand_lacks(self) -> None:
        assert self.problems("sum by (partition) (contact_norm_target_ratio)") == [
            "test: sum by/without 'partition', which its operand does not carry"
        ]

    def test_joining_different_label_sets_without_on(self) -> None:
        [problem] = self.problems(
            "contact_worker_consumer_lag > 0 and sum by (municipality) (contact_norm_target_ratio)"
        )
        assert "without on()" in problem

    def test_on_a_label_one_side_lacks(self) -> None:
        [problem] = self.problems(
            "contact_norm_target_ratio / on (partition) group_left () contact_worker_consumer_lag"
        )
        assert "on(partition), absent on the left side" in problem

    def test_correct_expressions_pass(self) -> None:
        assert (
            self.problems(
                "sum by (municipality, norm) (increase(contact_norm_outcomes_total[1d]))"
                " / on (municipality, norm) max by (municipality, norm) (contact_norm_target_ratio)"
            )
            == []
        )
        assert (
            self.problems(
                "contact_worker_consumer_lag > 20"
                " and rate(contact_worker_events_processed_total[10m]) > 0"
            )
            == []
        )


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the second-level headings of a Markdown file."""
    out = set()
    for line in markdown.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return out


def promtool_cases() -> dict[str, list[dict[str, Any]]]:
    """Alert name -> its alert_rule_test cases in alerts/tests/*.test.yml."""
    cases: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(TESTS_DIR.glob("*.test.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], []).append(case)
    return cases


class TestAlertsComplete:
    """Every alert has its labels, Dutch texts, a runbook section and promtool cases."""

    @pytest.mark.parametrize("alert", alerts(), ids=lambda a: a["alert"])
    def test_labels_and_annotations(self, alert: dict[str, Any]) -> None:
        assert alert["labels"]["severity"] in {"page", "warning", "ticket"}
        assert alert["labels"]["team"] in {"klantcontact", "platform"}
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}
        assert alert["annotations"]["runbook_url"].startswith(RUNBOOK_BASE)

    @pytest.mark.parametrize("alert", alerts(), ids=lambda a: a["alert"])
    def test_runbook_section_exists(self, alert: dict[str, Any]) -> None:
        url = alert["annotations"]["runbook_url"].removeprefix(RUNBOOK_BASE)
        file, _, anchor = url.partition("#")
        runbook = RUNBOOKS / file
        assert runbook.is_file(), url
        assert anchor == alert["alert"].lower()
        assert anchor in anchors(runbook.read_text()), url

    @pytest.mark.parametrize("alert", alerts(), ids=lambda a: a["alert"])
    def test_promtool_cases_on_both_sides(self, alert: dict[str, Any]) -> None:
        cases = promtool_cases().get(alert["alert"], [])
        assert any(not case.get("exp_alerts") for case in cases), "no case where it is quiet"
        firing = [case for case in cases if case.get("exp_alerts")]
        assert firing, "no case where it fires"
        assert all(
            "exp_annotations" in expected for case in firing for expected in case["exp_alerts"]
        )
