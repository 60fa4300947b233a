"""Store URLs are parsed strictly, and no error ever repeats a password (`open_store`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from streams import logs
from streams.logs import redact
from streams.store import StoreError, open_store
from streams.store.base import check_bare_path, sqlite_path
from streams.store.postgres import _is_local
from streams.store.postgres import redact as redact_url
from streams.store.sqlite import SqliteStore

SECRET = "canary-St0re-9a1f"


@pytest.fixture(autouse=True)
def in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in an empty directory (to see that no file appears) with no known secrets."""
    logs.SECRETS.clear()
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    logs.SECRETS.clear()


def refused(url: str) -> str:
    """The message of the StoreError open_store raises for `url`."""
    with pytest.raises(StoreError) as raised:
        open_store(url)
    message = str(raised.value)
    assert SECRET not in message
    assert SECRET not in repr(raised.value)
    return message


class TestRefused:
    """Malformed and unknown URLs are errors that say what is wrong, never with the password."""

    @pytest.mark.parametrize(
        ("url", "says"),
        [
            (f"postgresq://u:{SECRET}@db/x", "did you mean postgresql://"),
            (f"postgressql://u:{SECRET}@db/x", "did you mean postgresql://"),
            (f"sqlit:///{SECRET}.sqlite3", "did you mean sqlite://"),
            (f"mysql://u:{SECRET}@db/x", "scheme 'mysql' is not supported"),
            (f"{SECRET}://u@db/x", "the store URL's scheme is not supported"),
            (f"post gres://u:{SECRET}@db/x", "malformed scheme"),
            (f"postgresql:/u:{SECRET}@db/x", "starts with 'postgresql:' but not with the '//'"),
            (f"postgresql:u:{SECRET}@db/x", "starts with 'postgresql:'"),
            (f"u:{SECRET}@db/x", "starts with 'u:'"),
            (f"host=db password={SECRET} dbname=x", "libpq key=value string"),
            (f"dbname=x password='{SECRET}'", "libpq key=value string"),
            (f"postgresql://u:{SECRET}@[::1/x", "IPv6 host is malformed"),
            (f"postgresql://u:{SECRET}@::1]/x", "IPv6 host is malformed"),
            (f"postgresql://u:{SECRET}@db:99999/x", "port is not a number"),
            (f"postgresql://u:{SECRET}@db:port/x", "port is not a number"),
            (f"postgresql://u:{SECRET}@host with spaces/x", "is not a PostgreSQL URL that libpq"),
            (f"postgresql://u:{SECRET}@db/x\n", "is not a PostgreSQL URL that libpq"),
            (f"postgresql://u@db/x?password={SECRET}&sslmod=require", "libpq reads"),
            (f"postgresql://u:{SECRET}@db/x#frag", "fragment"),
            (f"sqlite://u:{SECRET}@db/x.sqlite3", "names a host"),
            (f"sqlite:///x.sqlite3?password={SECRET}", "takes none"),
            ("sqlite:///", "names no database file"),
            ("", "is empty"),
            ("   ", "is empty"),
            (f"{SECRET}\x00.sqlite3", "control character"),
        ],
    )
    def test_refused_without_the_password(self, url: str, says: str, tmp_path: Path) -> None:
        assert says in refused(url)
        assert list(tmp_path.iterdir()) == []  # and no file was made of it

    def test_every_message_lists_what_is_accepted(self) -> None:
        assert "postgresql://user@host:port/database" in refused("mysql://db/x")
        assert "sqlite:///relative/path.sqlite3" in refused(f"postgresql:/u:{SECRET}@db/x")

    def test_a_password_in_the_query_is_never_shown(self) -> None:
        # Port 1 refuses at once: the URL reached libpq, whose error is shown, redacted.
        message = refused(f"postgresql://u@127.0.0.1:1/x?password={SECRET}&connect_timeout=5")
        assert "cannot connect to PostgreSQL (database x on 127.0.0.1:1)" in message
        assert SECRET not in redact(f"later, somewhere: {SECRET}")  # registered on the way

    def test_a_percent_encoded_password_is_registered_both_ways(self) -> None:
        refused("postgresql://u:canary%2Fp%40ss@127.0.0.1:1/x?connect_timeout=5")
        assert redact("canary/p@ss and canary%2Fp%40ss") == "*** and ***"


class TestAccepted:
    """What looks like a file path is one; sqlite URLs keep their conventions."""

    @pytest.mark.parametrize(
        ("text", "path"),
        [
            ("contactmon.sqlite3", "contactmon.sqlite3"),
            ("data/outcomes.sqlite3", "data/outcomes.sqlite3"),
            ("/var/lib/contactmon/store.sqlite3", "/var/lib/contactmon/store.sqlite3"),
            ("./a=b.sqlite3", "a=b.sqlite3"),
            ("./postgresql:odd.sqlite3", "postgresql:odd.sqlite3"),
            ("/srv/x@y:z.sqlite3", "/srv/x@y:z.sqlite3"),
            ("sqlite:///rel/db.sqlite3", "rel/db.sqlite3"),
            ("sqlite:////abs/db.sqlite3", "/abs/db.sqlite3"),
            ("SQLite:///upper.sqlite3", "upper.sqlite3"),
        ],
    )
    def test_paths(self, text: str, path: str) -> None:
        assert sqlite_path(text) == Path(path)

    def test_another_scheme_is_not_a_sqlite_path(self) -> None:
        assert sqlite_path("postgresql://db/x") is None

    def test_a_bare_path_opens_a_sqlite_file(self, tmp_path: Path) -> None:
        with open_store("./a=b.sqlite3") as store:
            assert isinstance(store, SqliteStore)
        assert (tmp_path / "a=b.sqlite3").is_file()

    @pytest.mark.parametrize("text", ["x.sqlite3", "/tmp/y.db", "./z"])
    def test_check_bare_path_accepts(self, text: str) -> None:
        check_bare_path(text)


class TestPostgresHelpers:
    """Redaction of PostgreSQL URLs, and which hosts count as this machine."""

    def test_redact_masks_user_info_and_query_passwords(self) -> None:
        url = f"postgresql://u:{SECRET}@db/x?sslmode=verify-full&password={SECRET}"
        assert redact_url(url) == "postgresql://u:***@db/x?sslmode=verify-full&password=***"

    @pytest.mark.parametrize(
        ("host", "local"),
        [
            ("", True),
            ("/var/run/postgresql", True),
            ("localhost", True),
            ("127.0.0.1", True),
            ("127.8.9.10", True),
            ("::1", True),
            ("[::1]", True),
            ("db.example", False),
            ("10.0.0.5", False),
        ],
    )
    def test_is_local(self, host: str, local: bool) -> None:
        assert _is_local(host) is local

    def test_an_unverified_remote_server_is_warned_about(self) -> None:
        # hostaddr: libpq connects to 127.0.0.1:1 (refused at once) without a name lookup, while
        # the host it would verify is another machine's
        url = "postgresql://u@db.example:1/x?hostaddr=127.0.0.1&sslmode=require&connect_timeout=5"
        with capture_logs() as logged, pytest.raises(StoreError):
            open_store(url)
        warnings = [e for e in logged if e["log_level"] == "warning"]
        assert warnings, logged
        assert "sslmode=verify-full" in warnings[0]["event"]
        assert warnings[0]["detail"] == "sslmode=require"

    def test_a_verified_or_local_server_is_not(self) -> None:
        for url in (
            "postgresql://u@db.example:1/x?hostaddr=127.0.0.1&sslmode=verify-full"
            "&sslrootcert=/nonexistent/ca.pem&connect_timeout=5",
            "postgresql://u@127.0.0.1:1/x?connect_timeout=5",
        ):
            with capture_logs() as logged, pytest.raises(StoreError):
                open_store(url)
            assert not [e for e in logged if e["log_level"] == "warning"], url
