"""The embedded outcome store: one SQLite file, with the stdlib's sqlite3.

`SqliteStore` is the default for one worker. The file runs in WAL mode with a busy timeout, so
`contactmon export` can read while a worker writes and a second process waits for the lock
instead of failing. The schema is created on open and carries a version number: a version-1 file
is migrated (it gains the checkpoints table), a file of any other version is refused rather than
misread. The statements and the write, checkpoint and reader logic are the engine-neutral ones of
`streams.store.sql`, which the PostgreSQL store runs too.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from streams.store.base import StoreError
from streams.store.sql import SCHEMA_VERSION, Cursor, SqlStore, Statements

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
            if create and not self.path.exists():
                _create_private(self.path)
        # a reader that may not write (a read-only file system, a copy it may not change) opens
        # the file read-only; one that may, opens it as a writer would (and migrates version 1)
        self._read_only = (
            not create
            and self._name != MEMORY
            and not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK))
        )
        try:
            # isolation_level=None: no implicit transactions; the store says BEGIN and COMMIT
            # itself. `timeout` is sqlite's busy timeout: wait that long for another process's
            # lock before giving up.
            self._conn: sqlite3.Connection | None = (
                _open_read_only(self.path)
                if self._read_only
                else sqlite3.connect(self._name, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
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
            if self._read_only:
                found = self._versions(conn)
                if found not in ([1], [SCHEMA_VERSION]):  # 1 lacks only the checkpoints
                    raise StoreError(
                        f"store database {self._name} has schema version "
                        f"{', '.join(map(str, found)) or 'none'}; it is opened read-only here, so "
                        f"run a replay or the worker on it once to bring it to {SCHEMA_VERSION}"
                    )
                return
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
                if conn.in_transaction:  # sqlite rolls back by itself on a full disk
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if "full" in str(exc):
                raise StoreError(
                    f"cannot {doing} store database {self._name}: the disk is full "
                    "(nothing of this write was stored; free space and run again)"
                ) from exc
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


def _create_private(path: Path) -> None:
    """Create an empty database file readable by its owner only (0600, whatever the umask): it
    holds pseudonymous personal data. SQLite gives its -wal and -shm files the same mode."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create store database {path}: {exc.strerror}") from exc
    os.chmod(path, 0o600)  # the umask may have taken bits away, never added: make it exact


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection; ``immutable`` when the WAL index cannot be made (read-only fs)."""
    uri = path.resolve().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return conn
    except sqlite3.OperationalError:
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
