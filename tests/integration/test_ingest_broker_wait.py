"""`contactmon ingest` started before its broker, and the broker stopped and started under it.

The broker is one of this test's own (deploy/kafka.sh, as in test_worker_faults_broker): its port
is chosen but nothing listens there when the service starts. The service must serve at once,
answer 503 (so Open Notificaties retries) and /healthz "not ready" until its producer connects,
then accept; the same when the broker goes away later. Its log has one line when the broker
becomes unreachable and one when it is back, per outage, not one per retry. A broker that answers
but refuses the topics is a configuration error: exit 2 with one sentence, not a wait.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.live.settings import KafkaSettings
from streams.live.topics import ensure_topics
from tests.integration.conftest import KafkaScript
from tests.integration.ingest_harness import Ingest
from tests.integration.test_worker_faults_broker import Broker
from tests.integration.worker_harness import CONTACTMON, Names, consume_all, total, wait_until

pytestmark = pytest.mark.integration

UNREACHABLE = "Kafka broker unreachable"
BACK = "Kafka broker reachable again"


def event(n: int) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"wait-{n}",
        "source": "urn:nld:gemeente:heiloo:test",
        "type": "nl.contactmonitor.item.opened",
        "time": "2024-05-21T09:30:00+02:00",
        "subject": f"wait-subject-{n}",
        "data": {"municipality": "heiloo", "kind": "melding", "channel": "app"},
    }


def refused(ingest: Ingest, n: int) -> None:
    """What the service says while it has no broker."""
    assert ingest.get("/healthz") == (503, b"not ready: waiting for the Kafka broker\n")
    assert ingest.get("/livez")[0] == 200
    assert ingest.post("/cloudevents", event(n))[0] == 503
    assert total(ingest.metrics(), "contact_ingest_broker_connected") == 0


def log_lines(ingest: Ingest, text: str) -> int:
    return sum(text in line for line in ingest.log_path.read_text(errors="replace").splitlines())


def test_started_before_the_broker_it_waits_then_accepts(
    kafka_script: KafkaScript, tmp_path: Path
) -> None:
    broker = Broker(kafka_script, tmp_path / "kafka-data")
    names = Names()
    ingest = Ingest(broker.bootstrap, names, tmp_path, "http://127.0.0.1:9")
    try:
        ingest.start(until="/livez")  # serving, without a broker
        refused(ingest, 0)
        time.sleep(12)  # several connection attempts (1 s, 2 s, 4 s, ...): one log line
        refused(ingest, 1)
        assert log_lines(ingest, UNREACHABLE) == 1

        broker.start()
        wait_until(
            "ingest ready",
            lambda: ingest.get("/healthz")[0] == 200,
            timeout=90,
            detail=ingest.log_tail,
        )
        assert ingest.post("/cloudevents", event(2)) == (
            200,
            {"events": 1, "dead_letters": 0, "ignored": 0},
        )
        assert total(ingest.metrics(), "contact_ingest_broker_connected") == 1
        assert log_lines(ingest, BACK) == 1

        broker.stop()  # an outage while it runs: the probe notices, requests are refused
        wait_until("ingest not ready", lambda: ingest.get("/healthz")[0] == 503, timeout=60)
        refused(ingest, 3)
        broker.start()
        wait_until("ingest ready again", lambda: ingest.get("/healthz")[0] == 200, timeout=90)
        assert ingest.post("/cloudevents", event(4))[0] == 200

        records = consume_all(broker.bootstrap, names.events, expect=2)
        assert [orjson.loads(value)["id"] for _, value, _ in records] == ["wait-2", "wait-4"]
        assert all(key == b"heiloo" for key, _, _ in records)
        served = ingest.metrics()
        assert total(served, "contact_ingest_requests_total", outcome="unavailable") == 3
        assert total(served, "contact_ingest_requests_total", outcome="accepted") == 2
        assert log_lines(ingest, UNREACHABLE) == 2  # one per outage
        assert log_lines(ingest, BACK) == 2
        aiokafka = [line for line in ingest.log_path.read_text().splitlines() if "aiokafka" in line]
        assert aiokafka == []  # aiokafka's own per-retry errors are counted, not logged
        ingest.stop()
    finally:
        if ingest.proc is not None and ingest.proc.poll() is None:
            ingest.kill()
        kafka_script.run("stop", "--port", str(broker.port))


def test_topics_the_broker_refuses_are_exit_2_with_one_sentence(
    kafka_broker: str, tmp_path: Path
) -> None:
    names = Names()
    ensure_topics(
        KafkaSettings(
            bootstrap_servers=kafka_broker, events_topic=names.events, dlq_topic=names.dlq
        )
    )
    ingest = Ingest(kafka_broker, names, tmp_path, "http://127.0.0.1:9", CONTACTMON_PARTITIONS="24")
    with ingest.log_path.open("ab") as log:
        done = subprocess.run(
            [CONTACTMON, "ingest"],
            env=ingest.env,
            stdout=log,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    stderr = done.stderr.decode()
    message = stderr.splitlines()[-1]  # after the log lines (also on stderr)
    assert message.startswith("contactmon ingest: topic ")
    assert "fewer than the 24 asked" in message
    assert "Traceback" not in stderr


def test_a_stop_without_a_broker_takes_seconds(kafka_script: KafkaScript, tmp_path: Path) -> None:
    broker = Broker(kafka_script, tmp_path / "kafka-data")  # never started
    ingest = Ingest(broker.bootstrap, Names(), tmp_path, "http://127.0.0.1:9")
    try:
        ingest.start(until="/livez")
        time.sleep(7)  # in the middle of connection attempts
        started = time.monotonic()
        ingest.stop()  # SIGTERM; exit code 0
        assert time.monotonic() - started < 15
    finally:
        if ingest.proc is not None and ingest.proc.poll() is None:
            ingest.kill()
