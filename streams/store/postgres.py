"""The shared outcome store: one PostgreSQL database (psycopg 3), for several workers.

Same tables, statements and semantics as the SQLite store (streams/store/sql.py holds the
statements both run), with PostgreSQL types: double precision for times, boolean for flags,
bytea for checkpoint state, and the "C" collation on key columns so rows sort exactly as SQLite
sorts them (byte order), whatever locale the server was created with.

The connection runs in autocommit mode; every write is one explicit transaction. The schema is
created when missing, inside a transaction that first takes an advisory lock, so two workers
starting at once cannot trip over each other's `CREATE TABLE IF NOT EXISTS`. A connection the
server or the network dropped is opened again on the next call.

Errors never show the password: messages name the database, host and port only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from streams.store.base import StoreError
from streams.store.sql import SCHEMA_VERSION, Cursor, SqlStore, Statements

CONNECT_TIMEOUT_SECONDS = 10
DEFAULT_PORT = "5432"

SCHEMA_LOCK = 0x636F6E74_6D6F6E00
"""The advisory lock key held while the schema is checked or created ("contmon" in ASCII)."""

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS schema_version (
    version integer NOT NULL
)""",
    """
CREATE TABLE IF NOT EXISTS items (
    municipality  text COLLATE "C" NOT NULL,
    subject       text COLLATE "C" NOT NULL,
    kind          text NOT NULL,
    channel       text NOT NULL,
    segment       text NOT NULL,
    category      text NOT NULL,
    source_system text,
    team          text,
    opened_at     double precision NOT NULL,
    responded_at  double precision,
    closed_at     double precision,
    resolution    text,
    upheld        boolean,
    reopened      integer NOT NULL,
    is_open       boolean NOT NULL,
    PRIMARY KEY (municipality, subject)
)""",
    "CREATE INDEX IF NOT EXISTS items_opened_at ON items (opened_at)",
    """
CREATE TABLE IF NOT EXISTS norms (
    municipality text COLLATE "C" NOT NULL,
    subject      text COLLATE "C" NOT NULL,
    norm         text COLLATE "C" NOT NULL,
    stage        text NOT NULL,
    family       text NOT NULL,
    deadline     double precision,
    outcome      text NOT NULL,
    decided_at   double precision,
    achieved_at  double precision,
    PRIMARY KEY (municipality, subject, norm)
)""",
    """
CREATE TABLE IF NOT EXISTS calls (
    municipality text COLLATE "C" NOT NULL,
    subject      text COLLATE "C" NOT NULL,
    channel      text NOT NULL,
    queue        text,
    segment      text NOT NULL,
    queued_at    double precision NOT NULL,
    answered_at  double precision,
    abandoned_at double precision,
    ended_at     double precision,
    resolved     boolean,
    outcome      text NOT NULL,
    PRIMARY KEY (municipality, subject)
)""",
    "CREATE INDEX IF NOT EXISTS calls_queued_at ON calls (queued_at)",
    """
CREATE TABLE IF NOT EXISTS feedback (
    municipality text COLLATE "C" NOT NULL,
    key          text COLLATE "C" NOT NULL,
    channel      text NOT NULL,
    kind         text,
    score        integer NOT NULL,
    given_at     double precision NOT NULL,
    PRIMARY KEY (municipality, key)
)""",
    "CREATE INDEX IF NOT EXISTS feedback_given_at ON feedback (given_at)",
    """
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer_group text COLLATE "C" NOT NULL,
    topic          text COLLATE "C" NOT NULL,
    partition      integer NOT NULL,
    next_offset    bigint NOT NULL,
    state          bytea NOT NULL,
    saved_at       double precision NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition)
)""",
)


def libpq_url(url: str) -> str:
    """`url` as libpq reads it: SQLAlchemy's `postgresql+driver://` becomes `postgresql://`."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower().startswith("postgresql+"):
        return f"postgresql://{rest}"
    return url


def redact(url: str) -> str:
    """`url` with its password, if any, replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _one_line(exc: BaseException, password: str | None) -> str:
    """A driver error as one line, with the password (should a message repeat it) blanked."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.replace(password, "***") if password else text


class PostgresStore(SqlStore):
    """The outcome store in a PostgreSQL database named by a `postgresql://` URL."""

    statements = Statements("%s")

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        connect_timeout: int = CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        self._url = libpq_url(url)
        try:
            params = conninfo_to_dict(self._url)
        except psycopg.Error as exc:
            raise StoreError(
                f"store URL {redact(url)!r} is not a PostgreSQL URL that libpq reads "
                f"({_one_line(exc, None)}): use postgresql://user@host:port/database"
            ) from exc
        self._password = str(params["password"]) if params.get("password") else None
        self._timeout = None if "connect_timeout" in params else connect_timeout
        host = params.get("host") or "the local socket"
        port = params.get("port") or DEFAULT_PORT
        database = params.get("dbname") or params.get("user") or "(the default)"
        self.where = f"database {database} on {host}:{port}"
        self._name = f"the PostgreSQL store ({self.where})"
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = self._connect()
        try:
            self._prepare(self._conn, create=create)
        except BaseException:
            self.close()
            raise

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        extra: dict[str, Any] = {"application_name": "contactmon"}
        if self._timeout is not None:
            extra["connect_timeout"] = self._timeout
        try:
            return psycopg.connect(self._url, autocommit=True, **extra)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL ({self.where}): {_one_line(exc, self._password)}"
            ) from exc

    def _prepare(self, conn: psycopg.Connection[tuple[Any, ...]], *, create: bool) -> None:
        """Check the schema's version, creating the schema first when it is missing."""
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                found = conn.execute("SELECT to_regclass('schema_version')").fetchone()
                if found is None or found[0] is None:
                    if not create:
                        raise StoreError(
                            f"{self._name} holds no outcome tables yet: "
                            "point it at the database that a worker or a replay writes to"
                        )
                    for statement in _SCHEMA:
                        conn.execute(statement)
                rows = conn.execute("SELECT version FROM schema_version").fetchall()
                versions = sorted(int(v) for (v,) in rows)
                if not versions:
                    conn.execute(
                        "INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,)
                    )
                elif versions != [SCHEMA_VERSION]:
                    raise StoreError(
                        f"{self._name} has schema version {', '.join(map(str, versions))}; "
                        f"this contactmon reads version {SCHEMA_VERSION}"
                    )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot set up {self._name}: {_one_line(exc, self._password)}"
            ) from exc

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn is None:
            raise StoreError(f"{self._name} is closed")
        if self._conn.closed:  # dropped by the server or the network: connect again
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[Cursor]:
        conn = self._connection()
        try:
            with conn.transaction(), conn.cursor() as cursor:
                yield cursor
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot {doing} {self._name}: {_one_line(exc, self._password)}"
            ) from exc

    def _query(self, what: str, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        try:
            with self._connection().cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot read {what} from {self._name}: {_one_line(exc, self._password)}"
            ) from exc

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self._url)!r})"
