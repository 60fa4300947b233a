"""The SQLite store's file: private to its owner, readable without write access, and a full disk
named as such."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.core.rows import OutcomeBatch
from streams.store import StoreError, open_store
from streams.store.sqlite import SqliteStore
from tests.factories import item_record


def items(n: int) -> OutcomeBatch:
    return OutcomeBatch(
        items=[item_record(f"s{i}", "2024-04-25T10:00:00+02:00", "castricum") for i in range(n)]
    )


class TestFilesAndFailures:
    """The database file is private, a reader needs no write access, a full disk says so."""

    def test_a_new_store_file_is_owner_only_whatever_the_umask(self, tmp_path: Path) -> None:
        old = os.umask(0)
        try:
            with SqliteStore(tmp_path / "s.sqlite3") as store:
                store.write(items(3))
        finally:
            os.umask(old)
        for name in ("s.sqlite3", "s.sqlite3-wal", "s.sqlite3-shm"):
            found = tmp_path / name
            if found.exists():
                assert stat.S_IMODE(found.stat().st_mode) == 0o600, name

    def test_the_export_reads_a_store_on_a_read_only_file_system(self, tmpfs: Path) -> None:
        path = tmpfs / "s.sqlite3"
        with SqliteStore(path) as store:
            store.write(items(3))
        remount(tmpfs, "ro")
        with open_store(str(path), create=False) as reader:
            assert reader.municipalities() == ["castricum"]

    def test_a_full_disk_is_named_and_nothing_half_written(self, tmpfs: Path) -> None:
        with SqliteStore(tmpfs / "s.sqlite3") as store:
            store.write(items(3))
            with pytest.raises(StoreError, match="the disk is full"):
                store.write(items(200_000))
            assert len(store.items_opened(0, 2e9)) == 3


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real, small file system of its own (1 MiB), so it can fill up or turn read-only."""
    where = tmp_path / "fs"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def remount(where: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True)
