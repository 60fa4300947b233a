"""The Kafka broker that deploy/kafka.sh installs and starts, used by the clients the project uses.

kafka-python creates the topic and produces; both kafka-python and aiokafka (the client
under faust-streaming) consume. A separate test runs the script's start/stop cycle on a
broker of its own.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from tests.integration.conftest import KafkaScript, free_ports

pytestmark = pytest.mark.integration

MUNICIPALITIES = ("bergen", "castricum", "heiloo", "uitgeest")
ROUNDS = 3
CONSUME_DEADLINE_S = 30.0

Message = tuple[bytes, bytes]


def keyed_messages() -> list[Message]:
    """Messages keyed by municipality slug, as on contact.events; three per municipality."""
    return [
        (slug.encode(), f'{{"municipality": "{slug}", "n": {n}}}'.encode())
        for n in range(ROUNDS)
        for slug in MUNICIPALITIES
    ]


@pytest.fixture(scope="module")
def topic(kafka_broker: str) -> Iterator[str]:
    """A fresh topic created with the broker's defaults (partitions and replication)."""
    name = f"it.kafka-broker.{uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker, client_id="contactmon-it")
    try:
        admin.create_topics([NewTopic(name)])
        yield name
    finally:
        admin.close()


@pytest.fixture(scope="module")
def produced(kafka_broker: str, topic: str) -> dict[Message, int]:
    """The keyed messages, produced and acknowledged; maps each message to its partition."""
    producer = KafkaProducer(bootstrap_servers=kafka_broker, acks="all")
    try:
        futures = [
            (message, producer.send(topic, key=message[0], value=message[1]))
            for message in keyed_messages()
        ]
        producer.flush(timeout=30)
        return {message: future.get(timeout=30).partition for message, future in futures}
    finally:
        producer.close()


def consume_with_kafka_python(bootstrap: str, topic: str, count: int) -> dict[Message, int]:
    """Read `count` messages from the start of `topic` in a new consumer group."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"it-kafka-python-{uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received: dict[Message, int] = {}
    deadline = time.monotonic() + CONSUME_DEADLINE_S
    try:
        while len(received) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    received[(record.key, record.value)] = record.partition
    finally:
        consumer.close()
    return received


async def consume_with_aiokafka(
    bootstrap: str, topic: str, count: int
) -> tuple[dict[Message, int], int]:
    """Read `count` messages with aiokafka in a new group, commit, and sum the committed offsets."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"it-aiokafka-{uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: dict[Message, int] = {}
    try:
        deadline = time.monotonic() + CONSUME_DEADLINE_S
        while len(received) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    received[(record.key, record.value)] = record.partition
        await consumer.commit()
        partitions = consumer.partitions_for_topic(topic) or set()
        committed = 0
        for partition in partitions:
            committed += await consumer.committed(TopicPartition(topic, partition)) or 0
    finally:
        await consumer.stop()
    return received, committed


def partitions_by_key(messages: dict[Message, int]) -> dict[bytes, set[int]]:
    """The partitions each key's messages landed in."""
    by_key: dict[bytes, set[int]] = defaultdict(set)
    for (key, _value), partition in messages.items():
        by_key[key].add(partition)
    return dict(by_key)


def port_answers(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class TestBrokerSettings:
    """The broker runs with the settings of deploy/kafka/server.properties."""

    def test_topic_gets_the_broker_default_of_four_partitions(
        self, kafka_broker: str, topic: str
    ) -> None:
        admin = KafkaAdminClient(bootstrap_servers=kafka_broker)
        try:
            (description,) = admin.describe_topics([topic])
        finally:
            admin.close()
        partitions = description["partitions"]
        assert len(partitions) == 4
        assert all(p["replica_nodes"] == [1] and p["isr_nodes"] == [1] for p in partitions)

    def test_asking_for_an_unknown_topic_does_not_create_it(self, kafka_broker: str) -> None:
        name = f"it.never-created.{uuid4().hex[:8]}"
        consumer = KafkaConsumer(bootstrap_servers=kafka_broker)
        try:
            assert not consumer.partitions_for_topic(name)
        finally:
            consumer.close()
        admin = KafkaAdminClient(bootstrap_servers=kafka_broker)
        try:
            assert name not in admin.list_topics()
        finally:
            admin.close()


class TestKafkaPythonRoundTrip:
    """Keyed messages produced with kafka-python come back to a kafka-python consumer."""

    def test_all_messages_arrive_with_their_keys(
        self, kafka_broker: str, topic: str, produced: dict[Message, int]
    ) -> None:
        received = consume_with_kafka_python(kafka_broker, topic, len(produced))
        assert sorted(received) == sorted(keyed_messages())
        assert received == produced

    def test_each_municipality_stays_in_one_partition(self, produced: dict[Message, int]) -> None:
        by_key = partitions_by_key(produced)
        assert sorted(by_key) == sorted(slug.encode() for slug in MUNICIPALITIES)
        assert all(len(partitions) == 1 for partitions in by_key.values())


class TestAiokafkaRoundTrip:
    """Keyed messages produced with kafka-python come back to an aiokafka consumer group."""

    def test_all_messages_arrive_and_the_group_commits(
        self, kafka_broker: str, topic: str, produced: dict[Message, int]
    ) -> None:
        received, committed = asyncio.run(consume_with_aiokafka(kafka_broker, topic, len(produced)))
        assert sorted(received) == sorted(keyed_messages())
        assert received == produced
        assert committed == len(produced)


class TestDeployScript:
    """deploy/kafka.sh start is idempotent on a port, and stop stops the broker."""

    def test_start_twice_then_stop(
        self, kafka_script: KafkaScript, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        port, controller_port = free_ports(2)
        data_dir = tmp_path_factory.mktemp("kafka-data-cycle")
        start_args = (
            "start",
            "--port",
            str(port),
            "--controller-port",
            str(controller_port),
            "--data",
            str(data_dir),
        )
        try:
            first = kafka_script.run(*start_args)
            assert first.returncode == 0, kafka_script.explain(port, "first start", first)
            assert "ready on" in first.stdout
            pid = kafka_script.pid_file(port).read_text().strip()

            second = kafka_script.run(*start_args)
            assert second.returncode == 0, kafka_script.explain(port, "second start", second)
            assert f"already running on 127.0.0.1:{port} (pid {pid})" in second.stdout
            assert kafka_script.pid_file(port).read_text().strip() == pid

            status = kafka_script.run("status", "--port", str(port))
            assert status.returncode == 0, kafka_script.explain(port, "status", status)
            assert str(kafka_script.log_file(port)) in status.stdout
        finally:
            stopped = kafka_script.run("stop", "--port", str(port))
        assert stopped.returncode == 0, kafka_script.explain(port, "stop", stopped)
        assert not kafka_script.pid_file(port).exists()
        assert not Path(f"/proc/{pid}").exists()
        assert not port_answers(port)
        after = kafka_script.run("status", "--port", str(port))
        assert after.returncode == 3
        assert "not running" in after.stdout
