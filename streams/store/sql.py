"""The SQL both outcome stores share, whatever the engine: SQLite (streams/store/sqlite.py) and
PostgreSQL (streams/store/postgres.py).

`SqlStore` holds everything that does not depend on the database engine: how records map onto
tables (`ITEMS`, `NORMS`, `CALLS`, `FEEDBACK`), every statement (`Statements`, written once and
rendered for each driver's parameter marker), and the write, checkpoint and reader logic. Both
stores subclass it, so they run the very same upserts and SELECTs and cannot drift apart; each
adds only its connection, its schema (its own column types) and its error messages. Writes are
`executemany` upserts (`INSERT … ON CONFLICT … DO UPDATE`) inside one transaction, so writing the
same batch twice leaves identical contents.

Checkpoint fencing: `claim_partition` records an owner epoch per (group, topic, partition) in
`checkpoint_owners`, and a fenced save first updates that row on the condition that the epoch is
still the saver's, inside the save's transaction. The row is locked (PostgreSQL) or the database
is (SQLite's BEGIN IMMEDIATE) until the save commits, so a claim and a save never interleave: the
save of a worker whose partition was claimed since finds another epoch and is refused whole. The
table is created here on first use, with DDL both engines read alike; it holds no outcome data,
so the schema version is unchanged and older readers never look at it.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from operator import attrgetter
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
    StaleCheckpoint,
    StoreError,
    check_checkpoint,
    stale_epoch_message,
    stale_offset_message,
)

SCHEMA_VERSION = 2
"""The schema version both stores record. 1: the outcome tables. 2: plus the checkpoints table
(the live worker's saved state)."""

RecordT = TypeVar("RecordT")


@dataclass(frozen=True)
class _Table(Generic[RecordT]):
    """How one record type maps onto one table: its columns (the record's fields) and key."""

    name: str
    make: Callable[..., RecordT]
    columns: tuple[str, ...]
    key: tuple[str, ...]
    bools: frozenset[str] = frozenset()

    def upsert(self, param_marker: str) -> str:
        """The `INSERT … ON CONFLICT(key) DO UPDATE` statement for one row.

        `param_marker` is the driver's parameter placeholder: `?` for sqlite3, `%s` for psycopg.
        """
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c not in self.key)
        return (
            f"INSERT INTO {self.name} ({', '.join(self.columns)}) "
            f"VALUES ({', '.join(param_marker for _ in self.columns)}) "
            f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {updates}"
        )

    def select(self, alias: str = "") -> str:
        """The column list for a SELECT, optionally qualified by a table alias."""
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + c for c in self.columns)

    def values(self, records: Iterable[RecordT]) -> list[tuple[Any, ...]]:
        """Records as parameter tuples in column order, sorted by key.

        The sort is stable, so of two rows with one key the later one is still written last
        (and wins). Sorted keys make concurrent PostgreSQL writers lock rows in one order, so
        two workers whose batches overlap wait for each other instead of deadlocking.
        """
        get = attrgetter(*self.columns)
        key = attrgetter(*self.key)
        return [get(r) for r in sorted(records, key=key)]

    def records(self, rows: Iterable[Sequence[Any]]) -> list[RecordT]:
        """Rows back into records, turning 0/1 columns back into bools."""
        bool_at = [i for i, c in enumerate(self.columns) if c in self.bools]
        out: list[RecordT] = []
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
_CHECKPOINT_KEY = "consumer_group = {param} AND topic = {param} AND partition = {param}"

OWNERS_TABLE = """CREATE TABLE IF NOT EXISTS checkpoint_owners (
    consumer_group TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    epoch BIGINT NOT NULL,
    owner TEXT NOT NULL,
    claimed_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition)
)"""
"""The owner epoch of each partition's checkpoint (created on first use; see the module doc)."""

CURSORS_TABLE = """CREATE TABLE IF NOT EXISTS source_cursors (
    name TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL,
    saved_at DOUBLE PRECISION NOT NULL
)"""
"""Where each importer that polls (Signalen) resumes: its cursor, opaque text (created on first
use, like the owner table)."""


class Statements:
    """Every statement the SQL stores run, rendered for one driver's parameter marker.

    ``param_marker`` is the placeholder the driver binds a parameter to: ``?`` for sqlite3,
    ``%s`` for psycopg.
    """

    def __init__(self, param_marker: str) -> None:
        self.param_marker = param_marker

        def during(column: str) -> str:
            """``column`` in the half-open range [start, end): two parameters."""
            return f"{column} >= {param_marker} AND {column} < {param_marker}"

        where_key = _CHECKPOINT_KEY.format(param=param_marker)
        self.upserts: tuple[tuple[str, str], ...] = tuple(
            (t.name, t.upsert(param_marker)) for t in (ITEMS, NORMS, CALLS, FEEDBACK)
        )
        self.items_opened = (
            f"SELECT {ITEMS.select()} FROM items WHERE {during('opened_at')} "
            "ORDER BY municipality, subject"
        )
        self.norms_for_items_opened = (
            f"SELECT {NORMS.select('n')} FROM norms n JOIN items i "
            "ON i.municipality = n.municipality AND i.subject = n.subject "
            f"WHERE n.family = 'item' AND {during('i.opened_at')} "
            f"UNION ALL SELECT {NORMS.select('n')} FROM norms n JOIN calls c "
            "ON c.municipality = n.municipality AND c.subject = n.subject "
            f"WHERE n.family = 'call' AND {during('c.queued_at')} "
            "ORDER BY 1, 2, 3"
        )
        self.calls_queued = (
            f"SELECT {CALLS.select()} FROM calls WHERE {during('queued_at')} "
            "ORDER BY municipality, subject"
        )
        self.feedback_given = (
            f"SELECT {FEEDBACK.select()} FROM feedback WHERE {during('given_at')} "
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
            f"INSERT INTO checkpoints ({_CHECKPOINT_COLUMNS}) "
            f"VALUES ({', '.join([param_marker] * 6)}) "
            "ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET "
            "next_offset = excluded.next_offset, state = excluded.state, "
            "saved_at = excluded.saved_at "
            "WHERE checkpoints.next_offset <= excluded.next_offset"
        )
        self.stored_offset = f"SELECT next_offset FROM checkpoints WHERE {where_key}"
        # Fencing: a claim gives the next epoch; a fenced save first "updates" the owner row on
        # the condition that the epoch is still its own (no row counted: claimed since).
        self.claim = (
            "INSERT INTO checkpoint_owners "
            "(consumer_group, topic, partition, epoch, owner, claimed_at) "
            f"VALUES ({', '.join([param_marker] * 3)}, 1, {param_marker}, {param_marker}) "
            "ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET "
            "epoch = checkpoint_owners.epoch + 1, owner = excluded.owner, "
            "claimed_at = excluded.claimed_at"
        )
        self.owner = f"SELECT epoch, owner FROM checkpoint_owners WHERE {where_key}"
        self.fence = (
            f"UPDATE checkpoint_owners SET epoch = epoch WHERE {where_key} "
            f"AND epoch = {param_marker}"
        )
        self.owners_present = "SELECT 1 FROM checkpoint_owners WHERE 1 = 0"
        self.load_cursor = f"SELECT value FROM source_cursors WHERE name = {param_marker}"
        self.save_cursor = (
            "INSERT INTO source_cursors (name, value, saved_at) "
            f"VALUES ({param_marker}, {param_marker}, {param_marker}) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value, saved_at = excluded.saved_at"
        )
        self.delete_owners = (
            f"DELETE FROM checkpoint_owners WHERE consumer_group = {param_marker} "
            f"AND topic = {param_marker}"
        )
        self.load_checkpoint = f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints WHERE {where_key}"
        self.delete_checkpoints = (
            f"DELETE FROM checkpoints WHERE consumer_group = {param_marker} "
            f"AND topic = {param_marker}"
        )
        # Retention: finished items and calls that began before a moment, with their norm rows,
        # and feedback given before it. Items still open and calls still waiting stay.
        old_item = f"i.opened_at < {param_marker} AND NOT i.is_open"
        old_call = f"c.queued_at < {param_marker} AND c.outcome <> 'waiting'"
        self.purge: tuple[tuple[str, str], ...] = (
            (
                "norm rows",
                "DELETE FROM norms WHERE EXISTS (SELECT 1 FROM items i WHERE "
                f"i.municipality = norms.municipality AND i.subject = norms.subject AND {old_item})"
                " OR EXISTS (SELECT 1 FROM calls c WHERE c.municipality = norms.municipality "
                f"AND c.subject = norms.subject AND {old_call})",
            ),
            ("items", f"DELETE FROM items WHERE opened_at < {param_marker} AND NOT is_open"),
            (
                "calls",
                f"DELETE FROM calls WHERE queued_at < {param_marker} AND outcome <> 'waiting'",
            ),
            ("feedback", f"DELETE FROM feedback WHERE given_at < {param_marker}"),
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
    _owners_ready = False  # the checkpoint_owners table is known to exist (`_ensure_owners`)
    _cursors_ready = False  # the source_cursors table is known to exist (`_ensure_cursors`)

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
        concurrent savers lock owner and checkpoint rows in one order.
        """
        for checkpoint in checkpoints:
            check_checkpoint(checkpoint)
        if not checkpoints and not len(batch):
            return
        ordered = sorted(checkpoints, key=lambda c: (c.group, c.topic, c.partition))
        if any(c.epoch is not None for c in ordered):
            self._ensure_owners()
        with self._transaction("save checkpoints to") as cursor:
            for c in ordered:
                key = (c.group, c.topic, c.partition)
                if c.epoch is not None:
                    cursor.execute(self.statements.fence, (*key, c.epoch))
                    if cursor.rowcount != 1:
                        cursor.execute(self.statements.owner, key)
                        found = cursor.fetchone()
                        owner = None if found is None else (int(found[0]), str(found[1]))
                        raise StaleCheckpoint(stale_epoch_message(c, owner), c.partition)
                cursor.execute(
                    self.statements.save_checkpoint, (*key, c.offset, c.state, c.saved_at)
                )
                if cursor.rowcount != 1:
                    cursor.execute(self.statements.stored_offset, key)
                    (stored,) = cursor.fetchone()
                    raise StaleCheckpoint(stale_offset_message(c, stored), c.partition)
            self._upsert(cursor, batch)

    def claim_partition(self, group: str, topic: str, partition: int, owner: str) -> int:
        """Take the partition's checkpoint over for `owner`; its new epoch (see `OutcomeStore`)."""
        if partition < 0:
            raise StoreError(f"cannot claim partition {partition}: partitions are never negative")
        self._ensure_owners()
        key = (group, topic, partition)
        with self._transaction("claim a partition in") as cursor:
            cursor.execute(self.statements.claim, (*key, owner, time.time()))
            cursor.execute(self.statements.owner, key)
            (epoch, _) = cursor.fetchone()
        return int(epoch)

    def _ensure_owners(self) -> None:
        """Create the owner table on first use (once per store object; see the module doc)."""
        if self._owners_ready:
            return
        try:
            with self._transaction("prepare checkpoint fencing in") as cursor:
                cursor.execute(OWNERS_TABLE, ())
        except StoreError:
            # Two workers creating it at once: PostgreSQL may refuse the second CREATE. If the
            # table is there now, that is all we wanted; otherwise the error stands.
            self._query("checkpoint owners", self.statements.owners_present, ())
        self._owners_ready = True

    def load_cursor(self, name: str) -> str | None:
        self._ensure_cursors()
        rows = self._query("importer cursors", self.statements.load_cursor, (name,))
        return str(rows[0][0]) if rows else None

    def save_cursor(self, name: str, value: str) -> None:
        self._ensure_cursors()
        with self._transaction("save an importer cursor to") as cursor:
            cursor.execute(self.statements.save_cursor, (name, value, time.time()))

    def _ensure_cursors(self) -> None:
        """Create the cursor table on first use (once per store object)."""
        if self._cursors_ready:
            return
        try:
            with self._transaction("prepare importer cursors in") as cursor:
                cursor.execute(CURSORS_TABLE, ())
        except StoreError:  # created by another process at the same moment (PostgreSQL)
            self._query("importer cursors", "SELECT 1 FROM source_cursors WHERE 1 = 0", ())
        self._cursors_ready = True

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
        self._ensure_owners()
        with self._transaction("delete checkpoints from") as cursor:
            cursor.execute(self.statements.delete_checkpoints, (group, topic))
            deleted = cursor.rowcount
            cursor.execute(self.statements.delete_owners, (group, topic))
            return deleted

    def purge(self, before: float) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._transaction("purge") as cursor:
            for what, sql in self.statements.purge:
                cursor.execute(sql, (before,) * sql.count(self.statements.param_marker))
                counts[what] = cursor.rowcount
        return counts

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
