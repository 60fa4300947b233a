"""The PostgreSQL outcome store against a real server (started by deploy/postgres.sh).

The contract tests run against both stores, SQLite and PostgreSQL, so the two keep the same
behaviour; the PostgreSQL-only tests cover what only a shared server has: several connections at
once, a schema created by two workers starting together, connection errors, and a dropped
connection. Every test gets a fresh database on the session's server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from streams.cli import main
from streams.store import (
    Checkpoint,
    FeedbackRecord,
    OutcomeBatch,
    OutcomeStore,
    StoreError,
    open_store,
)
from streams.store.postgres import PostgresStore
from streams.store.sqlite import SCHEMA_VERSION
from tests.factories import at
from tests.factories import call_record as call
from tests.factories import item_record as item
from tests.factories import norm_record as norm
from tests.integration.conftest import free_ports
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

EVERYTHING = (0.0, 1e12)
GROUP, TOPIC = "contactmon", "contact.events"
THREAD_DEADLINE_S = 60.0


APRIL = (at("2024-04-01T00:00+02:00"), at("2024-05-01T00:00+02:00"))


def sample_batch() -> OutcomeBatch:
    """April rows of every kind, with rows just outside the month, odd floats and byte-order
    subjects (upper case, lower case, non-ASCII) that a locale collation would sort otherwise."""
    return OutcomeBatch(
        items=[
            item(
                "i-1",
                "2024-04-02T10:00+02:00",
                responded_at=at("2024-04-02T11:00+02:00") + 0.123456789,
                closed_at=at("2024-04-03T10:00+02:00"),
                resolution="opgelost",
                upheld=False,
                is_open=False,
            ),
            item("Zaak-2", "2024-04-05T08:00+02:00", kind="klacht", upheld=True, reopened=2),
            item("é-3", "2024-04-06T08:00+02:00", team="wijkteam"),
            item("a-4", "2024-04-30T23:30+02:00", municipality="castricum"),
            item("i-march", "2024-03-31T23:30+02:00"),
            item("i-may", "2024-05-01T00:00+02:00"),
        ],
        norms=[
            norm("i-1", "melding-reactie", outcome="met", achieved_at=at("2024-04-02T11:00+02:00")),
            norm("i-1", "melding-afhandeling", outcome="met", decided_at=at("2024-04-03T10:00Z")),
            norm("Zaak-2", "klacht-afhandeling", outcome="breached", deadline=None),
            norm("é-3", "melding-reactie"),
            norm("i-march", "melding-reactie"),
            norm("c-1", "telefoon-opname", family="call", outcome="met"),
            norm("c-may", "telefoon-opname", family="call"),
        ],
        calls=[
            call(
                "c-1",
                "2024-04-02T09:00+02:00",
                answered_at=at("2024-04-02T09:00:20+02:00"),
                ended_at=at("2024-04-02T09:05+02:00"),
                resolved=False,
                outcome="answered",
            ),
            call("c-2", "2024-04-03T09:00+02:00", abandoned_at=at("2024-04-03T09:01+02:00")),
            call("c-may", "2024-05-01T00:00:01+02:00", resolved=True),
        ],
        feedback=[
            FeedbackRecord("bergen", "src/1", "app", "melding", 8, at("2024-04-02T12:00+02:00")),
            FeedbackRecord("heiloo", "src/2", "telefoon", None, 3, at("2024-04-20T12:00+02:00")),
            FeedbackRecord("uitgeest", "src/0", "app", None, 10, at("2024-03-31T23:59:59+02:00")),
        ],
    )


def snapshot(store: OutcomeStore) -> tuple[list[Any], ...]:
    """Everything the readers return over all time, in their own order."""
    return (
        store.items_opened(*EVERYTHING),
        store.norms_for_items_opened(*EVERYTHING),
        store.calls_queued(*EVERYTHING),
        store.feedback_given(*EVERYTHING),
        store.municipalities(),
    )


def checkpoint(
    partition: int, offset: int, state: bytes = b"state", group: str = GROUP
) -> Checkpoint:
    return Checkpoint(group, TOPIC, partition, offset, state, at("2024-04-02T12:00+02:00"))


def with_database(url: str, name: str) -> str:
    """`url` with its database replaced by `name`."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture
def pg_url(postgres: str) -> Iterator[str]:
    """The URL of a fresh, empty database on the session's server; dropped afterwards."""
    name = f"t_{uuid4().hex[:16]}"
    admin = with_database(postgres, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(postgres, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'outcomes.sqlite3'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[OutcomeStore]:
    with open_store(store_url) as opened:
        yield opened


def run_together(*jobs: Callable[[], None]) -> list[BaseException]:
    """Run the jobs in threads released at the same moment; return what they raised."""
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        try:
            start.wait()
            job()
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_DEADLINE_S)
    assert not any(t.is_alive() for t in threads), "a job did not finish in time"
    return errors


class TestContract:
    """Both stores upsert, read, and keep checkpoints the same way."""

    def test_rows_read_back_as_written_in_key_byte_order(self, store: OutcomeStore) -> None:
        batch = sample_batch()
        store.write(batch)
        assert [(r.municipality, r.subject) for r in store.items_opened(*APRIL)] == [
            ("bergen", "Zaak-2"),
            ("bergen", "i-1"),
            ("bergen", "é-3"),
            ("castricum", "a-4"),
        ]
        assert sorted(store.items_opened(*EVERYTHING), key=repr) == sorted(batch.items, key=repr)
        assert [(r.subject, r.norm) for r in store.norms_for_items_opened(*APRIL)] == [
            ("Zaak-2", "klacht-afhandeling"),
            ("c-1", "telefoon-opname"),
            ("i-1", "melding-afhandeling"),
            ("i-1", "melding-reactie"),
            ("é-3", "melding-reactie"),
        ]
        assert store.calls_queued(*APRIL) == batch.calls[:2]
        assert [r.key for r in store.feedback_given(*APRIL)] == ["src/1", "src/2"]
        assert store.municipalities() == ["bergen", "castricum", "heiloo", "uitgeest"]

    def test_types_survive_exactly(self, store: OutcomeStore) -> None:
        store.write(sample_batch())
        (first,) = [r for r in store.items_opened(*APRIL) if r.subject == "i-1"]
        assert first.responded_at == at("2024-04-02T11:00+02:00") + 0.123456789
        assert first.upheld is False
        assert first.is_open is False
        (second,) = [r for r in store.items_opened(*APRIL) if r.subject == "Zaak-2"]
        assert second.upheld is True
        assert second.reopened == 2
        (later,) = store.calls_queued(APRIL[1], APRIL[1] + 86400)
        assert later.resolved is True

    def test_writing_the_same_batch_twice_changes_nothing(self, store: OutcomeStore) -> None:
        store.write(sample_batch())
        once = snapshot(store)
        store.write(sample_batch())
        assert snapshot(store) == once

    def test_a_newer_snapshot_replaces_the_row(self, store: OutcomeStore) -> None:
        first = item("i-1", "2024-04-02T10:00+02:00")
        closed = replace(first, closed_at=at("2024-04-04T09:00+02:00"), is_open=False, reopened=1)
        store.write(OutcomeBatch(items=[first]))
        store.write(OutcomeBatch(items=[closed]))
        assert store.items_opened(*APRIL) == [closed]
        store.write(OutcomeBatch(items=[first, closed]))  # in one batch, the later row wins
        assert store.items_opened(*APRIL) == [closed]

    def test_a_failing_batch_writes_nothing(self, store: OutcomeStore) -> None:
        good = item("i-good", "2024-04-02T10:00+02:00")
        bad = replace(good, subject="i-bad", kind=None)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match=r"cannot write to .*(NOT NULL|not-null)"):
            store.write(OutcomeBatch(items=[good, bad]))
        assert store.items_opened(*APRIL) == []
        store.write(OutcomeBatch(items=[good]))
        assert store.items_opened(*APRIL) == [good]

    def test_checkpoints_round_trip_with_their_rows(self, store: OutcomeStore) -> None:
        state = bytes(range(256)) * (16 * 1024)  # 4 MiB, every byte value
        saved = [checkpoint(0, 1042, state), checkpoint(5, 7)]
        store.save_checkpoints(saved, sample_batch())
        assert store.load_checkpoint(GROUP, TOPIC, 0) == saved[0]
        assert store.load_checkpoint(GROUP, TOPIC, 5) == saved[1]
        assert store.load_checkpoint(GROUP, TOPIC, 1) is None
        assert store.load_checkpoint("other-app", TOPIC, 0) is None
        assert len(store.items_opened(*APRIL)) == 4

    def test_an_offset_may_stay_or_advance(self, store: OutcomeStore) -> None:
        store.save_checkpoints([checkpoint(0, 10, b"first")], OutcomeBatch())
        store.save_checkpoints([checkpoint(0, 10, b"same offset")], OutcomeBatch())
        assert store.load_checkpoint(GROUP, TOPIC, 0) == checkpoint(0, 10, b"same offset")
        store.save_checkpoints([checkpoint(0, 11, b"")], OutcomeBatch())
        assert store.load_checkpoint(GROUP, TOPIC, 0) == checkpoint(0, 11, b"")

    def test_a_backwards_offset_is_refused_and_nothing_is_written(
        self, store: OutcomeStore
    ) -> None:
        store.save_checkpoints([checkpoint(0, 100), checkpoint(1, 50)], sample_batch())
        before = snapshot(store)
        stale_rows = OutcomeBatch(
            items=[item("i-stale", "2024-04-10T10:00+02:00")],
            calls=[replace(sample_batch().calls[0], outcome="abandoned")],
        )
        with pytest.raises(StoreError, match=r"stored offset 100 is ahead of 99"):
            store.save_checkpoints([checkpoint(1, 60), checkpoint(0, 99)], stale_rows)
        assert snapshot(store) == before
        assert store.load_checkpoint(GROUP, TOPIC, 0) == checkpoint(0, 100)
        assert store.load_checkpoint(GROUP, TOPIC, 1) == checkpoint(1, 50)

    def test_delete_checkpoints_counts_and_keeps_other_groups(self, store: OutcomeStore) -> None:
        store.save_checkpoints(
            [checkpoint(0, 1), checkpoint(1, 2), checkpoint(0, 3, group="other-app")],
            OutcomeBatch(),
        )
        assert store.delete_checkpoints(GROUP, TOPIC) == 2
        assert store.delete_checkpoints(GROUP, TOPIC) == 0
        assert store.load_checkpoint("other-app", TOPIC, 0) == checkpoint(0, 3, group="other-app")
        store.save_checkpoints([checkpoint(0, 0)], OutcomeBatch())  # a rebuild starts at 0
        assert store.load_checkpoint(GROUP, TOPIC, 0) == checkpoint(0, 0)

    def test_a_reader_refuses_a_store_that_was_never_written(self, store_url: str) -> None:
        with pytest.raises(StoreError, match=r"no store database at|holds no outcome tables"):
            open_store(store_url, create=False)


class TestPostgresOnly:
    """What only a shared server has: URLs, several connections, errors, dropped connections."""

    @pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
    def test_open_store_opens_postgresql_urls(self, pg_url: str, scheme: str) -> None:
        url = scheme + pg_url.removeprefix("postgresql")
        with open_store(url) as opened:
            assert isinstance(opened, PostgresStore)
            opened.write(sample_batch())
        with open_store(url, create=False) as reader:
            assert len(reader.items_opened(*APRIL)) == 4

    def test_the_schema_is_made_once_when_two_workers_start_together(self, pg_url: str) -> None:
        opened: list[PostgresStore] = []
        errors = run_together(*[lambda: opened.append(PostgresStore(pg_url))] * 4)
        for one in opened:
            one.close()
        assert errors == []
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute("SELECT version FROM schema_version").fetchall()
        assert rows == [(SCHEMA_VERSION,)]

    def test_two_workers_save_checkpoints_for_their_partitions_at_once(self, pg_url: str) -> None:
        rounds = 25

        def worker(partition: int) -> Callable[[], None]:
            def run() -> None:
                with PostgresStore(pg_url) as own:
                    for n in range(1, rounds + 1):
                        rows = [
                            item(f"p{partition}-{n}", "2024-04-02T10:00+02:00"),
                            item(f"shared-{n % 3}", "2024-04-03T10:00+02:00"),
                        ]
                        own.save_checkpoints(
                            [checkpoint(partition, n * 10, f"{partition}:{n}".encode())],
                            OutcomeBatch(items=rows),
                        )

            return run

        assert run_together(worker(0), worker(1)) == []
        with PostgresStore(pg_url) as check:
            for partition in (0, 1):
                loaded = check.load_checkpoint(GROUP, TOPIC, partition)
                assert loaded == checkpoint(
                    partition, rounds * 10, f"{partition}:{rounds}".encode()
                )
            assert len(check.items_opened(*APRIL)) == 2 * rounds + 3

    def test_a_stale_worker_cannot_clobber_the_new_owner(self, pg_url: str) -> None:
        with PostgresStore(pg_url) as old_owner, PostgresStore(pg_url) as new_owner:
            old_owner.save_checkpoints([checkpoint(2, 40, b"old")], OutcomeBatch())
            new_owner.save_checkpoints([checkpoint(2, 90, b"new")], OutcomeBatch())
            late = OutcomeBatch(items=[item("i-late", "2024-04-02T10:00+02:00")])
            with pytest.raises(StoreError, match="another worker owns this partition now"):
                old_owner.save_checkpoints([checkpoint(2, 45, b"old")], late)
            assert new_owner.load_checkpoint(GROUP, TOPIC, 2) == checkpoint(2, 90, b"new")
            assert new_owner.items_opened(*APRIL) == []

    def test_a_frozen_owner_in_a_transaction_never_blocks_the_next_owner(
        self, pg_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A worker stopped (SIGSTOP) inside a checkpoint transaction holds the partition's owner
        row: the next owner's claim gives up after the lock timeout (a store error it retries),
        and the server ends the frozen session, after which the claim goes through."""
        from streams.store import postgres  # noqa: PLC0415

        monkeypatch.setattr(
            postgres,
            "SESSION_TIMEOUTS",
            {"idle_in_transaction_session_timeout": "3s", "lock_timeout": "1s"},
        )
        with PostgresStore(pg_url) as frozen, PostgresStore(pg_url) as next_owner:
            assert frozen.claim_partition(GROUP, TOPIC, 3, "worker-a:1") == 1
            conn = frozen._connection()
            transaction = conn.transaction()
            transaction.__enter__()  # and then nothing: the process is frozen
            conn.execute("SELECT * FROM checkpoint_owners WHERE partition = %s FOR UPDATE", (3,))
            started = time.monotonic()
            with pytest.raises(StoreError, match="lock timeout"):
                next_owner.claim_partition(GROUP, TOPIC, 3, "worker-b:2")
            assert time.monotonic() - started < 5  # not forever
            wait_until(
                "the claim to go through once the server ended the frozen session",
                lambda: next_owner.claim_partition(GROUP, TOPIC, 3, "worker-b:2") == 2,
                timeout=30,
                ignoring=(StoreError,),
            )
            assert conn.closed or conn.broken or _session_gone(conn)
            with next_owner._connection().cursor() as cursor:
                cursor.execute("SHOW lock_timeout")
                assert cursor.fetchone() == ("1s",)

    def test_an_unreachable_server_is_a_store_error_without_the_password(self) -> None:
        (port,) = free_ports(1)  # free a moment ago: nothing listens there
        with pytest.raises(
            StoreError,
            match=rf"cannot connect to PostgreSQL \(database contactmon on 127.0.0.1:{port}\)",
        ) as raised:
            open_store(f"postgresql://postgres:sekrit@127.0.0.1:{port}/contactmon")
        assert "sekrit" not in str(raised.value)

    def test_a_missing_database_is_named(self, postgres: str) -> None:
        url = with_database(postgres, "no_such_database").replace("postgres@", "postgres:sekrit@")
        with pytest.raises(
            StoreError, match=r'database no_such_database on .*"no_such_database" does not exist'
        ) as raised:
            open_store(url)
        assert "sekrit" not in str(raised.value)

    def test_a_malformed_url_is_a_store_error(self) -> None:
        with pytest.raises(StoreError, match="is not a PostgreSQL URL that libpq reads"):
            open_store("postgresql://postgres:sekrit@host with spaces/db")

    def test_another_schema_version_is_refused(self, pg_url: str) -> None:
        PostgresStore(pg_url).close()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("UPDATE schema_version SET version = 99")
        with pytest.raises(StoreError, match="schema version 99; this contactmon reads version 2"):
            PostgresStore(pg_url)

    def test_a_dropped_connection_fails_one_call_and_the_next_reconnects(self, pg_url: str) -> None:
        with PostgresStore(pg_url) as opened:
            opened.write(sample_batch())
            with psycopg.connect(pg_url, autocommit=True) as admin:
                ended = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'contactmon' AND datname = current_database()"
                ).fetchall()
            assert ended == [(True,)]
            with pytest.raises(StoreError, match="cannot read items from"):
                opened.items_opened(*APRIL)
            assert len(opened.items_opened(*APRIL)) == 4


class TestExportFromPostgres:
    """`contactmon export` gives the same bytes from PostgreSQL as from SQLite."""

    def test_the_same_rows_give_the_same_csv(self, pg_url: str, tmp_path: Path) -> None:
        sqlite_url = f"sqlite:///{tmp_path / 'outcomes.sqlite3'}"
        for url in (sqlite_url, pg_url):
            with open_store(url) as opened:
                opened.save_checkpoints([checkpoint(0, 10)], sample_batch())
        outputs = {}
        for name, url in (("sqlite", sqlite_url), ("postgresql", pg_url)):
            out = tmp_path / f"{name}.csv"
            assert main(["export", "--month", "2024-04", "--store", url, "--out", str(out)]) == 0
            outputs[name] = out.read_bytes()
        assert outputs["postgresql"] == outputs["sqlite"]
        lines = outputs["sqlite"].decode().splitlines()
        assert len(lines) > 10
        assert any(line.startswith("2024-04,bergen,") for line in lines)

    def test_an_export_from_an_unreachable_server_says_so(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (port,) = free_ports(1)
        url = f"postgresql://postgres@127.0.0.1:{port}/contactmon"
        code = main(["export", "--month", "2024-04", "--store", url, "--out", str(tmp_path)])
        assert code == 2
        assert f"cannot connect to PostgreSQL (database contactmon on 127.0.0.1:{port})" in (
            capsys.readouterr().err
        )


def _session_gone(conn: psycopg.Connection[Any]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        return True
    return False
