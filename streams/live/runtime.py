"""The live worker's state keeping, without Kafka: partitions, offsets, checkpoints, sweeps.

The driver (`streams.live.driver`) reads batches of (offset, bytes) per partition from Kafka; this
class applies them to the same :class:`~streams.core.monitor.Monitor` that ``contactmon replay``
uses, and keeps the worker correct across crashes and partition moves with *checkpoints*:

* every municipality lives in exactly one partition (the events are keyed by municipality), so the
  state of a partition is the state of its municipalities' shards; an event that arrives on another
  municipality's partition is not applied there but *forwarded* to its own (`Forward`);
* a worker that gets a partition *claims* it in the store (`OutcomeStore.claim_partition`, a new
  owner epoch) and restores its checkpoint; the consumer is then positioned at the checkpoint's
  offset, so every event after the checkpoint is applied exactly once; events before it that are
  delivered again are skipped by offset;
* a checkpoint is that state plus the partition's next offset, written to the outcome store in one
  transaction with the outcome rows that changed, fenced by the owner epoch: a worker whose
  partition was claimed since cannot write it (`StaleCheckpoint`). It is taken in two steps so
  that the driver can run them off the event loop and put the acknowledgements of the dead
  letters and forwards in between: `capture` (rows + serialised state + offset, while no event
  is applied) and the store write (`save`);
* when a worker loses a partition it checkpoints it first and then drops the shards, so their
  series vanish from its /metrics and appear on the new owner with the counters continuing.

Thread safety: the methods that touch shard state are called with the driver's processing lock
held (no event is applied meanwhile); `capture` and `adopt` may run in a worker thread, and hold
`state_lock` while they do, which the /metrics renderer tries before it reads the shards.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Protocol

import structlog

from events.decode import DEFAULT_MAX_EVENT_BYTES, Event, Reason, Rejection
from streams.core import snapshot
from streams.core.changes import changes_of
from streams.core.config import MonitorConfig
from streams.core.monitor import Monitor
from streams.core.rows import CallRecord, FeedbackRecord, ItemRecord, NormRecord, OutcomeBatch
from streams.core.seen_keys import DEFAULT_DEDUPE_HORIZON
from streams.core.shard import Shard
from streams.store.base import Checkpoint, OutcomeStore

log = structlog.get_logger(__name__)

ROWS_EVERY = 500
"""Events of a partition after which its changed rows are taken (`PendingRows`)..."""
ROWS_HORIZON = 6 * 3_600.0
"""... or seconds of event time, whichever comes first (checked every 64 events)."""
ROWS_CHECK_MASK = 63

FORWARDED_FROM = "contactmon.forwarded-from"
"""Header of a forwarded event: ``partition:offset`` where it was first read (a loop guard)."""


def default_owner() -> str:
    """``host:pid``: who claimed a partition, for an operator reading the store."""
    return f"{socket.gethostname()}:{os.getpid()}"


class OffsetGap(Exception):
    """A message arrived beyond the next offset to apply; nothing of it was applied.

    The offsets in between were never read by this state: deleted by retention, or not records
    at all (transaction markers). The driver decides which (`LiveRuntime.skip_to`), or seeks back.
    """

    def __init__(self, partition: int, offset: int, expected: int) -> None:
        super().__init__(f"partition {partition}: got offset {offset}, expected {expected}")
        self.partition = partition
        self.offset = offset
        self.expected = expected


class Record(Protocol):
    """What the runtime reads of a Kafka record (aiokafka's ConsumerRecord fits)."""

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected event for the dead-letter topic, with where it came from."""

    rejection: Rejection
    partition: int  # the source partition (for a held event that expired: the one it was held in)
    offset: int  # the source offset, -1 when unknown (held events expiring on the wall clock)
    key: bytes  # unique per bad event and stable across redeliveries: consumers de-duplicate by it


@dataclass(frozen=True, slots=True)
class Forward:
    """An event read on another municipality's partition, to produce again on its own."""

    raw: bytes
    municipality: str
    partition: int  # the partition it belongs to
    source_partition: int
    source_offset: int


Outgoing = DeadLetter | Forward


@dataclass(slots=True)
class Batch:
    """What applying a batch of one partition's records gave."""

    outgoing: list[Outgoing] = field(default_factory=list)
    gap: OffsetGap | None = None  # set when a record beyond the next offset stopped the batch
    applied: int = 0


class PendingRows:
    """Outcome rows taken from a partition's shards since its last checkpoint, newest per key.

    The runtime takes the shards' changed rows every `ROWS_EVERY` events or `ROWS_HORIZON`
    seconds of event time rather than only at the checkpoint: the core evicts a finished subject
    on time whether or not its rows were taken, and keeps the last state of one whose rows were
    not until they are, which during a backlog (event time running days ahead between
    checkpoints) would hold many of them. When rows are taken changes no figure.
    """

    __slots__ = ("calls", "feedback", "items", "norms")

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], ItemRecord] = {}
        self.norms: dict[tuple[str, str, str], NormRecord] = {}
        self.calls: dict[tuple[str, str], CallRecord] = {}
        self.feedback: dict[tuple[str, str], FeedbackRecord] = {}

    def __len__(self) -> int:
        return len(self.items) + len(self.norms) + len(self.calls) + len(self.feedback)

    def take(self, shards: Iterable[Shard]) -> None:
        """Take the changed rows of ``shards`` (their change marks are cleared)."""
        batch = OutcomeBatch()
        for shard in shards:
            if shard.changes:
                changes_of(shard, batch)
        for item in batch.items:
            self.items[(item.municipality, item.subject)] = item
        for norm in batch.norms:
            self.norms[(norm.municipality, norm.subject, norm.norm)] = norm
        for call in batch.calls:
            self.calls[(call.municipality, call.subject)] = call
        for fb in batch.feedback:
            self.feedback[(fb.municipality, fb.key)] = fb

    def batch(self) -> OutcomeBatch:
        return OutcomeBatch(
            list(self.items.values()),
            list(self.norms.values()),
            list(self.calls.values()),
            list(self.feedback.values()),
        )


@dataclass(slots=True)
class PartitionStats:
    """Pipeline health of one owned partition."""

    processed: int = 0  # events applied or rejected (not the skipped redeliveries)
    skipped: int = 0  # delivered again after a restart, already in the restored state
    last_delay: float | None = None  # wall clock minus event time of the last applied event
    last_checkpoint_at: float | None = None
    since_checkpoint: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    forwarded: int = 0  # events of another municipality produced again on their own partition
    lost: int = 0  # offsets deleted by retention before this state read them
    epoch: int | None = None  # the owner epoch the store gave this worker for the partition
    saved_offset: int = 0  # the offset of the last checkpoint written (or restored)
    rows: PendingRows = field(default_factory=PendingRows)
    untaken: int = 0  # events applied since the rows were last taken
    taken_at: float = float("-inf")  # the shards' clock when the rows were last taken


@dataclass(frozen=True, slots=True)
class Capture:
    """A checkpoint taken but not yet written: per partition its checkpoint and its rows."""

    checkpoints: dict[int, Checkpoint]
    rows: dict[int, OutcomeBatch]

    def __bool__(self) -> bool:
        return bool(self.checkpoints)

    def merged(self, other: Capture) -> Capture:
        """This capture and ``other`` (of other partitions) as one."""
        return Capture({**self.checkpoints, **other.checkpoints}, {**self.rows, **other.rows})

    def without(self, partition: int) -> Capture:
        return Capture(
            {p: c for p, c in self.checkpoints.items() if p != partition},
            {p: r for p, r in self.rows.items() if p != partition},
        )

    def batch(self) -> OutcomeBatch:
        """Every partition's rows as one batch (the store writes them in one transaction)."""
        out = OutcomeBatch()
        for p in sorted(self.rows):
            rows = self.rows[p]
            out.items.extend(rows.items)
            out.norms.extend(rows.norms)
            out.calls.extend(rows.calls)
            out.feedback.extend(rows.feedback)
        return out

    @property
    def offsets(self) -> dict[int, int]:
        return {p: c.offset for p, c in self.checkpoints.items()}


@dataclass(frozen=True, slots=True)
class Claim:
    """A partition claimed in the store: the owner epoch and the checkpoint to restore."""

    partition: int
    epoch: int
    checkpoint: Checkpoint | None


class LiveRuntime:
    """Owned partitions and their shards, driven by `streams.live.driver.LiveDriver`."""

    def __init__(
        self,
        config: MonitorConfig,
        store: OutcomeStore,
        *,
        group: str,
        topic: str,
        partition_of: Callable[[str], int] | None,
        lateness: float = 300.0,
        dedupe_horizon: float = DEFAULT_DEDUPE_HORIZON,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        store_retention: float | None = None,
        wall_clock: bool = True,
        checkpoint_every: int = 10_000,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
        monitor: Monitor | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.group = group
        self.topic = topic
        self.lateness = lateness
        self.wall_clock = wall_clock
        self.store_retention = store_retention  # seconds; None keeps every row
        self.last_purge: float | None = None
        self.checkpoint_every = checkpoint_every
        self.clock = clock
        self.owner = owner or default_owner()
        self.monitor = monitor or Monitor(
            config,
            lateness=lateness,
            track_changes=True,
            dedupe_horizon=dedupe_horizon,
            max_event_bytes=max_event_bytes,
        )
        self.partition_of: Callable[[str], int] = _unknown_partitions
        self.slugs_of: dict[int, list[str]] = {}
        self.expected: dict[int, frozenset[str]] = {}
        if partition_of is not None:
            self.set_partitioner(partition_of)
        self.owned: dict[int, PartitionStats] = {}
        self.next_offset: dict[int, int] = {}
        self.state_lock = threading.Lock()  # held while a thread reads or replaces shard state

    def set_partitioner(self, partition_of: Callable[[str], int]) -> None:
        """Where each municipality's events are (known once the topic's partitions are)."""
        self.partition_of = partition_of
        self.slugs_of = {}
        for slug in self.config.slugs:
            self.slugs_of.setdefault(partition_of(slug), []).append(slug)
        self.expected = {p: frozenset(slugs) for p, slugs in self.slugs_of.items()}

    # --- ownership ------------------------------------------------------------------------------

    def claim(self, partition: int) -> Claim:
        """Claim ``partition`` in the store and read its checkpoint (store I/O, no state change).

        From the moment this returns, a save by any earlier owner of the partition is refused.
        """
        epoch = self.store.claim_partition(self.group, self.topic, partition, self.owner)
        checkpoint = self.store.load_checkpoint(self.group, self.topic, partition)
        return Claim(partition, epoch, checkpoint)

    def adopt(self, claim: Claim) -> int:
        """Own the claimed partition from its checkpoint; returns the offset to resume at.

        A partition without a checkpoint starts empty at offset 0: the whole topic is replayed into
        it (a first start, or a store that was reset). Raises SnapshotError for a checkpoint that
        does not fit the norms (the worker must be rebuilt).
        """
        p = claim.partition
        restored = (
            snapshot.load(claim.checkpoint.state, self.config)
            if claim.checkpoint is not None
            else None
        )
        stats = PartitionStats(epoch=claim.epoch)
        with self.state_lock:
            for slug in self.slugs_of.get(p, []):  # forget whatever an earlier ownership left
                self.monitor.drop(slug)
            if claim.checkpoint is None or restored is None:
                self.next_offset[p] = 0
            else:
                shards, extra = restored
                for slug, parts in shards.items():
                    self.monitor.adopt(slug, parts)
                stats.rejected.update(extra.get("rejected", {}))
                stats.forwarded = int(extra.get("forwarded", 0))
                stats.lost = int(extra.get("lost", 0))
                stats.last_checkpoint_at = claim.checkpoint.saved_at
                self.next_offset[p] = claim.checkpoint.offset
            stats.saved_offset = self.next_offset[p]
            self.owned[p] = stats
        log.info("partition restored", partition=p, offset=self.next_offset[p])
        return self.next_offset[p]

    def restore(self, partitions: Iterable[int]) -> dict[int, int]:
        """Claim and adopt ``partitions`` (already owned ones keep their state); their offsets."""
        offsets: dict[int, int] = {}
        for p in sorted(partitions):
            offsets[p] = self.next_offset[p] if p in self.owned else self.adopt(self.claim(p))
        return offsets

    def drop(self, partitions: Iterable[int]) -> list[int]:
        """Stop owning ``partitions`` without a checkpoint: their state is forgotten."""
        dropped = [p for p in partitions if p in self.owned]
        with self.state_lock:
            for p in dropped:
                del self.owned[p]
                for slug in self.slugs_of.get(p, []):
                    self.monitor.drop(slug)
        return dropped

    def release(self, partitions: Iterable[int]) -> None:
        """Checkpoint ``partitions`` and stop owning them (a sync path for tests and tools).

        The checkpoint is fenced: when it is refused (StaleCheckpoint) the partitions are still
        dropped, and the error is raised.
        """
        mine = [p for p in partitions if p in self.owned]
        if not mine:
            return
        try:
            self.checkpoint(mine, force=True)
        finally:
            self.drop(mine)

    # --- events ---------------------------------------------------------------------------------

    def handle(self, partition: int, offset: int, raw: bytes) -> list[Rejection]:
        """Apply one message; returns the rejections bound for the dead-letter topic.

        Messages below the next offset are skipped; a message beyond it raises `OffsetGap`.
        """
        result = self.handle_batch(partition, [_Message(offset, raw)])
        if result.gap is not None:
            raise result.gap
        return [o.rejection for o in result.outgoing if isinstance(o, DeadLetter)]

    def handle_batch(self, partition: int, records: Sequence[Record]) -> Batch:
        """Apply a batch of one partition's records in offset order.

        Records below the next offset are skipped (already in the state). A record beyond it
        stops the batch (`Batch.gap`); the ones before it are applied.
        """
        stats = self.owned.get(partition)
        if stats is None:
            raise RuntimeError(f"partition {partition} is not owned by this worker")
        out = Batch()
        monitor = self.monitor
        process = monitor.process
        expected_slugs = self.expected.get(partition, frozenset())
        expected = self.next_offset[partition]
        now = self.clock()
        shards = [monitor.shards[s] for s in self.slugs_of.get(partition, ())]
        applied = 0
        accepted = False
        for record in records:
            offset = record.offset
            if offset < expected:
                stats.skipped += 1
                continue
            if offset > expected:
                out.gap = OffsetGap(partition, offset, expected)
                break
            own = process(record.value or b"", now, expected_slugs) == "rejected"
            accepted = accepted or not own
            expected = offset + 1
            applied += 1
            if monitor.rejections:
                self._route(partition, offset, record, own, stats, out.outgoing)
            if not applied & ROWS_CHECK_MASK:
                self._take_rows_if_due(stats, shards, ROWS_CHECK_MASK + 1)
        self.next_offset[partition] = expected
        stats.processed += applied
        stats.since_checkpoint += applied
        out.applied = applied
        self._take_rows_if_due(stats, shards, applied & ROWS_CHECK_MASK)
        if accepted:
            stats.last_delay = self.clock() - monitor.last_time
        return out

    @staticmethod
    def _take_rows_if_due(stats: PartitionStats, shards: list[Shard], applied: int) -> None:
        """Take the changed rows every `ROWS_EVERY` events, and whenever event time moved on by
        `ROWS_HORIZON` (in a backlog a few hundred events can be days of event time, and a call
        is evicted a day after it ended, once its rows are taken)."""
        stats.untaken += applied
        clock = max((shard.clock for shard in shards), default=0.0)
        if stats.untaken >= ROWS_EVERY or clock - stats.taken_at >= ROWS_HORIZON:
            stats.rows.take(shards)
            stats.untaken = 0
            stats.taken_at = clock

    def _route(
        self,
        partition: int,
        offset: int,
        record: Record,
        own: bool,
        stats: PartitionStats,
        out: list[Outgoing],
    ) -> None:
        """The rejections one record gave: forwards for events of another partition, dead letters
        for the rest (counted per reason). With ``own`` the first is the record's own rejection;
        the others are held events that expired or failed when the record moved the shard on."""
        for i, r in enumerate(self.monitor.take_rejections()):
            if r.reason is Reason.WRONG_PARTITION:
                forward = self._forward(partition, offset, record, r)
                if forward is not None:
                    stats.forwarded += 1
                    out.append(forward)
                    continue
            stats.rejected[r.reason.value] += 1
            key = dead_letter_key(partition, offset if own and i == 0 else None, r)
            out.append(DeadLetter(r, partition, offset, key))

    def _forward(
        self, partition: int, offset: int, record: Record, rejection: Rejection
    ) -> Forward | None:
        """Where a mis-keyed event belongs; None when that cannot be decided (a dead letter)."""
        if any(name == FORWARDED_FROM for name, _ in record.headers or ()):
            return None  # forwarded once already and still not where it belongs: never loop
        ev = self.monitor.decoder.decode(rejection.raw, float("inf"))
        if not isinstance(ev, Event):
            return None
        try:
            target = self.partition_of(ev.municipality)
        except (KeyError, ValueError):
            return None
        if target == partition:
            return None
        return Forward(rejection.raw, ev.municipality, target, partition, offset)

    def skip_to(self, partition: int, offset: int) -> int:
        """Accept that the offsets up to ``offset`` will never be read (a gap); returns how many
        were skipped. The driver calls it when retention deleted them, or when they are not
        records (transaction markers), never to jump over records that exist."""
        skipped = max(0, offset - self.next_offset[partition])
        self.next_offset[partition] = max(offset, self.next_offset[partition])
        return skipped

    def due_for_checkpoint(self, partition: int) -> bool:
        stats = self.owned.get(partition)
        return stats is not None and stats.since_checkpoint >= self.checkpoint_every

    # --- time -----------------------------------------------------------------------------------

    def tick(self, caught_up: Iterable[int]) -> list[Outgoing]:
        """Wall-clock sweep of the partitions whose consumer has caught up with the topic.

        Only a caught-up partition may move on the wall clock: behind, its clock follows event time,
        so a backlog is judged as it happened and not all at once against today. Returns the dead
        letters of held events that expired.
        """
        if not self.wall_clock:
            return []
        now = self.clock()
        out: list[Outgoing] = []
        for p in caught_up:
            stats = self.owned.get(p)
            if stats is None:
                continue
            for slug in self.slugs_of.get(p, []):
                self.monitor.advance_one(slug, now)
            for r in self.monitor.take_rejections():
                stats.rejected[r.reason.value] += 1
                out.append(DeadLetter(r, p, -1, dead_letter_key(p, None, r)))
        return out

    # --- checkpoints ----------------------------------------------------------------------------

    def capture(self, partitions: Iterable[int], *, force: bool = False) -> Capture:
        """Take a checkpoint of each owned partition that changed (or all, with ``force``): its
        changed rows, its serialised state and its next offset. Writes nothing.

        Call with no event being applied; it may run in a thread (it holds `state_lock`).
        """
        checkpoints: dict[int, Checkpoint] = {}
        rows: dict[int, OutcomeBatch] = {}
        now = self.clock()
        with self.state_lock:
            for p in sorted(set(partitions)):
                stats = self.owned.get(p)
                if stats is None:
                    continue
                shards = [self.monitor.shards[s] for s in self.slugs_of.get(p, [])]
                stats.rows.take(shards)
                stats.untaken = 0
                if not (force or stats.since_checkpoint or stats.rows):
                    continue
                batch = stats.rows.batch()
                stats.rows = PendingRows()
                extra = {
                    "rejected": dict(stats.rejected),
                    "forwarded": stats.forwarded,
                    "lost": stats.lost,
                }
                state = snapshot.dump(shards, self.config, extra=extra)
                checkpoints[p] = Checkpoint(
                    self.group, self.topic, p, self.next_offset[p], state, now, stats.epoch
                )
                rows[p] = batch
                stats.since_checkpoint = 0
        return Capture(checkpoints, rows)

    def save(self, capture: Capture) -> None:
        """Write a capture: every checkpoint and the rows, in one fenced transaction (store I/O).

        Raises StaleCheckpoint when a partition was claimed by another worker since (nothing is
        written), StoreError when the store cannot be written.
        """
        if capture:
            self.store.save_checkpoints(list(capture.checkpoints.values()), capture.batch())

    def saved(self, capture: Capture) -> None:
        """Record that ``capture`` is in the store."""
        for p, c in capture.checkpoints.items():
            stats = self.owned.get(p)
            if stats is not None and stats.epoch == c.epoch:
                stats.last_checkpoint_at = c.saved_at
                stats.saved_offset = c.offset

    def checkpoint(self, partitions: Iterable[int], *, force: bool = False) -> int:
        """Capture and save at once (the sync path: tests, tools); returns how many were written."""
        capture = self.capture(partitions, force=force)
        self.save(capture)
        self.saved(capture)
        self.purge_if_due()
        return len(capture.checkpoints)

    def purge_if_due(self) -> None:
        """Apply the store's retention once a day (idempotent: every worker may do it)."""
        if self.store_retention is None:
            return
        now = self.clock()
        if self.last_purge is not None and now - self.last_purge < 86_400:
            return
        self.last_purge = now
        counts = self.store.purge(now - self.store_retention)
        log.info("store retention applied", rows=counts)

    # --- read-outs ------------------------------------------------------------------------------

    def owned_shards(self) -> list[Shard]:
        return [
            self.monitor.shards[s] for p in sorted(self.owned) for s in self.slugs_of.get(p, [])
        ]

    def rejected_totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for stats in self.owned.values():
            total.update(stats.rejected)
        return total


def dead_letter_key(partition: int, offset: int | None, rejection: Rejection) -> bytes:
    """The dead letter's Kafka key: the same for the same bad event whenever it is sent again.

    ``partition:offset`` for a record's own rejection (a worker that replays a partition after a
    crash sends the same key again, so a consumer keeps one message per key); for an event that
    was held and rejected later (``offset`` None: its opening never came) the partition, the
    reason and a digest of its bytes, since when it expires depends on the wall clock, not on the
    offset being read.
    """
    if offset is not None:
        return f"{partition}:{offset}".encode()
    digest = blake2b(rejection.raw, digest_size=12).hexdigest()
    return f"{partition}:{rejection.reason.value}:{digest}".encode()


def _unknown_partitions(slug: str) -> int:
    raise ValueError("the events topic's partitions are not known yet")


@dataclass(frozen=True, slots=True)
class _Message:
    offset: int
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()
