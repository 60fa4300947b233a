"""Fixtures that every test directory shares.

`make test` runs the suite in parallel with pytest-xdist, one test file per worker at a time
(`--dist loadfile`, set in pyproject.toml): a module-scoped fixture (a Prometheus scraping a
worker, a promtool, a month replayed once) is then set up once, as in a serial run, while a
session-scoped one exists once per worker process (each worker starts its own broker and
servers: tests/integration/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import simulate_month


@pytest.fixture(scope="session")
def simulated_month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated March 2024 of all four municipalities (`contactmon simulate`), made once."""
    return simulate_month(tmp_path_factory.mktemp("simulated") / "march.jsonl")
