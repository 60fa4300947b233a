"""Duplicates at any distance change nothing: a producer that re-sends events long after they
were first applied (the items closed and evicted from memory since) adds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.cli import main


@pytest.fixture(scope="module")
def castricum(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dup") / "castricum.jsonl"
    assert main(["simulate", "--scenario", "castricum_2023h1", "--out", str(path)]) == 0
    return path


def metrics_of(tmp: Path, name: str, *files: Path, store: bool) -> bytes:
    out = tmp / f"{name}.prom"
    argv = ["replay", *map(str, files), "--until", "2024-09-01T00:00:00+02:00"]
    argv += ["--store", f"sqlite:///{tmp / name}.sqlite3"] if store else ["--no-store"]
    assert main([*argv, "--metrics-file", str(out)]) == 0
    return out.read_bytes()


def without_duplicates_line(metrics: bytes) -> list[bytes]:
    return [m for m in metrics.splitlines() if not m.startswith(b"contact_events_duplicate_total")]


class TestDuplicatesAtAnyDistance:
    """The first 1,000 events sent again at the end of the half year change no figure."""

    @pytest.mark.parametrize("store", [False, True], ids=["no-store", "store"])
    def test_resent_head_changes_nothing(
        self, castricum: Path, tmp_path: Path, store: bool
    ) -> None:
        head = tmp_path / "head.jsonl"
        head.write_bytes(b"".join(castricum.read_bytes().splitlines(keepends=True)[:1000]))
        once = metrics_of(tmp_path, "once", castricum, store=store)
        twice = metrics_of(tmp_path, "twice", castricum, head, store=store)
        assert without_duplicates_line(twice) == without_duplicates_line(once)
        duplicates = [m for m in twice.splitlines() if m.startswith(b"contact_events_duplicate")]
        assert sum(float(m.rsplit(b" ", 1)[1]) for m in duplicates) == 1000
