"""The zombie: a worker paused (SIGSTOP) past its session timeout while the other takes its
partitions over, then resumed (SIGCONT). Its checkpoint is refused (another worker claimed the
partition), it stops exporting the municipality, and at no moment do the two workers export the
same municipality together (the sum over the workers is never double)."""

from __future__ import annotations

import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from streams.live.topics import partition_for
from tests.integration.test_worker_faults import (
    EVENT_CLOCK,
    merged,
    municipality_series,
    processed,
    replayed,
    state_only,
    with_municipality,
)
from tests.integration.test_worker_faults_kill import pg_store  # noqa: F401  (a fixture)
from tests.integration.worker_harness import (
    Names,
    Samples,
    Worker,
    lines_of,
    parse,
    produce,
    total,
    wait_until,
)

pytestmark = pytest.mark.integration

SESSION_TIMEOUT = 6.0
WATCHED = "castricum"


def exported_by(worker: Worker) -> set[str]:
    """The municipalities a worker exports now; nothing when it does not answer in time (it is
    paused: Prometheus would get nothing from it either)."""
    try:
        url = f"http://127.0.0.1:{worker.port}/metrics"
        with urllib.request.urlopen(url, timeout=0.5) as response:
            samples: Samples = parse(response.read().decode())
    except OSError:
        return set()
    return set(municipality_series(samples))


class Watch:
    """Scrapes both workers over and over (a, b, a) and notes every moment both export a
    municipality: a double only counts when the first worker exported it before and after the
    second did, so a hand-over between two scrapes is not taken for one."""

    def __init__(self, a: Worker, b: Worker) -> None:
        self.a, self.b = a, b
        self.doubles: list[tuple[float, set[str]]] = []
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            first = exported_by(self.a)
            other = exported_by(self.b)
            again = exported_by(self.a)
            both = first & other & again
            if both:
                self.doubles.append((time.time(), both))
            self.rounds += 1
            time.sleep(0.05)


def owner_of_partition(store: str, group: str, partition: int) -> str:
    with psycopg.connect(store) as conn:
        row = conn.execute(
            "SELECT owner FROM checkpoint_owners WHERE consumer_group = %s AND partition = %s",
            (group, partition),
        ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture
def two_workers(
    kafka_broker: str,
    pg_store: str,  # noqa: F811
    tmp_path: Path,
) -> Iterator[tuple[Names, list[Worker]]]:
    names = Names()
    env = {**EVENT_CLOCK, "CONTACTMON_SESSION_TIMEOUT": str(SESSION_TIMEOUT)}
    workers = [Worker(kafka_broker, names, tmp_path, pg_store, **env) for _ in range(2)]
    try:
        yield names, workers
    finally:  # every worker running again first, then each stopped (killed if it must be)
        for w in workers:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.send_signal(signal.SIGCONT)
        failures = []
        for w in workers:
            try:
                w.stop()
            except AssertionError as exc:
                failures.append(str(exc))
        assert not failures, "\n".join(failures)


class TestZombie:
    def test_a_paused_worker_is_fenced_and_never_doubles(
        self,
        kafka_broker: str,
        pg_store: str,  # noqa: F811
        simulated_month: Path,
        tmp_path: Path,
        two_workers: tuple[Names, list[Worker]],
    ) -> None:
        names, workers = two_workers
        for w in workers:
            w.start()
        wait_until("the partitions shared", lambda: sum(w.owned() for w in workers) == 12)
        wait_until("each worker owns some", lambda: all(w.owned() > 0 for w in workers))
        lines = lines_of(simulated_month)
        half = len(lines) // 2
        produce(kafka_broker, names.events, lines[:half])
        wait_until("the first half processed", lambda: processed(workers, half))
        zombie = next(w for w in workers if WATCHED in exported_by(w))
        other = next(w for w in workers if w is not zombie)
        assert zombie.proc is not None
        with Watch(zombie, other) as watch:
            zombie.proc.send_signal(signal.SIGSTOP)
            wait_until(
                f"the other worker to export {WATCHED}",
                lambda: WATCHED in exported_by(other),
                timeout=90,
            )
            produce(kafka_broker, names.events, lines[half:])
            wait_until(
                "the second half processed by the other",
                lambda: other.next_offsets() >= len(lines),
                timeout=120,
            )
            assert other.proc is not None
            owner = owner_of_partition(pg_store, names.group, partition_for(WATCHED, 12))
            assert owner.endswith(f":{other.proc.pid}")  # the other claimed it
            zombie.proc.send_signal(signal.SIGCONT)
            wait_until(
                "the zombie's checkpoint refused",
                lambda: (
                    total(zombie.scrape(), "contact_worker_store_errors_total", kind="stale") >= 1
                ),
                timeout=60,
            )
            wait_until(
                "the group settled",
                lambda: sum(w.owned() for w in workers) == 12 and processed(workers, len(lines)),
                timeout=120,
            )
            time.sleep(2.0)  # a few more rounds of the watch after it settled
        assert watch.rounds > 10  # (a scrape of the paused worker takes its timeout)
        assert watch.doubles == []
        assert "checkpoint refused: another worker owns the partition now" in zombie.log_tail(400)
        scrapes = [w.scrape() for w in workers]
        expected = with_municipality(state_only(replayed(lines, tmp_path)))
        assert with_municipality(state_only(merged(scrapes))) == expected
        assert sum(total(s, "contact_events_total") for s in scrapes) == len(lines)
