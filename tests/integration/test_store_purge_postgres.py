"""The store's retention runs the same statements on PostgreSQL as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from streams.store import open_store
from tests.unit.test_purge import AMS, fill, subjects


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def fresh_pg(postgres: str) -> Iterator[str]:
    """A fresh, empty database on the session's server (purging must not touch others' rows)."""
    name = f"purge_{uuid4().hex[:12]}"
    admin = with_database(postgres, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(postgres, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.integration
class TestPurgeOnPostgres:
    """Finished rows before the cutoff go, open and newer ones stay, in one transaction."""

    def test_purge(self, fresh_pg: str) -> None:
        with open_store(fresh_pg) as store:
            fill(store)
            counts = store.purge(datetime(2024, 1, 1, tzinfo=AMS).timestamp())
            assert counts == {"norm rows": 2, "items": 1, "calls": 1, "feedback": 1}
            assert subjects(store)["items"] == ["new-closed", "old-open"]
            assert subjects(store)["calls"] == ["old-waiting"]
