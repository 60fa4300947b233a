"""Running `contactmon worker` as a real process against the real broker; reading its metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import orjson
from kafka import KafkaConsumer, KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import free_ports

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
        if k[0].startswith("contact_") and not k[0].startswith("contact_worker_")
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def wait_until(
    what: str, check: Callable[[], bool], timeout: float = 90.0, every: float = 0.5
) -> None:
    """Poll ``check`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


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
            f"worker on port {self.port} to serve /metrics", self._serving, timeout=60, every=0.3
        )
        return self

    def _serving(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            self.metrics_text()
        except OSError:
            return False
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


def consume_all(
    bootstrap: str, topic: str, expect: int, timeout: float = 60.0
) -> list[tuple[bytes, bytes, Mapping[str, bytes]]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=2000,
        group_id=None,
    )
    out: list[tuple[bytes, bytes, Mapping[str, bytes]]] = []
    deadline = time.monotonic() + timeout
    while len(out) < expect and time.monotonic() < deadline:
        for msg in consumer:
            out.append((msg.key, msg.value, dict(msg.headers)))
    consumer.close()
    return out


def lines_of(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]
