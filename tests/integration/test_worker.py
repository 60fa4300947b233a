"""`contactmon worker` on a real Kafka broker: live equals replay, bad input, crashes, scale-out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.live.settings import KafkaSettings
from tests.integration.worker_harness import (
    Names,
    Samples,
    Worker,
    consume_all,
    contract_only,
    lines_of,
    parse,
    produce,
    total,
    wait_until,
)
from tests.unit.test_replay import BAD_LINES

pytestmark = pytest.mark.integration

PARTITIONS = KafkaSettings().partitions  # the default: each municipality its own partition
EVENT_CLOCK = {"CONTACTMON_CLOCK": "event", "CONTACTMON_LATENESS": "0"}


@pytest.fixture(scope="module")
def replayed(simulated_month: Path, tmp_path_factory: pytest.TempPathFactory) -> Samples:
    """The contract's series after `contactmon replay` of the simulated month (made once)."""
    metrics = tmp_path_factory.mktemp("replayed") / "replay.prom"
    argv = ["replay", str(simulated_month), "--no-store", "--lateness", "0"]
    assert main([*argv, "--metrics-file", str(metrics)]) == 0
    return contract_only(parse(metrics.read_text()))


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()


def new_worker(
    workers: list[Worker], bootstrap: str, names: Names, tmp: Path, store: str, **env: str
) -> Worker:
    w = Worker(bootstrap, names, tmp, store, **env)
    workers.append(w)
    return w.start()


def all_processed(workers: list[Worker], count: int) -> bool:
    return (
        sum(w.next_offsets() for w in workers if w.proc is not None and w.proc.poll() is None)
        >= count
    )


class TestLiveEqualsReplay:
    """The same file, produced to Kafka and replayed from disk, gives the same metrics."""

    def test_same_metrics_for_every_municipality(
        self,
        kafka_broker: str,
        simulated_month: Path,
        replayed: Samples,
        tmp_path: Path,
        workers: list[Worker],
    ) -> None:
        names = Names()
        store = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        w = new_worker(workers, kafka_broker, names, tmp_path, store, **EVENT_CLOCK)
        wait_until("partitions assigned", lambda: w.owned() == PARTITIONS)
        n = produce(kafka_broker, names.events, lines_of(simulated_month))
        wait_until("every event processed", lambda: all_processed([w], n))
        live = contract_only(w.scrape())
        assert live == replayed
        assert total(live, "contact_events_total") == n


class TestBadInput:
    """Every kind of bad input lands on the dead-letter topic with its reason; nothing is lost."""

    def test_dead_letters_with_reasons(
        self, kafka_broker: str, tmp_path: Path, workers: list[Worker]
    ) -> None:
        names = Names()
        store = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        w = new_worker(workers, kafka_broker, names, tmp_path, store, **EVENT_CLOCK)
        wait_until("partitions assigned", lambda: w.owned() == PARTITIONS)
        good = [
            b'{"specversion":"1.0","id":"g1","source":"urn:nld:gemeente:castricum:fixi",'
            b'"type":"nl.contactmonitor.item.opened","time":"2024-03-04T09:00:00+01:00","subject":"g-1",'
            b'"data":{"municipality":"castricum","kind":"melding","channel":"app"}}',
            b'{"specversion":"1.0","id":"g2","source":"urn:nld:gemeente:castricum:fixi",'
            b'"type":"nl.contactmonitor.item.responded","time":"2024-03-05T09:00:00+01:00","subject":"g-1",'
            b'"data":{"municipality":"castricum"}}',
        ]
        lines = [good[0], *BAD_LINES.values(), good[1]]
        n = produce(kafka_broker, names.events, lines)
        wait_until("every event processed", lambda: all_processed([w], n))
        dead = consume_all(kafka_broker, names.dlq, expect=len(BAD_LINES))
        assert len(dead) == len(BAD_LINES)  # one dead letter per bad line, none twice
        by_reason = {headers["reason"].decode(): value for _, value, headers in dead}
        assert sorted(by_reason) == sorted(BAD_LINES)
        for reason, raw in BAD_LINES.items():
            assert by_reason[reason] == raw, reason
        samples = w.scrape()
        for reason in BAD_LINES:
            assert total(samples, "contact_events_rejected_total", reason=reason) == 1, reason
        assert (
            total(samples, "contact_events_total", municipality="castricum", type="item.responded")
            == 1
        )
        assert w.proc is not None
        assert w.proc.poll() is None


class TestCrashSafety:
    """SIGKILL in the middle of a run: after a restart nothing is lost and nothing counted twice."""

    def test_kill_and_restart_equals_replay(
        self,
        kafka_broker: str,
        simulated_month: Path,
        replayed: Samples,
        tmp_path: Path,
        workers: list[Worker],
    ) -> None:
        names = Names()
        store = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        env = {**EVENT_CLOCK, "CONTACTMON_CHECKPOINT_EVERY": "1500"}
        first = new_worker(workers, kafka_broker, names, tmp_path, store, **env)
        wait_until("partitions assigned", lambda: first.owned() == PARTITIONS)
        lines = lines_of(simulated_month)
        n = produce(kafka_broker, names.events, lines[: len(lines) // 2])
        wait_until("some events processed", lambda: first.next_offsets() >= n // 2)
        first.kill()
        produce(kafka_broker, names.events, lines[len(lines) // 2 :])
        second = new_worker(workers, kafka_broker, names, tmp_path, store, **env)
        wait_until(
            "every event processed after the restart", lambda: all_processed([second], len(lines))
        )
        samples = second.scrape()
        # the restart resumed from a checkpoint: it applied fewer events than the topic holds
        assert total(samples, "contact_worker_next_offset") == len(lines)
        assert total(samples, "contact_worker_events_processed_total") < len(lines)
        assert contract_only(samples) == replayed


class TestScaleOut:
    """Two workers share the partitions; each municipality is exported by exactly one of them."""

    def test_two_workers_then_one(
        self,
        kafka_broker: str,
        postgres: str,
        simulated_month: Path,
        replayed: Samples,
        tmp_path: Path,
        workers: list[Worker],
    ) -> None:
        names = Names()
        a = new_worker(workers, kafka_broker, names, tmp_path, postgres, **EVENT_CLOCK)
        wait_until("a owns every partition", lambda: a.owned() == PARTITIONS)
        lines = lines_of(simulated_month)
        half = len(lines) // 2
        produce(kafka_broker, names.events, lines[:half])
        b = new_worker(workers, kafka_broker, names, tmp_path, postgres, **EVENT_CLOCK)
        wait_until(
            "the partitions are shared",
            lambda: a.owned() > 0 and b.owned() > 0 and a.owned() + b.owned() == PARTITIONS,
        )
        produce(kafka_broker, names.events, lines[half:])
        wait_until("every event processed", lambda: all_processed([a, b], len(lines)))
        expected = replayed
        sa, sb = contract_only(a.scrape()), contract_only(b.scrape())
        munis_a = {dict(k[1]).get("municipality") for k in sa} - {None}
        munis_b = {dict(k[1]).get("municipality") for k in sb} - {None}
        assert munis_a.isdisjoint(munis_b)
        assert munis_a | munis_b == {"bergen", "castricum", "heiloo", "uitgeest"}
        merged = {k: v for k, v in {**sa, **sb}.items() if dict(k[1]).get("municipality")}
        assert merged == {k: v for k, v in expected.items() if dict(k[1]).get("municipality")}

        assert b.stop() == 0
        wait_until("a owns every partition again", lambda: a.owned() == PARTITIONS)
        alone = {
            k: v for k, v in contract_only(a.scrape()).items() if dict(k[1]).get("municipality")
        }
        assert alone == merged


class TestDeadlineWithoutEvents:
    """A deadline passing with no further event is breached within one sweep interval."""

    def test_breach_appears_on_the_wall_clock(
        self, kafka_broker: str, tmp_path: Path, workers: list[Worker]
    ) -> None:
        norms = tmp_path / "norms.yaml"
        norms.write_text(
            "norms:\n  - id: melding-snel\n    applies_to: {kind: melding}\n    stage: response\n"
            "    within: 4\n    unit: seconds\n    target: 0.9\n"
        )
        names = Names()
        store = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        w = new_worker(
            workers,
            kafka_broker,
            names,
            tmp_path,
            store,
            CONTACTMON_CLOCK="wall",
            CONTACTMON_LATENESS="0",
            CONTACTMON_NORMS_FILE=str(norms),
        )
        wait_until("partitions assigned", lambda: w.owned() == PARTITIONS)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        opened = orjson.dumps(
            {
                "specversion": "1.0",
                "id": "d1",
                "source": "urn:nld:gemeente:heiloo:fixi",
                "type": "nl.contactmonitor.item.opened",
                "time": now,
                "subject": "fixi-d1",
                "data": {"municipality": "heiloo", "kind": "melding", "channel": "app"},
            }
        )
        produce(kafka_broker, names.events, [opened])
        labels = {"municipality": "heiloo", "norm": "melding-snel"}
        wait_until(
            "the item is open",
            lambda: total(w.scrape(), "contact_items_open", municipality="heiloo") == 1,
        )
        assert total(w.scrape(), "contact_norm_outcomes_total", outcome="breached", **labels) == 0
        wait_until(
            "the breach",
            lambda: (
                total(w.scrape(), "contact_norm_outcomes_total", outcome="breached", **labels) == 1
            ),
            timeout=60,
            every=0.2,
        )
        assert total(w.scrape(), "contact_events_total", municipality="heiloo") == 1  # no new event
        assert total(w.scrape(), "contact_norm_overdue_items", **labels) == 1
