"""PostgreSQL with TLS required, for real: `deploy/postgres.sh start --tls` (hostssl only, a
password), the store over ``sslmode=verify-full``; refused without TLS, with an untrusted CA, a
wrong host name or a wrong password. The database password is a canary: `contactmon replay` and
`export` at every log level, and every error path, leave it in no output, no file and no row."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from streams import logs
from streams.store import StoreError, open_store
from tests.integration.conftest import DB_CANARY, TlsPostgres, free_ports

pytestmark = pytest.mark.integration

CONTACTMON = str(Path(sys.executable).with_name("contactmon"))
LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
WRONG_PASSWORD = "canary-WrongDb-6b3a"


@pytest.fixture(autouse=True)
def no_known_secrets() -> Iterator[None]:
    """Tests here check that messages hold no password on their own: start with none known."""
    logs.SECRETS.clear()
    yield
    logs.SECRETS.clear()


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated March 2024 of Heiloo (`contactmon simulate`)."""
    path = tmp_path_factory.mktemp("pg-events") / "heiloo.jsonl"
    done = subprocess.run(
        [
            CONTACTMON,
            "simulate",
            "--start",
            "2024-03-01",
            "--months",
            "1",
            "--municipality",
            "heiloo",
            "--out",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return path


def with_query(url: str, **params: str) -> str:
    """`url` with its query parameters replaced or added."""
    base, _, query = url.partition("?")
    pairs = dict(p.split("=", 1) for p in query.split("&") if p)
    pairs.update(params)
    return base + "?" + "&".join(f"{k}={v}" for k, v in pairs.items())


def other_ca(folder: Path) -> Path:
    """A self-signed certificate that signed nothing of the server's: an untrusted CA."""
    cert, key = folder / "other-ca.pem", folder / "other-ca.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=other",
        ],
        check=True,
        capture_output=True,
    )
    return cert


def store_error(url: str) -> str:
    """The message of the StoreError that opening `url` raises; never with a password."""
    with pytest.raises(StoreError) as raised:
        open_store(url)
    message = str(raised.value)
    assert DB_CANARY not in message
    assert WRONG_PASSWORD not in message
    return message


class TestTlsRequired:
    """The server takes TLS with its CA and name checked, and nothing less."""

    def test_the_store_connects_with_verify_full(self, tls_postgres: TlsPostgres) -> None:
        url = tls_postgres.url_with_password()
        with open_store(url) as store:
            assert store.municipalities() == [] or isinstance(store.municipalities(), list)
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            ).fetchone()
        assert row is not None
        assert row[0] is True
        assert row[1] in ("TLSv1.2", "TLSv1.3")

    def test_a_connection_without_tls_is_refused(self, tls_postgres: TlsPostgres) -> None:
        url = with_query(tls_postgres.url_with_password(), sslmode="disable")
        assert "no encryption" in store_error(url)

    def test_an_untrusted_ca_is_refused(self, tls_postgres: TlsPostgres, tmp_path: Path) -> None:
        url = with_query(tls_postgres.url_with_password(), sslrootcert=str(other_ca(tmp_path)))
        assert "certificate verify failed" in store_error(url)

    def test_another_host_name_is_refused(self, tls_postgres: TlsPostgres) -> None:
        # hostaddr: connect to the server, but verify the certificate against db.example
        url = with_query(
            tls_postgres.url_with_password().replace("127.0.0.1", "db.example"),
            hostaddr="127.0.0.1",
        )
        assert 'does not match host name "db.example"' in store_error(url)

    def test_a_wrong_password_is_refused(self, tls_postgres: TlsPostgres) -> None:
        url = tls_postgres.url_with_password(WRONG_PASSWORD)
        assert "password authentication failed" in store_error(url)

    def test_no_password_is_refused(self, tls_postgres: TlsPostgres) -> None:
        assert "no password supplied" in store_error(tls_postgres.url)


def contactmon(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `contactmon ARGS` in `cwd` with CONTACTMON_* from `env` only (besides PATH/HOME)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTMON_")}
    return subprocess.run(
        [CONTACTMON, *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_no_canary(*texts: str, where: str = "") -> None:
    for text in texts:
        assert DB_CANARY not in text, f"the database password in {where}:\n{text[-3000:]}"
        assert WRONG_PASSWORD not in text, f"the wrong password in {where}:\n{text[-3000:]}"


def assert_no_canary_in_files(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert DB_CANARY.encode() not in data, f"the database password in {path}"


class TestCanaryThroughTheCommands:
    """replay and export with the TLS store, at every log level, and all their error paths."""

    @pytest.mark.parametrize("level", LEVELS)
    @pytest.mark.parametrize("how", ["env", "option"])
    def test_replay_and_export(
        self, level: str, how: str, tls_postgres: TlsPostgres, events_file: Path, tmp_path: Path
    ) -> None:
        url = tls_postgres.url_with_password()
        env = {"CONTACTMON_STORE_URL": url} if how == "env" else {}
        store = [] if how == "env" else ["--store", url]
        replay = contactmon(
            [
                "--log-level",
                level,
                "replay",
                str(events_file),
                *store,
                "--until",
                "2024-05-01T00:00:00+02:00",
                "--metrics-file",
                "metrics.prom",
                "--rejects",
                "rejects.jsonl",
            ],
            tmp_path,
            env,
        )
        assert replay.returncode == 0, replay.stderr
        export = contactmon(
            ["--log-level", level, "export", "--month", "2024-03", *store, "--format", "json"],
            tmp_path,
            env,
        )
        assert export.returncode == 0, export.stderr
        assert (tmp_path / "contactmon-export-2024-03.json").is_file()
        if level == "DEBUG":  # the debug run does say what it does
            assert replay.stderr
        assert_no_canary(replay.stdout, replay.stderr, export.stdout, export.stderr, where=level)
        assert_no_canary_in_files(tmp_path)

    @pytest.mark.parametrize(
        "url",
        [
            f"postgresq://postgres:{DB_CANARY}@127.0.0.1:5432/contactmon",
            f"mysql://postgres:{DB_CANARY}@127.0.0.1:3306/contactmon",
            f"postgresql:/postgres:{DB_CANARY}@127.0.0.1/contactmon",
            f"postgresql:postgres:{DB_CANARY}@127.0.0.1/contactmon",
            f"postgresql://postgres:{DB_CANARY}@[::1/contactmon",
            f"postgresql://postgres:{DB_CANARY}@127.0.0.1:70000/contactmon",
            f"postgresql://postgres@127.0.0.1/contactmon?password={DB_CANARY}&nonsense=1",
            f"host=127.0.0.1 password={DB_CANARY} dbname=contactmon",
            f"postgres:{DB_CANARY}@127.0.0.1/contactmon",
        ],
    )
    @pytest.mark.parametrize("command", ["replay", "export"])
    def test_a_bad_url(self, url: str, command: str, events_file: Path, tmp_path: Path) -> None:
        args = (
            ["replay", str(events_file)]
            if command == "replay"
            else ["export", "--month", "2024-03"]
        )
        done = contactmon(["--log-level", "DEBUG", *args, "--store", url], tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"contactmon {command}: ")
        assert "Traceback" not in done.stderr
        assert_no_canary(done.stdout, done.stderr, where=url)
        assert list(tmp_path.iterdir()) == []  # no SQLite file named after the password

    @pytest.mark.parametrize("command", ["replay", "export"])
    def test_an_unreachable_store(self, command: str, events_file: Path, tmp_path: Path) -> None:
        (port,) = free_ports(1)
        url = f"postgresql://postgres:{DB_CANARY}@127.0.0.1:{port}/contactmon?sslmode=verify-full"
        args = (
            ["replay", str(events_file)]
            if command == "replay"
            else ["export", "--month", "2024-03"]
        )
        done = contactmon(["--log-level", "DEBUG", *args], tmp_path, {"CONTACTMON_STORE_URL": url})
        assert done.returncode == 2, done.stderr
        assert "cannot connect to PostgreSQL" in done.stderr
        assert_no_canary(done.stdout, done.stderr, where=command)

    @pytest.mark.parametrize("command", ["replay", "export"])
    def test_a_wrong_password(
        self, command: str, tls_postgres: TlsPostgres, events_file: Path, tmp_path: Path
    ) -> None:
        url = tls_postgres.url_with_password(WRONG_PASSWORD)
        args = (
            ["replay", str(events_file)]
            if command == "replay"
            else ["export", "--month", "2024-03"]
        )
        done = contactmon(["--log-level", "DEBUG", *args], tmp_path, {"CONTACTMON_STORE_URL": url})
        assert done.returncode == 2, done.stderr
        assert "password authentication failed" in done.stderr
        assert_no_canary(done.stdout, done.stderr, where=command)

    def test_the_store_and_the_server_log_hold_no_password(
        self, tls_postgres: TlsPostgres, events_file: Path, tmp_path: Path
    ) -> None:
        url = tls_postgres.url_with_password()
        done = contactmon(["replay", str(events_file), "--store", url], tmp_path)
        assert done.returncode == 0, done.stderr
        with psycopg.connect(url) as conn:
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                ).fetchall()
            ]
            assert "items" in tables
            rows = 0
            for table in tables:
                for row in conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))):
                    rows += 1
                    assert not any(holds_canary(value) for value in row), table
        assert rows > 0
        assert_no_canary(tls_postgres.log_file.read_text(errors="replace"), where="postgres.log")


def holds_canary(value: Any) -> bool:
    if isinstance(value, bytes | bytearray | memoryview):
        return DB_CANARY.encode() in bytes(value)
    return DB_CANARY in str(value)
