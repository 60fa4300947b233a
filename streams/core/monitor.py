"""The monitor: raw event bytes in, state per municipality, rejections and outcome rows out.

Both drivers use this class: ``contactmon replay`` feeds it lines of files on event time, the live
worker feeds it Kafka message values and advances it on wall time. It decodes, de-duplicates,
routes each event to its municipality's :class:`~streams.core.shard.Shard`, releases events that
waited for their subject's opening, and turns everything that cannot be applied into a
:class:`~events.decode.Rejection` with a machine-readable reason. It never raises on input.
"""

from __future__ import annotations

from collections import Counter
from hashlib import blake2b

from events.decode import DEFAULT_MAX_EVENT_BYTES, Decoder, Event, Reason, Rejection
from mypy_extensions import mypyc_attr

from streams.core.calendar import CalendarRangeError
from streams.core.changes import changes_of
from streams.core.config import MonitorConfig
from streams.core.held import DEFAULT_MAX_HELD
from streams.core.parts import ShardParts
from streams.core.rows import OutcomeBatch
from streams.core.seen_keys import DEFAULT_DEDUPE_HORIZON
from streams.core.shard import ACCEPTED, ALREADY_OPENED, Shard

# How a processed event ended, for callers that count or log.
REJECTED = "rejected"


def _key(ev: Event) -> bytes:
    """The 8-byte de-duplication key of (source, id): BLAKE2b-64 of source, a NUL byte, id.

    Stored in checkpoints and (hex) in the feedback rows, so it must never change.
    """
    return blake2b(f"{ev.source}\x00{ev.id}".encode(), digest_size=8).digest()


@mypyc_attr(allow_interpreted_subclasses=True)  # streams.live.faults subclasses it
class Monitor:
    """Decode, de-duplicate, apply and sweep; one :class:`Shard` per municipality."""

    def __init__(
        self,
        config: MonitorConfig,
        *,
        lateness: float = 300.0,
        max_future: float = 600.0,
        track_changes: bool = False,
        dedupe_horizon: float = DEFAULT_DEDUPE_HORIZON,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_held: int = DEFAULT_MAX_HELD,
    ) -> None:
        self.config = config
        self.lateness = lateness
        self.track_changes = track_changes
        self.decoder = Decoder(
            config.slugs,
            max_future=max_future,
            time_span=config.calendar.supported_span(),
            max_bytes=max_event_bytes,
        )
        self.dedupe_horizon = dedupe_horizon
        self.max_held = max_held
        self.shards: dict[str, Shard] = {slug: self._new_shard(slug) for slug in config.slugs}
        self.rejected: Counter[str] = Counter()
        self.rejections: list[Rejection] = []  # drained by the driver (DLQ / rejects file)
        self.last_time = 0.0  # event time of the last decoded event

    # --- ownership: which municipalities' state this monitor holds ------------------------------

    def _new_shard(self, slug: str, parts: ShardParts | None = None) -> Shard:
        return Shard(
            slug,
            self.config.norms_by_municipality[slug],
            self.config.calendar,
            lateness=self.lateness,
            track_changes=self.track_changes,
            dedupe_horizon=self.dedupe_horizon,
            max_held=self.max_held,
            parts=parts,
        )

    def adopt(self, slug: str, parts: ShardParts | None = None) -> None:
        """Hold ``slug``'s state from now on: restored ``parts`` (a checkpoint) or an empty one."""
        self.shards[slug] = self._new_shard(slug, parts)

    def drop(self, slug: str) -> None:
        """Forget ``slug``'s state (its partition moved to another worker)."""
        self.shards[slug] = self._new_shard(slug)

    # --- events ---------------------------------------------------------------------------------

    def process(self, raw: bytes, now: float, expected: frozenset[str] | None = None) -> str:
        """Process one raw event; ``now`` is the wall clock for the future-time check.

        ``expected`` are the municipalities keyed to the partition the event came from (live):
        an event of another municipality is rejected as ``wrong_partition`` (the driver may
        forward it to its own partition) and never applied here.
        """
        result = self.decoder.decode(raw, now)
        if isinstance(result, Rejection):
            self._reject(result)
            return REJECTED
        if expected is not None and result.municipality not in expected:
            self._reject(
                Rejection(
                    Reason.WRONG_PARTITION,
                    "data.municipality",
                    "arrived on another municipality's partition (the producer keyed it wrongly)",
                    raw,
                )
            )
            return REJECTED
        return self.apply(result)

    def apply(self, ev: Event) -> str:
        """Apply a decoded event (and any events that waited for its subject's opening)."""
        shard = self.shards[ev.municipality]
        self.last_time = ev.time
        outcome = self._apply_one(shard, ev)
        if outcome == ALREADY_OPENED:
            self._reject(
                Rejection(
                    Reason.ALREADY_OPENED,
                    "subject",
                    "a different opening event for a subject that is already open",
                    ev.raw,
                )
            )
            outcome = REJECTED
        elif outcome == ACCEPTED and ev.subject in shard.parts.held.by_subject:
            for waiting in shard.release_for(ev.subject):
                self._apply_one(shard, waiting)  # never an opening: those are not held
        if outcome != REJECTED:  # a refused event moves no clock
            # also an event behind the clock: it may have indexed deadlines the cutoff passed
            # already, and they are decided now, not at whatever moves the clock next
            shard.advance(ev.time, inclusive=False)
        if shard.expired:
            self._expire(shard)
        return outcome

    def _apply_one(self, shard: Shard, ev: Event) -> str:
        """``shard.apply``, with any exception turned into a rejection of this event alone.

        The lifecycles work out everything that can fail (deadlines the calendar cannot place)
        before they change anything, and a handler that raises leaves the event unseen, so the
        shard is as it was and the next event is processed as usual.
        """
        try:
            return shard.apply(ev, _key(ev))
        except CalendarRangeError:
            self._reject(
                Rejection(
                    Reason.TIME_OUT_OF_RANGE,
                    "time",
                    "a deadline of this event falls outside the years the calendar covers",
                    ev.raw,
                )
            )
        except Exception as exc:  # one poison event must never stop a partition
            self._reject(
                Rejection(
                    Reason.INTERNAL_ERROR,
                    None,
                    f"applying it raised {type(exc).__name__}; the state was left unchanged",
                    ev.raw,
                    exception=type(exc).__name__,
                )
            )
        return REJECTED

    def _expire(self, shard: Shard) -> None:
        for ev in shard.expired:
            self._reject(
                Rejection(
                    Reason.UNKNOWN_SUBJECT,
                    "subject",
                    "no opening event for this subject arrived within the grace period",
                    ev.raw,
                )
            )
        shard.expired.clear()

    def _reject(self, rejection: Rejection) -> None:
        self.rejected[rejection.reason.value] += 1
        self.rejections.append(rejection)

    def advance(self, now: float, cutoff: float | None = None) -> None:
        """Advance every shard's clock (the live worker's timer; ``--until`` in a replay)."""
        for slug in self.shards:
            self.advance_one(slug, now, cutoff)

    def advance_one(self, municipality: str, now: float, cutoff: float | None = None) -> None:
        """Advance one shard's clock (the live worker sweeps only the partitions it owns)."""
        shard = self.shards[municipality]
        shard.advance(now, cutoff)
        if shard.expired:
            self._expire(shard)

    def finish(self, until: float | None = None) -> None:
        """End of a replay: decide deadlines up to ``until``; without it, each municipality's
        clock stays at its own newest event (as a live worker on event time would have it)."""
        for shard in self.shards.values():
            shard.finish(until)
            if shard.expired:
                self._expire(shard)

    def take_rejections(self) -> list[Rejection]:
        out, self.rejections = self.rejections, []
        return out

    def take_changes(self) -> OutcomeBatch:
        """Rows for every item, call, norm and feedback changed since the last call."""
        batch = OutcomeBatch()
        for shard in self.shards.values():
            changes_of(shard, batch)
        return batch
