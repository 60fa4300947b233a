"""The embedded outcome store: one SQLite file (stdlib sqlite3), the default for one worker.

The file runs in WAL mode, so the export can read while a worker writes. The schema is created on
open and carries a version number; a file written by another schema version is refused rather than
misread. Writes are `executemany` upserts (`INSERT … ON CONFLICT … DO UPDATE`) inside one
transaction, so writing the same batch twice leaves identical contents.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path
from typing import Any, Generic, TypeVar

from streams.store.base import OutcomeStore, StoreError
from streams.store.records import (
    CallRecord,
    FeedbackRecord,
    ItemRecord,
    NormRecord,
    OutcomeBatch,
)

SCHEMA_VERSION = 1
MEMORY = ":memory:"
BUSY_TIMEOUT_SECONDS = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
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
);
CREATE INDEX IF NOT EXISTS items_opened_at ON items (opened_at);
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
);
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
);
CREATE INDEX IF NOT EXISTS calls_queued_at ON calls (queued_at);
CREATE TABLE IF NOT EXISTS feedback (
    municipality TEXT NOT NULL,
    key          TEXT NOT NULL,
    channel      TEXT NOT NULL,
    kind         TEXT,
    score        INTEGER NOT NULL,
    given_at     REAL NOT NULL,
    PRIMARY KEY (municipality, key)
);
CREATE INDEX IF NOT EXISTS feedback_given_at ON feedback (given_at);
"""

R = TypeVar("R")


@dataclass(frozen=True)
class _Table(Generic[R]):
    """How one record type maps onto one table: its columns (the record's fields) and key."""

    name: str
    make: Callable[..., R]
    columns: tuple[str, ...]
    key: tuple[str, ...]
    bools: frozenset[str] = frozenset()

    @property
    def upsert(self) -> str:
        """The `INSERT … ON CONFLICT(key) DO UPDATE` statement for one row."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c not in self.key)
        return (
            f"INSERT INTO {self.name} ({', '.join(self.columns)}) "
            f"VALUES ({', '.join('?' for _ in self.columns)}) "
            f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {updates}"
        )

    def select(self, alias: str = "") -> str:
        """The column list for a SELECT, optionally qualified by a table alias."""
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + c for c in self.columns)

    def values(self, records: Iterable[R]) -> list[tuple[Any, ...]]:
        """Records as parameter tuples, in column order (sqlite3 stores bools as 0/1)."""
        get = attrgetter(*self.columns)
        return [get(r) for r in records]

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


class SqliteStore(OutcomeStore):
    """The outcome store in one SQLite database file (or `:memory:`, for tests)."""

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
            # isolation_level=None: no implicit transactions; `write` says BEGIN and COMMIT itself.
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
        """Switch to WAL, create the schema when missing and check its version."""
        # executescript commits any open transaction first, so the whole script is one: BEGIN
        # IMMEDIATE takes the write lock, so two processes opening a new file cannot race.
        script = (
            "BEGIN IMMEDIATE;"
            + _SCHEMA
            + "INSERT INTO schema_version (version) SELECT "
            + str(SCHEMA_VERSION)
            + " WHERE NOT EXISTS (SELECT 1 FROM schema_version);"
            + "COMMIT;"
        )
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(script)
            found = conn.execute("SELECT version FROM schema_version").fetchall()
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"cannot use {self._name} as a store database: {exc}") from exc
        versions = sorted(v for (v,) in found)
        if versions and versions != [SCHEMA_VERSION]:
            raise StoreError(
                f"store database {self._name} has schema version "
                f"{', '.join(map(str, versions))}; this contactmon reads version {SCHEMA_VERSION}"
            )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store database {self._name} is closed")
        return self._conn

    def write(self, batch: OutcomeBatch) -> None:
        """Upsert the batch in one transaction; on any error nothing of it is written."""
        if not len(batch):
            return
        statements = [
            (ITEMS.upsert, ITEMS.values(batch.items)),
            (NORMS.upsert, NORMS.values(batch.norms)),
            (CALLS.upsert, CALLS.values(batch.calls)),
            (FEEDBACK.upsert, FEEDBACK.values(batch.feedback)),
        ]
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    if params:
                        conn.executemany(sql, params)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to store database {self._name}: {exc}") from exc

    def _read(self, table: _Table[R], sql: str, params: Sequence[Any]) -> list[R]:
        try:
            rows = self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {table.name} from {self._name}: {exc}") from exc
        return table.records(rows)

    def items_opened(self, start: float, end: float) -> list[ItemRecord]:
        return self._read(
            ITEMS,
            f"SELECT {ITEMS.select()} FROM items WHERE opened_at >= ? AND opened_at < ? "
            "ORDER BY municipality, subject",
            (start, end),
        )

    def norms_for_items_opened(self, start: float, end: float) -> list[NormRecord]:
        return self._read(
            NORMS,
            f"SELECT {NORMS.select('n')} FROM norms n JOIN items i "
            "ON i.municipality = n.municipality AND i.subject = n.subject "
            "WHERE n.family = 'item' AND i.opened_at >= ? AND i.opened_at < ? "
            f"UNION ALL SELECT {NORMS.select('n')} FROM norms n JOIN calls c "
            "ON c.municipality = n.municipality AND c.subject = n.subject "
            "WHERE n.family = 'call' AND c.queued_at >= ? AND c.queued_at < ? "
            "ORDER BY 1, 2, 3",
            (start, end, start, end),
        )

    def calls_queued(self, start: float, end: float) -> list[CallRecord]:
        return self._read(
            CALLS,
            f"SELECT {CALLS.select()} FROM calls WHERE queued_at >= ? AND queued_at < ? "
            "ORDER BY municipality, subject",
            (start, end),
        )

    def feedback_given(self, start: float, end: float) -> list[FeedbackRecord]:
        return self._read(
            FEEDBACK,
            f"SELECT {FEEDBACK.select()} FROM feedback WHERE given_at >= ? AND given_at < ? "
            "ORDER BY municipality, key",
            (start, end),
        )

    def municipalities(self) -> list[str]:
        sql = " UNION ".join(
            f"SELECT municipality FROM {t}" for t in ("items", "norms", "calls", "feedback")
        )
        try:
            rows = self._connection().execute(sql + " ORDER BY 1").fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read municipalities from {self._name}: {exc}") from exc
        return [m for (m,) in rows]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"SqliteStore({self._name!r})"
