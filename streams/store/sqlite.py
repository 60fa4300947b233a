"""The embedded outcome store (one SQLite file, stdlib sqlite3), and the SQL both SQL stores share.

`SqliteStore` is the default for one worker. The file runs in WAL mode with a busy timeout, so
`contactmon export` can read while a worker writes and a second process waits for the lock
instead of failing. The schema is created on open and carries a version number: a version-1 file
is migrated (it gains the checkpoints table), a file of any other version is refused rather than
misread.

`SqlStore` holds everything that does not depend on the database engine: how records map onto
tables (`ITEMS`, `NORMS`, `CALLS`, `FEEDBACK`), every statement (`Statements`, written once and
rendered for each driver's parameter marker), and the write, checkpoint and reader logic. The
PostgreSQL store (streams/store/postgres.py) subclasses it too, so both stores run the very same
upserts and SELECTs and cannot drift apart. Writes are `executemany` upserts (`INSERT … ON
CONFLICT … DO UPDATE`) inside one transaction, so writing the same batch twice leaves identical
contents.
"""

from __future__ import annotations

import sqlite3
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from streams.core.rows import (
    CallRecord,
    FeedbackRecord,
    ItemRecord,
    NormRecord,
    OutcomeBatch,
)
from streams.store.base import (
    Checkpoint,
    OutcomeStore,
    StoreError,
    check_checkpoint,
    stale_offset_message,
)

SCHEMA_VERSION = 2
"""1: the outcome tables. 2: plus the checkpoints table (the live worker's saved state)."""

MEMORY = ":memory:"
BUSY_TIMEOUT_SECONDS = 10.0

_SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
)"""

_CHECKPOINTS_TABLE = """
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer_group TEXT NOT NULL,
    topic          TEXT NOT NULL,
    partition      INTEGER NOT NULL,
    next_offset    INTEGER NOT NULL,
    state          BLOB NOT NULL,
    saved_at       REAL NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition)
)"""

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS items (
    municipality  TEXT NOT NULL,
    subject       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    channel       TEXT NOT NULL,
    segment       TEXT NOT NULL,
    category      TEXT NOT NULL,
    source_system TEXT,
    team          TEXT,
    opened_at     REAL NOT NULL,
    responded_at  REAL,
    closed_at     REAL,
    resolution    TEXT,
    upheld        INTEGER,
    reopened      INTEGER NOT NULL,
    is_open       INTEGER NOT NULL,
    PRIMARY KEY (municipality, subject)
)""",
    "CREATE INDEX IF NOT EXISTS items_opened_at ON items (opened_at)",
    """
CREATE TABLE IF NOT EXISTS norms (
    municipality TEXT NOT NULL,
    subject      TEXT NOT NULL,
    norm         TEXT NOT NULL,
    stage        TEXT NOT NULL,
    family       TEXT NOT NULL,
    deadline     REAL,
    outcome      TEXT NOT NULL,
    decided_at   REAL,
    achieved_at  REAL,
    PRIMARY KEY (municipality, subject, norm)
)""",
    """
CREATE TABLE IF NOT EXISTS calls (
    municipality TEXT NOT NULL,
    subject      TEXT NOT NULL,
    channel      TEXT NOT NULL,
    queue        TEXT,
    segment      TEXT NOT NULL,
    queued_at    REAL NOT NULL,
    answered_at  REAL,
    abandoned_at REAL,
    ended_at     REAL,
    resolved     INTEGER,
    outcome      TEXT NOT NULL,
    PRIMARY KEY (municipality, subject)
)""",
    "CREATE INDEX IF NOT EXISTS calls_queued_at ON calls (queued_at)",
    """
CREATE TABLE IF NOT EXISTS feedback (
    municipality TEXT NOT NULL,
    key          TEXT NOT NULL,
    channel      TEXT NOT NULL,
    kind         TEXT,
    score        INTEGER NOT NULL,
    given_at     REAL NOT NULL,
    PRIMARY KEY (municipality, key)
)""",
    "CREATE INDEX IF NOT EXISTS feedback_given_at ON feedback (given_at)",
    _CHECKPOINTS_TABLE,
)

R = TypeVar("R")


@dataclass(frozen=True)
class _Table(Generic[R]):
    """How one record type maps onto one table: its columns (the record's fields) and key."""

    name: str
    make: Callable[..., R]
    columns: tuple[str, ...]
    key: tuple[str, ...]
    bools: frozenset[str] = frozenset()

    def upsert(self, mark: str) -> str:
        """The `INSERT … ON CONFLICT(key) DO UPDATE` statement for one row.

        `mark` is the driver's parameter placeholder: `?` for sqlite3, `%s` for psycopg.
        """
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c not in self.key)
        return (
            f"INSERT INTO {self.name} ({', '.join(self.columns)}) "
            f"VALUES ({', '.join(mark for _ in self.columns)}) "
            f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {updates}"
        )

    def select(self, alias: str = "") -> str:
        """The column list for a SELECT, optionally qualified by a table alias."""
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + c for c in self.columns)

    def values(self, records: Iterable[R]) -> list[tuple[Any, ...]]:
        """Records as parameter tuples in column order, sorted by key.

        The sort is stable, so of two rows with one key the later one is still written last
        (and wins). Sorted keys make concurrent PostgreSQL writers lock rows in one order, so
        two workers whose batches overlap wait for each other instead of deadlocking.
        """
        get = attrgetter(*self.columns)
        key = attrgetter(*self.key)
        return [get(r) for r in sorted(records, key=key)]

    def records(self, rows: Iterable[Sequence[Any]]) -> list[R]:
        """Rows back into records, turning 0/1 columns back into bools."""
        bool_at = [i for i, c in enumerate(self.columns) if c in self.bools]
        out: list[R] = []
        for row in rows:
            values = list(row)
            for i in bool_at:
                if values[i] is not None:
                    values[i] = bool(values[i])
            out.append(self.make(*values))
        return out


def _columns(record: Any) -> tuple[str, ...]:
    """A record dataclass's field names, which are also its table's column names."""
    return tuple(f.name for f in fields(record))


ITEMS = _Table(
    "items",
    ItemRecord,
    _columns(ItemRecord),
    ("municipality", "subject"),
    frozenset({"upheld", "is_open"}),
)
NORMS = _Table("norms", NormRecord, _columns(NormRecord), ("municipality", "subject", "norm"))
CALLS = _Table(
    "calls", CallRecord, _columns(CallRecord), ("municipality", "subject"), frozenset({"resolved"})
)
FEEDBACK = _Table("feedback", FeedbackRecord, _columns(FeedbackRecord), ("municipality", "key"))

_CHECKPOINT_COLUMNS = "consumer_group, topic, partition, next_offset, state, saved_at"
_CHECKPOINT_KEY = "consumer_group = {m} AND topic = {m} AND partition = {m}"


class Statements:
    """Every statement the SQL stores run, rendered for one driver's parameter marker."""

    def __init__(self, mark: str) -> None:
        m = mark
        where_key = _CHECKPOINT_KEY.format(m=m)
        self.upserts: tuple[tuple[str, str], ...] = tuple(
            (t.name, t.upsert(m)) for t in (ITEMS, NORMS, CALLS, FEEDBACK)
        )
        self.items_opened = (
            f"SELECT {ITEMS.select()} FROM items WHERE opened_at >= {m} AND opened_at < {m} "
            "ORDER BY municipality, subject"
        )
        self.norms_for_items_opened = (
            f"SELECT {NORMS.select('n')} FROM norms n JOIN items i "
            "ON i.municipality = n.municipality AND i.subject = n.subject "
            f"WHERE n.family = 'item' AND i.opened_at >= {m} AND i.opened_at < {m} "
            f"UNION ALL SELECT {NORMS.select('n')} FROM norms n JOIN calls c "
            "ON c.municipality = n.municipality AND c.subject = n.subject "
            f"WHERE n.family = 'call' AND c.queued_at >= {m} AND c.queued_at < {m} "
            "ORDER BY 1, 2, 3"
        )
        self.calls_queued = (
            f"SELECT {CALLS.select()} FROM calls WHERE queued_at >= {m} AND queued_at < {m} "
            "ORDER BY municipality, subject"
        )
        self.feedback_given = (
            f"SELECT {FEEDBACK.select()} FROM feedback WHERE given_at >= {m} AND given_at < {m} "
            "ORDER BY municipality, key"
        )
        self.municipalities = (
            " UNION ".join(
                f"SELECT municipality FROM {t}" for t in ("items", "norms", "calls", "feedback")
            )
            + " ORDER BY 1"
        )
        # The WHERE turns the update into a no-op (no row counted) when the stored offset is
        # ahead, which is how a stale worker's save is noticed.
        self.save_checkpoint = (
            f"INSERT INTO checkpoints ({_CHECKPOINT_COLUMNS}) VALUES ({', '.join([m] * 6)}) "
            "ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET "
            "next_offset = excluded.next_offset, state = excluded.state, "
            "saved_at = excluded.saved_at "
            "WHERE checkpoints.next_offset <= excluded.next_offset"
        )
        self.stored_offset = f"SELECT next_offset FROM checkpoints WHERE {where_key}"
        self.load_checkpoint = f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints WHERE {where_key}"
        self.delete_checkpoints = (
            f"DELETE FROM checkpoints WHERE consumer_group = {m} AND topic = {m}"
        )


class Cursor(Protocol):
    """The part of a DB-API cursor the shared logic uses; sqlite3's and psycopg's both fit."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any], /) -> object: ...

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> object: ...

    def fetchone(self) -> Any: ...


class SqlStore(OutcomeStore):
    """The write, checkpoint and reader logic of an outcome store in a SQL database.

    A subclass connects, creates its schema, and supplies `_transaction` and `_query` for its
    driver; everything else runs the same statements on every engine.
    """

    statements: ClassVar[Statements]

    @abstractmethod
    def _transaction(self, doing: str) -> AbstractContextManager[Cursor]:
        """A cursor inside one write transaction, committed when the block ends normally and
        rolled back when it raises. Driver errors become StoreError ("cannot <doing> …")."""

    @abstractmethod
    def _query(self, what: str, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        """All rows of one SELECT; driver errors become StoreError ("cannot read <what> …")."""

    def _upsert(self, cursor: Cursor, batch: OutcomeBatch) -> None:
        rows = {
            "items": ITEMS.values(batch.items),
            "norms": NORMS.values(batch.norms),
            "calls": CALLS.values(batch.calls),
            "feedback": FEEDBACK.values(batch.feedback),
        }
        for table, sql in self.statements.upserts:
            if rows[table]:
                cursor.executemany(sql, rows[table])

    def write(self, batch: OutcomeBatch) -> None:
        """Upsert the batch in one transaction; on any error nothing of it is written."""
        if not len(batch):
            return
        with self._transaction("write to") as cursor:
            self._upsert(cursor, batch)

    def save_checkpoints(self, checkpoints: Sequence[Checkpoint], batch: OutcomeBatch) -> None:
        """Upsert the checkpoints, then the batch, in one transaction; see `OutcomeStore`.

        Checkpoints go first, in key order: a stale one is refused before any row is sent, and
        concurrent savers lock checkpoint rows in one order.
        """
        for checkpoint in checkpoints:
            check_checkpoint(checkpoint)
        if not checkpoints and not len(batch):
            return
        ordered = sorted(checkpoints, key=lambda c: (c.group, c.topic, c.partition))
        with self._transaction("save checkpoints to") as cursor:
            for c in ordered:
                cursor.execute(
                    self.statements.save_checkpoint,
                    (c.group, c.topic, c.partition, c.offset, c.state, c.saved_at),
                )
                if cursor.rowcount != 1:
                    cursor.execute(self.statements.stored_offset, (c.group, c.topic, c.partition))
                    (stored,) = cursor.fetchone()
                    raise StoreError(stale_offset_message(c, stored))
            self._upsert(cursor, batch)

    def load_checkpoint(self, group: str, topic: str, partition: int) -> Checkpoint | None:
        rows = self._query(
            "checkpoints", self.statements.load_checkpoint, (group, topic, partition)
        )
        if not rows:
            return None
        ((group_, topic_, partition_, offset, state, saved_at),) = rows
        return Checkpoint(
            group_, topic_, int(partition_), int(offset), bytes(state), float(saved_at)
        )

    def delete_checkpoints(self, group: str, topic: str) -> int:
        with self._transaction("delete checkpoints from") as cursor:
            cursor.execute(self.statements.delete_checkpoints, (group, topic))
            return cursor.rowcount

    def items_opened(self, start: float, end: float) -> list[ItemRecord]:
        return ITEMS.records(self._query("items", self.statements.items_opened, (start, end)))

    def norms_for_items_opened(self, start: float, end: float) -> list[NormRecord]:
        sql = self.statements.norms_for_items_opened
        return NORMS.records(self._query("norms", sql, (start, end, start, end)))

    def calls_queued(self, start: float, end: float) -> list[CallRecord]:
        return CALLS.records(self._query("calls", self.statements.calls_queued, (start, end)))

    def feedback_given(self, start: float, end: float) -> list[FeedbackRecord]:
        sql = self.statements.feedback_given
        return FEEDBACK.records(self._query("feedback", sql, (start, end)))

    def municipalities(self) -> list[str]:
        rows = self._query("municipalities", self.statements.municipalities, ())
        return [str(m) for (m,) in rows]


class SqliteStore(SqlStore):
    """The outcome store in one SQLite database file (or `:memory:`, for tests)."""

    statements = Statements("?")

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        self._name = str(path)
        if self._name != MEMORY:
            if not create and not self.path.is_file():
                raise StoreError(f"no store database at {self._name}")
            if not self.path.parent.is_dir():
                raise StoreError(
                    f"cannot create store database {self._name}: "
                    f"directory {self.path.parent} does not exist"
                )
        try:
            # isolation_level=None: no implicit transactions; the store says BEGIN and COMMIT
            # itself. `timeout` is sqlite's busy timeout: wait that long for another process's
            # lock before giving up.
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self._name, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store database {self._name}: {exc}") from exc
        try:
            self._prepare(self._conn)
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL, then create or migrate the schema in one transaction when needed.

        A file that is already current is only read, so a reader (the export) opens it without
        waiting for a worker's write transaction. Otherwise BEGIN IMMEDIATE takes the write lock
        first, so two processes opening a new (or a version-1) file cannot race: the second
        waits, then finds the current schema.
        """
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            if self._versions(conn) == [SCHEMA_VERSION]:
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._migrate(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use {self._name} as a store database: {exc}") from exc

    @staticmethod
    def _versions(conn: sqlite3.Connection) -> list[int]:
        """The schema versions the file records (one, normally); none in a new file."""
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if found is None:
            return []
        return sorted(v for (v,) in conn.execute("SELECT version FROM schema_version"))

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Create the schema in a new file, bring a version-1 file up to date, refuse others."""
        conn.execute(_SCHEMA_VERSION_TABLE)
        versions = self._versions(conn)
        if not versions:
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif versions == [1]:
            conn.execute(_CHECKPOINTS_TABLE)
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        elif versions != [SCHEMA_VERSION]:
            raise StoreError(
                f"store database {self._name} has schema version "
                f"{', '.join(map(str, versions))}; this contactmon reads version {SCHEMA_VERSION} "
                "(and migrates version 1)"
            )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store database {self._name} is closed")
        return self._conn

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[Cursor]:
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn.cursor()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot {doing} store database {self._name}: {exc}") from exc

    def _query(self, what: str, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        try:
            rows: list[Sequence[Any]] = self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {what} from {self._name}: {exc}") from exc
        return rows

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"SqliteStore({self._name!r})"
