"""Running `contactmon worker` as a real process against the real broker; reading its metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import free_ports
from tests.waiting import wait_until  # the shared helper; tests still import it from here too

CONTACTMON = str(Path(sys.executable).with_name("contactmon"))

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Exposition text as {(sample name, sorted labels): value}."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def contract_only(samples: Samples) -> Samples:
    """The contract's series (the worker's own health series left out)."""
    return {
        k: v
        for k, v in samples.items()
        if k[0].startswith("contact_")
        and not k[0].startswith(("contact_worker_", "contact_calendar_"))
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


class Names:
    """Unique topic and group names for one test (the broker is shared by the session)."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.events = f"contact.events.{tag}"
        self.dlq = f"contact.events.dlq.{tag}"
        self.group = f"contactmon-{tag}"


class Worker:
    """One `contactmon worker` process with its own metrics port."""

    def __init__(
        self, bootstrap: str, names: Names, workdir: Path, store_url: str, **env: str
    ) -> None:
        self.port = free_ports(1)[0]
        self.workdir = workdir
        self.log_path = workdir / f"worker-{self.port}.log"
        self.env = {
            **os.environ,
            "CONTACTMON_BOOTSTRAP_SERVERS": bootstrap,
            "CONTACTMON_EVENTS_TOPIC": names.events,
            "CONTACTMON_DLQ_TOPIC": names.dlq,
            "CONTACTMON_GROUP_ID": names.group,
            "CONTACTMON_STORE_URL": store_url,
            "CONTACTMON_METRICS_PORT": str(self.port),
            "CONTACTMON_DATA_DIR": str(workdir / f"data-{self.port}"),
            "CONTACTMON_SESSION_TIMEOUT": "10",
            "CONTACTMON_CHECKPOINT_INTERVAL": "1",
            "CONTACTMON_SWEEP_INTERVAL": "1",
            "CONTACTMON_LOG_LEVEL": "INFO",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [CONTACTMON, "worker"], env=self.env, stdout=log, stderr=log, cwd=self.workdir
        )
        wait_until(
            f"the worker on port {self.port} to serve /metrics",
            self._serving,
            timeout=60,
            ignoring=(OSError,),
            detail=self.log_tail,
        )
        return self

    def _serving(self) -> bool:
        """Whether /metrics answers (an OSError: not yet); a worker that exited fails at once."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
        self.metrics_text()
        return True

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def scrape(self) -> Samples:
        return parse(self.metrics_text())

    def owned(self) -> int:
        return int(total(self.scrape(), "contact_worker_partitions_owned"))

    def next_offsets(self) -> float:
        return total(self.scrape(), "contact_worker_next_offset")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise AssertionError(f"worker did not stop on SIGTERM:\n{self.log_tail()}") from None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def key_of(line: bytes) -> bytes:
    """The municipality of an event line (the contract's message key); bad lines get a fixed key."""
    try:
        obj = orjson.loads(line)
        return str(obj["data"]["municipality"]).encode()
    except Exception:
        return b"castricum"


def produce(
    bootstrap: str, topic: str, lines: Iterable[bytes], per_second: float | None = None
) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    started = time.monotonic()
    n = 0
    for line in lines:
        producer.send(topic, key=key_of(line), value=line)
        n += 1
        if per_second:
            ahead = n / per_second - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    producer.flush(timeout=60)
    producer.close()
    return n


def read_to_end(
    consumer: KafkaConsumer, topic: str, expect: int, timeout: float = 60.0
) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the start, once at least ``expect`` have come.

    The read ends when the consumer has reached the end offset of every partition, so a record
    beyond ``expect`` that is on the topic by then is in the result too: a test that produced and
    flushed (or saw a worker finish) and then reads can check that nothing more was written,
    without waiting a quiet period. The consumer is closed afterwards.
    """
    try:
        partitions = wait_until(
            f"topic {topic} to have partitions", lambda: consumer.partitions_for_topic(topic)
        )
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        out: list[ConsumerRecord] = []

        def at_the_end() -> bool:
            for batch in consumer.poll(timeout_ms=200).values():
                out.extend(batch)
            if len(out) < expect:
                return False
            ends = consumer.end_offsets(assigned)
            return all(consumer.position(tp) >= ends[tp] for tp in assigned)

        wait_until(
            f"{expect} records on {topic} and the end of each partition",
            at_the_end,
            timeout=timeout,
            every=0,
            detail=lambda: f"{len(out)} records read",
        )
        return out
    finally:
        consumer.close()


def consume_all(
    bootstrap: str, topic: str, expect: int, timeout: float = 60.0
) -> list[tuple[bytes, bytes, Mapping[str, bytes]]]:
    """Key, value and headers of every record of ``topic`` (see `read_to_end`)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    return [
        (record.key, record.value, dict(record.headers))
        for record in read_to_end(consumer, topic, expect, timeout)
    ]


def lines_of(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]
