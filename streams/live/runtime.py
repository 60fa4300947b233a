"""The live worker's state keeping, without Faust: partitions, offsets, checkpoints, sweeps.

Faust delivers (partition, offset, bytes); this class applies them to the same
:class:`~streams.core.monitor.Monitor` that ``contactmon replay`` uses, and keeps the worker
correct across crashes and partition moves with *checkpoints*:

* every municipality lives in exactly one partition (the events are keyed by municipality), so the
  state of a partition is the state of its municipalities' shards;
* a checkpoint is that state plus the partition's next offset, written to the outcome store in one
  transaction with the outcome rows that changed (``OutcomeStore.save_checkpoints``);
* when a worker gets a partition, it restores the checkpoint and the Kafka consumer is moved to the
  checkpoint's offset (the app commits that offset before Faust seeks to committed offsets), so
  every event after the checkpoint is applied exactly once, whatever Faust had committed before a
  crash; events before it that are delivered again are skipped by offset;
* when a worker loses a partition, it writes a checkpoint first and then drops the shards, so their
  series vanish from its /metrics and appear on the new owner with the counters continuing.

Why not Faust tables: a table changelog persists per-key values, but our aggregates (counters,
rolling windows, the deadline index) span keys, and at-least-once redelivery would apply an event's
effects twice to them. Storing the whole state with the offset it reflects, in one transaction, is
the Kafka pattern for exactly-once results with an external store (see ARCHITECTURE.md).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog

from events.decode import DEFAULT_MAX_EVENT_BYTES, Rejection
from streams.core import snapshot
from streams.core.changes import changes_of
from streams.core.config import MonitorConfig
from streams.core.monitor import Monitor
from streams.core.rows import OutcomeBatch
from streams.core.seen_keys import DEFAULT_DEDUPE_HORIZON
from streams.core.shard import Shard
from streams.store.base import Checkpoint, OutcomeStore

log = structlog.get_logger(__name__)


class OffsetGap(Exception):
    """A message arrived beyond the next offset to apply: the consumer must seek back first.

    It happens when the commit of a restored checkpoint's offset did not take (Faust drops a
    commit that races a new rebalance) and Faust resumed at an older commit further on. Applying
    the message would skip the ones before it, so it is not applied; the app seeks the consumer
    back to ``expected`` and the skipped messages come again in order.
    """

    def __init__(self, partition: int, offset: int, expected: int) -> None:
        super().__init__(f"partition {partition}: got offset {offset}, expected {expected}")
        self.partition = partition
        self.offset = offset
        self.expected = expected


@dataclass(slots=True)
class PartitionStats:
    """Pipeline health of one owned partition."""

    processed: int = 0  # events applied or rejected (not the skipped redeliveries)
    skipped: int = 0  # delivered again after a restart, already in the restored state
    last_delay: float | None = None  # wall clock minus event time of the last applied event
    last_checkpoint_at: float | None = None
    since_checkpoint: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


class LiveRuntime:
    """Owned partitions and their shards, driven by the Faust app in ``streams.live.app``."""

    def __init__(
        self,
        config: MonitorConfig,
        store: OutcomeStore,
        *,
        group: str,
        topic: str,
        partition_of: Callable[[str], int],
        lateness: float = 300.0,
        dedupe_horizon: float = DEFAULT_DEDUPE_HORIZON,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        store_retention: float | None = None,
        wall_clock: bool = True,
        checkpoint_every: int = 10_000,
        clock: Callable[[], float] = time.time,
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
        self.monitor = Monitor(
            config,
            lateness=lateness,
            track_changes=True,
            dedupe_horizon=dedupe_horizon,
            max_event_bytes=max_event_bytes,
        )
        self.slugs_of: dict[int, list[str]] = {}
        for slug in config.slugs:
            self.slugs_of.setdefault(partition_of(slug), []).append(slug)
        self.owned: dict[int, PartitionStats] = {}
        self.next_offset: dict[int, int] = {}

    # --- ownership ------------------------------------------------------------------------------

    def restore(self, partitions: Iterable[int]) -> dict[int, int]:
        """Take ownership of ``partitions`` from their checkpoints; returns the offsets to resume.

        A partition without a checkpoint starts empty at offset 0: the whole topic is replayed into
        it (a first start, or a store that was reset).
        """
        offsets: dict[int, int] = {}
        for p in sorted(partitions):
            if p in self.owned:
                offsets[p] = self.next_offset[p]
                continue
            stats = PartitionStats()
            checkpoint = self.store.load_checkpoint(self.group, self.topic, p)
            for slug in self.slugs_of.get(p, []):  # forget whatever an earlier ownership left
                self.monitor.drop(slug)
            if checkpoint is None:
                self.next_offset[p] = 0
            else:
                restored, extra = snapshot.load(checkpoint.state, self.config)
                for slug, parts in restored.items():
                    self.monitor.adopt(slug, parts)
                stats.rejected.update(extra.get("rejected", {}))
                stats.last_checkpoint_at = checkpoint.saved_at
                self.next_offset[p] = checkpoint.offset
            self.owned[p] = stats
            offsets[p] = self.next_offset[p]
            log.info("partition restored", partition=p, offset=offsets[p])
        return offsets

    def release(self, partitions: Iterable[int]) -> None:
        """Checkpoint ``partitions`` and stop exporting and processing them."""
        mine = [p for p in partitions if p in self.owned]
        if not mine:
            return
        self.checkpoint(mine, force=True)
        for p in mine:
            del self.owned[p]
            for slug in self.slugs_of.get(p, []):
                self.monitor.drop(slug)

    # --- events ---------------------------------------------------------------------------------

    def handle(self, partition: int, offset: int, raw: bytes) -> list[Rejection]:
        """Apply one message; returns its rejections (for the dead-letter topic).

        Messages below the next offset are already in the state and are skipped; a message
        beyond it raises :class:`OffsetGap` (the consumer must seek back first).
        """
        stats = self.owned.get(partition)
        if stats is None:
            raise RuntimeError(f"partition {partition} is not owned by this worker")
        expected = self.next_offset[partition]
        if offset < expected:
            stats.skipped += 1
            return []
        if offset > expected:
            raise OffsetGap(partition, offset, expected)
        now = self.clock()
        if self.monitor.process(raw, now) != "rejected":
            stats.last_delay = now - self.monitor.last_time
        self.next_offset[partition] = offset + 1
        stats.processed += 1
        stats.since_checkpoint += 1
        rejections = self.monitor.take_rejections()
        for r in rejections:
            stats.rejected[r.reason.value] += 1
        return rejections

    def due_for_checkpoint(self, partition: int) -> bool:
        stats = self.owned.get(partition)
        return stats is not None and stats.since_checkpoint >= self.checkpoint_every

    # --- time -----------------------------------------------------------------------------------

    def tick(self, caught_up: Iterable[int]) -> list[Rejection]:
        """Wall-clock sweep of the partitions whose consumer has caught up with the topic.

        Only a caught-up partition may move on the wall clock: behind, its clock follows event time,
        so a backlog is judged as it happened and not all at once against today.
        """
        if not self.wall_clock:
            return []
        now = self.clock()
        rejections: list[Rejection] = []
        for p in caught_up:
            stats = self.owned.get(p)
            if stats is None:
                continue
            for slug in self.slugs_of.get(p, []):
                self.monitor.advance_one(slug, now)
            found = self.monitor.take_rejections()
            for r in found:
                stats.rejected[r.reason.value] += 1
            rejections.extend(found)
        return rejections

    # --- checkpoints ----------------------------------------------------------------------------

    def checkpoint(self, partitions: Iterable[int], *, force: bool = False) -> int:
        """Checkpoint each owned partition that changed; returns how many were written."""
        checkpoints: list[Checkpoint] = []
        batch = OutcomeBatch()
        now = self.clock()
        written: list[int] = []
        for p in sorted(partitions):
            stats = self.owned.get(p)
            if stats is None:
                continue
            shards = [self.monitor.shards[s] for s in self.slugs_of.get(p, [])]
            changed = any(s.changes for s in shards)
            if not (force or stats.since_checkpoint or changed):
                continue
            for shard in shards:
                changes_of(shard, batch)
            state = snapshot.dump(shards, self.config, extra={"rejected": dict(stats.rejected)})
            checkpoints.append(
                Checkpoint(self.group, self.topic, p, self.next_offset[p], state, now)
            )
            written.append(p)
        if not checkpoints:
            return 0
        self.store.save_checkpoints(checkpoints, batch)
        for p in written:
            self.owned[p].since_checkpoint = 0
            self.owned[p].last_checkpoint_at = now
        self._purge_if_due(now)
        return len(checkpoints)

    def _purge_if_due(self, now: float) -> None:
        """Apply the store's retention once a day (idempotent: every worker may do it)."""
        if self.store_retention is None:
            return
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
