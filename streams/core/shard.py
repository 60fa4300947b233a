"""One municipality: events in, lifecycles applied, deadlines decided by a sweep.

Kafka keys every event by municipality, so one partition owner holds a municipality whole; a
:class:`Shard` is exactly that unit. It routes each decoded event to its lifecycle (items, calls,
feedback), holds events that overtook their subject's opening, decides deadlines by a sweep over
the deadline index, and evicts finished subjects after their retention. Pure: no I/O, "now" always
comes in as an argument.

Its parts, each in its own module: the data events made (``parts``: items, calls, the deadline
index, aggregates, held events, feedback keys, clocks — what a checkpoint holds) and the rules
applied to it (``norm_deadlines``, ``items``, ``calls``, ``feedback``, ``held``).

Clocks. The clock is the newest time the shard has been advanced to (event time in a replay, wall
time in the live worker). Deadlines are decided by a sweep up to ``cutoff`` = clock − lateness, so
an event that arrives up to ``lateness`` seconds out of order is still applied as if in order; a
file and the same file shuffled within that margin give the same outcomes. A late event never turns
a breach into met.
"""

from __future__ import annotations

from collections import deque
from typing import TypeVar

from events.decode import Event
from mypy_extensions import mypyc_attr

from streams.core.aggregates import COHORT_MONTHS_KEPT, Aggregates
from streams.core.calendar import BusinessCalendar, CalendarRangeError
from streams.core.calls import CallLifecycle
from streams.core.config import Norm
from streams.core.feedback import give_feedback
from streams.core.held import DEFAULT_MAX_HELD
from streams.core.items import ItemLifecycle
from streams.core.lifecycle import Lifecycle
from streams.core.norm_deadlines import NormDeadlines
from streams.core.parts import Changes, ShardParts
from streams.core.seen_keys import DEFAULT_DEDUPE_HORIZON, SeenKeys
from streams.core.state import GROUPS, CallState, ItemState, Subject, has_key

S = TypeVar("S", ItemState, CallState)

# What Shard.apply says about an event.
ACCEPTED = "accepted"
DUPLICATE = "duplicate"
HELD = "held"  # waiting for its subject's opening event (out-of-order grace period)
ALREADY_OPENED = "already_opened"  # a second, different opening event for an open subject

_WEEK = 604_800


@mypyc_attr(allow_interpreted_subclasses=True)  # streams.live.faults subclasses it
class Shard:
    """The state and rules of one municipality."""

    def __init__(
        self,
        municipality: str,
        norms: tuple[Norm, ...],
        calendar: BusinessCalendar,
        *,
        lateness: float = 300.0,
        item_retention: float = 90 * 86_400.0,
        call_retention: float = 86_400.0,
        dedupe_horizon: float = DEFAULT_DEDUPE_HORIZON,
        max_held: int = DEFAULT_MAX_HELD,
        track_changes: bool = False,
        parts: ShardParts | None = None,
    ) -> None:
        self.municipality = municipality
        self.norms = norms
        self.calendar = calendar
        self.lateness = lateness
        self.item_retention = item_retention
        self.call_retention = call_retention
        self.dedupe_horizon = dedupe_horizon
        self.max_held = max_held
        self.track_changes = track_changes
        self.deadlines = NormDeadlines(norms, calendar)
        self.changes = Changes()
        self.expired: list[Event] = []  # held too long: the caller rejects them (unknown_subject)
        self.parts = parts if parts is not None else ShardParts.empty(tuple(n.id for n in norms))
        p = self.parts
        self.items_life = ItemLifecycle(
            self.deadlines, p, p.finished_items, self.changes.items, track_changes
        )
        self.calls_life = CallLifecycle(
            self.deadlines, p, p.finished_calls, self.changes.calls, track_changes
        )

    # --- read-only views ------------------------------------------------------------------------

    @property
    def items(self) -> dict[str, ItemState]:
        return self.parts.items

    @property
    def calls(self) -> dict[str, CallState]:
        return self.parts.calls

    @property
    def clock(self) -> float:
        return self.parts.clock.now

    @property
    def last_event_time(self) -> float | None:
        return self.parts.clock.last_event

    @property
    def totals(self) -> Aggregates:
        return self.parts.totals

    def deadline_of(self, st: Subject, norm: int) -> float | None:
        """The current deadline of a norm for a subject; None while its clock is stopped."""
        return self.deadlines.of(st, norm)

    # --- applying events ------------------------------------------------------------------------

    def apply(self, ev: Event, key: bytes) -> str:
        """Apply one decoded event; ``key`` is its 8-byte de-duplication key.

        An exception leaves the shard as it was (the lifecycles work out what can fail first).
        """
        p = self.parts
        etype = ev.type
        if etype == "feedback.given":
            row = give_feedback(ev, key, p.seen, p.totals)
            if row is None:
                p.totals.duplicates += 1
                result = DUPLICATE
            else:
                if self.track_changes:
                    self.changes.feedback.append(row)
                result = ACCEPTED
        else:
            subject: str = ev.subject  # type: ignore[assignment]  # the decoder requires it here
            if etype.startswith("item."):
                result = self._apply(
                    self.items_life, p.items, ev, subject, key, etype == "item.opened"
                )
            else:
                result = self._apply(
                    self.calls_life, p.calls, ev, subject, key, etype == "call.queued"
                )
        if p.clock.last_event is None or ev.time > p.clock.last_event:
            p.clock.last_event = ev.time
        return result

    def _apply(
        self,
        life: Lifecycle[S],
        states: dict[str, S],
        ev: Event,
        subject: str,
        key: bytes,
        opening: bool,
    ) -> str:
        st = states.get(subject)
        if st is None:
            if key in self.parts.seen:  # an event of a subject evicted after its retention
                self.parts.totals.duplicates += 1
                return DUPLICATE
        elif key in st.event_keys and has_key(st.event_keys, key):
            self.parts.totals.duplicates += 1
            return DUPLICATE
        if opening:
            if st is not None:
                return ALREADY_OPENED
            states[subject] = life.open(subject, ev, key)
            return ACCEPTED
        if st is None:
            self.expired.extend(self.parts.held.hold(subject, ev, self.max_held))
            return HELD
        life.apply(subject, st, ev.type, ev.time, ev.data)
        st.event_keys += key  # last: an event whose handler raised is not remembered as seen
        return ACCEPTED

    def release_for(self, subject: str) -> list[Event]:
        """Held events of a subject just opened, oldest first (the monitor re-applies them)."""
        return self.parts.held.release(subject)

    def held_count(self) -> int:
        return len(self.parts.held)

    # --- the sweep ------------------------------------------------------------------------------

    def advance(self, now: float, cutoff: float | None = None, *, inclusive: bool = True) -> None:
        """Move the clock to ``now`` and decide every deadline up to ``cutoff`` (now − lateness).

        An event's own time moves the clock with ``inclusive=False``: a deadline equal to it is
        not decided yet, since another event at that very instant is still within it.
        """
        p = self.parts
        clock = p.clock
        clock.now = max(clock.now, now)
        target = clock.now - self.lateness if cutoff is None else min(cutoff, clock.now)
        moved = target > clock.cutoff
        if moved:
            clock.cutoff = target
        heap = p.index.heap
        if heap and heap[0][0] <= clock.cutoff:
            for n, due, subjects in p.index.pop_due(clock.cutoff, inclusive=inclusive):
                self._decide_bucket(n, due, subjects)
        if moved:
            # checked here, not inside the calls: this runs for nearly every event
            if p.held.order and p.held.order[0][0] < target:
                self.expired.extend(p.held.expire(target))
            items, calls = p.finished_items, p.finished_calls
            if (items and items[0][0] + self.item_retention <= target) or (
                calls and calls[0][0] + self.call_retention <= target
            ):
                self._evict(target)
            week = int(target // _WEEK)
            if week != clock.housekeeping_week:  # once a week: windows and the feedback horizon
                clock.housekeeping_week = week
                self.parts.totals.advance_windows(clock.now)
                month = self.calendar.month_number(clock.now)
                self.parts.totals.forget_cohorts_before(month - COHORT_MONTHS_KEPT + 1)
                self.parts.seen.prune(target - self.dedupe_horizon)

    def _decide_bucket(self, n: int, due: float, subjects: list[str]) -> None:
        """Breach every subject of a due bucket that is still pending with that deadline.

        Norm indices past the norms are the very-late checks of norm ``n − len(norms)``."""
        count = len(self.norms)
        if n >= count:
            is_call = self.norms[n - count].family == "call"
            life: Lifecycle[ItemState] | Lifecycle[CallState] = (
                self.calls_life if is_call else self.items_life
            )
            states = self.calls if is_call else self.items
            for subject in subjects:
                st = states.get(subject)
                if st is not None:
                    life.check_very_late(st, n - count, due)
            return
        if self.norms[n].family == "call":
            self._breach_due(self.calls_life, self.calls, n, due, subjects)
        else:
            self._breach_due(self.items_life, self.items, n, due, subjects)

    def _breach_due(
        self, life: Lifecycle[S], states: dict[str, S], n: int, due: float, subjects: list[str]
    ) -> None:
        deadlines = self.deadlines
        for subject in subjects:
            st = states.get(subject)
            if st is None or (st.outcomes >> (3 * st.profile.positions[n])) & 7:
                continue  # gone, or decided already
            try:
                current = deadlines.of(st, n)
            except CalendarRangeError:
                current = None  # a deadline past the calendar's years is never due
            if current == due:  # else a stale entry: a pause moved the deadline
                life.breach(subject, st, n, due)

    def _evict(self, cutoff: float) -> None:
        """Forget closed items and ended calls whose retention has passed, whether or not their
        rows were taken (`Changes` keeps the last state of those whose rows were not)."""
        p, changes = self.parts, self.changes
        self._evict_family(
            self.items_life,
            p.items,
            p.finished_items,
            self.item_retention,
            changes.items,
            changes.evicted_items,
            p.seen,
            cutoff,
        )
        self._evict_family(
            self.calls_life,
            p.calls,
            p.finished_calls,
            self.call_retention,
            changes.calls,
            changes.evicted_calls,
            p.seen,
            cutoff,
        )

    @staticmethod
    def _evict_family(
        life: Lifecycle[S],
        states: dict[str, S],
        finished: deque[tuple[float, str]],
        retention: float,
        changed: set[str],
        evicted: dict[str, S],
        seen: SeenKeys,
        cutoff: float,
    ) -> None:
        while finished and finished[0][0] + retention <= cutoff:
            _, subject = finished.popleft()
            st = states.get(subject)
            if st is None or not life.is_finished(st) or not life.all_decided(st):
                continue
            if subject in changed:  # its rows are still to be taken: from this last state
                evicted[subject] = st
            seen.add_all(st.event_keys, cutoff)  # its duplicates stay duplicates
            del states[subject]

    def finish(self, until: float | None) -> None:
        """End of input (a replay): decide all up to ``until`` (or the clock); expire held."""
        end = until if until is not None else self.clock
        self.advance(end, cutoff=end)
        self.expired.extend(self.parts.held.expire_all())

    def advance_windows(self, now: float) -> None:
        """Move every rolling window to ``now`` (before reading them for metrics)."""
        self.parts.totals.advance_windows(now)

    # --- read-outs for metrics ------------------------------------------------------------------

    def waiting_by_norm(self, now: float) -> tuple[list[list[int]], list[list[int]]]:
        """(overdue, at risk) per norm index and group (segment and category slot, see
        ``streams.core.state.group_of``) at ``now``."""
        overdue = [list(per_group) for per_group in self.parts.totals.overdue_decided]
        at_risk = [[0] * GROUPS for _ in self.norms]
        horizon = self.calendar.from_working_time(self.calendar.working_time(now) + 1.0)
        for n, due, group, count in self.parts.index.waiting_counts():
            if n >= len(self.norms):
                continue
            if due <= now:
                overdue[n][group] += count
            elif due <= horizon:
                at_risk[n][group] += count
        return overdue, at_risk
