"""The importers' cursor (`load_cursor`/`save_cursor`) on a real PostgreSQL and on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.store import open_store


@pytest.mark.integration
def test_cursor_round_trip_on_postgres(postgres: str) -> None:
    with open_store(postgres) as store:
        assert store.load_cursor("signalen:test-pg") is None
        store.save_cursor("signalen:test-pg", '{"status_seen": 1}')
        store.save_cursor("signalen:test-pg", '{"status_seen": 2}')
    with open_store(postgres) as again:  # a new connection: the table exists, the value is kept
        assert again.load_cursor("signalen:test-pg") == '{"status_seen": 2}'
        assert again.load_cursor("signalen:other") is None


def test_cursor_round_trip_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    with open_store(url) as store:
        store.save_cursor("signalen:heiloo", "a")
        store.save_cursor("signalen:heiloo", "b")
    with open_store(url) as again:
        assert again.load_cursor("signalen:heiloo") == "b"
