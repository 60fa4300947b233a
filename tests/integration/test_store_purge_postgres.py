"""The store's retention runs the same statements on PostgreSQL as on SQLite."""

from __future__ import annotations

from datetime import datetime

import pytest

from streams.store import open_store
from tests.integration.test_store_postgres import pg_url  # noqa: F401  (the fixture)
from tests.unit.test_purge import AMS, fill, subjects


@pytest.mark.integration
class TestPurgeOnPostgres:
    """Finished rows before the cutoff go, open and newer ones stay, in one transaction."""

    def test_purge(self, pg_url: str) -> None:  # noqa: F811  (the imported fixture)
        with open_store(pg_url) as store:
            fill(store)
            counts = store.purge(datetime(2024, 1, 1, tzinfo=AMS).timestamp())
            assert counts == {"norm rows": 2, "items": 1, "calls": 1, "feedback": 1}
            assert subjects(store)["items"] == ["new-closed", "old-open"]
            assert subjects(store)["calls"] == ["old-waiting"]
