"""The contract's metrics, read from core state by one collector."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.core.config import load_norms
from streams.core.monitor import Monitor
from streams.exposition import CoreCollector, monitor_registry, render
from tests.factories import event, opened, ts

WALL = 4_102_444_800.0

CONTRACT_METRICS = {
    "contact_events_total",
    "contact_events_rejected_total",
    "contact_events_duplicate_total",
    "contact_items_open",
    "contact_items_reopened_total",
    "contact_norm_outcomes_total",
    "contact_norm_overdue_items",
    "contact_norm_at_risk_items",
    "contact_norm_compliance_ratio",
    "contact_norm_target_ratio",
    "contact_handling_duration_seconds",
    "contact_calls_waiting",
    "contact_calls_total",
    "contact_satisfaction_score",
    "contact_last_event_timestamp_seconds",
}


def busy_monitor() -> Monitor:
    m = Monitor(load_norms(), lateness=0)
    for raw in (
        opened("f1", "2024-05-13 10:00"),
        event("item.responded", "f1", "2024-05-14 10:00"),
        opened("f2", "2024-05-13 11:00"),
        opened("f3", "2024-05-16 09:00", municipality="heiloo"),
        event("call.queued", "c1", "2024-05-16 10:00:00", channel="telefoon"),
        event("call.answered", "c1", "2024-05-16 10:00:20"),
        event("feedback.given", None, "2024-05-16 10:05", channel="telefoon", score=7),
        b"not json",
    ):
        m.process(raw, WALL)
    m.advance(ts("2024-05-17 12:00"))
    return m


def sample_names(text: str) -> set[str]:
    return {
        line.split("{", 1)[0].split(" ", 1)[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


UNKNOWN = {"segment": "onbekend"}  # the test events give no segment
OTHER = {**UNKNOWN, "category": "overig"}  # and a category too small for a series of its own
ALL = {"segment": ""}  # the compliance ratio of all segments together
HEILOO_REACTIE = {"municipality": "heiloo", "norm": "melding-reactie"}


class TestCollector:
    """Every contract metric is exported with the values the state holds."""

    def test_every_contract_metric_is_present(self) -> None:
        text = render(monitor_registry(busy_monitor())).decode()
        assert sample_names(text) >= CONTRACT_METRICS

    def test_values(self) -> None:
        reg = monitor_registry(busy_monitor())
        get = reg.get_sample_value
        c = {"municipality": "castricum"}
        assert get("contact_events_total", {**c, "type": "item.opened"}) == 2
        assert get("contact_items_open", {**c, "kind": "melding"}) == 2
        assert (
            get(
                "contact_norm_outcomes_total",
                {**c, "norm": "melding-reactie", **OTHER, "outcome": "met"},
            )
            == 1
        )
        assert (
            get(
                "contact_norm_outcomes_total",
                {**c, "norm": "melding-reactie", **OTHER, "outcome": "breached"},
            )
            == 1
        )
        assert get("contact_norm_overdue_items", {**c, "norm": "melding-reactie", **OTHER}) == 1
        assert (
            get(
                "contact_norm_compliance_ratio",
                {**c, "norm": "melding-reactie", **ALL, "window": "7d"},
            )
            == 0.5
        )
        assert (
            get(
                "contact_norm_compliance_ratio",
                {**c, "norm": "telefoon-opname", **ALL, "window": "7d"},
            )
            == 1.0
        )
        assert get("contact_norm_target_ratio", {**c, "norm": "telefoon-opname"}) == 0.8
        assert get("contact_norm_at_risk_items", {**HEILOO_REACTIE, **UNKNOWN}) == 0
        assert get("contact_calls_total", {**c, "channel": "telefoon", "outcome": "answered"}) == 1
        assert get("contact_satisfaction_score", {**c, "channel": "telefoon", "window": "7d"}) == 7
        assert get("contact_events_rejected_total", {"reason": "not_json"}) == 1
        assert get("contact_last_event_timestamp_seconds", c) == ts("2024-05-16 10:05")
        q50 = get(
            "contact_handling_duration_seconds",
            {**c, "kind": "melding", "stage": "response", "window": "7d", "quantile": "0.5"},
        )
        assert q50 is not None
        assert abs(q50 - 86_400) <= 0.01 * 86_400

    def test_at_risk_within_one_working_day(self) -> None:
        m = (
            busy_monitor()
        )  # heiloo f3 opened Thursday 16 May; Whit Monday 20 May: deadline end of Wednesday 22 May
        reg = monitor_registry(m, now=lambda: ts("2024-05-22 08:00"))
        assert (
            reg.get_sample_value("contact_norm_at_risk_items", {**HEILOO_REACTIE, **UNKNOWN}) == 1
        )

    def test_only_owned_shards_are_exported(self) -> None:
        m = busy_monitor()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(CoreCollector(lambda: [m.shards["heiloo"]], dict))
        text = render(registry).decode()
        assert 'municipality="heiloo"' in text
        assert 'municipality="castricum"' not in text

    def test_labels_never_carry_a_subject(self) -> None:
        text = render(monitor_registry(busy_monitor())).decode()
        for subject in ("f1", "f2", "f3", "c1"):
            assert f'"{subject}"' not in text
