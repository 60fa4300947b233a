"""Tests for `streams.live.topics`, `streams.live.producer` and ``contactmon simulate --to kafka``.

Against the session's real broker (auto-create off): every test uses topics of its own, named
through the settings, since the broker is shared. The pacing classes are also tested on a fake
clock, which needs no broker.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer

from streams.cli import main
from streams.live.clients import kafka_python_kwargs
from streams.live.producer import (
    MAX_GAP_S,
    Playback,
    ProducerError,
    Progress,
    RateLimiter,
    encode,
    produce,
)
from streams.live.settings import KafkaSettings, load_settings
from streams.live.topics import TopicError, ensure_topics, partition_for
from tests.integration.conftest import free_ports
from tests.integration.worker_harness import read_to_end

MUNICIPALITIES = ("bergen", "castricum", "heiloo", "uitgeest")
CONSUME_DEADLINE_S = 60.0

# The partition of each key as the Java client computes it: Utils.toPositive(Utils.murmur2(key))
# % n, run in jshell against kafka-clients 4.4.0 (the jars deploy/kafka.sh installs).
JAVA_PARTITIONS = {
    "bergen": {4: 3, 7: 0},
    "castricum": {4: 1, 7: 3},
    "heiloo": {4: 1, 7: 5},
    "uitgeest": {4: 3, 7: 3},
    "’s-Hertogenbosch": {4: 2, 7: 3},
    "ümlaut": {4: 3, 7: 2},
}

Record = tuple[bytes | None, bytes, int, int]  # key, value, partition, offset


def fresh_settings(bootstrap: str, partitions: int = 4, **overrides: Any) -> KafkaSettings:
    """Settings for the test broker with topic names no other test uses."""
    name = f"it.live.{uuid4().hex[:10]}"
    return load_settings(
        KafkaSettings,
        {},
        overrides={
            "bootstrap_servers": bootstrap,
            "events_topic": f"{name}.events",
            "dlq_topic": f"{name}.events.dlq",
            "partitions": partitions,
            **overrides,
        },
    )


@pytest.fixture
def admin(kafka_broker: str) -> Iterator[Any]:
    """A kafka-python admin client on the test broker."""
    client = KafkaAdminClient(bootstrap_servers=kafka_broker, client_id="it-live-admin")
    try:
        yield client
    finally:
        client.close()


def describe(admin: Any, topic: str) -> dict[str, Any]:
    """The broker's description of one topic."""
    (description,) = admin.describe_topics([topic])
    assert description["error_code"] == 0, description
    result: dict[str, Any] = description
    return result


def consume(settings: KafkaSettings, topic: str, count: int) -> list[Record]:
    """Every message of ``topic`` from the start: at least ``count``, and any beyond them that
    are on the topic (the read goes on to the end of every partition, see `read_to_end`)."""
    consumer = KafkaConsumer(
        **kafka_python_kwargs(settings),
        group_id=f"it-live-{uuid4().hex[:8]}",
        enable_auto_commit=False,
    )
    return [
        (r.key, r.value, r.partition, r.offset)
        for r in read_to_end(consumer, topic, count, timeout=CONSUME_DEADLINE_S)
    ]


def by_key_in_partition_order(records: list[Record]) -> dict[bytes | None, list[bytes]]:
    """The values of each key, in the order of their partition's offsets."""
    found: dict[bytes | None, list[bytes]] = defaultdict(list)
    for key, value, _partition, _offset in sorted(records, key=lambda r: (r[2], r[3])):
        found[key].append(value)
    return dict(found)


@pytest.mark.integration
class TestEnsureTopics:
    """ensure_topics creates both topics as asked, once, and refuses too few partitions."""

    def test_creates_both_topics(self, kafka_broker: str, admin: Any) -> None:
        settings = fresh_settings(kafka_broker, partitions=3)
        assert ensure_topics(settings) == {settings.events_topic: 3, settings.dlq_topic: 3}
        for topic in (settings.events_topic, settings.dlq_topic):
            partitions = describe(admin, topic)["partitions"]
            assert len(partitions) == 3
            assert all(p["replica_nodes"] == [1] for p in partitions)

    def test_is_idempotent(self, kafka_broker: str, admin: Any) -> None:
        settings = fresh_settings(kafka_broker)
        first = ensure_topics(settings)
        topic_id = describe(admin, settings.events_topic)["topic_id"]
        assert (
            ensure_topics(settings)
            == first
            == {
                settings.events_topic: 4,
                settings.dlq_topic: 4,
            }
        )
        assert describe(admin, settings.events_topic)["topic_id"] == topic_id

    def test_fewer_partitions_than_asked_is_an_error(self, kafka_broker: str, admin: Any) -> None:
        settings = fresh_settings(kafka_broker, partitions=2)
        ensure_topics(settings)
        wanting_more = settings.model_copy(update={"partitions": 4})
        with pytest.raises(TopicError) as caught:
            ensure_topics(wanting_more)
        message = str(caught.value)
        assert f"topic {settings.events_topic} has 2 partitions, fewer than the 4 asked" in message
        assert "CONTACTMON_PARTITIONS" in message
        assert len(describe(admin, settings.events_topic)["partitions"]) == 2  # left as it was

    def test_one_topic_missing_and_one_too_small(self, kafka_broker: str, admin: Any) -> None:
        settings = fresh_settings(kafka_broker)
        admin.create_topics({settings.dlq_topic: {"num_partitions": 1, "replication_factor": 1}})
        with pytest.raises(TopicError, match="has 1 partitions, fewer than the 4 asked"):
            ensure_topics(settings)
        assert settings.events_topic not in admin.list_topics()  # nothing half-done

    def test_more_partitions_than_asked_are_used(self, kafka_broker: str, admin: Any) -> None:
        settings = fresh_settings(kafka_broker)
        admin.create_topics({settings.events_topic: {"num_partitions": 6, "replication_factor": 1}})
        assert ensure_topics(settings) == {settings.events_topic: 6, settings.dlq_topic: 4}

    def test_a_refused_create_is_an_error(self, kafka_broker: str) -> None:
        settings = fresh_settings(kafka_broker, replication_factor=3)
        with pytest.raises(TopicError, match="replication factor 3"):
            ensure_topics(settings)

    def test_no_broker_is_an_error_naming_the_servers(self) -> None:
        (port,) = free_ports(1)
        settings = fresh_settings(f"127.0.0.1:{port}")
        started = time.monotonic()
        with pytest.raises(TopicError, match=f"brokers at 127.0.0.1:{port} did not answer"):
            ensure_topics(settings, timeout=2.0)
        assert time.monotonic() - started >= 2.0 * 0.8  # it did retry for the time it was given


@pytest.mark.integration
class TestPartitionFor:
    """partition_for is where keyed messages land, and what the Java client computes."""

    @pytest.mark.parametrize("partitions", [4, 7])
    def test_matches_the_brokers_placement(self, kafka_broker: str, partitions: int) -> None:
        settings = fresh_settings(kafka_broker, partitions=partitions)
        ensure_topics(settings)
        events = [
            {"n": n, "data": {"municipality": key}} for n in range(3) for key in JAVA_PARTITIONS
        ]
        assert produce(events, settings) == len(events)
        records = consume(settings, settings.events_topic, len(events))
        assert len(records) == len(events)
        placed = {(key or b"").decode(): partition for key, _value, partition, _offset in records}
        assert placed == {key: partition_for(key, partitions) for key in JAVA_PARTITIONS}
        assert placed == {key: java[partitions] for key, java in JAVA_PARTITIONS.items()}

    def test_the_four_municipalities_on_four_partitions(self, kafka_broker: str) -> None:
        settings = fresh_settings(kafka_broker, partitions=4)
        ensure_topics(settings)
        events = [{"data": {"municipality": slug}} for slug in MUNICIPALITIES]
        produce(events, settings)
        records = consume(settings, settings.events_topic, len(events))
        placed = {(key or b"").decode(): partition for key, _value, partition, _offset in records}
        assert placed == {slug: partition_for(slug, 4) for slug in MUNICIPALITIES}

    def test_rejects_zero_partitions(self) -> None:
        with pytest.raises(ValueError, match="at least 1 partition"):
            partition_for("bergen", 0)


@pytest.mark.integration
class TestProduce:
    """produce sends the JSON bytes keyed by municipality, and reports what it cannot deliver."""

    def test_bytes_and_dicts(self, kafka_broker: str) -> None:
        settings = fresh_settings(kafka_broker)
        ensure_topics(settings)
        event = {"time": "2024-03-01T09:00:00+01:00", "data": {"municipality": "heiloo"}}
        events: list[Any] = [event, orjson.dumps(event) + b"\n", b"not json\n", b'{"data": 1}']
        seen: list[Progress] = []
        assert produce(events, settings, progress=seen.append) == 4
        records = consume(settings, settings.events_topic, 4)
        received = sorted((key or b"", value) for key, value, _p, _o in records)
        assert received == [
            (b"", b"not json"),
            (b"", b'{"data": 1}'),
            (b"heiloo", orjson.dumps(event)),
            (b"heiloo", orjson.dumps(event)),
        ]
        assert {key for key, _v, _p, _o in records} == {None, b"heiloo"}
        assert seen[-1].sent == 4
        assert seen[-1].event_time == "2024-03-01T09:00:00+01:00"

    def test_a_missing_topic_is_an_error(self, kafka_broker: str) -> None:
        settings = fresh_settings(kafka_broker)
        with pytest.raises(ProducerError, match="--ensure-topics"):
            produce([{"data": {"municipality": "bergen"}}], settings, max_block=2.0)

    def test_failed_deliveries_are_counted(self, kafka_broker: str, admin: Any) -> None:
        settings = fresh_settings(kafka_broker)
        # One record per partition, each larger than the topic takes: the broker refuses both.
        admin.create_topics(
            {
                settings.events_topic: {
                    "num_partitions": 4,
                    "replication_factor": 1,
                    "configs": {"max.message.bytes": "200"},
                }
            }
        )
        events = [
            {"data": {"municipality": slug}, "pad": "x" * 400} for slug in ("bergen", "heiloo")
        ]
        with pytest.raises(ProducerError, match=r"^2 of 2 events were not delivered"):
            produce(events, settings)

    def test_rate_bounds_the_pace(self, kafka_broker: str) -> None:
        settings = fresh_settings(kafka_broker)
        ensure_topics(settings)
        count, rate = 30, 20.0
        events = [{"n": n, "data": {"municipality": "uitgeest"}} for n in range(count)]
        started = time.monotonic()
        assert produce(events, settings, rate=rate) == count
        assert time.monotonic() - started >= count / rate * 0.8

    def test_speed_plays_event_time_faster(self, kafka_broker: str) -> None:
        settings = fresh_settings(kafka_broker)
        ensure_topics(settings)
        # Six events a minute apart, at 300 times real time: five gaps of 0.2 s.
        events = [
            {"time": f"2024-03-01T09:0{n}:00+01:00", "data": {"municipality": "castricum"}}
            for n in range(6)
        ]
        started = time.monotonic()
        assert produce(events, settings, speed=300.0) == 6
        assert time.monotonic() - started >= 1.0 * 0.8


@pytest.mark.integration
class TestSimulateToKafka:
    """``contactmon simulate --to kafka`` sends exactly what ``--to file`` writes."""

    def test_same_events_as_the_file(
        self,
        kafka_broker: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        settings = fresh_settings(kafka_broker)
        monkeypatch.setenv("CONTACTMON_EVENTS_TOPIC", settings.events_topic)
        monkeypatch.setenv("CONTACTMON_DLQ_TOPIC", settings.dlq_topic)
        monkeypatch.setenv("CONTACTMON_PARTITIONS", str(settings.partitions))
        period = ("--start", "2024-03-01", "--months", "1", "--seed", "7")
        out = tmp_path / "events.jsonl"
        assert main(["simulate", *period, "--out", str(out)]) == 0
        lines = out.read_bytes().splitlines()
        capsys.readouterr()

        argv = ["simulate", "--to", "kafka", "--ensure-topics", *period]
        assert main([*argv, "--bootstrap-servers", kafka_broker]) == 0
        summary = capsys.readouterr().err
        assert (
            f"{len(lines)} events sent to topic {settings.events_topic} on {kafka_broker}"
            in summary
        )

        records = consume(settings, settings.events_topic, len(lines))
        assert len(records) == len(lines)
        expected: dict[bytes | None, list[bytes]] = defaultdict(list)
        for line in lines:
            expected[orjson.loads(line)["data"]["municipality"].encode()].append(line)
        assert by_key_in_partition_order(records) == dict(expected)
        assert {key: partition for key, _v, partition, _o in records} == {
            slug.encode(): partition_for(slug, 4) for slug in MUNICIPALITIES
        }
        dlq = KafkaAdminClient(bootstrap_servers=kafka_broker)
        try:
            assert len(describe(dlq, settings.dlq_topic)["partitions"]) == 4
        finally:
            dlq.close()

    def test_rate_option(
        self, kafka_broker: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        settings = fresh_settings(kafka_broker)
        monkeypatch.setenv("CONTACTMON_EVENTS_TOPIC", settings.events_topic)
        monkeypatch.setenv("CONTACTMON_DLQ_TOPIC", settings.dlq_topic)
        monkeypatch.setenv("CONTACTMON_BOOTSTRAP_SERVERS", kafka_broker)
        day = ("--start", "2024-03-04", "--end", "2024-03-05", "--municipality", "uitgeest")
        rate = 100.0
        started = time.monotonic()
        assert main(["simulate", "--to", "kafka", "--ensure-topics", *day, "--rate", "100"]) == 0
        elapsed = time.monotonic() - started
        summary = capsys.readouterr().err
        count = int(summary.split("contactmon simulate: ")[1].split(" events sent")[0])
        assert count > 20
        assert elapsed >= count / rate * 0.8
        assert len(consume(settings, settings.events_topic, count)) == count

    def test_bad_settings_exit_2(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("CONTACTMON_PARTITIONS", "0")
        argv = ["simulate", "--to", "kafka", "--start", "2024-03-04", "--end", "2024-03-05"]
        assert main(argv) == 2
        assert "CONTACTMON_PARTITIONS: Input should be greater than or equal to 1" in (
            capsys.readouterr().err
        )

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (("--to", "kafka", "--out", "x.jsonl"), "--out is for --to file"),
            (("--rate", "5"), "--rate goes only with --to kafka"),
            (("--speed", "5", "--ensure-topics"), "--speed, --ensure-topics go only with"),
        ],
    )
    def test_options_that_do_not_go_with_the_target(
        self, argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["simulate", *argv]) == 2
        assert message in capsys.readouterr().err


class FakeTime:
    """A clock that only moves when slept on; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


class TestRateLimiter:
    """The token bucket never lets the average pass the rate, and allows only a short burst."""

    def test_spaces_events_at_the_rate(self) -> None:
        fake = FakeTime()
        limiter = RateLimiter(10.0, clock=fake.clock, sleep=fake.sleep)
        started = fake.now
        for _ in range(21):
            limiter.acquire()
        assert fake.now - started == pytest.approx(2.0)  # the first goes at once

    def test_an_idle_pause_buys_a_small_burst_only(self) -> None:
        fake = FakeTime()
        limiter = RateLimiter(1000.0, clock=fake.clock, sleep=fake.sleep)
        fake.advance(60.0)
        started = fake.now
        for _ in range(1050):
            limiter.acquire()
        assert limiter.capacity == 50.0
        assert fake.now - started == pytest.approx(1.0)  # 50 from the bucket, 1000 at the rate

    def test_rejects_a_rate_of_zero(self) -> None:
        with pytest.raises(ValueError, match="above 0"):
            RateLimiter(0.0)


class TestPlayback:
    """Playback sleeps event-time gaps divided by the speed, capped, never backwards."""

    def play(self, times: list[float], speed: float, fake: FakeTime) -> None:
        playback = Playback(speed, clock=fake.clock, sleep=fake.sleep)
        for moment in times:
            playback.wait(moment)

    def test_gaps_divided_by_speed(self) -> None:
        fake = FakeTime()
        self.play([0.0, 8640.0, 8640.0, 17280.0], 8640.0, fake)
        assert fake.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]

    def test_a_long_gap_is_capped(self) -> None:
        fake = FakeTime()
        self.play([0.0, 86400.0 * 30], 8640.0, fake)
        assert fake.sleeps == [MAX_GAP_S]

    def test_out_of_order_events_go_at_once(self) -> None:
        fake = FakeTime()
        self.play([0.0, 100.0, 50.0, 100.0, 150.0], 50.0, fake)
        assert fake.sleeps == [pytest.approx(2.0), pytest.approx(1.0)]

    def test_time_spent_sending_is_not_slept_again(self) -> None:
        fake = FakeTime()
        playback = Playback(10.0, clock=fake.clock, sleep=fake.sleep)
        playback.wait(0.0)
        fake.advance(0.4)  # sending took 0.4 s of the 1 s gap
        playback.wait(10.0)
        assert fake.sleeps == [pytest.approx(0.6)]

    def test_events_without_a_time_go_at_once(self) -> None:
        fake = FakeTime()
        playback = Playback(1.0, clock=fake.clock, sleep=fake.sleep)
        for moment in (0.0, None, 1.0):
            playback.wait(moment)
        assert fake.sleeps == [pytest.approx(1.0)]


class TestEncode:
    """encode keeps the bytes a JSON Lines file holds and finds the key and time when it can."""

    def test_a_dict_is_serialised_as_in_a_file(self) -> None:
        event = {"time": "2024-03-01T09:00:00+01:00", "data": {"municipality": "bergen"}}
        message = encode(event)
        assert message.value == orjson.dumps(event)
        assert message.key == b"bergen"
        assert message.time == "2024-03-01T09:00:00+01:00"
        assert message.timestamp == 1709280000.0

    @pytest.mark.parametrize(
        "raw",
        [b"not json", b"[1, 2]", b'{"data": "bergen"}', b'{"data": {"municipality": ""}}'],
    )
    def test_unreadable_bytes_are_sent_without_a_key(self, raw: bytes) -> None:
        message = encode(raw + b"\r\n")
        assert (message.value, message.key) == (raw, None)

    def test_a_bad_time_is_no_time(self) -> None:
        message = encode({"time": "yesterday", "data": {"municipality": "heiloo"}})
        assert (message.key, message.time, message.timestamp) == (b"heiloo", None, None)
