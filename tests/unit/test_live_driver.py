"""The live driver against fake Kafka clients: the checkpoint protocol step by step, fencing,
store errors, offset gaps, forwards, ownership and a bounded stop.

The clients are fakes with the part of aiokafka's interface the driver uses (`FakeConsumer`,
`FakeProducer`); the store is a real SQLite store in the driver's store thread, the runtime the
real one. The integration tests (tests/integration/test_worker*.py) run the same driver on a real
broker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaConnectionError

from streams.core.config import load_norms
from streams.live import driver as driver_module
from streams.live.driver import Clients, LiveDriver, Membership
from streams.live.runtime import FORWARDED_FROM, LiveRuntime
from streams.live.settings import WorkerSettings
from streams.live.store_thread import StoreThread
from streams.store import open_store
from streams.store.base import OutcomeStore, StoreError
from tests.factories import event, opened

PARTITION = {"bergen": 0, "castricum": 1, "heiloo": 1, "uitgeest": 2}
TOPIC = "t"
TP1 = TopicPartition(TOPIC, 1)


@dataclass(frozen=True)
class Record:
    offset: int
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class FakeConsumer:
    """The partitions' logs in memory; positions, pauses, seeks and commits as aiokafka has them."""

    journal: list[tuple[Any, ...]]
    logs: dict[int, list[Record]] = field(default_factory=dict)
    earliest: dict[int, int] = field(default_factory=dict)
    assigned: set[TopicPartition] = field(default_factory=set)
    paused: set[TopicPartition] = field(default_factory=set)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    commits: list[dict[int, int]] = field(default_factory=list)
    listener: Any = None
    commit_error: BaseException | None = None
    stop_hangs: bool = False

    def append(self, partition: int, *values: bytes, offset: int | None = None) -> None:
        log = self.logs.setdefault(partition, [])
        for value in values:
            at = offset if offset is not None else (log[-1].offset + 1 if log else 0)
            log.append(Record(at, value))
            offset = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        if self.stop_hangs:
            await asyncio.sleep(3600)

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int, max_records: int | None
    ) -> dict[TopicPartition, list[Record]]:
        out: dict[TopicPartition, list[Record]] = {}
        for tp in sorted(self.assigned - self.paused):
            position = self.positions.get(tp, 0)
            records = [r for r in self.logs.get(tp.partition, []) if r.offset >= position]
            if records:
                out[tp] = records[:max_records]
                self.positions[tp] = out[tp][-1].offset + 1
        if not out:
            await asyncio.sleep(0.005)
        return out

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.journal.append(("seek", tp.partition, offset))
        self.positions[tp] = offset

    def pause(self, *tps: TopicPartition) -> None:
        self.paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused.difference_update(tps)

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def highwater(self, tp: TopicPartition) -> int | None:
        log = self.logs.get(tp.partition, [])
        return log[-1].offset + 1 if log else 0

    async def beginning_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.earliest.get(tp.partition, 0) for tp in tps}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.commit_error is not None:
            raise self.commit_error
        committed = {tp.partition: offset for tp, offset in offsets.items()}
        self.commits.append(committed)
        self.journal.append(("commit", committed))

    async def topics(self) -> set[str]:
        return {TOPIC}

    async def assign(self, *partitions: int) -> None:
        """What the group coordinator does on a rebalance that gives these partitions."""
        tps = {TopicPartition(TOPIC, p) for p in partitions}
        self.assigned = tps
        await self.listener.on_partitions_assigned(tps)

    async def revoke(self) -> None:
        revoked, self.assigned = self.assigned, set()
        await self.listener.on_partitions_revoked(revoked)


@dataclass
class FakeProducer:
    """Sends succeed at once; acknowledgements come when the test says (or at once)."""

    journal: list[tuple[Any, ...]]
    auto_ack: bool = True
    sent: list[tuple[str, bytes, bytes | None, int | None, list[tuple[str, bytes]]]] = field(
        default_factory=list
    )
    futures: list[asyncio.Future[Any]] = field(default_factory=list)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None,
        partition: int | None,
        headers: list[tuple[str, bytes]] | None,
    ) -> asyncio.Future[Any]:
        self.sent.append((topic, value, key, partition, list(headers or [])))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        if self.auto_ack:
            self.ack_all()
        return future

    def ack_all(self) -> None:
        for future in self.futures:
            if not future.done():
                future.set_result(None)
                self.journal.append(("ack",))


class World:
    """A runtime on a SQLite store in the store thread, a driver with fake clients."""

    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        self.journal: list[tuple[Any, ...]] = []
        self.thread = StoreThread()
        self.store: OutcomeStore = self.thread.call(open_store, f"sqlite:///{tmp_path / 's.db'}")
        self.runtime = LiveRuntime(
            load_norms(),
            self.store,
            group="g",
            topic=TOPIC,
            partition_of=PARTITION.__getitem__,
            lateness=0,
            wall_clock=False,
            owner="test",
        )
        self.consumer = FakeConsumer(self.journal)
        self.producer = FakeProducer(self.journal)
        self.settings = WorkerSettings(
            events_topic=TOPIC,
            dlq_topic="t.dlq",
            group_id="g",
            session_timeout=6,
            checkpoint_interval=3600,
            **settings,
        )
        self.driver = LiveDriver(
            self.runtime,
            self.settings,
            self.thread,
            clients=Clients(lambda: self.consumer, lambda: self.producer),
            probe_interval=3600,
        )
        save = self.store.save_checkpoints

        def journaled_save(*args: Any) -> None:
            save(*args)
            self.journal.append(("save",))

        self.store.save_checkpoints = journaled_save  # type: ignore[method-assign]

    async def start(self, *partitions: int) -> None:
        await self.driver.start()
        await until(self.driver.ready.is_set)
        if partitions:
            await self.consumer.assign(*partitions)
            await until(lambda: all(p in self.runtime.owned for p in partitions))
            await until(lambda: not self.consumer.paused)

    def checkpoint(self, partition: int = 1) -> Any:
        return self.thread.call(self.store.load_checkpoint, "g", TOPIC, partition)

    def close(self) -> None:
        self.thread.call(self.store.close)
        self.thread.shutdown()


async def until(check: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        await asyncio.sleep(0.01)


def run(tmp_path: Path, scenario: Callable[[World], Coroutine[Any, Any, None]]) -> None:
    async def main() -> None:
        world = World(tmp_path)
        try:
            await scenario(world)
        finally:
            await world.driver.stop()
            world.close()

    asyncio.run(main())


class TestCheckpointProtocol:
    """Dead letters acknowledged, then the fenced store write, then the offset commit."""

    def test_the_order_of_the_steps(self, tmp_path: Path) -> None:
        async def scenario(w: World) -> None:
            w.producer.auto_ack = False
            await w.start(1)
            w.consumer.append(1, opened("f1", "2024-05-13 10:00"), b"{not json")
            await until(lambda: w.runtime.next_offset[1] == 2)
            assert [s[0] for s in w.producer.sent] == ["t.dlq"]
            w.journal.clear()
            checkpoint = asyncio.ensure_future(w.driver.checkpoint())
            await asyncio.sleep(0.3)
            assert not checkpoint.done()  # the dead letter is not acknowledged yet
            assert w.checkpoint() is None
            assert w.consumer.commits == []
            w.producer.ack_all()
            assert await checkpoint
            assert [entry[0] for entry in w.journal] == ["ack", "save", "commit"]
            assert w.journal[-1] == ("commit", {1: 2})
            assert w.checkpoint().offset == 2

        run(tmp_path, scenario)

    def test_a_dead_letter_that_fails_is_sent_again_before_the_checkpoint(
        self, tmp_path: Path
    ) -> None:
        async def scenario(w: World) -> None:
            w.producer.auto_ack = False
            await w.start(1)
            w.consumer.append(1, b"[1]")
            await until(lambda: len(w.producer.futures) == 1)
            w.producer.futures[0].set_exception(KafkaConnectionError("broker gone"))
            await until(lambda: len(w.producer.sent) == 2, timeout=5)  # after the backoff
            assert w.producer.sent[0][1:3] == w.producer.sent[1][1:3]  # same value, same key
            w.producer.ack_all()
            assert await w.driver.checkpoint()
            assert w.driver.broker.errors_total >= 1

        run(tmp_path, scenario)

    def test_a_stale_owner_is_refused_and_drops_the_partition(self, tmp_path: Path) -> None:
        async def scenario(w: World) -> None:
            await w.start(1)
            w.consumer.append(1, opened("f1", "2024-05-13 10:00"))
            await until(lambda: w.runtime.next_offset[1] == 1)
            w.thread.call(w.store.claim_partition, "g", TOPIC, 1, "another worker")
            assert not await w.driver.checkpoint()
            assert w.runtime.owned == {}
            assert w.driver.health.store_errors["stale"] == 1
            assert TP1 in w.consumer.paused  # not read until it is claimed again
            assert w.checkpoint() is None
            assert w.consumer.commits == []

        run(tmp_path, scenario)

    def test_a_transient_store_error_is_retried(self, tmp_path: Path) -> None:
        async def scenario(w: World) -> None:
            await w.start(1)
            w.consumer.append(1, opened("f1", "2024-05-13 10:00"))
            await until(lambda: w.runtime.next_offset[1] == 1)
            save = w.store.save_checkpoints
            failures = [StoreError("cannot save checkpoints to the store: disk I/O error")]

            def flaky(*args: Any) -> None:
                if failures:
                    raise failures.pop()
                save(*args)

            w.store.save_checkpoints = flaky  # type: ignore[method-assign]
            assert await w.driver.checkpoint()
            assert w.driver.health.store_errors["transient"] == 1
            assert not w.driver.store_incident.down  # back again
            assert w.checkpoint().offset == 1

        run(tmp_path, scenario)

    def test_a_capture_that_could_not_be_written_is_written_first_next_time(
        self, tmp_path: Path
    ) -> None:
        async def scenario(w: World) -> None:
            w.producer.auto_ack = False
            await w.start(1)
            w.consumer.append(1, b"[1]")
            await until(lambda: w.runtime.next_offset[1] == 1)
            assert not await w.driver.checkpoint(deadline=0.2)  # not acknowledged in time
            w.consumer.append(1, opened("f1", "2024-05-13 10:00"))
            await until(lambda: w.runtime.next_offset[1] == 2)
            w.producer.ack_all()
            assert await w.driver.checkpoint()
            assert w.checkpoint().offset == 2
            assert [e for e in w.journal if e[0] == "save"] == [("save",), ("save",)]

        run(tmp_path, scenario)

    def test_a_capture_cut_short_by_a_stop_is_kept(self, tmp_path: Path) -> None:
        async def scenario(w: World) -> None:
            await w.start(1)
            w.consumer.append(1, opened("f1", "2024-05-13 10:00"))
            await until(lambda: w.runtime.next_offset[1] == 1)
            capture = w.runtime.capture

            def slow(*args: Any, **kwargs: Any) -> Any:
                time.sleep(0.3)  # the thread is still reading the state when the stop comes
                return capture(*args, **kwargs)

            w.runtime.capture = slow  # type: ignore[method-assign]
            task = asyncio.ensure_future(w.driver.checkpoint(force=True))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert w.driver._pending is not None  # its rows are out of the shards: kept
            w.runtime.capture = capture  # type: ignore[method-assign]
            assert await w.driver.checkpoint()
            rows = w.thread.call(w.store.items_opened, 0, 2e9)
            assert [r.subject for r in rows] == ["f1"]

        run(tmp_path, scenario)


class TestPositioning:
    """Assignment restores and seeks before fetching; revocation checkpoints and drops."""

    def test_assignment_resumes_exactly_at_the_checkpoint(self, tmp_path: Path) -> None:
        async def scenario(w: World) -> None:
            first = [opened(f"f{i}", "2024-05-13 10:00") for i in range(3)]
            w.consumer.append(1, *first)
            await w.start(1)
            await until(lambda: w.runtime.next_offset[1] == 3)
            await w.consumer.revoke()
            assert w.runtime.owned == {}
            assert w.checkpoint().offset == 3
            w.consumer.positions.clear()  # whatever Kafka had committed: not used
            w.journal.clear()
            await w.consumer.assign(1)
            await until(lambda: 1 in w.runtime.owned and not w.consumer.paused)
            assert ("seek", 1, 3) in w.journal
            shard = w.runtime.monitor.shards["castricum"]
            assert shard.totals.events_total["item.opened"] == 3  # from the checkpoint
            assert w.runtime.owned[1].skipped == 0

        run(tmp_path, scenario)

    def test_offsets_deleted_by_retention_are_skipped_once_and_counted(
        self, tmp_path: Path
    ) -> None:
        async def scenario(w: World) -> None:
            w.consumer.append(1, opened("f1", "2024-05-13 10:00"), offset=100)
            w.consumer.earliest[1] = 100
            await w.start(1)
            await until(lambda: w.runtime.next_offset[1] == 101)
            assert w.runtime.owned[1].lost == 100
            seeks = [e for e in w.journal if e[0] == "seek"]
            assert seeks == [("seek", 1, 0)]  # the restore's, no seeking back

        run(tmp_path, scenario)

    def test_offsets_that_are_not_records_are_sought_back_to_once(self, tmp_path: Path) -> None:
        async def scenario(w: World) -> None:
            w.consumer.append(1, opened("f1", "2024-05-13 10:00"), opened("f2", "2024-05-13 11:00"))
            w.consumer.append(1, opened("f3", "2024-05-13 12:00"), offset=3)  # 2: a marker
            await w.start(1)
            await until(lambda: w.runtime.next_offset[1] == 4)
            seeks = [e for e in w.journal if e[0] == "seek"]
            assert seeks == [("seek", 1, 0), ("seek", 1, 2)]
            assert w.runtime.owned[1].lost == 0
            assert w.runtime.monitor.shards["castricum"].totals.events_total["item.opened"] == 3

        run(tmp_path, scenario)


class TestForwarding:
    """An event on another municipality's partition is produced again on its own."""

    def test_forwarded_with_its_origin(self, tmp_path: Path) -> None:
        async def scenario(w: World) -> None:
            await w.start(1)
            bergen = opened("b1", "2024-05-13 10:00").replace(b"castricum", b"bergen")
            w.consumer.append(1, bergen)
            await until(lambda: w.runtime.next_offset[1] == 1)
            ((topic, value, key, partition, headers),) = w.producer.sent
            assert (topic, value, key, partition) == (TOPIC, bergen, b"bergen", 0)
            assert headers == [(FORWARDED_FROM, b"1:0")]
            assert w.runtime.rejected_totals() == {}

        run(tmp_path, scenario)


class TestDeadLetters:
    """Reason, field, detail, source and exception in the headers; the original bytes."""

    def test_headers(self, tmp_path: Path) -> None:
        async def scenario(w: World) -> None:
            await w.start(1)
            w.consumer.append(1, opened("f1", "2024-05-13 10:00"), b"{not json")
            await until(lambda: w.runtime.next_offset[1] == 2)
            ((topic, value, key, partition, headers),) = w.producer.sent
            assert (topic, value, key, partition) == ("t.dlq", b"{not json", b"1:1", None)
            found = dict(headers)
            assert found["reason"] == b"not_json"
            assert (found["source.topic"], found["source.partition"]) == (b"t", b"1")
            assert found["source.offset"] == b"1"

        run(tmp_path, scenario)


class TestOwnershipWindow:
    """Exported only while the group membership is confirmed (`Membership`)."""

    def test_lapses_after_the_limit_and_latches(self) -> None:
        now = [0.0]
        m = Membership(10.0, clock=lambda: now[0])
        assert not m.valid()  # never confirmed
        m.confirm()
        now[0] = 9.0
        assert m.valid()
        now[0] = 10.5  # paused (SIGSTOP) or cut off past the session timeout
        assert not m.valid()
        now[0] = 10.6
        assert not m.valid()  # stays lapsed until confirmed again
        m.confirm()
        assert m.valid()
        m.lose()
        assert not m.valid()

    def test_a_failed_commit_stops_the_export(self, tmp_path: Path) -> None:
        async def scenario(w: World) -> None:
            await w.start(1)
            assert w.driver.health.exporting()
            w.consumer.commit_error = CommitFailedError("the group rebalanced")
            await w.driver._commit({1: 0}, probe=True)
            assert not w.driver.health.exporting()
            assert not await w.driver.checkpoint()  # nor checkpoints it (a revocation does)
            w.consumer.commit_error = None
            await w.driver._commit({1: 0}, probe=True)
            assert w.driver.health.exporting()

        run(tmp_path, scenario)


class TestStop:
    """A stop is bounded, broker or not, and writes no checkpoint it cannot protect."""

    def test_with_the_broker_away(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(driver_module, "SHUTDOWN_CHECKPOINT_S", 0.3)
        monkeypatch.setattr(driver_module, "CLIENT_CLOSE_S", 0.2)

        async def scenario(w: World) -> None:
            w.producer.auto_ack = False  # nothing is acknowledged any more
            w.consumer.stop_hangs = True
            await w.start(1)
            w.consumer.append(1, b"[1]")
            await until(lambda: w.runtime.next_offset[1] == 1)
            started = time.monotonic()
            await w.driver.stop()
            assert time.monotonic() - started < 3.0
            assert w.checkpoint() is None  # its dead letter was never acknowledged

        run(tmp_path, scenario)

    def test_a_final_checkpoint_when_it_can(self, tmp_path: Path) -> None:
        async def scenario(w: World) -> None:
            await w.start(1)
            w.consumer.append(1, event("item.opened", "f1", "2024-05-13 10:00", kind="melding"))
            await until(lambda: w.runtime.next_offset[1] == 1)
            await w.driver.stop()
            assert w.checkpoint().offset == 1

        run(tmp_path, scenario)
