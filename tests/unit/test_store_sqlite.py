"""The outcome store: opening by URL, the SQLite schema, idempotent upserts, the month readers."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from streams.store import (
    DEFAULT_STORE_URL,
    Checkpoint,
    OutcomeBatch,
    StoreError,
    open_store,
)
from streams.store.sqlite import BUSY_TIMEOUT_SECONDS, SCHEMA_VERSION, SqliteStore
from tests.factories import at
from tests.factories import call_record as call
from tests.factories import feedback_record as feedback
from tests.factories import item_record as item
from tests.factories import norm_record as norm

APRIL = (at("2024-04-01T00:00+02:00"), at("2024-05-01T00:00+02:00"))


def sample_batch() -> OutcomeBatch:
    """Rows of April plus one just before and one just after it."""
    return OutcomeBatch(
        items=[
            item(
                "i-1",
                "2024-04-02T10:00+02:00",
                closed_at=at("2024-04-03T10:00+02:00"),
                upheld=False,
                is_open=False,
            ),
            item("i-2", "2024-04-30T23:30+02:00", municipality="castricum"),
            item("i-march", "2024-03-31T23:30+02:00"),
            item("i-may", "2024-05-01T00:00+02:00"),
        ],
        norms=[
            norm("i-1", "melding-reactie", outcome="met", achieved_at=at("2024-04-03T10:00+02:00")),
            norm("i-march", "melding-reactie"),
            norm("c-1", "telefoon-opname", family="call", outcome="met"),
            norm("c-may", "telefoon-opname", family="call"),
        ],
        calls=[
            call("c-1", "2024-04-02T09:00+02:00", answered_at=at("2024-04-02T09:00:20+02:00")),
            call("c-may", "2024-05-01T00:00:01+02:00", resolved=True),
        ],
        feedback=[
            feedback("src/1", "2024-04-02T12:00+02:00"),
            feedback("src/2", "2024-03-31T23:59:59+02:00", municipality="uitgeest"),
        ],
    )


TABLES = ("items", "norms", "calls", "feedback", "checkpoints", "schema_version")


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's full contents with rowids, read past the store, in a fixed order."""
    conn = sqlite3.connect(path)
    try:
        return {
            t: conn.execute(f"SELECT rowid, * FROM {t} ORDER BY rowid").fetchall() for t in TABLES
        }
    finally:
        conn.close()


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "outcomes.sqlite3")


class TestOpenStore:
    """open_store picks the SQLite file a URL names and refuses what it cannot open."""

    def test_relative_url_is_relative_to_the_working_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "data").mkdir()
        monkeypatch.chdir(tmp_path)
        with open_store("sqlite:///data/outcomes.sqlite3") as opened:
            assert isinstance(opened, SqliteStore)
        assert (tmp_path / "data" / "outcomes.sqlite3").is_file()

    def test_four_slashes_make_an_absolute_path(self, tmp_path: Path) -> None:
        path = tmp_path / "abs.sqlite3"
        assert str(path).startswith("/")
        with open_store(f"sqlite:///{path}"):
            pass
        assert path.is_file()

    def test_a_bare_path_is_a_sqlite_file(self, tmp_path: Path) -> None:
        path = tmp_path / "bare.sqlite3"
        with open_store(str(path)):
            pass
        assert path.is_file()

    def test_the_default_url_is_a_file_in_the_working_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        assert DEFAULT_STORE_URL == "sqlite:///contactmon.sqlite3"
        with open_store(DEFAULT_STORE_URL):
            pass
        assert (tmp_path / "contactmon.sqlite3").is_file()

    @pytest.mark.parametrize(
        "url",
        [
            "postgresql://contactmon:hunter2@127.0.0.1:1/contactmon",
            "postgres://contactmon:hunter2@127.0.0.1:1/contactmon",
            "postgresql+psycopg://contactmon:hunter2@127.0.0.1:1/contactmon",
        ],
    )
    def test_postgresql_urls_go_to_postgresql_and_name_the_server_not_the_password(
        self, url: str
    ) -> None:
        # Port 1 refuses at once: the URL reached psycopg, and the message names the place.
        with pytest.raises(
            StoreError, match=r"cannot connect to PostgreSQL \(database contactmon on 127.0.0.1:1\)"
        ) as raised:
            open_store(url)
        assert "hunter2" not in str(raised.value)

    def test_an_unknown_scheme_is_named(self) -> None:
        with pytest.raises(StoreError, match="scheme 'mysql' is not supported") as raised:
            open_store("mysql://db/contactmon")
        assert "sqlite:///relative/path.sqlite3" in str(raised.value)

    @pytest.mark.parametrize("url", ["sqlite://host/x.sqlite3", "sqlite:///", ""])
    def test_a_malformed_sqlite_url_is_refused(self, url: str) -> None:
        with pytest.raises(StoreError, match=r"sqlite:///relative/path.sqlite3"):
            open_store(url)

    def test_create_false_refuses_a_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(StoreError, match="no store database at"):
            open_store(str(tmp_path / "missing.sqlite3"), create=False)
        assert not (tmp_path / "missing.sqlite3").exists()

    def test_a_missing_directory_is_named(self, tmp_path: Path) -> None:
        with pytest.raises(StoreError, match=r"directory .*nowhere does not exist"):
            open_store(str(tmp_path / "nowhere" / "x.sqlite3"))

    def test_a_file_that_is_not_a_database_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "notes.txt"
        path.write_text("this is not a database, " * 100)
        with pytest.raises(StoreError, match=r"cannot use .*notes.txt as a store database"):
            open_store(str(path))


class TestSchema:
    """The schema is created on open, in WAL mode, indexed, and its version is checked."""

    def test_wal_mode_version_and_indexes(self, tmp_path: Path) -> None:
        path = tmp_path / "s.sqlite3"
        SqliteStore(path).close()
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert conn.execute("SELECT version FROM schema_version").fetchall() == [
                (SCHEMA_VERSION,)
            ]
            indexes = {
                (table, column)
                for table in ("items", "calls", "feedback")
                for (_, name, *_) in conn.execute(f"PRAGMA index_list({table})")
                for (_, _, column) in conn.execute(f"PRAGMA index_info({name})")
            }
        finally:
            conn.close()
        assert {("items", "opened_at"), ("calls", "queued_at"), ("feedback", "given_at")} <= indexes

    def test_reopening_keeps_rows_and_one_version_row(self, tmp_path: Path) -> None:
        path = tmp_path / "s.sqlite3"
        with SqliteStore(path) as first:
            first.write(sample_batch())
        with SqliteStore(path) as second:
            assert len(second.items_opened(*APRIL)) == 2
        assert dump(path)["schema_version"] == [(1, SCHEMA_VERSION)]

    def test_another_schema_version_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "s.sqlite3"
        SqliteStore(path).close()
        conn = sqlite3.connect(path)
        conn.execute("UPDATE schema_version SET version = 99")
        conn.commit()
        conn.close()
        with pytest.raises(StoreError, match="schema version 99; this contactmon reads version 2"):
            SqliteStore(path)


class TestWrite:
    """Writes are upserts by key in one transaction, so repeating a batch changes nothing."""

    def test_rows_read_back_equal_to_what_was_written(self, store: SqliteStore) -> None:
        batch = sample_batch()
        store.write(batch)
        everything = (0.0, 1e12)
        assert sorted(store.items_opened(*everything), key=lambda r: r.subject) == sorted(
            batch.items, key=lambda r: r.subject
        )
        assert {(r.subject, r.norm): r for r in store.norms_for_items_opened(*everything)} == {
            (r.subject, r.norm): r for r in batch.norms if r.subject != "i-may"
        }
        assert sorted(store.calls_queued(*everything), key=lambda r: r.subject) == batch.calls
        assert {r.key: r for r in store.feedback_given(*everything)} == {
            r.key: r for r in batch.feedback
        }

    def test_bools_come_back_as_bools(self, store: SqliteStore) -> None:
        store.write(sample_batch())
        (first,) = [r for r in store.items_opened(*APRIL) if r.subject == "i-1"]
        assert first.upheld is False
        assert first.is_open is False
        (answered,) = store.calls_queued(*APRIL)
        assert answered.resolved is None
        (later,) = store.calls_queued(APRIL[1], APRIL[1] + 86400)
        assert later.resolved is True

    def test_writing_the_same_batch_twice_leaves_identical_contents(self, tmp_path: Path) -> None:
        path = tmp_path / "s.sqlite3"
        with SqliteStore(path) as opened:
            opened.write(sample_batch())
            once = dump(path)
            opened.write(sample_batch())
            assert dump(path) == once

    def test_a_newer_snapshot_replaces_the_row(self, store: SqliteStore) -> None:
        first = item("i-1", "2024-04-02T10:00+02:00")
        store.write(OutcomeBatch(items=[first]))
        closed = replace(first, closed_at=at("2024-04-04T09:00+02:00"), is_open=False, reopened=1)
        store.write(OutcomeBatch(items=[closed]))
        assert store.items_opened(*APRIL) == [closed]

    def test_a_failing_batch_writes_nothing(self, store: SqliteStore) -> None:
        good = item("i-good", "2024-04-02T10:00+02:00")
        bad = replace(good, subject="i-bad", kind=None)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match=r"cannot write to store database .*NOT NULL"):
            store.write(OutcomeBatch(items=[good, bad]))
        assert store.items_opened(*APRIL) == []
        store.write(OutcomeBatch(items=[good]))  # the connection is usable afterwards
        assert store.items_opened(*APRIL) == [good]

    def test_an_empty_batch_is_fine(self, store: SqliteStore) -> None:
        store.write(OutcomeBatch())
        assert store.municipalities() == []

    def test_a_closed_store_says_so(self, tmp_path: Path) -> None:
        with SqliteStore(tmp_path / "s.sqlite3") as opened:
            pass
        opened.close()  # closing twice is harmless
        with pytest.raises(StoreError, match="is closed"):
            opened.write(sample_batch())
        with pytest.raises(StoreError, match="is closed"):
            opened.items_opened(*APRIL)


class TestReaders:
    """The readers select by local-month instants, half open, and follow items and calls."""

    def test_items_opened_is_half_open(self, store: SqliteStore) -> None:
        store.write(sample_batch())
        assert [r.subject for r in store.items_opened(*APRIL)] == ["i-1", "i-2"]
        march = (at("2024-03-01T00:00+01:00"), APRIL[0])
        assert [r.subject for r in store.items_opened(*march)] == ["i-march"]
        may = (APRIL[1], at("2024-06-01T00:00+02:00"))
        assert [r.subject for r in store.items_opened(*may)] == ["i-may"]

    def test_norms_follow_the_opening_of_their_item_or_the_queueing_of_their_call(
        self, store: SqliteStore
    ) -> None:
        store.write(sample_batch())
        assert [(r.subject, r.norm) for r in store.norms_for_items_opened(*APRIL)] == [
            ("c-1", "telefoon-opname"),
            ("i-1", "melding-reactie"),
        ]
        may = (APRIL[1], at("2024-06-01T00:00+02:00"))
        assert [r.subject for r in store.norms_for_items_opened(*may)] == ["c-may"]

    def test_a_norm_row_follows_only_its_own_family(self, store: SqliteStore) -> None:
        # An item and a call may share a subject; a call norm must not follow the item.
        store.write(
            OutcomeBatch(
                items=[item("x", "2024-04-02T10:00+02:00")],
                calls=[call("x", "2024-05-02T10:00+02:00")],
                norms=[norm("x", "telefoon-opname", family="call")],
            )
        )
        assert store.norms_for_items_opened(*APRIL) == []

    def test_calls_and_feedback_by_their_own_instants(self, store: SqliteStore) -> None:
        store.write(sample_batch())
        assert [r.subject for r in store.calls_queued(*APRIL)] == ["c-1"]
        assert [r.key for r in store.feedback_given(*APRIL)] == ["src/1"]

    def test_municipalities_are_distinct_and_sorted(self, store: SqliteStore) -> None:
        store.write(sample_batch())
        assert store.municipalities() == ["bergen", "castricum", "uitgeest"]

    def test_an_in_memory_store_works_for_quick_use(self) -> None:
        with open_store("sqlite:///:memory:") as memory:
            memory.write(sample_batch())
            assert len(memory.items_opened(*APRIL)) == 2


GROUP, TOPIC = "contactmon", "contact.events"


def checkpoint(
    partition: int, offset: int, state: bytes = b"state", group: str = GROUP
) -> Checkpoint:
    return Checkpoint(group, TOPIC, partition, offset, state, at("2024-04-02T12:00+02:00"))


class TestCheckpoints:
    """Checkpoints are saved with their rows in one transaction and never move backwards."""

    def test_save_and_load_round_trip_with_the_batch(self, store: SqliteStore) -> None:
        saved = checkpoint(3, 1042, state=bytes(range(256)) * 4)
        store.save_checkpoints([saved], sample_batch())
        assert store.load_checkpoint(GROUP, TOPIC, 3) == saved
        assert [r.subject for r in store.items_opened(*APRIL)] == ["i-1", "i-2"]
        assert store.municipalities() == ["bergen", "castricum", "uitgeest"]

    def test_a_missing_checkpoint_is_none(self, store: SqliteStore) -> None:
        store.save_checkpoints([checkpoint(0, 10)], OutcomeBatch())
        assert store.load_checkpoint(GROUP, TOPIC, 1) is None
        assert store.load_checkpoint("other-app", TOPIC, 0) is None
        assert store.load_checkpoint(GROUP, "other.topic", 0) is None

    def test_a_later_checkpoint_replaces_the_earlier_and_an_equal_offset_is_allowed(
        self, store: SqliteStore
    ) -> None:
        store.save_checkpoints([checkpoint(0, 10, b"first")], OutcomeBatch())
        store.save_checkpoints([checkpoint(0, 25, b"second")], OutcomeBatch())
        again = replace(checkpoint(0, 25, b"third"), saved_at=at("2024-04-02T12:05+02:00"))
        store.save_checkpoints([again], OutcomeBatch())  # a save without new events
        assert store.load_checkpoint(GROUP, TOPIC, 0) == again

    def test_a_large_state_survives_reopening(self, tmp_path: Path) -> None:
        state = bytes(range(256)) * (16 * 1024)  # 4 MiB, every byte value
        with SqliteStore(tmp_path / "s.sqlite3") as first:
            first.save_checkpoints([checkpoint(0, 7, state)], OutcomeBatch())
        with SqliteStore(tmp_path / "s.sqlite3") as second:
            loaded = second.load_checkpoint(GROUP, TOPIC, 0)
        assert loaded is not None
        assert loaded.state == state

    def test_an_offset_going_backwards_is_refused_and_changes_nothing(self, tmp_path: Path) -> None:
        path = tmp_path / "s.sqlite3"
        with SqliteStore(path) as opened:
            opened.save_checkpoints([checkpoint(0, 100), checkpoint(1, 50)], sample_batch())
            before = dump(path)
            newer_rows = OutcomeBatch(
                items=[item("i-new", "2024-04-10T10:00+02:00")],
                feedback=[feedback("src/9", "2024-04-10T10:00+02:00")],
            )
            stale = [checkpoint(1, 60, b"fine on its own"), checkpoint(0, 99, b"stale")]
            with pytest.raises(
                StoreError,
                match=r"contactmon/contact.events\[0\] refused: the stored offset 100 is ahead "
                r"of 99; another worker owns this partition now",
            ):
                opened.save_checkpoints(stale, newer_rows)
            assert dump(path) == before
            assert opened.load_checkpoint(GROUP, TOPIC, 1) == checkpoint(1, 50)
            # The store is usable afterwards.
            opened.save_checkpoints([checkpoint(0, 101)], newer_rows)
            assert "i-new" in [r.subject for r in opened.items_opened(*APRIL)]

    def test_a_negative_offset_is_refused(self, store: SqliteStore) -> None:
        with pytest.raises(StoreError, match="never negative"):
            store.save_checkpoints([checkpoint(0, -1)], sample_batch())
        assert store.municipalities() == []

    def test_a_failing_row_rolls_back_the_checkpoint(self, store: SqliteStore) -> None:
        store.save_checkpoints([checkpoint(0, 5)], OutcomeBatch())
        bad = replace(item("i-bad", "2024-04-02T10:00+02:00"), kind=None)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match=r"cannot save checkpoints to .*NOT NULL"):
            store.save_checkpoints([checkpoint(0, 9)], OutcomeBatch(items=[bad]))
        assert store.load_checkpoint(GROUP, TOPIC, 0) == checkpoint(0, 5)

    def test_nothing_to_save_is_fine(self, store: SqliteStore) -> None:
        store.save_checkpoints([], OutcomeBatch())
        store.save_checkpoints([], sample_batch())  # rows only: the same as write()
        assert len(store.items_opened(*APRIL)) == 2

    def test_delete_removes_one_group_and_topic_and_counts(self, store: SqliteStore) -> None:
        store.save_checkpoints(
            [checkpoint(0, 1), checkpoint(1, 2), checkpoint(0, 3, group="other-app")],
            OutcomeBatch(),
        )
        assert store.delete_checkpoints(GROUP, TOPIC) == 2
        assert store.delete_checkpoints(GROUP, TOPIC) == 0
        assert store.load_checkpoint(GROUP, TOPIC, 0) is None
        assert store.load_checkpoint("other-app", TOPIC, 0) == checkpoint(0, 3, group="other-app")
        # After a rebuild, offsets start again from the beginning.
        store.save_checkpoints([checkpoint(0, 0)], OutcomeBatch())
        assert store.load_checkpoint(GROUP, TOPIC, 0) == checkpoint(0, 0)


V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE items (
    municipality TEXT NOT NULL, subject TEXT NOT NULL, kind TEXT NOT NULL,
    channel TEXT NOT NULL, segment TEXT NOT NULL, category TEXT NOT NULL,
    source_system TEXT, team TEXT, opened_at REAL NOT NULL, responded_at REAL,
    closed_at REAL, resolution TEXT, upheld INTEGER, reopened INTEGER NOT NULL,
    is_open INTEGER NOT NULL, PRIMARY KEY (municipality, subject)
);
CREATE INDEX items_opened_at ON items (opened_at);
CREATE TABLE norms (
    municipality TEXT NOT NULL, subject TEXT NOT NULL, norm TEXT NOT NULL,
    stage TEXT NOT NULL, family TEXT NOT NULL, deadline REAL, outcome TEXT NOT NULL,
    decided_at REAL, achieved_at REAL, PRIMARY KEY (municipality, subject, norm)
);
CREATE TABLE calls (
    municipality TEXT NOT NULL, subject TEXT NOT NULL, channel TEXT NOT NULL, queue TEXT,
    segment TEXT NOT NULL, queued_at REAL NOT NULL, answered_at REAL, abandoned_at REAL,
    ended_at REAL, resolved INTEGER, outcome TEXT NOT NULL, PRIMARY KEY (municipality, subject)
);
CREATE INDEX calls_queued_at ON calls (queued_at);
CREATE TABLE feedback (
    municipality TEXT NOT NULL, key TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT,
    score INTEGER NOT NULL, given_at REAL NOT NULL, PRIMARY KEY (municipality, key)
);
CREATE INDEX feedback_given_at ON feedback (given_at);
INSERT INTO items VALUES ('bergen', 'i-old', 'melding', 'app', 'inwoner', 'afval', NULL, NULL,
    1712044800.0, NULL, NULL, NULL, NULL, 0, 1);
INSERT INTO feedback VALUES ('heiloo', 'src/old', 'app', NULL, 7, 1712044800.0);
"""


class TestMigration:
    """A version-1 file, written before checkpoints existed, is brought up to version 2."""

    def write_v1(self, path: Path) -> None:
        conn = sqlite3.connect(path)
        try:
            conn.executescript(V1_SCHEMA)
        finally:
            conn.close()

    def test_a_v1_file_gains_the_checkpoints_table_and_keeps_its_rows(self, tmp_path: Path) -> None:
        path = tmp_path / "v1.sqlite3"
        self.write_v1(path)
        with SqliteStore(path) as migrated:
            assert [r.subject for r in migrated.items_opened(*APRIL)] == ["i-old"]
            assert migrated.municipalities() == ["bergen", "heiloo"]
            migrated.save_checkpoints([checkpoint(0, 12)], sample_batch())
            assert migrated.load_checkpoint(GROUP, TOPIC, 0) == checkpoint(0, 12)
        assert dump(path)["schema_version"] == [(1, SCHEMA_VERSION)]
        with SqliteStore(path) as reopened:  # opening again changes nothing
            assert reopened.load_checkpoint(GROUP, TOPIC, 0) == checkpoint(0, 12)
        assert dump(path)["schema_version"] == [(1, SCHEMA_VERSION)]

    def test_a_reader_may_migrate_too(self, tmp_path: Path) -> None:
        path = tmp_path / "v1.sqlite3"
        self.write_v1(path)
        with open_store(str(path), create=False) as reader:
            assert [r.key for r in reader.feedback_given(*APRIL)] == ["src/old"]
        assert dump(path)["checkpoints"] == []


class TestSeveralConnections:
    """Readers do not wait for a writer (WAL), and a second writer waits instead of failing."""

    def test_a_reader_opens_and_reads_while_a_write_transaction_is_open(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "s.sqlite3"
        with SqliteStore(path) as worker:
            worker.write(sample_batch())
        writer = sqlite3.connect(path, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("DELETE FROM items")
            with open_store(str(path), create=False) as export:
                assert [r.subject for r in export.items_opened(*APRIL)] == ["i-1", "i-2"]
            writer.execute("ROLLBACK")
        finally:
            writer.close()

    def test_a_second_writer_waits_for_the_lock(self, tmp_path: Path) -> None:
        path = tmp_path / "s.sqlite3"
        SqliteStore(path).close()
        holder = sqlite3.connect(path, isolation_level=None)
        outcome: list[BaseException | None] = []

        def save() -> None:
            try:
                with SqliteStore(path) as second:
                    second.save_checkpoints([checkpoint(0, 1)], sample_batch())
                outcome.append(None)
            except BaseException as exc:  # handed to the main thread
                outcome.append(exc)

        try:
            holder.execute("BEGIN IMMEDIATE")
            thread = threading.Thread(target=save)
            thread.start()
            # Here a quiet period is the check: the writer must still be blocked after it had time
            # to try. 0.3 s is ample for opening the file and trying to begin, and far below the
            # busy timeout after which it would give up.
            time.sleep(0.3)
            assert thread.is_alive(), "the second writer should be waiting for the lock"
            holder.execute("COMMIT")
            thread.join(BUSY_TIMEOUT_SECONDS)
        finally:
            holder.close()
        assert outcome == [None]
        with SqliteStore(path) as check:
            assert check.load_checkpoint(GROUP, TOPIC, 0) == checkpoint(0, 1)
