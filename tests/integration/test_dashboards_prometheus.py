"""Every dashboard query against a real Prometheus scraping a real worker fed by the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from streams.cli import main
from streams.dashboards import panel_queries
from tests.integration.conftest import free_ports
from tests.integration.worker_harness import (
    Names,
    Worker,
    lines_of,
    parse,
    produce,
    total,
    wait_until,
)
from tests.unit.test_replay import BAD_LINES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SLUGS = ("bergen", "castricum", "heiloo", "uitgeest")


def query(port: int, expr: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def scalar(port: int, expr: str) -> float | None:
    """The value of a query that gives one series (a sum, a count), or None while it gives none."""
    rows = query(port, expr)
    return float(rows[0]["value"][1]) if rows else None


def scrapes(port: int) -> float:
    """How many times Prometheus has scraped the worker (it has scraped nothing else)."""
    return scalar(port, 'sum(count_over_time(up{job="contactmon-worker"}[1h]))') or 0.0


def scraped_offsets(port: int) -> float:
    """The worker's next offsets summed, as Prometheus last scraped them: the events processed."""
    return scalar(port, "sum(contact_worker_next_offset)") or 0.0


@pytest.fixture(scope="module")
def stack(
    kafka_broker: str, simulated_month: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, Path]]:
    """A worker fed a simulated month (plus some bad lines), scraped by Prometheus every second."""
    tmp = tmp_path_factory.mktemp("dashboards")
    names = Names()
    worker = Worker(
        kafka_broker,
        names,
        tmp,
        f"sqlite:///{tmp / 'store.sqlite3'}",
        CONTACTMON_CLOCK="event",
        CONTACTMON_LATENESS="0",
    )
    worker.start()
    (prom_port,) = free_ports(1)
    env = {**os.environ, "CONTACTMON_STATE": str(tmp / "state"), "CONTACTMON_SCRAPE_INTERVAL": "1s"}
    config = tmp / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "contactmon-worker",
                        "static_configs": [{"targets": [f"127.0.0.1:{worker.port}"]}],
                    }
                ],
            }
        )
    )
    script = [str(ROOT / "deploy" / "prometheus.sh")]
    started = subprocess.run(
        [*script, "start", "--port", str(prom_port), "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        wait_until("the worker owns its partitions", lambda: worker.owned() > 0)
        # up to a Thursday evening inside the month, so the 1-day and 7-day windows hold decisions
        # (a month's tail of late closes alone would leave them empty, and rightly so)
        cutoff = datetime.fromisoformat("2024-03-28T18:00:00+01:00")
        kept = [
            line
            for line in lines_of(simulated_month)
            if datetime.fromisoformat(orjson.loads(line)["time"]) < cutoff
        ]
        lines = [*kept, *BAD_LINES.values()]
        # Produced in two halves with a scrape between them, so rates and increases have samples
        # on both sides of a change.
        half = len(lines) // 2
        produce(kafka_broker, names.events, lines[:half])
        wait_until(
            f"Prometheus to scrape the first {half} events processed",
            lambda: scraped_offsets(prom_port) >= half,
            timeout=60,
        )
        produce(kafka_broker, names.events, lines[half:])
        wait_until("every event processed", lambda: worker.next_offsets() >= len(lines))
        wait_until(
            "Prometheus to scrape every event processed",
            lambda: scraped_offsets(prom_port) >= len(lines),
            timeout=60,
        )
        # One scrape more: then every series, also one that the last events brought, has two
        # samples of the final state, which is all a rate or an increase over any window needs.
        seen = scrapes(prom_port)
        wait_until(
            "Prometheus to scrape the final state a second time",
            lambda: scrapes(prom_port) > seen,
            timeout=60,
        )
        everything = tmp / "all.jsonl"
        everything.write_bytes(b"\n".join(lines) + b"\n")
        replayed = ["replay", str(everything), "--no-store", "--lateness", "0"]
        assert main([*replayed, "--metrics-file", str(tmp / "replay.prom")]) == 0
        yield prom_port, tmp
    finally:
        subprocess.run(
            [*script, "stop", "--port", str(prom_port)], env=env, check=False, timeout=120
        )
        worker.stop()


class TestEveryPanelReturnsData:
    """Every query of every dashboard, with each municipality, returns data (no empty panel)."""

    @pytest.mark.parametrize("municipality", SLUGS)
    def test_no_empty_panel(self, stack: tuple[int, Path], municipality: str) -> None:
        port, _ = stack
        queries = panel_queries(municipality)
        assert len(queries) > 30
        empty = [
            f"{q.dashboard_uid} / {q.panel_title} / {q.ref_id}: {q.expr}"
            for q in queries
            if not query(port, q.expr)
        ]
        assert not empty, "empty panels:\n" + "\n".join(empty)


class TestKeyPanelsMatchTheReplay:
    """Key panels show the values the replay of the same events predicts."""

    def test_overdue_and_compliance_per_municipality(self, stack: tuple[int, Path]) -> None:
        port, tmp = stack
        exported = parse((tmp / "replay.prom").read_text())
        for slug in SLUGS:
            rows = query(
                port,
                f'contact_norm_compliance_ratio{{municipality="{slug}",window="30d",segment=""}}',
            )
            assert rows
            for row in rows:
                labels = row["metric"]
                want = total(
                    exported,
                    "contact_norm_compliance_ratio",
                    municipality=slug,
                    norm=labels["norm"],
                    window="30d",
                    segment="",
                )
                assert float(row["value"][1]) == pytest.approx(want)
            overdue = query(port, f'sum(contact_norm_overdue_items{{municipality="{slug}"}})')
            assert float(overdue[0]["value"][1]) == total(
                exported, "contact_norm_overdue_items", municipality=slug
            )
