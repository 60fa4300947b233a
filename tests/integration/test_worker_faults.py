"""`contactmon worker` on a real broker with bad input: poison events, a mis-keyed producer, and
events retention deleted before the worker read them.

Each test ends with the worker's state equal to `contactmon replay` of the good events, and every
bad event on the dead-letter topic once (by key) with its reason. The helpers here are shared with
the other fault tests (test_worker_faults_*.py): replaying a file for comparison, merging what
several workers export, reading the dead letters.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from streams.cli import main
from streams.core.config import load_norms
from streams.core.monitor import Monitor
from streams.exposition import monitor_registry, render
from streams.live.settings import KafkaSettings
from streams.live.topics import partition_for
from tests.factories import event, opened
from tests.integration.worker_harness import (
    Names,
    Samples,
    Worker,
    consume_all,
    contract_only,
    key_of,
    lines_of,
    parse,
    produce,
    total,
    wait_until,
)

pytestmark = pytest.mark.integration

PARTITIONS = KafkaSettings().partitions
EVENT_CLOCK = {"CONTACTMON_CLOCK": "event", "CONTACTMON_LATENESS": "0"}
FAULT = "poison-"  # subjects that make the worker's shards raise (CONTACTMON_TEST_FAULT_SUBJECT)
MUNICIPALITIES = ("bergen", "castricum", "heiloo", "uitgeest")


# ---- helpers shared by the fault tests -------------------------------------------------------


def comparable(samples: Samples) -> Samples:
    """The contract's series of the municipalities' state (the calendar gauges left out: they
    follow the wall clock, not the events)."""
    return {k: v for k, v in contract_only(samples).items() if not k[0].startswith("contact_cal")}


def summed_over_category(samples: Samples) -> Samples:
    """The series with the `category` label summed away (`sum without (category)`).

    Which categories have a series of their own, and from when, follows the order in which the
    openings arrive (a category's slot is given when its twentieth opening is applied); an
    event forwarded from a wrong partition arrives later than in the file, so compare the
    figures without the split, which do not depend on arrival order within the lateness.
    """
    out: Samples = {}
    for (name, labels), value in samples.items():
        key = (name, tuple((k, v) for k, v in labels if k != "category"))
        out[key] = out.get(key, 0.0) + value
    return out


def state_only(samples: Samples) -> Samples:
    """`comparable` without the rejection counter (bad events are counted there, not applied)."""
    return {k: v for k, v in comparable(samples).items() if k[0] != "contact_events_rejected_total"}


def replayed(lines: Iterable[bytes], tmp: Path, *, lateness: float = 0, name: str = "r") -> Samples:
    """The metrics `contactmon replay` gives for ``lines`` (no store)."""
    path = tmp / f"{name}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    metrics = tmp / f"{name}.prom"
    args = ["replay", str(path), "--no-store", "--lateness", str(lateness)]
    assert main([*args, "--metrics-file", str(metrics)]) == 0
    return comparable(parse(metrics.read_text()))


def applied_in_order(lines: Iterable[bytes], *, lateness: float) -> Samples:
    """The metrics of the core after applying ``lines`` in order, as an event-clock worker has
    them: no end-of-input sweep (`contactmon replay` decides every deadline up to the last
    event at the end; a worker keeps its clock minus the lateness)."""
    monitor = Monitor(load_norms(), lateness=lateness)
    for line in lines:
        monitor.process(line, time.time())
    return comparable(parse(render(monitor_registry(monitor)).decode()))


def municipality_series(samples: Samples) -> dict[str, Samples]:
    """The exported series per municipality."""
    out: dict[str, Samples] = {}
    for key, value in comparable(samples).items():
        municipality = dict(key[1]).get("municipality")
        if municipality:
            out.setdefault(municipality, {})[key] = value
    return out


def merged(scrapes: Iterable[Samples]) -> Samples:
    """What all workers export together; each municipality must come from one worker only."""
    out: Samples = {}
    seen: dict[str, int] = {}
    for i, samples in enumerate(scrapes):
        for municipality, series in municipality_series(samples).items():
            assert municipality not in seen, (
                f"{municipality} exported by workers {seen[municipality]} and {i}"
            )
            seen[municipality] = i
            out.update(series)
    return out


def with_municipality(samples: Samples) -> Samples:
    return {k: v for k, v in samples.items() if dict(k[1]).get("municipality")}


def processed(workers: Iterable[Worker], count: int) -> bool:
    """Whether the running workers' next offsets add up to ``count`` (a worker that is not
    running or not answering counts as nothing)."""
    offsets = 0.0
    for w in workers:
        if w.proc is None or w.proc.poll() is not None:
            continue
        try:
            offsets += w.next_offsets()
        except OSError:
            return False
    return offsets >= count


def produce_keyed(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    n = 0
    for key, value in messages:
        producer.send(topic, key=key, value=value)
        n += 1
    producer.flush(timeout=60)
    producer.close()
    return n


def dead_letters(
    bootstrap: str, topic: str, expect: int
) -> dict[bytes, list[tuple[bytes, Mapping[str, bytes]]]]:
    """The dead-letter topic by key: every (value, headers) sent under each key."""
    out: dict[bytes, list[tuple[bytes, Mapping[str, bytes]]]] = {}
    for key, value, headers in consume_all(bootstrap, topic, expect=expect, timeout=120):
        out.setdefault(key, []).append((value, headers))
    return out


def poison(n: int) -> dict[str, bytes]:
    """Bad events of every kind, by the reason they must get; ``n`` makes them unique."""
    missing_time = orjson.loads(opened(f"m{n}", "2024-03-04 10:00"))
    del missing_time["time"]
    return {
        "not_json": f"{{not json {n}".encode(),
        "not_object": f"[{n}, 2, 3]".encode(),
        "missing_field": orjson.dumps(missing_time),
        "invalid_field": opened(f"i{n}", "2024-03-04 10:00").replace(
            b'"channel":"app"', b'"channel":"fax"'
        ),
        "unknown_type": event("item.teleported", f"t{n}", "2024-03-04 10:00"),
        "unknown_municipality": event(
            "item.opened",
            f"a{n}",
            "2024-03-04 10:00",
            municipality="alkmaar",
            kind="melding",
            channel="app",
        ),
        "future_time": opened(f"f{n}", "2099-01-01 10:00"),
        "future_time/2150": opened(f"far-{n}", "2150-01-01 10:00"),
        "time_out_of_range": opened(f"old-{n}", "1950-01-01 10:00"),
        "time_out_of_range/null date": null_date(opened(f"null-{n}", "2024-03-04 10:00")),
        "unknown_subject": event("item.responded", f"never-opened-{n}", "2024-03-04 10:00"),
        "internal_error": opened(f"{FAULT}{n}", "2024-03-10 10:00"),
        "internal_error/heiloo": event(
            "item.opened",
            f"{FAULT}h{n}",
            "2024-03-11 10:00",
            municipality="heiloo",
            kind="melding",
            channel="app",
        ),
    }


def null_date(raw: bytes) -> bytes:
    """The event with a producer's null date as its time."""
    obj = orjson.loads(raw)
    obj["time"] = "0001-01-01T00:00:00Z"
    return orjson.dumps(obj)


def reason_of(kind: str) -> str:
    return kind.partition("/")[0].partition("#")[0]


# ---- the tests -------------------------------------------------------------------------------


class TestPoisonEvents:
    """Bad events of every kind in the middle of a month: each in the dead-letter topic with its
    reason, the partitions go on, the state equals the replay of the month without them."""

    def test_every_kind_lands_in_the_dlq_and_the_state_equals_the_replay(
        self, kafka_broker: str, simulated_month: Path, tmp_path: Path
    ) -> None:
        names = Names()
        good = lines_of(simulated_month)
        bad = {**poison(1), **{f"{k}#2": v for k, v in poison(2).items()}}
        stream = list(good)
        rng = random.Random(9)
        for raw in bad.values():  # spread through the month, the first ones early
            stream.insert(rng.randrange(len(stream) // 10, len(stream)), raw)
        w = Worker(
            kafka_broker,
            names,
            tmp_path,
            f"sqlite:///{tmp_path / 'store.sqlite3'}",
            CONTACTMON_TEST_FAULT_SUBJECT=FAULT,
            **EVENT_CLOCK,
        )
        try:
            w.start()
            wait_until("partitions assigned", lambda: w.owned() == PARTITIONS)
            n = produce(kafka_broker, names.events, stream)
            wait_until("every event processed", lambda: processed([w], n), timeout=180)
            letters = dead_letters(kafka_broker, names.dlq, expect=len(bad))
            samples = w.scrape()
        finally:
            assert w.stop() == 0

        assert len(letters) == len(bad)  # one key per bad event
        assert all(len(sent) == 1 for sent in letters.values())  # and once each
        reasons = Counter(headers["reason"].decode() for ((_, headers),) in letters.values())
        expected = Counter(reason_of(kind) for kind in bad)
        assert reasons == expected
        by_value = {value: headers for ((value, headers),) in letters.values()}
        for kind, raw in bad.items():
            headers = by_value[raw]  # the original bytes, as they were produced
            assert headers["reason"].decode() == reason_of(kind)
            if kind.startswith("internal_error"):
                assert headers["exception"] == b"InjectedFault"
        for reason, count in expected.items():
            assert total(samples, "contact_events_rejected_total", reason=reason) == count
        assert state_only(samples) == state_only(replayed(good, tmp_path))
        assert total(samples, "contact_events_total") == len(good)
        log = w.log_path.read_text()
        assert "test-only fault injection is on" in log
        assert "Traceback" not in log


class TestMisKeyedProducer:
    """A producer that keys a tenth of the events wrongly: each is forwarded to its own
    partition; none is lost and the state equals the replay."""

    # A forwarded event arrives after the events read meanwhile on its own partition, which may be
    # weeks ahead in event time (partitions are read side by side, not in time order): the
    # lateness covers the whole stream, so arrival order does not matter.
    LATENESS = 200 * 86_400.0

    def test_forwarded_and_equal_to_the_replay(
        self, kafka_broker: str, simulated_month: Path, tmp_path: Path
    ) -> None:
        names = Names()
        lines = lines_of(simulated_month)
        rng = random.Random(5)
        messages: list[tuple[bytes, bytes]] = []
        wrong = 0
        for line in lines:
            key = key_of(line)
            if rng.random() < 0.1:  # another municipality's key: another partition
                key = rng.choice([m for m in MUNICIPALITIES if m != key.decode()]).encode()
                wrong += 1
            messages.append((key, line))
        assert len({partition_for(m, PARTITIONS) for m in MUNICIPALITIES}) == 4
        w = Worker(
            kafka_broker,
            names,
            tmp_path,
            f"sqlite:///{tmp_path / 'store.sqlite3'}",
            CONTACTMON_CLOCK="event",
            CONTACTMON_LATENESS=str(self.LATENESS),
        )
        try:
            w.start()
            wait_until("partitions assigned", lambda: w.owned() == PARTITIONS)
            n = produce_keyed(kafka_broker, names.events, messages)
            # the forwarded events are on the topic too: n + wrong offsets in all
            wait_until("every event processed", lambda: processed([w], n + wrong), timeout=180)
            samples = w.scrape()
        finally:
            assert w.stop() == 0
        assert wrong > len(lines) // 20
        assert total(samples, "contact_worker_events_forwarded_total") == wrong
        assert total(samples, "contact_events_rejected_total") == 0
        expected = applied_in_order(lines, lateness=self.LATENESS)
        assert summed_over_category(comparable(samples)) == summed_over_category(expected)
        assert total(samples, "contact_events_total") == len(lines)
        assert consume_all(kafka_broker, names.dlq, expect=0) == []


class TestRetentionGap:
    """Events deleted by retention while the worker was away: it resumes at the earliest offset
    Kafka still has (once, no seeking back and forth), says so in the log and in
    `contact_worker_offsets_lost_total`, and its state is that of the events it could read."""

    def test_resumes_at_the_earliest_offset(
        self, kafka_broker: str, simulated_month: Path, tmp_path: Path
    ) -> None:
        names = Names()
        lines = lines_of(simulated_month)
        third = len(lines) // 3
        first, lost, last = lines[:third], lines[third : 2 * third], lines[2 * third :]
        store = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        w = Worker(kafka_broker, names, tmp_path, store, **EVENT_CLOCK)
        try:
            w.start()
            wait_until("partitions assigned", lambda: w.owned() == PARTITIONS)
            produce(kafka_broker, names.events, first)
            wait_until("the first third processed", lambda: processed([w], len(first)))
        finally:
            assert w.stop() == 0  # its final checkpoint
        produce(kafka_broker, names.events, lost)
        admin = KafkaAdminClient(bootstrap_servers=kafka_broker)
        consumer = KafkaConsumer(bootstrap_servers=kafka_broker)
        try:  # what retention does: everything up to the end of the second third goes
            tps = [TopicPartition(names.events, p) for p in range(PARTITIONS)]
            ends = consumer.end_offsets(tps)
            admin.delete_records({tp: end for tp, end in ends.items() if end > 0})
        finally:
            consumer.close()
            admin.close()
        produce(kafka_broker, names.events, last)
        w = Worker(kafka_broker, names, tmp_path, store, **EVENT_CLOCK)
        try:
            w.start()
            wait_until("every readable event processed", lambda: processed([w], len(lines)))
            samples = w.scrape()
        finally:
            assert w.stop() == 0
        assert total(samples, "contact_worker_offsets_lost_total") == len(lost)
        # the events of the lost third's subjects wait as held events, as in the core (a replay
        # would expire them all at its end)
        assert comparable(samples) == applied_in_order([*first, *last], lateness=0)
        log = w.log_path.read_text()
        assert "deleted by retention before they were read" in log
        assert "offset gap: seeking back" not in log
