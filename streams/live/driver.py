"""The live driver: a Faust service that reads ``contact.events`` and writes checkpoints.

`LiveDriver` is a `mode.Service` started and stopped with the Faust app (`streams.live.app`). It
owns the worker's Kafka clients — an aiokafka consumer in the worker's consumer group, with
auto-commit off, and an aiokafka producer with ``acks=all`` for dead letters and forwards — and
drives `streams.live.runtime.LiveRuntime` with them. Why not Faust's agent and consumer: see
ARCHITECTURE.md ("The live driver").

**Positioning.** The consumer's `ConsumerRebalanceListener` is the place Kafka's clients give for
keeping offsets outside Kafka: on assignment the new partitions are paused, claimed in the store
(a new owner epoch), restored from their checkpoints, and the consumer is moved to each
checkpoint's offset (``seek``) before it is resumed, so nothing is fetched from anywhere else.
On revocation each partition is checkpointed, then dropped. Offsets Kafka no longer has (deleted
by retention) are skipped once, logged and counted (``contact_worker_offsets_lost_total``); a seek
back to an expected offset is never repeated for the same offset.

**The checkpoint protocol**, per checkpoint (`LiveDriver.checkpoint`):

1. capture, while no event is applied: the changed rows, the serialised state and the next offset
   of each partition (in a thread: `asyncio.to_thread`), and a mark in the outbox;
2. wait until the broker acknowledged every dead letter and forward put before the mark
   (``acks=all``), sending again what failed;
3. write the state, the rows and the offset in one store transaction, fenced by the partition's
   owner epoch (in the store thread); a refused write (`StaleCheckpoint`: another worker claimed
   the partition since) drops the partition, other store errors are retried with backoff;
4. commit the offset to Kafka (for tools that read the group's offsets; the worker itself resumes
   from the store).

A crash between any two steps loses nothing: the events after the last written checkpoint are
read again, their dead letters sent again under the same key.

**Ownership.** A worker exports and checkpoints its partitions only while its group membership is
confirmed: a commit (every ``probe_interval``, and after every checkpoint) or an assignment within
the session timeout. Past it — the broker unreachable, or the process paused — another worker may
own the partitions already, so this one stops exporting them until a commit succeeds again or the
group assigns them anew (`Membership`).

**Outages.** The broker's and the store's reachability are `Incident`s: one log line when one is
lost, one when it is back (with the duration and the number of errors); aiokafka's own connection
errors are counted, not logged (`KafkaLogFilter`). A stop (SIGTERM) writes a final checkpoint when
it can within `SHUTDOWN_CHECKPOINT_S` and closes the clients within `CLIENT_CLOSE_S` each, broker or
no broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, IllegalStateError  # type: ignore[import-untyped]
from kafka.errors import KafkaError
from mode import Service

from streams.core.snapshot import SnapshotError
from streams.live.clients import kafka_python_kwargs
from streams.live.health import WorkerHealth
from streams.live.incidents import Incident, KafkaLogFilter
from streams.live.outbox import Backoff, Message, Outbox, message_of
from streams.live.runtime import Capture, Claim, LiveRuntime, OffsetGap, Outgoing, Record
from streams.live.settings import WorkerSettings
from streams.live.store_thread import StoreThread
from streams.live.topics import TopicError
from streams.store.base import StaleCheckpoint, StoreError

log = structlog.get_logger(__name__)

POLL_MS = 200  # the longest a fetch waits for new records
MAX_RECORDS = 1_000  # records per fetch: a batch is applied without yielding the event loop
SHUTDOWN_CHECKPOINT_S = 20.0  # the final checkpoint's time budget on a stop
REVOKE_CHECKPOINT_S = 30.0  # a revoked partition's checkpoint's time budget
CLIENT_CLOSE_S = 5.0  # closing each Kafka client, broker or not
OFFSETS_TIMEOUT_S = 5.0  # a commit, a metadata or earliest-offset request
CAPTURE_DUTY = 10.0  # count-triggered checkpoints wait 10x the last capture's time after it


class Consumer(Protocol):
    """The part of aiokafka's AIOKafkaConsumer the driver uses."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def subscribe(self, topics: Sequence[str], listener: ConsumerRebalanceListener) -> None: ...
    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int, max_records: int | None
    ) -> dict[TopicPartition, list[Record]]: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...
    def pause(self, *partitions: TopicPartition) -> None: ...
    def resume(self, *partitions: TopicPartition) -> None: ...
    def assignment(self) -> set[TopicPartition]: ...
    def highwater(self, partition: TopicPartition) -> int | None: ...
    async def beginning_offsets(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]: ...
    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...
    async def topics(self) -> set[str]: ...


class Producer(Protocol):
    """The part of aiokafka's AIOKafkaProducer the driver uses."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None,
        partition: int | None,
        headers: list[tuple[str, bytes]] | None,
    ) -> asyncio.Future[Any]: ...


@dataclass(frozen=True)
class Clients:
    """How the driver makes its Kafka clients (a new pair for every connection attempt)."""

    consumer: Callable[[], Consumer]
    producer: Callable[[], Producer]


def aiokafka_clients(settings: WorkerSettings) -> Clients:
    """The real clients, configured from the settings (credentials from `streams.live.clients`)."""
    auth = kafka_python_kwargs(settings)  # aiokafka takes the same names
    session_ms = int(settings.session_timeout * 1000)

    def consumer() -> Consumer:
        client: Consumer = AIOKafkaConsumer(
            group_id=settings.group_id,
            client_id=f"{settings.group_id}-worker",
            enable_auto_commit=False,  # offsets come from the checkpoints; commits are ours
            auto_offset_reset="earliest",  # only for offsets retention deleted (then logged)
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=min(3000, session_ms // 3),
            request_timeout_ms=max(40_000, session_ms + 5000),
            max_poll_records=MAX_RECORDS,
            # fewer round trips while catching up: up to 8 MiB per partition and fetch
            max_partition_fetch_bytes=8 * 1024 * 1024,
            **auth,
        )
        return client

    def producer() -> Producer:
        client: Producer = AIOKafkaProducer(
            client_id=f"{settings.group_id}-worker",
            acks="all",  # a dead letter counts as sent when every in-sync replica has it
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=30_000,
            **auth,
        )
        return client

    return Clients(consumer, producer)


def unreachable(exc: TopicError) -> bool:
    """Whether the topics could not be set up because no broker answered (retry later), rather
    than because the broker refused them (a configuration error)."""
    cause = exc.__cause__
    return isinstance(cause, KafkaError) and bool(cause.retriable)


class Membership:
    """Whether this worker may still call its partitions its own; see the module doc.

    Confirmed by an assignment or a commit; it lapses ``limit`` seconds (the session timeout)
    after the last confirmation, or at once when a commit says the group moved on, and stays
    lapsed until the next confirmation.
    """

    def __init__(self, limit: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self.confirmed_at: float | None = None
        self.lost = False

    def confirm(self) -> None:
        self.confirmed_at = self._clock()
        self.lost = False

    def lose(self) -> None:
        self.lost = True

    def valid(self) -> bool:
        if self.lost or self.confirmed_at is None:
            return False
        if self._clock() - self.confirmed_at > self.limit:
            self.lost = True  # latched: only a confirmation ends it
        return not self.lost


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, driver: LiveDriver) -> None:
        self._driver = driver

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._driver.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._driver.on_assigned(assigned)


class LiveDriver(Service):
    """Reads the events topic into the runtime and keeps its checkpoints; see the module doc."""

    def __init__(
        self,
        runtime: LiveRuntime,
        settings: WorkerSettings,
        store: StoreThread,
        *,
        clients: Clients | None = None,
        partitions: Callable[[], None] | None = None,
        max_records: int = MAX_RECORDS,
        probe_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.settings = settings
        self.store = store
        self.topic = settings.events_topic
        self.dlq_topic = settings.dlq_topic
        self._clients = clients or aiokafka_clients(settings)
        self._partitions = partitions  # ensures the topics, when their partitions are unknown
        self.max_records = max_records
        self.probe_interval = probe_interval or min(2.0, settings.session_timeout / 4)
        self.consumer: Consumer | None = None
        self.producer: Producer | None = None
        self.broker = Incident("Kafka broker", log)
        self.store_incident = Incident("outcome store", log)
        self.log_filter = KafkaLogFilter(self.broker)
        self.membership = Membership(settings.session_timeout)
        self.health = WorkerHealth(
            broker_connected=lambda: not self.broker.down and self.consumer is not None,
            exporting=self.membership.valid,
            broker_errors=lambda: self.broker.errors_total,
            pending_messages=lambda: self.outbox.pending,
        )
        self.outbox = Outbox(
            self._send, on_error=self._send_failed, on_delivered=self.broker.success
        )
        self._lock = asyncio.Lock()  # held while events are applied or the state is captured
        self._saving = asyncio.Lock()  # one checkpoint at a time
        self._pending: tuple[Capture, int] | None = None  # captured, not yet written
        self._want_checkpoint = asyncio.Event()
        self._due_allowed_at = 0.0
        self._generation = 0  # rebalances seen (assignments and revocations)
        self._sought: dict[int, int] = {}  # partition -> offset last sought back to
        self._jobs: list[asyncio.Task[None]] = []
        self._outbox_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.ready = asyncio.Event()  # connected and subscribed

    # --- life cycle -----------------------------------------------------------------------------

    async def on_start(self) -> None:
        self.log_filter.install()
        self._spawn(self._run(), "connect")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(lambda done: self._job_done(done, name))
        self._jobs.append(task)
        return task

    def _job_done(self, task: asyncio.Task[None], name: str) -> None:
        self._jobs = [t for t in self._jobs if not t.done()]
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        assert exc is not None
        # a bug or an unusable checkpoint: the worker must not run on without this part
        log.error("live driver task failed", detail=f"{name}: {type(exc).__name__}: {exc}")
        self.add_future(self.crash(exc))

    async def _run(self) -> None:
        self._outbox_task = self._spawn(self.outbox.run(), "outbox")
        await self._connect()
        if self._stopping:
            return
        self._spawn(self._consume(), "consume")
        self._spawn(self._checkpoints(), "checkpoints")
        self._spawn(self._probe(), "probe")
        if self.runtime.wall_clock:
            self._spawn(self._sweep(), "sweep")

    async def _connect(self) -> None:
        """Start the clients and subscribe, retrying (logged once) while the broker is away."""
        backoff = Backoff(1.0, 10.0)
        while not self._stopping:
            consumer = producer = None
            try:
                if self._partitions is not None:
                    await asyncio.to_thread(self._partitions)
                    self._partitions = None
                producer = self._clients.producer()
                await producer.start()
                consumer = self._clients.consumer()
                await consumer.start()
                consumer.subscribe([self.topic], listener=_Listener(self))
            except TopicError as exc:
                if not unreachable(exc):  # a topic that cannot work (too few partitions, ...)
                    log.error("the topics cannot be used", detail=str(exc))
                    raise
                self.broker.failure(str(exc))
                await asyncio.sleep(backoff.next())
                continue
            except Exception as exc:  # KafkaError, OSError: the broker is away
                self.broker.failure(f"{type(exc).__name__}: {exc}")
                for client in (consumer, producer):
                    if client is not None:
                        await _bounded(client.stop(), CLIENT_CLOSE_S)
                await asyncio.sleep(backoff.next())
                continue
            self.producer, self.consumer = producer, consumer
            self.broker.success()
            self.ready.set()
            log.info("connected to Kafka", detail=self.topic)
            return

    async def on_stop(self) -> None:
        """Stop reading, write a last checkpoint when possible, close the clients; bounded."""
        self._stopping = True
        outbox_task = self._outbox_task
        others = [t for t in self._jobs if t is not outbox_task]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        if self.runtime.owned and self.producer is not None:
            written = await self.checkpoint(force=True, deadline=SHUTDOWN_CHECKPOINT_S)
            if written:
                log.info("final checkpoint written", count=len(self.runtime.owned))
            else:
                log.warning(
                    "final checkpoint not written (broker or store unreachable); the next owner "
                    "resumes from the last one",
                    count=len(self.runtime.owned),
                )
        if outbox_task is not None:
            outbox_task.cancel()
            await asyncio.gather(outbox_task, return_exceptions=True)
        for client in (self.consumer, self.producer):
            if client is not None:
                await _bounded(client.stop(), CLIENT_CLOSE_S)
        self.log_filter.uninstall()

    # --- rebalances -----------------------------------------------------------------------------

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Checkpoint the revoked partitions (fenced), then drop them."""
        self._generation += 1
        mine = sorted(tp.partition for tp in revoked if tp.topic == self.topic)
        owned = [p for p in mine if p in self.runtime.owned]
        if owned:
            written = await self.checkpoint(owned, force=True, deadline=REVOKE_CHECKPOINT_S)
            async with self._lock:
                self.runtime.drop(owned)
            if not written:
                log.warning(
                    "revoked partitions dropped without a final checkpoint", count=len(owned)
                )
        log.info("partitions released", count=len(owned))

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        """Pause the new partitions and restore them in the background (see `_restore`)."""
        self._generation += 1
        tps = sorted(tp for tp in assigned if tp.topic == self.topic)
        if tps and self.consumer is not None:
            self.consumer.pause(*tps)
        self.membership.confirm()
        self.broker.success()
        if tps:
            self._spawn(self._restore(tps, self._generation), "restore")

    async def _restore(self, tps: list[TopicPartition], generation: int) -> None:
        """Claim, restore and position each partition, then let the consumer fetch it."""
        assert self.consumer is not None
        for tp in tps:
            claim = await self._claim(tp.partition, generation)
            if claim is None:
                return
            async with self._lock:
                if generation != self._generation or self._stopping:
                    return
                future = asyncio.ensure_future(asyncio.to_thread(self.runtime.adopt, claim))
                cancelled = await _through_cancellation(future)  # no event while it restores
                try:
                    offset = future.result()
                except SnapshotError as exc:
                    log.error(
                        "checkpoint cannot be restored", partition=tp.partition, detail=str(exc)
                    )
                    raise
                if cancelled:
                    raise asyncio.CancelledError
                self._sought.pop(tp.partition, None)
                try:
                    self.consumer.seek(tp, offset)
                    self.consumer.resume(tp)
                except IllegalStateError:  # no longer assigned: a new rebalance is under way
                    return
        self.membership.confirm()
        log.info("partitions assigned", count=len(tps))

    async def _claim(self, partition: int, generation: int) -> Claim | None:
        backoff = Backoff(0.5, 30.0)
        while generation == self._generation and not self._stopping:
            try:
                claim = await self.store.run(self.runtime.claim, partition)
            except StoreError as exc:
                self._store_failed(exc)
                await asyncio.sleep(backoff.next())
                continue
            self.store_incident.success()
            return claim
        return None

    # --- reading --------------------------------------------------------------------------------

    async def _consume(self) -> None:
        assert self.consumer is not None
        consumer = self.consumer
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=POLL_MS, max_records=self.max_records)
            except Exception as exc:  # KafkaError: logged once per outage, retried
                self.broker.failure(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(1.0)
                continue
            if not batch:
                continue
            self.broker.success()
            async with self._lock:
                for tp, records in batch.items():
                    if tp.topic == self.topic and tp.partition in self.runtime.owned:
                        await self._apply(tp, records)
            if self._checkpoint_due():
                self._want_checkpoint.set()
            # getmany returns at once while records are buffered, without giving the event loop
            # a turn: without this the heartbeats, /metrics and the timers would wait for the
            # whole backlog
            await asyncio.sleep(0)

    async def _apply(self, tp: TopicPartition, records: list[Record]) -> None:
        result = self.runtime.handle_batch(tp.partition, records)
        self._put(result.outgoing)
        if result.gap is None:
            if result.applied:
                self._sought.pop(tp.partition, None)
            return
        if await self._resolve_gap(tp, result.gap):
            rest = [r for r in records if r.offset >= result.gap.offset]
            again = self.runtime.handle_batch(tp.partition, rest)
            self._put(again.outgoing)

    async def _resolve_gap(self, tp: TopicPartition, gap: OffsetGap) -> bool:
        """Decide about offsets that did not come: True to apply the record after the gap, False
        when the consumer was moved (the records of the batch after the gap are not applied)."""
        assert self.consumer is not None
        p = tp.partition
        earliest = await self._earliest(tp)
        if earliest is not None and gap.expected < earliest:
            lost = self.runtime.skip_to(p, earliest)
            self.runtime.owned[p].lost += lost
            log.warning(
                "offsets were deleted by retention before they were read: resuming at the "
                "earliest available offset",
                partition=p,
                offset=earliest,
                count=lost,
            )
            if gap.offset > earliest:
                self.consumer.seek(tp, earliest)
                return False
            return True
        if self._sought.get(p) == gap.expected:
            # sought back to it already and still not there: the offsets are not records
            # (transaction markers, compaction); never seek for them again
            skipped = self.runtime.skip_to(p, gap.offset)
            self._sought.pop(p, None)
            log.info(
                "offsets without a record skipped", partition=p, offset=gap.offset, count=skipped
            )
            return True
        self._sought[p] = gap.expected
        log.warning("offset gap: seeking back", partition=p, offset=gap.expected)
        self.consumer.seek(tp, gap.expected)
        return False

    async def _earliest(self, tp: TopicPartition) -> int | None:
        assert self.consumer is not None
        try:
            found = await asyncio.wait_for(self.consumer.beginning_offsets([tp]), OFFSETS_TIMEOUT_S)
        except Exception as exc:  # not known now: seek back once, decide the next time
            self.broker.failure(f"{type(exc).__name__}: {exc}")
            return None
        value = found.get(tp)
        return int(value) if value is not None else None

    def lag(self, partition: int) -> int | None:
        """Messages in an owned partition not processed yet; None when not known."""
        if self.consumer is None or self.broker.down:
            return None
        try:
            highwater = self.consumer.highwater(TopicPartition(self.topic, partition))
        except Exception:
            return None
        if highwater is None or highwater < 0 or partition not in self.runtime.next_offset:
            return None
        return max(0, int(highwater) - self.runtime.next_offset[partition])

    # --- sending --------------------------------------------------------------------------------

    def _put(self, outgoing: list[Outgoing]) -> None:
        for item in outgoing:
            self.outbox.put(message_of(item, events_topic=self.topic, dlq_topic=self.dlq_topic))

    async def _send(self, message: Message) -> asyncio.Future[Any]:
        if self.producer is None:
            raise ConnectionError("not connected to Kafka yet")
        return await self.producer.send(
            message.topic,
            message.value,
            key=message.key,
            partition=message.partition,
            headers=message.headers,
        )

    def _send_failed(self, exc: BaseException) -> None:
        self.broker.failure(f"sending failed: {type(exc).__name__}: {exc}")

    # --- time -----------------------------------------------------------------------------------

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            async with self._lock:
                caught_up = [p for p in self.runtime.owned if self.lag(p) == 0]
                self._put(self.runtime.tick(caught_up))

    async def _probe(self) -> None:
        """Confirm the group membership and the broker's reachability every probe interval."""
        while True:
            await asyncio.sleep(self.probe_interval)
            await self._commit(
                {p: stats.saved_offset for p, stats in self.runtime.owned.items()}, probe=True
            )

    async def _commit(self, offsets: dict[int, int], *, probe: bool = False) -> None:
        assert self.consumer is not None
        try:
            if offsets:
                committed = {TopicPartition(self.topic, p): o for p, o in offsets.items()}
                await asyncio.wait_for(self.consumer.commit(committed), OFFSETS_TIMEOUT_S)
            elif probe:
                await asyncio.wait_for(self.consumer.topics(), OFFSETS_TIMEOUT_S)
        except CommitFailedError:
            if not self.membership.lost:
                log.warning(
                    "consumer group membership lost: this worker stops exporting its partitions "
                    "until the group assigns them again"
                )
            self.membership.lose()
            self.broker.success()
            return
        except IllegalStateError:  # nothing assigned right now: a rebalance is under way
            return
        except Exception as exc:  # unreachable, timed out
            self.broker.failure(f"{type(exc).__name__}: {exc}")
            return
        self.broker.success()
        if offsets:
            self.membership.confirm()

    # --- checkpoints ----------------------------------------------------------------------------

    def _checkpoint_due(self) -> bool:
        if time.monotonic() < self._due_allowed_at:
            return False
        return any(self.runtime.due_for_checkpoint(p) for p in self.runtime.owned)

    async def _checkpoints(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._want_checkpoint.wait(), self.settings.checkpoint_interval
                )
            self._want_checkpoint.clear()
            # bounded, so that a rebalance never waits behind acknowledgements that do not come;
            # what was not written stays pending and is written first next time
            await self.checkpoint(deadline=max(30.0, 3 * self.settings.checkpoint_interval))

    async def checkpoint(
        self,
        partitions: Iterable[int] | None = None,
        *,
        force: bool = False,
        deadline: float | None = None,
    ) -> bool:
        """One checkpoint by the protocol of the module doc; True when it is in the store.

        ``deadline`` (seconds from now) bounds the waiting for acknowledgements and the store's
        retries; without it they go on until they succeed (the reader goes on meanwhile).
        """
        until = None if deadline is None else time.monotonic() + deadline
        async with self._saving:
            if self._pending is not None and not await self._write(*self._pending, until=until):
                return False
            if not force and not self.membership.valid():
                return False  # possibly not ours any more: the next owner checkpoints
            wanted = self.runtime.owned if partitions is None else partitions
            mine = sorted(p for p in wanted if p in self.runtime.owned)
            if not mine:
                return True
            started = time.monotonic()
            capture = Capture({}, {})
            for partition in mine:  # one at a time: the others' events flow in between
                async with self._lock:
                    if partition not in self.runtime.owned:
                        continue
                    # finished even when this task is cancelled (a stop): its rows are out of
                    # the shards, so the capture must become the pending one, and no event may
                    # be applied while the thread still reads the state
                    future = asyncio.ensure_future(
                        asyncio.to_thread(self.runtime.capture, [partition], force=force)
                    )
                    cancelled = await _through_cancellation(future)
                    capture = capture.merged(future.result())
                    if capture:
                        self._pending = (capture, self.outbox.mark())
                    if cancelled:
                        raise asyncio.CancelledError
            took = time.monotonic() - started
            self._due_allowed_at = time.monotonic() + CAPTURE_DUTY * took
            if not capture:
                return True
            mark = self.outbox.mark()  # after the last partition's capture: covers them all
            self._pending = (capture, mark)
            return await self._write(capture, mark, until=until)

    async def _write(self, capture: Capture, mark: int, *, until: float | None) -> bool:
        """Steps 2-4 of the protocol for a captured checkpoint; False when it ran out of time
        (it stays pending and is written first next time)."""
        left = None if until is None else max(0.0, until - time.monotonic())
        if not await self.outbox.delivered(mark, timeout=left):
            return False
        backoff = Backoff(0.5, 30.0)
        while capture:
            try:
                await self.store.run(self.runtime.save, capture)
            except StaleCheckpoint as exc:
                self.health.store_errors["stale"] += 1
                log.warning(
                    "checkpoint refused: another worker owns the partition now; it is dropped",
                    partition=exc.partition,
                    detail=str(exc),
                )
                capture = capture.without(exc.partition)
                await self._fenced(exc.partition)
                continue
            except StoreError as exc:
                self._store_failed(exc)
                delay = backoff.next()
                if until is not None and time.monotonic() + delay > until:
                    self._pending = (capture, mark)
                    return False
                await asyncio.sleep(delay)
                continue
            break
        self._pending = None
        if not capture:
            return False
        self.store_incident.success()
        self.runtime.saved(capture)
        await self._commit(capture.offsets)
        try:
            await self.store.run(self.runtime.purge_if_due)
        except StoreError as exc:
            self._store_failed(exc)
        return True

    def _store_failed(self, exc: StoreError) -> None:
        self.health.store_errors["transient"] += 1
        self.store_incident.failure(str(exc))

    async def _fenced(self, partition: int) -> None:
        """Drop a partition another worker claimed; claim it back only if the group still gives
        it to this worker after a session timeout (no rebalance came to take it away)."""
        async with self._lock:
            self.runtime.drop([partition])
        tp = TopicPartition(self.topic, partition)
        if self.consumer is None or tp not in self.consumer.assignment():
            return
        self.consumer.pause(tp)
        generation = self._generation

        async def check() -> None:
            await asyncio.sleep(self.settings.session_timeout + 1.0)
            if generation != self._generation or self._stopping or self.consumer is None:
                return
            if tp in self.consumer.assignment() and partition not in self.runtime.owned:
                log.warning(
                    "partition still assigned to this worker after its claim was taken: claiming "
                    "it again",
                    partition=partition,
                )
                await self._restore([tp], generation)

        self._spawn(check(), "re-claim")


async def _through_cancellation(future: asyncio.Future[Any]) -> bool:
    """Wait for ``future`` to finish even if the waiting task is cancelled meanwhile; returns
    whether it was (the caller re-raises once it has dealt with the result)."""
    cancelled = False
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            cancelled = True
        except Exception:  # the caller reads the result, and so the error
            pass
    return cancelled


async def _bounded(aw: Awaitable[Any], seconds: float) -> None:
    """Await ``aw`` for at most ``seconds``; whatever it raises (aiokafka's ``stop`` may raise
    CancelledError with no broker) is logged and swallowed."""
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        log.warning("a Kafka client did not close in time", seconds=seconds)
        return
    if not task.cancelled() and task.exception() is not None:
        log.info("a Kafka client closed with an error", detail=type(task.exception()).__name__)
