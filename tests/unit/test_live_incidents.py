"""Outages are logged once when they start and once when they end, never per retry."""

from __future__ import annotations

import logging
from typing import Any

from streams.live.incidents import Incident, KafkaLogFilter


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def error(self, event: str, **kw: Any) -> None:
        self.lines.append(("error", event, kw))

    def warning(self, event: str, **kw: Any) -> None:
        self.lines.append(("warning", event, kw))


def test_two_lines_for_a_thousand_errors() -> None:
    now = [100.0]
    recorder = Recorder()
    incident = Incident("Kafka broker", recorder, clock=lambda: now[0])
    for _ in range(1000):
        incident.failure("Unable connect to node with id 1")
    now[0] = 130.0
    incident.success()
    incident.success()
    assert [(level, event) for level, event, _ in recorder.lines] == [
        (
            "error",
            "Kafka broker unreachable; retrying, errors are counted and not logged one by one",
        ),
        ("warning", "Kafka broker reachable again"),
    ]
    assert recorder.lines[1][2] == {"seconds": 30.0, "count": 1000}
    assert (incident.down, incident.errors_total, incident.incidents) == (False, 1000, 1)


def test_the_filter_takes_aiokafkas_connection_errors_and_lets_the_rest_pass() -> None:
    recorder = Recorder()
    incident = Incident("Kafka broker", recorder)
    log_filter = KafkaLogFilter(incident)
    logger = logging.getLogger("aiokafka.consumer.fetcher")
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Collect()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        names = log_filter.install()
        assert "aiokafka" in names
        assert "aiokafka.consumer.fetcher" in names
        logger.warning("Heartbeat failed: the group is rebalancing")  # not about a connection
        for _ in range(50):
            logger.error("Failed fetch messages from %s: %s", 1, "KafkaConnectionError")
        logger.error("anything else while the broker is away")
        assert seen == ["Heartbeat failed: the group is rebalancing"]
        assert log_filter.suppressed == 51
        assert incident.down
        incident.success()
        logger.warning("Heartbeat failed: the group is rebalancing")
        assert len(seen) == 2
    finally:
        log_filter.uninstall()
        logger.removeHandler(handler)
        logger.propagate = True


def test_a_leader_election_is_not_an_outage() -> None:
    """A new topic's first produce, or a leader moving, gets NotLeaderForPartition in a
    produce response: the broker answers and the client retries, so the broker is not
    reported as gone (and then 'reachable again')."""
    recorder = Recorder()
    incident = Incident("Kafka broker", recorder)
    log_filter = KafkaLogFilter(incident)
    record = logging.LogRecord(
        "aiokafka.producer.sender",
        logging.WARNING,
        __file__,
        1,
        "Got error produce response: %s",
        ("NotLeaderForPartitionError",),
        None,
    )
    assert log_filter.filter(record)  # logged as it is, not counted as trouble
    assert not incident.down
    assert log_filter.suppressed == 0
    refused = logging.LogRecord(
        "aiokafka.producer.sender",
        logging.WARNING,
        __file__,
        1,
        "Got error produce response: %s",
        ("KafkaConnectionError",),
        None,
    )
    assert not log_filter.filter(refused)
    assert incident.down
