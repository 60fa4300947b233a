"""The outcome store's interface, its error type, and `open_store` that picks a backend by URL.

The core hands the store complete row snapshots (streams/core/rows.py) in batches; the monthly
export reads them back by month. Every write is an upsert by key in one transaction, so a replay of
the same events, or an at-least-once redelivery, leaves the store exactly as it was.

The live worker also keeps a `Checkpoint` per Kafka partition here: its serialized state and the
next offset to read, saved in the same transaction as the rows that state produced, so after a
crash or a partition move the next owner continues exactly where the rows end. Checkpoints are
fenced by an owner epoch the store issues (`OutcomeStore.claim_partition`): a worker that takes a
partition claims it, which gives it a new epoch and makes every save with an older one fail with
`StaleCheckpoint`, so a stale owner (paused past its session, cut off from Kafka) can never
overwrite the new owner's state, whatever offset it got to.

Backends are imported inside `open_store`, so a driver is only needed when its URL is used.

Store URLs carry passwords, so they are parsed strictly and never echoed: `open_store` registers
a URL's password with the redaction layer (`streams.logs`) before anything else, an unknown scheme
or a malformed URL is a `StoreError` that names what is wrong but not the URL, and `StoreError`
passes its message through `streams.logs.redact`. A string without ``://`` is a SQLite file path
only when it looks like one: a libpq ``key=value`` string or a URL with a broken ``://`` is
refused, never taken as the name of a file to create.
"""

from __future__ import annotations

import difflib
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from streams.logs import redact, register_url

DEFAULT_STORE_URL = "sqlite:///contactmon.sqlite3"
"""An embedded database file `contactmon.sqlite3` in the working directory."""

ACCEPTED_URLS = (
    "sqlite:///relative/path.sqlite3, sqlite:////absolute/path.sqlite3, a file path, "
    "or postgresql://user@host:port/database"
)
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
KNOWN_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")

# a URL scheme as RFC 3986 spells it
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# "scheme:" at the start of a string without "://": a URL with its slashes missing or short
_SCHEME_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# a libpq keyword/value string ("host=db user=x password=...")
_KEYWORD_VALUE = re.compile(r"(?:^|\s)[A-Za-z_]+\s*=")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class StoreError(Exception):
    """The store cannot be opened, read or written; the message says which store and why.

    The message passes `streams.logs.redact`: a password it might quote (a driver's error
    repeating a connection string) is masked before anyone can print or log it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


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
    # the owner epoch `claim_partition` gave the saving worker; None saves unfenced (tests, tools)
    epoch: int | None = field(default=None, compare=False)

    def describe(self) -> str:
        """`group/topic[partition]`, for messages."""
        return f"{self.group}/{self.topic}[{self.partition}]"


class StaleCheckpoint(StoreError):
    """A checkpoint was refused: another worker owns its partition now (nothing was written).

    Either the partition was claimed since this worker claimed it (its epoch is no longer the
    partition's), or the stored offset is ahead of the checkpoint's. The worker that gets this
    must drop the partition: its state is not the partition's any more.
    """

    def __init__(self, message: str, partition: int) -> None:
        super().__init__(message)
        self.partition = partition


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

        Checkpoints are keyed by (group, topic, partition). A checkpoint with an `epoch` is
        fenced: unless the partition's owner epoch is still that one (`claim_partition`), or when
        the stored offset is greater than the new one (a stale worker writing after its partition
        moved to another), `StaleCheckpoint` is raised and nothing of the call is written.
        """

    @abstractmethod
    def claim_partition(self, group: str, topic: str, partition: int, owner: str) -> int:
        """Make `owner` the owner of the partition's checkpoint; returns its new owner epoch.

        Every claim gives a greater epoch than the one before, in one transaction, so from the
        moment it returns every save with an older epoch fails with `StaleCheckpoint`. `owner`
        is only recorded (host and process, for an operator reading the table).
        """

    @abstractmethod
    def load_checkpoint(self, group: str, topic: str, partition: int) -> Checkpoint | None:
        """The checkpoint saved for this partition, or None when there is none."""

    @abstractmethod
    def delete_checkpoints(self, group: str, topic: str) -> int:
        """Delete every partition's checkpoint of `group` on `topic` (for a full rebuild), and
        their owner epochs, so a worker still holding one can no longer save.

        Returns how many checkpoints were deleted.
        """

    @abstractmethod
    def load_cursor(self, name: str) -> str | None:
        """The cursor an importer saved under ``name`` (e.g. ``signalen:heiloo``), or None."""

    @abstractmethod
    def save_cursor(self, name: str, value: str) -> None:
        """Save (replace) the importer cursor ``name``, in one transaction."""

    @abstractmethod
    def purge(self, before: float) -> dict[str, int]:
        """Delete, in one transaction, finished items and calls that began before ``before`` (with
        their norm rows) and feedback given before it; returns the rows deleted per table.

        Items still open and calls still waiting are kept: they are still being handled.
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
    is absolute (the SQLAlchemy convention), and a string without `://` is a file path as is,
    when it looks like one (`check_bare_path`). Errors never repeat `url`.
    """
    if "://" not in url:
        check_bare_path(url)
        return Path(url)
    scheme, _, rest = url.partition("://")
    if scheme.lower() != "sqlite":
        return None
    if _CONTROL.search(url):
        raise StoreError(f"the sqlite store URL holds a control character: use {ACCEPTED_URLS}")
    if not rest.startswith("/"):
        raise StoreError(
            f"the sqlite store URL names a host (sqlite://host/...); a sqlite URL has none: "
            f"use {ACCEPTED_URLS}"
        )
    path = rest[1:]
    if not path:
        raise StoreError(f"the sqlite store URL names no database file: use {ACCEPTED_URLS}")
    if "?" in path or "#" in path:
        raise StoreError(
            "the sqlite store URL has a query (?...) or fragment (#...); a sqlite URL takes "
            f"none: use {ACCEPTED_URLS}"
        )
    return Path(path)


def check_bare_path(text: str) -> None:
    """Refuse a store "URL" without ``://`` that is not a plain file path.

    Empty text, control characters, a ``scheme:`` start (``postgresql:/user:pw@host/db``, a URL
    with a slash missing) and libpq ``key=value`` strings (``host=db password=...``) are refused,
    so that a mistyped PostgreSQL URL never becomes a SQLite file named after its password. A file
    whose name starts like that can be given as ``./name``.
    """
    if not text.strip():
        raise StoreError(f"the store URL is empty: use {ACCEPTED_URLS}")
    if _CONTROL.search(text):
        raise StoreError(f"the store URL holds a control character: use {ACCEPTED_URLS}")
    if _KEYWORD_VALUE.search(text):
        raise StoreError(
            "the store URL looks like a libpq key=value string, which is not accepted: "
            "write it as postgresql://user@host:port/database?sslmode=verify-full "
            "(a file whose name has '=' in it: give it as ./name or an absolute path)"
        )
    prefix = _SCHEME_PREFIX.match(text)
    if prefix:
        scheme = prefix.group(0)[:-1]
        shown = f"'{scheme.lower()}:'" if _is_short_scheme(scheme) else "a scheme"
        raise StoreError(
            f"the store URL starts with {shown} but not with the '//' of a URL: use "
            f"{ACCEPTED_URLS} (a file whose name has ':' in it: give it as ./name or an "
            "absolute path)"
        )


def _is_short_scheme(scheme: str) -> bool:
    """Whether an error may show this scheme: a short, well-formed word, never a password."""
    return bool(_SCHEME.fullmatch(scheme)) and len(scheme) <= 30


# schemes an error may name: a scheme could be anything a user typed, even a password
_NAMED_SCHEMES = frozenset(
    {"mysql", "mariadb", "mssql", "oracle", "mongodb", "redis", "http", "https", "file"}
)


def _unknown_scheme(scheme: str) -> StoreError:
    if not _is_short_scheme(scheme):
        return StoreError(f"the store URL has a malformed scheme: use {ACCEPTED_URLS}")
    close = difflib.get_close_matches(scheme.lower(), KNOWN_SCHEMES, n=1, cutoff=0.7)
    if close:
        return StoreError(
            f"store URL scheme {scheme.lower()!r} is not supported (did you mean {close[0]}://?): "
            f"use {ACCEPTED_URLS}"
        )
    if scheme.lower() in _NAMED_SCHEMES:
        return StoreError(
            f"store URL scheme {scheme.lower()!r} is not supported: use {ACCEPTED_URLS}"
        )
    return StoreError(f"the store URL's scheme is not supported: use {ACCEPTED_URLS}")


def stale_offset_message(new: Checkpoint, stored_offset: int) -> str:
    """Why a checkpoint was refused: its partition's stored offset is ahead of it."""
    return (
        f"checkpoint for {new.describe()} refused: the stored offset {stored_offset} is ahead of "
        f"{new.offset}; another worker owns this partition now (nothing of this save was written)"
    )


def stale_epoch_message(new: Checkpoint, owner: tuple[int, str] | None) -> str:
    """Why a checkpoint was refused: the partition was claimed since its writer claimed it."""
    now = (
        "its claim was deleted (a rebuild)"
        if owner is None
        else f"it was claimed since, by {owner[1]} (epoch {owner[0]})"
    )
    return (
        f"checkpoint for {new.describe()} refused: written with owner epoch {new.epoch}, but "
        f"{now}; another worker owns this partition now (nothing of this save was written)"
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
    The URL's password is registered with the redaction layer first; errors never repeat the URL.
    """
    register_url(url)
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in POSTGRES_SCHEMES or scheme.startswith("postgresql+"):
        from streams.store.postgres import PostgresStore  # noqa: PLC0415 - backends load on demand

        return PostgresStore(url, create=create)
    path = sqlite_path(url)
    if path is None:
        raise _unknown_scheme(url.partition("://")[0])
    from streams.store.sqlite import SqliteStore  # noqa: PLC0415 - backends load on demand

    return SqliteStore(path, create=create)
