"""The outcome store's interface, its error type, and `open_store` that picks a backend by URL.

The core hands the store complete row snapshots (streams/core/rows.py) in batches; the monthly
export reads them back by month. Every write is an upsert by key in one transaction, so a replay of
the same events, or an at-least-once redelivery, leaves the store exactly as it was.

The live worker also keeps a `Checkpoint` per Kafka partition here: its serialized state and the
next offset to read, saved in the same transaction as the rows that state produced, so after a
crash or a partition move the next owner continues exactly where the rows end.

Backends are imported inside `open_store`, so a driver is only needed when its URL is used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from streams.core.rows import (
    CallRecord,
    FeedbackRecord,
    ItemRecord,
    NormRecord,
    OutcomeBatch,
)

DEFAULT_STORE_URL = "sqlite:///contactmon.sqlite3"
"""An embedded database file `contactmon.sqlite3` in the working directory."""

ACCEPTED_URLS = (
    "sqlite:///relative/path.sqlite3, sqlite:////absolute/path.sqlite3, a file path, "
    "or postgresql://user@host:port/database"
)
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


class StoreError(Exception):
    """The store cannot be opened, read or written; the message says which store and why."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A worker's saved progress on one Kafka partition. Key: (group, topic, partition).

    `state` is opaque to the store (the worker's serialized state, possibly megabytes); `offset`
    is the next offset to read, that is the last applied offset + 1.
    """

    group: str  # the Kafka consumer group (the worker's app id)
    topic: str
    partition: int
    offset: int  # the next offset to read (last applied + 1)
    state: bytes  # opaque
    saved_at: float  # UTC epoch seconds

    def describe(self) -> str:
        """`group/topic[partition]`, for messages."""
        return f"{self.group}/{self.topic}[{self.partition}]"


class OutcomeStore(ABC):
    """Where the core's outcome rows live, and how the monthly export reads them back.

    Time ranges are half-open, [start, end), in UTC epoch seconds. Readers return rows in key
    order, so the same store always yields the same lists.
    """

    @abstractmethod
    def write(self, batch: OutcomeBatch) -> None:
        """Upsert every row of `batch` by its key, all in one transaction (all or nothing).

        Keys: items and calls (municipality, subject); norms (municipality, subject, norm);
        feedback (municipality, key).
        """

    @abstractmethod
    def save_checkpoints(self, checkpoints: Sequence[Checkpoint], batch: OutcomeBatch) -> None:
        """Upsert `batch` (as `write` does) and every checkpoint, all in ONE transaction.

        Checkpoints are keyed by (group, topic, partition). An offset never moves backwards: when
        a stored offset is greater than the new one (a stale worker writing after its partition
        moved to another), StoreError is raised and nothing of the call is written.
        """

    @abstractmethod
    def load_checkpoint(self, group: str, topic: str, partition: int) -> Checkpoint | None:
        """The checkpoint saved for this partition, or None when there is none."""

    @abstractmethod
    def delete_checkpoints(self, group: str, topic: str) -> int:
        """Delete every partition's checkpoint of `group` on `topic` (for a full rebuild).

        Returns how many were deleted.
        """

    @abstractmethod
    def items_opened(self, start: float, end: float) -> list[ItemRecord]:
        """Items opened in [start, end)."""

    @abstractmethod
    def norms_for_items_opened(self, start: float, end: float) -> list[NormRecord]:
        """Norm rows of items opened, and of calls queued, in [start, end)."""

    @abstractmethod
    def calls_queued(self, start: float, end: float) -> list[CallRecord]:
        """Calls queued in [start, end)."""

    @abstractmethod
    def feedback_given(self, start: float, end: float) -> list[FeedbackRecord]:
        """Feedback given in [start, end)."""

    @abstractmethod
    def municipalities(self) -> list[str]:
        """Every municipality that has at least one row, sorted."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; closing twice is harmless."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def sqlite_path(url: str) -> Path | None:
    """The database file a sqlite URL or bare path names, or None when `url` is another scheme.

    `sqlite:///rel/db.sqlite3` is relative to the working directory, `sqlite:////abs/db.sqlite3`
    is absolute (the SQLAlchemy convention), and a string without `://` is a file path as is.
    """
    if "://" not in url:
        return Path(url) if url else None
    scheme, _, rest = url.partition("://")
    if scheme.lower() != "sqlite":
        return None
    if not rest.startswith("/"):
        raise StoreError(
            f"store URL {url!r} names a host; a sqlite URL has none: use {ACCEPTED_URLS}"
        )
    path = rest[1:]
    if not path:
        raise StoreError(f"store URL {url!r} names no database file: use {ACCEPTED_URLS}")
    return Path(path)


def stale_offset_message(new: Checkpoint, stored_offset: int) -> str:
    """Why a checkpoint was refused: its partition's stored offset is ahead of it."""
    return (
        f"checkpoint for {new.describe()} refused: the stored offset {stored_offset} is ahead of "
        f"{new.offset}; another worker owns this partition now (nothing of this save was written)"
    )


def check_checkpoint(checkpoint: Checkpoint) -> None:
    """Refuse a checkpoint that no Kafka partition could have: a negative partition or offset."""
    if checkpoint.partition < 0 or checkpoint.offset < 0:
        raise StoreError(
            f"checkpoint for {checkpoint.describe()} has offset {checkpoint.offset}; "
            "partitions and offsets are never negative"
        )


def open_store(url: str, *, create: bool = True) -> OutcomeStore:
    """Open the store that `url` names; the default is `DEFAULT_STORE_URL`.

    `postgresql://` and `postgres://` URLs (also `postgresql+psycopg://`, as SQLAlchemy writes
    them) open a `PostgresStore`; everything `sqlite_path` accepts opens a `SqliteStore`. With
    `create=False` a missing database file, or a PostgreSQL database without the store's tables,
    is an error rather than a new empty store, which is what a reader such as the export wants.
    """
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in POSTGRES_SCHEMES or scheme.startswith("postgresql+"):
        from streams.store.postgres import PostgresStore  # noqa: PLC0415 - backends load on demand

        return PostgresStore(url, create=create)
    path = sqlite_path(url)
    if path is None:
        if not url:
            raise StoreError(f"the store URL is empty: use {ACCEPTED_URLS}")
        raise StoreError(
            f"store URL scheme {scheme!r} is not supported (in {url!r}): use {ACCEPTED_URLS}"
        )
    from streams.store.sqlite import SqliteStore  # noqa: PLC0415 - backends load on demand

    return SqliteStore(path, create=create)
