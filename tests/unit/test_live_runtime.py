"""The worker's runtime without Kafka: offsets, checkpoints, moves and wall-clock sweeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.core.config import load_norms
from streams.live.runtime import LiveRuntime, OffsetGap
from streams.store import open_store
from streams.store.base import OutcomeStore
from tests.factories import event, opened, ts

PARTITION = {"bergen": 0, "castricum": 1, "heiloo": 1, "uitgeest": 2}


def runtime(store: OutcomeStore, now: float = 4_102_444_800.0, **kw: object) -> LiveRuntime:
    return LiveRuntime(
        load_norms(),
        store,
        group="g",
        topic="t",
        partition_of=PARTITION.__getitem__,
        lateness=0,
        clock=lambda: now,
        **kw,  # type: ignore[arg-type]
    )


def store_at(tmp_path: Path) -> OutcomeStore:
    return open_store(f"sqlite:///{tmp_path / 's.sqlite3'}")


class TestOffsets:
    """Messages below the restored offset are skipped; the rest are applied once."""

    def test_redelivered_messages_are_skipped(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([1])
            rt.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            rt.handle(1, 1, event("item.responded", "f1", "2024-05-14 10:00"))
            rt.checkpoint([1])
            again = runtime(store)
            assert again.restore([1]) == {1: 2}
            again.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            again.handle(1, 1, event("item.responded", "f1", "2024-05-14 10:00"))
            assert again.owned[1].skipped == 2
            shard = again.monitor.shards["castricum"]
            assert shard.totals.events_total["item.opened"] == 1
            assert shard.totals.outcomes("melding-reactie", "met") == 1

    def test_a_partition_without_checkpoint_starts_at_zero(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            assert runtime(store).restore([0, 2]) == {0: 0, 2: 0}


class TestMoves:
    """Releasing a partition checkpoints it; the next owner continues the counters."""

    def test_release_then_restore_elsewhere(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            a = runtime(store)
            a.restore([1])
            a.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            a.handle(1, 1, b"not json")
            a.release([1])
            assert a.owned_shards() == []
            b = runtime(store)
            b.restore([1])
            assert [s.municipality for s in b.owned_shards()] == ["castricum", "heiloo"]
            assert b.monitor.shards["castricum"].totals.events_total["item.opened"] == 1
            assert b.rejected_totals() == {"not_json": 1}
            assert len(store.items_opened(ts("2024-05-01 00:00"), ts("2024-06-01 00:00"))) == 1


class TestWallClock:
    """Only caught-up partitions move on the wall clock, and only in wall mode."""

    def test_tick_breaches_caught_up_partitions(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store, now=ts("2024-05-20 09:00"))
            rt.restore([0, 1])
            rt.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            rt.handle(0, 0, opened("b1", "2024-05-13 10:00").replace(b"castricum", b"bergen"))
            rt.tick([1])
            assert (
                rt.monitor.shards["castricum"].totals.outcomes("melding-reactie", "breached") == 1
            )
            assert rt.monitor.shards["bergen"].totals.outcomes("melding-reactie", "breached") == 0

    def test_event_clock_ignores_the_wall(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store, now=ts("2024-05-20 09:00"), wall_clock=False)
            rt.restore([1])
            rt.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            rt.tick([1])
            assert (
                rt.monitor.shards["castricum"].totals.outcomes("melding-reactie", "breached") == 0
            )


class TestGaps:
    """A message beyond the next offset is not applied: the consumer must seek back first."""

    def test_gap_raises_and_changes_nothing(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([1])
            rt.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            with pytest.raises(OffsetGap) as info:
                rt.handle(1, 5, opened("f2", "2024-05-13 11:00"))
            assert (info.value.partition, info.value.expected) == (1, 1)
            assert rt.monitor.shards["castricum"].totals.events_total["item.opened"] == 1
            assert rt.next_offset[1] == 1


class TestStoreRetention:
    """The worker applies the store's retention once a day, when it checkpoints."""

    def test_purged_once_a_day(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store, now=ts("2024-08-01 12:00"), store_retention=30 * 86_400.0)
            rt.restore([1])
            rt.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            rt.handle(1, 1, event("item.closed", "f1", "2024-05-14 10:00"))
            rt.handle(1, 2, opened("f2", "2024-07-30 10:00"))
            assert rt.checkpoint([1]) == 1  # rows written, then the day's purge
            assert [r.subject for r in store.items_opened(0, 2e9)] == ["f2"]
            rt.handle(1, 3, opened("f3", "2024-05-13 10:00"))
            rt.handle(1, 4, event("item.closed", "f3", "2024-05-14 10:00"))
            rt.checkpoint([1])  # the same day: no second purge
            assert sorted(r.subject for r in store.items_opened(0, 2e9)) == ["f2", "f3"]
