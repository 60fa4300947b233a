"""End to end, all real: worker on Kafka → Prometheus (the shipped rules) → Alertmanager → webhook.

Deadlines of days cannot pass in a test, so the worker runs a norms file whose melding-reactie
norm is 20 *seconds* (same id, same target), and a generator produces Fixi reports and their
responses in real time, stamped with the wall clock (`streams.demo`, also behind `make demo`). The
rules are the shipped `alerts/contactmon.rules.yml` with two changes (`streams.demo.fast_rules`):
every group evaluates every second and every `for:` (and `keep_firing_for:`) is 2 s, so what
takes hours takes seconds. The worker exports the norms calendar (`contact_calendar_*`), so the
rules' working-day windows are those of today. The Alertmanager configuration is the shipped one,
rendered with office hours always open (the test may run at night) and short group waits.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.demo import FAST_NORMS, SLUGS, LiveGenerator, fast_rules
from tests.integration.conftest import free_ports
from tests.integration.webhook import WebhookReceiver
from tests.integration.worker_harness import Names, Worker, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# Decisions in the last working day's window that a healthy run must have had judged before it
# may say "nobody was paged": a slipping municipality pages after a few dozen.
JUDGED = 'contactmon:norm_decided:increase1wd{norm="melding-reactie"}'
ENOUGH_DECISIONS = 60


def prometheus_config(dst: Path, rules: Path, worker_port: int, am_port: int) -> Path:
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "contactmon-worker",
                "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
            }
        ],
    }
    dst.write_text(yaml.safe_dump(config, sort_keys=False))
    return dst


def script(name: str, *args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(ROOT / "deploy" / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"deploy/{name} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )


class Stack:
    """Worker, Prometheus and Alertmanager for one scenario."""

    def __init__(self, bootstrap: str, tmp: Path, receiver: WebhookReceiver) -> None:
        self.names = Names()
        self.tmp = tmp
        self.env = {
            **os.environ,
            "CONTACTMON_STATE": str(tmp / "state"),
            "CONTACTMON_AM_GROUP_WAIT": "1s",
            "CONTACTMON_AM_GROUP_INTERVAL": "2s",
            "CONTACTMON_AM_ALWAYS_OPEN": "1",
        }
        self.am_port, self.prom_port = free_ports(2)
        norms = tmp / "norms.yaml"
        norms.write_text(FAST_NORMS)
        self.worker = Worker(
            bootstrap,
            self.names,
            tmp,
            f"sqlite:///{tmp / 'store.sqlite3'}",
            CONTACTMON_CLOCK="wall",
            CONTACTMON_LATENESS="0",
            CONTACTMON_NORMS_FILE=str(norms),
        )
        self.receiver = receiver
        self.bootstrap = bootstrap

    def start(self) -> Stack:
        script(
            "alertmanager.sh",
            "start",
            "--port",
            str(self.am_port),
            "--webhook-url",
            self.receiver.url,
            env=self.env,
        )
        self.worker.start()
        wait_until("the worker owns its partitions", lambda: self.worker.owned() > 0)
        rules = fast_rules(ROOT / "alerts" / "contactmon.rules.yml", self.tmp / "rules.yml")
        config = prometheus_config(
            self.tmp / "prometheus.yml", rules, self.worker.port, self.am_port
        )
        script(
            "prometheus.sh",
            "start",
            "--port",
            str(self.prom_port),
            "--config",
            str(config),
            env=self.env,
        )
        wait_until("Prometheus scrapes the worker", self._scraping, timeout=60)
        return self

    def _scraping(self) -> bool:
        result = self.query('up{job="contactmon-worker"}')
        return bool(result) and result[0]["value"][1] == "1"

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The result of an instant query on the stack's Prometheus."""
        url = f"http://127.0.0.1:{self.prom_port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expr}
        )
        with urllib.request.urlopen(url, timeout=5) as r:
            result: list[dict[str, Any]] = json.load(r)["data"]["result"]
        return result

    def stop(self) -> None:
        self.worker.stop()
        script("prometheus.sh", "stop", "--port", str(self.prom_port), env=self.env)
        script("alertmanager.sh", "stop", "--port", str(self.am_port), env=self.env)

    def alertmanager_alerts(self) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.am_port}/api/v2/alerts?active=true&inhibited=true&silenced=true"
        with urllib.request.urlopen(url, timeout=5) as r:
            alerts: list[dict[str, Any]] = json.load(r)
        return alerts


def pages(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Firing alerts in on-call notifications."""
    return [
        alert
        for body in bodies
        if body.get("receiver") == "oncall-webhook"
        for alert in body.get("alerts", [])
        if alert.get("status") == "firing"
    ]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


class TestHeilooSlips:
    """Heiloo's response norm slips: Heiloo is paged, nobody else; a stopped worker is paged too."""

    def test_page_for_heiloo_only_then_monitor_down_inhibits(
        self, kafka_broker: str, tmp_path: Path, receiver: WebhookReceiver
    ) -> None:
        stack = Stack(kafka_broker, tmp_path, receiver).start()
        generator = LiveGenerator(kafka_broker, stack.names.events, {"heiloo"})
        try:
            generator.start()

            def heiloo_paged(bodies: list[dict[str, Any]]) -> bool:
                return any(
                    a["labels"].get("municipality") == "heiloo"
                    and a["labels"].get("team") == "klantcontact"
                    for a in pages(bodies)
                )

            assert receiver.wait_for(heiloo_paged, timeout=240), (
                f"no page for Heiloo; received {receiver.bodies}\n"
                f"worker log:\n{stack.worker.log_tail()}"
            )
            page = next(
                a for a in pages(receiver.bodies) if a["labels"].get("municipality") == "heiloo"
            )
            assert page["labels"]["severity"] == "page"
            assert page["labels"]["norm"] == "melding-reactie"
            assert "Heiloo" in page["annotations"]["summary"]
            assert page["annotations"]["runbook_url"].startswith("https://")
            business = [
                a for a in pages(receiver.bodies) if a["labels"].get("team") == "klantcontact"
            ]
            assert {a["labels"]["municipality"] for a in business} == {"heiloo"}

            generator.halt.set()
            generator.join(timeout=30)
            stack.worker.stop()

            def worker_down(bodies: list[dict[str, Any]]) -> bool:
                return any(
                    a["labels"].get("alertname") == "ContactmonWorkerDown" for a in pages(bodies)
                )

            assert receiver.wait_for(worker_down, timeout=120), (
                f"no monitor-down page; received {receiver.bodies}"
            )
            norm_alerts = [
                a for a in stack.alertmanager_alerts() if a["labels"].get("team") == "klantcontact"
            ]
            for alert in norm_alerts:
                assert alert["status"]["state"] == "suppressed", alert
                assert alert["status"]["inhibitedBy"], alert
        finally:
            generator.halt.set()
            stack.stop()


class TestHealthyRun:
    """When every municipality answers on time, nobody is paged."""

    def test_no_page(self, kafka_broker: str, tmp_path: Path, receiver: WebhookReceiver) -> None:
        stack = Stack(kafka_broker, tmp_path, receiver).start()
        generator = LiveGenerator(kafka_broker, stack.names.events)
        try:
            generator.start()

            # The rules have judged as many decisions of every municipality as it takes a
            # slipping one to page (Heiloo's slip pages on far fewer): recorded by Prometheus.
            def judged() -> bool:
                result = stack.query(f"{JUDGED} >= {ENOUGH_DECISIONS}")
                return {s["metric"]["municipality"] for s in result} == set(SLUGS)

            wait_until("every municipality's decisions are judged", judged, timeout=200)
            assert stack.worker.scrape()
            # Nothing pending or firing in Prometheus, so nothing can be on its way either.
            assert stack.query('ALERTS{team="klantcontact",severity="page"}') == []
            assert pages(receiver.bodies) == []
        finally:
            generator.halt.set()
            stack.stop()
