"""The shared outcome store: one PostgreSQL database (psycopg 3), for several workers.

Same tables, statements and semantics as the SQLite store (streams/store/sql.py holds the
statements both run), with PostgreSQL types: double precision for times, boolean for flags,
bytea for checkpoint state, and the "C" collation on key columns so rows sort exactly as SQLite
sorts them (byte order), whatever locale the server was created with.

The connection runs in autocommit mode; every write is one explicit transaction. The schema is
created when missing, inside a transaction that first takes an advisory lock, so two workers
starting at once cannot trip over each other's `CREATE TABLE IF NOT EXISTS`. A connection the
server or the network dropped is opened again on the next call.

Errors never show the password: messages name the database, host and port only. The URL is
parsed strictly before libpq sees it (a malformed host, port or IPv6 address is a StoreError that
does not repeat the URL), its passwords (user info and ``?password=``) are registered with the
redaction layer, and driver errors pass through it too.

TLS: libpq's own URL parameters set it, e.g.
``postgresql://contactmon@db.example:5432/contactmon?sslmode=verify-full&sslrootcert=/etc/ca.pem``
encrypts the connection and checks that the server's certificate is signed by that CA and names
that host. A store on another machine without ``sslmode=verify-full`` is logged as a warning at
start-up: ``prefer``, libpq's default, accepts an unencrypted connection and any certificate.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import SplitResult, urlsplit

import psycopg
import structlog
from psycopg.conninfo import conninfo_to_dict

from streams.logs import redact as redact_text
from streams.logs import register_secret, register_url
from streams.store.base import StoreError
from streams.store.sql import SCHEMA_VERSION, Cursor, SqlStore, Statements

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT_SECONDS = 10
DEFAULT_PORT = "5432"
USAGE = "use postgresql://user@host:port/database (add ?sslmode=verify-full&sslrootcert=CA.pem)"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

SESSION_TIMEOUTS: Final = {
    # A worker frozen in the middle of a transaction (SIGSTOP, a paused VM, a GC pause past its
    # session) must never block the worker that took its partitions over: the server ends such a
    # session after this long idle in a transaction, which releases its row locks (the frozen
    # worker's next save finds its connection gone and then its claim taken) ...
    "idle_in_transaction_session_timeout": "30s",
    # ... and a claim or save that waits for a lock gives up after this long, so the waiting
    # worker retries with backoff (a transient store error) instead of hanging, even in SIGTERM.
    "lock_timeout": "10s",
}

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
    """`url` with its passwords (user info, ``password=`` parameters) replaced by `***`."""
    return redact_text(url)


def _split(url: str) -> SplitResult:
    """`url` split into its parts, strictly; StoreError names the problem, never the URL."""
    if _CONTROL.search(url) or any(c.isspace() for c in url.partition("?")[0]):
        raise StoreError(
            "the store URL is not a PostgreSQL URL that libpq reads (it holds spaces or control "
            f"characters; percent-encode them): {USAGE}"
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        problem = (
            "its IPv6 host is malformed (a '[' without its ']', or the reverse)"
            if "IPv6" in str(exc)
            else "its port is not a number from 0 to 65535"
            if "Port" in str(exc) or "port" in str(exc)
            else "it cannot be read as a URL"
        )
        raise StoreError(f"the store URL is malformed: {problem}: {USAGE}") from None
    if parts.fragment:
        raise StoreError(f"the store URL has a fragment (#...), which libpq refuses: {USAGE}")
    return parts


def _is_local(host: str) -> bool:
    """Whether `host` is this machine (a socket directory, localhost, a loopback address)."""
    if not host or host.startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _one_line(exc: BaseException, password: str | None) -> str:
    """A driver error as one line, with the password (should a message repeat it) blanked."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.replace(password, "***") if password else text
    return redact_text(text)


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
        register_url(url)
        self._url = libpq_url(url)
        parts = _split(self._url)
        try:
            params = conninfo_to_dict(self._url)
        except psycopg.Error as exc:
            raise StoreError(
                "the store URL is not a PostgreSQL URL that libpq reads "
                f"({_one_line(exc, parts.password)}): {USAGE}"
            ) from None
        for key in ("password", "sslpassword"):
            register_secret(params.get(key))
        self._password = str(params["password"]) if params.get("password") else None
        self._timeout = None if "connect_timeout" in params else connect_timeout
        host = params.get("host") or "the local socket"
        port = params.get("port") or DEFAULT_PORT
        database = params.get("dbname") or params.get("user") or "(the default)"
        self.where = f"database {database} on {host}:{port}"
        self._name = f"the PostgreSQL store ({self.where})"
        sslmode = str(params.get("sslmode") or os.environ.get("PGSSLMODE") or "prefer")
        hosts = str(params.get("host") or os.environ.get("PGHOST") or "").split(",")
        if sslmode != "verify-full" and not all(_is_local(h) for h in hosts):
            log.warning(
                "the PostgreSQL store's server is not verified: add sslmode=verify-full and "
                "sslrootcert=<the CA file> to the store URL",
                store=self.where,
                detail=f"sslmode={sslmode}",
            )
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
            conn = psycopg.connect(self._url, autocommit=True, **extra)
            for setting, value in SESSION_TIMEOUTS.items():
                conn.execute(f"SET {setting} = '{value}'")
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL ({self.where}): {_one_line(exc, self._password)}"
            ) from exc
        return conn

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
