"""The broker restarted three times during a run (deploy/kafka.sh stop, start on the same data
directory), the worker killed during one outage and started again while the broker is away.

While the broker is down the worker's /metrics say so (`contact_worker_broker_connected` 0, no
consumer lag, no partitions owned after the session timeout) and its log has one line per outage,
not one per retry; it recovers by itself, says so in the log, and ends equal to the replay. A stop
(SIGTERM) with the broker away takes seconds, not the grace period.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import KafkaScript, free_ports
from tests.integration.test_worker_faults import (
    EVENT_CLOCK,
    comparable,
    processed,
    replayed,
)
from tests.integration.worker_harness import (
    Names,
    Samples,
    Worker,
    lines_of,
    produce,
    total,
    wait_until,
)

pytestmark = pytest.mark.integration

SESSION_TIMEOUT = "6"
OUTAGES = 3
KILLED_IN = 1  # the outage during which the worker is killed and started again


class Broker:
    """A broker of this test alone: it is stopped and started, so it cannot be the shared one."""

    def __init__(self, script: KafkaScript, data: Path) -> None:
        self.script = script
        self.data = data
        self.port, self.controller_port = free_ports(2)
        self.bootstrap = f"127.0.0.1:{self.port}"

    def start(self) -> None:
        result = self.script.run(
            "start",
            "--port",
            str(self.port),
            "--controller-port",
            str(self.controller_port),
            "--data",
            str(self.data),
        )
        assert result.returncode == 0, self.script.explain(self.port, "broker start", result)

    def stop(self) -> None:
        result = self.script.run("stop", "--port", str(self.port))
        assert result.returncode == 0, self.script.explain(self.port, "broker stop", result)


@pytest.fixture
def broker(kafka_script: KafkaScript, tmp_path: Path) -> Iterator[Broker]:
    b = Broker(kafka_script, tmp_path / "kafka-data")
    b.start()
    try:
        yield b
    finally:
        b.script.run("stop", "--port", str(b.port))


def blind(samples: Samples) -> bool:
    """What /metrics must say while the broker is away."""
    return (
        total(samples, "contact_worker_broker_connected") == 0
        and not any(name == "contact_worker_consumer_lag" for name, _ in samples)
        and total(samples, "contact_worker_partitions_owned") == 0
    )


def healthy(samples: Samples) -> bool:
    return (
        total(samples, "contact_worker_broker_connected") == 1
        and total(samples, "contact_worker_partitions_owned") == 12
    )


class TestBrokerRestarts:
    def test_three_restarts_and_a_kill_during_one(
        self, broker: Broker, simulated_month: Path, tmp_path: Path
    ) -> None:
        names = Names()
        w = Worker(
            broker.bootstrap,
            names,
            tmp_path,
            f"sqlite:///{tmp_path / 'store.sqlite3'}",
            CONTACTMON_SESSION_TIMEOUT=SESSION_TIMEOUT,
            **EVENT_CLOCK,
        )
        lines = lines_of(simulated_month)
        chunk = len(lines) // (OUTAGES + 1)
        chunks = [lines[i * chunk : (i + 1) * chunk] for i in range(OUTAGES)]
        chunks.append(lines[OUTAGES * chunk :])
        produced = 0
        try:
            w.start()
            wait_until("partitions assigned", lambda: healthy(w.scrape()))
            for outage in range(OUTAGES):
                produced += produce(broker.bootstrap, names.events, chunks[outage])
                wait_until("the chunk processed", lambda n=produced: processed([w], n), timeout=120)
                broker.stop()
                wait_until("/metrics to say the broker is away", lambda: blind(w.scrape()), 60)
                if outage == KILLED_IN:
                    w.kill()
                    w.start()  # while the broker is still away: it starts and waits for it
                    wait_until("/metrics to say so again", lambda: blind(w.scrape()), 60)
                broker.start()
                wait_until("the worker back on its own", lambda: healthy(w.scrape()), 120)
            produced += produce(broker.bootstrap, names.events, chunks[-1])
            wait_until("every event processed", lambda: processed([w], produced), timeout=120)
            samples = w.scrape()
            # a stop (SIGTERM) with the broker away ends well within the grace period (60 s)
            broker.stop()
            wait_until("/metrics to say the broker is away", lambda: blind(w.scrape()), 60)
            started = time.monotonic()
            assert w.stop() == 0
            stopped_in = time.monotonic() - started
        finally:
            w.stop()
        assert stopped_in < 30, f"stopped in {stopped_in:.1f} s"
        assert produced == len(lines)
        assert comparable(samples) == replayed(lines, tmp_path)
        assert total(samples, "contact_events_total") == len(lines)

        log = w.log_path.read_text()
        # one line when the broker goes and one when it is back, per outage: the killed worker
        # never saw its outage end, the restarted one saw it from its start, and the last outage
        # (the stop) has no end; a broker that answers while it is still starting may make one
        # outage two
        went = log.count("Kafka broker unreachable;")
        back = log.count("Kafka broker reachable again")
        assert OUTAGES + 2 <= went <= 2 * (OUTAGES + 2)
        assert OUTAGES <= back == went - 2
        # aiokafka's own connection errors are counted, not logged: a handful of lines at most
        aiokafka_errors = [
            line
            for line in log.splitlines()
            if '"logger": "aiokafka' in line and '"level": "error"' in line
        ]
        assert len(aiokafka_errors) < 10, aiokafka_errors[:10]
        assert total(samples, "contact_worker_broker_errors_total") > 0
