"""The kill loop: two workers on PostgreSQL, about 100,000 events, 20 SIGKILLs of a random worker at
random moments and a restart each time. At the end the metrics and the monthly export equal the
replay's (nothing lost, nothing counted twice) and every bad event is on the dead-letter topic
under one key (a consumer keeps one message per key)."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from streams.cli import main
from tests.integration.test_worker_faults import (
    EVENT_CLOCK,
    MUNICIPALITIES,
    dead_letters,
    merged,
    processed,
    produce_keyed,
    replayed,
    state_only,
    with_municipality,
)
from tests.integration.worker_harness import Names, Worker, key_of, lines_of, total, wait_until

pytestmark = pytest.mark.integration

MONTHS = 7  # 99,757 simulated events (seed 3)
BAD_EVENTS = 200
KILLS = 20


@pytest.fixture(scope="module")
def seven_months(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kill") / "seven.jsonl"
    args = ["simulate", "--start", "2024-01-01", "--months", str(MONTHS), "--seed", "3"]
    assert main([*args, "--out", str(path)]) == 0
    return path


@pytest.fixture
def pg_store(postgres: str) -> Iterator[str]:
    """A store URL of its own in the shared server: a schema of this test (search_path)."""
    schema = f"kill_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in postgres else "?"
    try:
        yield f"{postgres}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def exported(store: str, out: Path) -> dict[str, bytes]:
    """Every month's export (tidy CSV) from ``store``."""
    files: dict[str, bytes] = {}
    for month in range(1, MONTHS + 1):
        path = out / f"2024-{month:02d}.csv"
        assert (
            main(["export", "--month", f"2024-{month:02d}", "--store", store, "--out", str(path)])
            == 0
        )
        files[path.name] = path.read_bytes()
    return files


class TestKillLoop:
    def test_random_kills_lose_nothing_and_count_nothing_twice(
        self, kafka_broker: str, postgres: str, pg_store: str, seven_months: Path, tmp_path: Path
    ) -> None:
        rng = random.Random(20261202)
        names = Names()
        good = lines_of(seven_months)
        stream = [(key_of(line), line) for line in good]
        bad = [f'{{"bad event": {i}'.encode() for i in range(BAD_EVENTS)]
        for raw in bad:  # spread over the stream and over the municipalities' partitions
            stream.insert(rng.randrange(len(stream)), (rng.choice(MUNICIPALITIES).encode(), raw))
        env = {
            **EVENT_CLOCK,
            "CONTACTMON_SESSION_TIMEOUT": "6",
            "CONTACTMON_CHECKPOINT_EVERY": "2000",
            # the simulated 2024 is older than the 800 days the store keeps finished items
            "CONTACTMON_STORE_RETENTION_DAYS": "36500",
        }
        workers = [Worker(kafka_broker, names, tmp_path, pg_store, **env) for _ in range(2)]
        try:
            for w in workers:
                w.start()
            wait_until("the partitions assigned", lambda: sum(w.owned() for w in workers) == 12)
            n = 0
            step = -(-len(stream) // KILLS)
            for i in range(KILLS):  # a slice of the stream before each kill: they hit work
                n += produce_keyed(kafka_broker, names.events, stream[i * step : (i + 1) * step])
                time.sleep(rng.uniform(0.5, 3.0))
                victim = rng.choice(workers)
                victim.kill()
                time.sleep(rng.uniform(0.0, 2.0))
                victim.start()
            wait_until("every event processed", lambda: processed(workers, n), timeout=600)
            wait_until(
                "the partitions settled",
                lambda: sum(w.owned() for w in workers) == 12 and processed(workers, n),
                timeout=120,
            )
            scrapes = [w.scrape() for w in workers]
            letters = dead_letters(kafka_broker, names.dlq, expect=BAD_EVENTS)
        finally:
            for w in workers:
                w.stop()

        expected = with_municipality(state_only(replayed(good, tmp_path)))
        assert with_municipality(state_only(merged(scrapes))) == expected
        assert sum(total(s, "contact_events_total") for s in scrapes) == len(good)  # 0 lost
        assert sum(total(s, "contact_events_duplicate_total") for s in scrapes) == 0  # 0 double
        assert sum(total(s, "contact_events_rejected_total") for s in scrapes) == BAD_EVENTS
        # every bad event under one key; sent twice at most after a kill, always the same bytes
        assert len(letters) == BAD_EVENTS
        assert sorted({value for sent in letters.values() for value, _ in sent}) == sorted(bad)
        assert all(len({value for value, _ in sent}) == 1 for sent in letters.values())
        kills_seen = sum(w.log_path.read_text().count("partition restored") for w in workers)
        assert kills_seen > 12  # the partitions really moved and were restored

        replay_store = f"sqlite:///{tmp_path / 'replay.sqlite3'}"
        path = tmp_path / "stream.jsonl"
        path.write_bytes(b"\n".join(good) + b"\n")
        assert main(["replay", str(path), "--store", replay_store, "--lateness", "0"]) == 0
        (tmp_path / "live").mkdir()
        (tmp_path / "replay").mkdir()
        assert exported(pg_store, tmp_path / "live") == exported(replay_store, tmp_path / "replay")
