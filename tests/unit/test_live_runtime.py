"""The worker's runtime without Kafka: offsets, checkpoints, moves and wall-clock sweeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from events.decode import Reason
from streams.core.config import load_norms
from streams.live import runtime as runtime_module
from streams.live.runtime import FORWARDED_FROM, DeadLetter, Forward, LiveRuntime, OffsetGap
from streams.store import open_store
from streams.store.base import OutcomeStore, StaleCheckpoint
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


@dataclass(frozen=True)
class Message:
    """A Kafka record as the runtime reads it."""

    offset: int
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


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


class TestOwnership:
    """Events of another municipality's partition are forwarded, never applied where they came."""

    def test_a_mis_keyed_event_is_forwarded_to_its_own_partition(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([0, 1])
            bergen = opened("b1", "2024-05-13 10:00").replace(b"castricum", b"bergen")
            result = rt.handle_batch(1, [Message(0, bergen)])
            (forward,) = result.outgoing
            assert isinstance(forward, Forward)
            assert (forward.municipality, forward.partition, forward.source_partition) == (
                "bergen",
                0,
                1,
            )
            assert forward.raw == bergen
            assert rt.owned[1].forwarded == 1
            assert rt.rejected_totals() == {}  # not a rejection: it is applied on its own
            assert rt.monitor.shards["bergen"].totals.events_total["item.opened"] == 0
            assert rt.next_offset[1] == 1
            rt.handle_batch(0, [Message(0, forward.raw)])  # where it belongs
            assert rt.monitor.shards["bergen"].totals.events_total["item.opened"] == 1

    def test_a_forwarded_event_on_a_wrong_partition_again_is_a_dead_letter(
        self, tmp_path: Path
    ) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([1])
            bergen = opened("b1", "2024-05-13 10:00").replace(b"castricum", b"bergen")
            again = Message(0, bergen, [(FORWARDED_FROM, b"2:17")])
            (dead,) = rt.handle_batch(1, [again]).outgoing
            assert isinstance(dead, DeadLetter)
            assert dead.rejection.reason is Reason.WRONG_PARTITION
            assert dead.key == b"1:0"
            assert rt.rejected_totals() == {"wrong_partition": 1}

    def test_a_partition_without_municipalities_forwards_every_event(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([7])
            (forward,) = rt.handle_batch(7, [Message(0, opened("f1", "2024-05-13 10:00"))]).outgoing
            assert isinstance(forward, Forward)
            assert forward.partition == 1


class TestDeadLetterKeys:
    """A bad event's dead letter has the same key however often it is sent."""

    def test_own_rejections_are_keyed_by_partition_and_offset(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([1])
            rt.skip_to(1, 3)
            (dead,) = rt.handle_batch(1, [Message(3, b"{not json")]).outgoing
            assert isinstance(dead, DeadLetter)
            assert (dead.key, dead.partition, dead.offset) == (b"1:3", 1, 3)

    def test_held_events_that_expire_are_keyed_by_their_bytes(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            orphan = event("item.responded", "never", "2024-05-13 10:00")
            keys = []
            for _ in range(2):  # the same events read again (a restart from an older checkpoint)
                rt = runtime(store)
                rt.restore([1])
                rt.handle_batch(1, [Message(0, orphan)])
                out = rt.handle_batch(1, [Message(1, opened("f9", "2024-05-20 10:00"))]).outgoing
                (dead,) = out
                assert isinstance(dead, DeadLetter)
                assert dead.rejection.reason is Reason.UNKNOWN_SUBJECT
                keys.append(dead.key)
                rt.drop([1])
            assert keys[0] == keys[1]
            assert keys[0].startswith(b"1:unknown_subject:")


class TestFencing:
    """A checkpoint is written only by the partition's latest claimant."""

    def test_a_stale_owner_cannot_overwrite_the_new_one(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            old = runtime(store, owner="old")
            old.restore([1])
            old.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            old.handle(1, 1, opened("f2", "2024-05-13 11:00"))
            new = runtime(store, owner="new")
            new.restore([1])  # claims: the old owner's epoch is stale from now on
            with pytest.raises(StaleCheckpoint) as refused:
                old.checkpoint([1])  # further on (offset 2) than anything stored: still refused
            assert refused.value.partition == 1
            assert "claimed since, by new" in str(refused.value)
            assert store.load_checkpoint("g", "t", 1) is None
            assert store.items_opened(0, 2e9) == []  # nothing of the refused save
            new.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            assert new.checkpoint([1]) == 1

    def test_release_drops_the_partition_even_when_refused(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            old = runtime(store)
            old.restore([1])
            runtime(store).restore([1])
            with pytest.raises(StaleCheckpoint):
                old.release([1])
            assert old.owned == {}
            assert old.owned_shards() == []

    def test_a_rebuild_fences_every_owner(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([1])
            store.delete_checkpoints("g", "t")
            with pytest.raises(StaleCheckpoint, match="deleted"):
                rt.checkpoint([1], force=True)


class TestCaptureAndSave:
    """A checkpoint is taken (capture) and written (save) in two steps; rows go with it."""

    def test_capture_writes_nothing_and_save_writes_it_all(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([1])
            rt.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            capture = rt.capture([1])
            assert capture.offsets == {1: 1}
            assert len(capture.batch().items) == 1
            assert store.load_checkpoint("g", "t", 1) is None
            rt.handle(1, 1, opened("f2", "2024-05-13 11:00"))  # after the capture
            rt.save(capture)
            rt.saved(capture)
            assert store.load_checkpoint("g", "t", 1) is not None
            assert [r.subject for r in store.items_opened(0, 2e9)] == ["f1"]
            assert rt.owned[1].saved_offset == 1
            assert rt.capture([1]).offsets == {1: 2}  # f2 is in the next one

    def test_rows_are_taken_as_events_go_newest_per_key(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(runtime_module, "ROWS_EVERY", 1)
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([1])
            rt.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            assert not rt.monitor.shards["castricum"].changes  # taken into the pending rows
            rt.handle(1, 1, event("item.responded", "f1", "2024-05-14 10:00"))
            (row,) = rt.capture([1]).batch().items
            assert row.responded_at is not None

    def test_nothing_changed_nothing_captured(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([1])
            assert not rt.capture([1])
            assert rt.capture([1], force=True).offsets == {1: 0}

    def test_counts_travel_with_the_checkpoint(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([1])
            bergen = opened("b1", "2024-05-13 10:00").replace(b"castricum", b"bergen")
            rt.handle_batch(1, [Message(0, bergen), Message(1, b"[]")])
            rt.owned[1].lost = 5
            rt.release([1])
            again = runtime(store)
            again.restore([1])
            stats = again.owned[1]
            assert (stats.forwarded, stats.lost, dict(stats.rejected)) == (
                1,
                5,
                {"not_object": 1},
            )


class TestGapsSkipped:
    """The driver may accept a gap (offsets deleted by retention): the state moves on."""

    def test_skip_to_moves_the_next_offset(self, tmp_path: Path) -> None:
        with store_at(tmp_path) as store:
            rt = runtime(store)
            rt.restore([1])
            result = rt.handle_batch(1, [Message(40, opened("f1", "2024-05-13 10:00"))])
            assert result.gap is not None
            assert result.applied == 0
            assert rt.skip_to(1, 40) == 40
            assert rt.handle_batch(1, [Message(40, opened("f1", "2024-05-13 10:00"))]).applied == 1
            assert rt.next_offset[1] == 41
