"""The outcome store's interface, its error type, and `open_store` that picks a backend by URL.

The core hands the store complete row snapshots (streams/store/records.py) in batches; the monthly
export reads them back by month. Every write is an upsert by key in one transaction, so a replay of
the same events, or an at-least-once redelivery, leaves the store exactly as it was.

Backends are imported inside `open_store`, so a driver is only needed when its URL is used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self

from streams.store.records import (
    CallRecord,
    FeedbackRecord,
    ItemRecord,
    NormRecord,
    OutcomeBatch,
)

DEFAULT_STORE_URL = "sqlite:///contactmon.sqlite3"
"""An embedded database file `contactmon.sqlite3` in the working directory."""

ACCEPTED_URLS = "sqlite:///relative/path.sqlite3, sqlite:////absolute/path.sqlite3 or a file path"


class StoreError(Exception):
    """The store cannot be opened, read or written; the message says which store and why."""


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


def open_store(url: str, *, create: bool = True) -> OutcomeStore:
    """Open the store that `url` names (see `sqlite_path`); the default is `DEFAULT_STORE_URL`.

    With `create=False` a missing database file is an error rather than a new empty store, which
    is what a reader such as the export wants.
    """
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in {"postgresql", "postgres"} or scheme.startswith("postgresql+"):
        raise StoreError(
            "the PostgreSQL store arrives with the live-pipeline work; "
            f"use a sqlite URL for now ({ACCEPTED_URLS})"
        )
    path = sqlite_path(url)
    if path is None:
        if not url:
            raise StoreError(f"the store URL is empty: use {ACCEPTED_URLS}")
        raise StoreError(
            f"store URL scheme {scheme!r} is not supported (in {url!r}): use {ACCEPTED_URLS}"
        )
    from streams.store.sqlite import SqliteStore  # noqa: PLC0415 - backends load on demand

    return SqliteStore(path, create=create)
