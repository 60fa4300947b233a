"""One municipality's state and rules: items, calls, deadlines, outcomes and rolling aggregates.

Kafka keys every event by municipality, so one partition owner holds a municipality whole; a
:class:`Shard` is exactly that unit. It applies decoded events, decides deadlines by a sweep, and
keeps the aggregates that the metrics read. Pure: no I/O, "now" always comes in as an argument.

Clocks. ``clock`` is the newest time the shard has been advanced to (event time in a replay, wall
time in the live worker). Deadlines are decided by a sweep up to ``cutoff`` = clock − lateness, so
an event that arrives up to ``lateness`` seconds out of order is still applied as if in order; a
file and the same file shuffled within that margin give the same outcomes. A late event never turns
a breach into met.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Any

from events.decode import Event

from streams.core.calendar import BusinessCalendar
from streams.core.config import Norm
from streams.core.deadlines import Unit, deadline, paused_amount
from streams.core.state import (
    ABANDONED,
    ANSWERED,
    BREACHED,
    CALL_ABANDONED,
    EXCLUDED,
    MET,
    PENDING,
    RESOLUTIONS,
    WAITING,
    WITHDRAWN,
    CallState,
    Extra,
    ItemState,
    Profile,
    get_outcome,
    seen_before,
    set_outcome,
)
from streams.core.windows import RollingSketch, RollingSums

ITEM_KINDS = ("melding", "vraag", "terugbelverzoek", "klacht", "aanvraag")
EVENT_TYPES = (
    "item.opened",
    "item.responded",
    "item.paused",
    "item.resumed",
    "item.closed",
    "item.reopened",
    "call.queued",
    "call.answered",
    "call.abandoned",
    "call.ended",
    "feedback.given",
)
CALL_CHANNELS = ("telefoon", "chat", "balie")
STAGES = ("response", "resolution")

# What Shard.apply says about an event.
ACCEPTED = "accepted"
DUPLICATE = "duplicate"
HELD = "held"  # waiting for its subject's opening event (out-of-order grace period)
ALREADY_OPENED = "already_opened"  # a second, different opening event for an open subject

_INF = float("inf")


class Shard:
    """The state of one municipality."""

    def __init__(
        self,
        municipality: str,
        norms: tuple[Norm, ...],
        calendar: BusinessCalendar,
        *,
        lateness: float = 300.0,
        item_retention: float = 90 * 86_400.0,
        call_retention: float = 86_400.0,
        feedback_dedupe_horizon: float = 400 * 86_400.0,
        track_changes: bool = False,
    ) -> None:
        self.municipality = municipality
        self.norms = norms
        self.calendar = calendar
        self.lateness = lateness
        self.item_retention = item_retention
        self.call_retention = call_retention
        self.feedback_dedupe_horizon = feedback_dedupe_horizon
        self.track_changes = track_changes

        self.items: dict[str, ItemState] = {}
        self.calls: dict[str, CallState] = {}
        self._profiles: dict[tuple[Any, ...], Profile] = {}
        self._deadline_fns = [self._deadline_fn(n) for n in norms]

        # deadline index: buckets of subjects per (norm, deadline), a heap of bucket keys, and
        # per bucket the number of subjects still waiting for the norm's stage
        self._buckets: dict[tuple[int, float], list[str]] = {}
        self._heap: list[tuple[float, int]] = []
        self._waiting: dict[tuple[int, float], int] = {}
        # events for subjects not (yet) opened: subject -> events, and their expiry order
        self.held: dict[str, list[Event]] = {}
        self._held_order: deque[tuple[float, str]] = deque()
        self.expired: list[Event] = []  # held too long: the caller rejects them (unknown_subject)
        # finished items/calls, oldest first, for eviction after retention
        self._finished: deque[tuple[float, str, bool]] = deque()
        self._feedback_seen: dict[int, set[bytes]] = {}

        self.clock = -_INF
        self.cutoff = -_INF
        self._housekeeping_week: int | None = None
        self.last_event_time: float | None = None

        # counters (persisted totals in the live worker; monotone)
        self.events_total = dict.fromkeys(EVENT_TYPES, 0)
        self.duplicates = 0
        self.reopened = dict.fromkeys(ITEM_KINDS, 0)
        self.outcomes_total = {(n.id, o): 0 for n in norms for o in ("met", "breached")}
        self.calls_total = {(c, o): 0 for c in CALL_CHANNELS for o in ("answered", "abandoned")}
        # gauges
        self.open_items = dict.fromkeys(ITEM_KINDS, 0)
        self.calls_waiting = dict.fromkeys(CALL_CHANNELS, 0)
        self.overdue_decided = [0] * len(norms)  # breached and still waiting
        # rolling windows
        self.compliance = [RollingSums(2) for _ in norms]  # (met, decided) by decision time
        self.durations = {(k, s): RollingSketch() for k in ITEM_KINDS for s in STAGES}
        self.satisfaction: dict[str, RollingSums] = {}
        # change tracking for the outcome store
        self.dirty_items: set[str] = set()
        self.dirty_calls: set[str] = set()
        self.new_feedback: list[tuple[str, str, str | None, int, float]] = []

    # --- deadlines ------------------------------------------------------------------------------

    def _deadline_fn(self, norm: Norm) -> Callable[[float, float], float]:
        cal, unit, within = self.calendar, norm.unit, norm.within
        if unit is Unit.SECONDS:
            return lambda opened, paused: opened + within + paused
        if unit is Unit.HOURS:
            return lambda opened, paused: opened + within * 3600.0 + paused
        return lambda opened, paused: deadline(cal, unit, within, opened, paused)

    def deadline_of(self, st: ItemState | CallState, norm_idx: int) -> float | None:
        """The current deadline of a norm for a subject; None while its clock is stopped."""
        norm = self.norms[norm_idx]
        fn = self._deadline_fns[norm_idx]
        extra = st.extra if isinstance(st, ItemState) else None
        if not norm.pausable or extra is None or not extra.pauses:
            return fn(st.opened_at, 0.0)
        base = fn(st.opened_at, 0.0)
        paused = 0.0
        current = base
        started: float | None = None
        for t, step in extra.pauses:
            if step > 0 and started is None:
                if t >= current:
                    break
                started = max(t, st.opened_at)
            elif step < 0 and started is not None:
                paused += paused_amount(self.calendar, norm.unit, started, t)
                current = fn(st.opened_at, paused)
                started = None
        if started is not None:
            return None
        return current

    def _index(self, subject: str, norm_idx: int, due: float) -> None:
        key = (norm_idx, due)
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [subject]
            self._waiting[key] = 1
            heapq.heappush(self._heap, (due, norm_idx))
        else:
            bucket.append(subject)
            self._waiting[key] += 1

    def _unwait(self, norm_idx: int, due: float | None) -> None:
        """A subject stops waiting for a norm whose (indexed) deadline is ``due``."""
        if due is None:
            return
        key = (norm_idx, due)
        n = self._waiting.get(key)
        if n is not None:
            self._waiting[key] = n - 1

    # --- profiles -------------------------------------------------------------------------------

    def _profile(
        self,
        family: str,
        kind: str | None,
        channel: str,
        segment: str,
        category: str | None,
        source_system: str | None,
        team: str | None,
        queue: str | None,
    ) -> Profile:
        key = (family, kind, channel, segment, category, source_system, team, queue)
        p = self._profiles.get(key)
        if p is None:
            applicable = tuple(
                i
                for i, n in enumerate(self.norms)
                if n.applies(family, kind, channel, segment, category)
            )
            p = self._profiles[key] = Profile(
                family, kind, channel, segment, category, source_system, team, queue, applicable
            )
        return p

    # --- applying events ------------------------------------------------------------------------

    def apply(self, ev: Event, key: bytes) -> str:
        """Apply one decoded event; ``key`` is its 8-byte de-duplication key."""
        t = ev.time
        if self.last_event_time is None or t > self.last_event_time:
            self.last_event_time = t
        etype = ev.type
        if etype == "feedback.given":
            return self._feedback(ev, key)
        subject: str = ev.subject  # type: ignore[assignment]  # the decoder requires it here
        if etype == "item.opened":
            return self._item_opened(ev, subject, key)
        if etype == "call.queued":
            return self._call_queued(ev, subject, key)
        if etype.startswith("item."):
            st = self.items.get(subject)
            if st is None:
                return self._hold(ev, subject)
            if key in st.seen and seen_before(st.seen, key):
                self.duplicates += 1
                return DUPLICATE
            st.seen += key
            self.events_total[etype] += 1
            if etype == "item.responded":
                self._responded(subject, st, t)
            elif etype == "item.closed":
                self._closed(subject, st, t, ev.data)
            elif etype == "item.reopened":
                self._reopened(subject, st, t)
            else:
                self._pause_step(subject, st, t, 1 if etype == "item.paused" else -1)
            if self.track_changes:
                self.dirty_items.add(subject)
            return ACCEPTED
        call = self.calls.get(subject)
        if call is None:
            return self._hold(ev, subject)
        if key in call.seen and seen_before(call.seen, key):
            self.duplicates += 1
            return DUPLICATE
        call.seen += key
        self.events_total[etype] += 1
        if etype == "call.answered":
            self._call_answered(subject, call, t)
        elif etype == "call.abandoned":
            self._call_abandoned(subject, call, t)
        else:
            self._call_ended(subject, call, t, ev.data)
        if self.track_changes:
            self.dirty_calls.add(subject)
        return ACCEPTED

    def _hold(self, ev: Event, subject: str) -> str:
        self.held.setdefault(subject, []).append(ev)
        self._held_order.append((ev.time, subject))
        return HELD

    def release_for(self, subject: str) -> list[Event]:
        """Held events of a subject just opened, oldest first (the monitor re-applies them)."""
        events = self.held.pop(subject, None)
        if not events:
            return []
        events.sort(key=lambda e: e.time)
        return events

    def _item_opened(self, ev: Event, subject: str, key: bytes) -> str:
        st = self.items.get(subject)
        if st is not None:
            if key in st.seen and seen_before(st.seen, key):
                self.duplicates += 1
                return DUPLICATE
            return ALREADY_OPENED
        d = ev.data
        profile = self._profile(
            "item",
            d["kind"],
            d["channel"],
            d["segment"],
            d["category"],
            d.get("source_system"),
            d.get("team"),
            None,
        )
        st = self.items[subject] = ItemState(profile, ev.time, key)
        self.events_total["item.opened"] += 1
        self.open_items[profile.kind] += 1  # type: ignore[index]
        for n in profile.norms:
            self._index(subject, n, self._deadline_fns[n](ev.time, 0.0))
        if self.track_changes:
            self.dirty_items.add(subject)
        return ACCEPTED

    def _achieve(
        self, subject: str, st: ItemState | CallState, stage: str, t: float, old: float | None
    ) -> None:
        """The subject reached ``stage`` at ``t`` (earlier than ``old``, its previous time)."""
        outcomes = st.outcomes
        for pos, n in enumerate(st.profile.norms):
            norm = self.norms[n]
            if norm.stage != stage:
                continue
            code = get_outcome(outcomes, pos)
            due = self.deadline_of(st, n)
            if code == PENDING:
                if old is None:
                    self._unwait(n, due)
                if due is not None and t <= due:
                    outcomes = set_outcome(outcomes, pos, MET)
                    self._count(n, MET, t)
            elif code == MET and old is not None:
                # an earlier achievement arrived late: the decision moves to the earlier time
                window = self.compliance[n]
                window.add(old, -1, -1)
                window.add(t, 1, 1)
            elif code == BREACHED and old is None:
                self.overdue_decided[n] -= 1
        st.outcomes = outcomes
        if isinstance(st, ItemState) and stage in STAGES:
            sketch = self.durations[(st.profile.kind, stage)]  # type: ignore[index]
            if old is not None:
                sketch.add(old, old - st.opened_at, -1)
            sketch.add(t, t - st.opened_at)

    def advance_windows(self, now: float) -> None:
        """Move every rolling window to ``now`` (before reading them for metrics)."""
        for c in self.compliance:
            c.advance(now)
        for sketch in self.durations.values():
            sketch.advance(now)
        for sums in self.satisfaction.values():
            sums.advance(now)

    def _count(self, n: int, code: int, when: float) -> None:
        name = "met" if code == MET else "breached"
        self.outcomes_total[(self.norms[n].id, name)] += 1
        self.compliance[n].add(when, 1 if code == MET else 0, 1)

    def _responded(self, subject: str, st: ItemState, t: float) -> None:
        old = st.responded_at
        if old is not None and t >= old:
            return
        st.responded_at = t
        self._achieve(subject, st, "response", t, old)

    def _closed(self, subject: str, st: ItemState, t: float, data: dict[str, Any]) -> None:
        was_open = st.is_open()
        resolution = data["resolution"]
        upheld = data.get("upheld")
        if resolution in WITHDRAWN:
            self._withdraw(st, t)
        old_first = st.closed_at
        latest = (
            st.closed_at
            if st.extra is None or st.extra.last_closed_at is None
            else st.extra.last_closed_at
        )
        if latest is None or t >= latest:
            st.close_info = RESOLUTIONS.index(resolution) * 4 + (
                0 if upheld is None else 1 + bool(upheld)
            )
        if old_first is None or t < old_first:
            st.closed_at = t
            self._achieve(subject, st, "resolution", t, old_first)
        if old_first is not None:
            ex = st.extra or Extra()
            st.extra = ex
            ex.last_closed_at = max(t, latest if latest is not None else t)
        self._responded(subject, st, t)
        self._open_changed(st, was_open)
        self._maybe_finished(subject, st)

    def _withdraw(self, st: ItemState, t: float) -> None:
        """Withdrawn before a deadline: pending norms whose stage is not reached are excluded."""
        outcomes = st.outcomes
        for pos, n in enumerate(st.profile.norms):
            if get_outcome(outcomes, pos) != PENDING:
                continue
            norm = self.norms[n]
            due = self.deadline_of(st, n)
            achieved = st.achieved(norm.stage)
            if (due is None or t <= due) and (achieved is None or achieved > t):
                if achieved is None:
                    self._unwait(n, due)
                outcomes = set_outcome(outcomes, pos, EXCLUDED)
        st.outcomes = outcomes

    def _reopened(self, subject: str, st: ItemState, t: float) -> None:
        was_open = st.is_open()
        ex = st.extra or Extra()
        st.extra = ex
        ex.reopened += 1
        if ex.last_reopened_at is None or t > ex.last_reopened_at:
            ex.last_reopened_at = t
        self.reopened[st.profile.kind] += 1  # type: ignore[index]
        self._open_changed(st, was_open)

    def _open_changed(self, st: ItemState, was_open: bool) -> None:
        now_open = st.is_open()
        if now_open != was_open:
            self.open_items[st.profile.kind] += 1 if now_open else -1  # type: ignore[index]

    def _pause_step(self, subject: str, st: ItemState, t: float, step: int) -> None:
        pausable = [n for n in st.profile.norms if self.norms[n].pausable]
        before = {n: self.deadline_of(st, n) for n in pausable}
        ex = st.extra or Extra()
        st.extra = ex
        ex.pauses.append((t, step))
        ex.pauses.sort()
        for n in pausable:
            pos = st.profile.positions[n]
            if (
                get_outcome(st.outcomes, pos) != PENDING
                or st.achieved(self.norms[n].stage) is not None
            ):
                continue
            after = self.deadline_of(st, n)
            if after != before[n]:
                self._unwait(n, before[n])
                if after is not None:
                    self._index(subject, n, after)

    def _feedback(self, ev: Event, key: bytes) -> str:
        day = int(ev.time // 86_400)
        seen = self._feedback_seen.setdefault(day, set())
        if key in seen:
            self.duplicates += 1
            return DUPLICATE
        seen.add(key)
        self.events_total["feedback.given"] += 1
        d = ev.data
        channel: str = d["channel"]
        sums = self.satisfaction.get(channel)
        if sums is None:
            sums = self.satisfaction[channel] = RollingSums(2)
        sums.add(ev.time, d["score"], 1)
        if self.track_changes:
            self.new_feedback.append((key.hex(), channel, d.get("kind"), d["score"], ev.time))
        return ACCEPTED

    # --- calls ----------------------------------------------------------------------------------

    def _call_queued(self, ev: Event, subject: str, key: bytes) -> str:
        call = self.calls.get(subject)
        if call is not None:
            if key in call.seen and seen_before(call.seen, key):
                self.duplicates += 1
                return DUPLICATE
            return ALREADY_OPENED
        d = ev.data
        profile = self._profile(
            "call", None, d["channel"], d["segment"], None, None, None, d.get("queue")
        )
        call = self.calls[subject] = CallState(profile, ev.time, key)
        self.events_total["call.queued"] += 1
        self.calls_waiting[profile.channel] += 1
        for n in profile.norms:
            self._index(subject, n, self._deadline_fns[n](ev.time, 0.0))
        if self.track_changes:
            self.dirty_calls.add(subject)
        return ACCEPTED

    def _call_answered(self, subject: str, call: CallState, t: float) -> None:
        if call.outcome == CALL_ABANDONED:
            return  # the first ending by arrival stands; a contradicting one changes nothing
        old = call.answered_at
        if old is not None and t >= old:
            return
        call.answered_at = t
        if call.outcome == WAITING:
            call.outcome = ANSWERED
            self.calls_waiting[call.profile.channel] -= 1
            self.calls_total[(call.profile.channel, "answered")] += 1
        self._achieve(subject, call, "answer", t, old)

    def _call_abandoned(self, subject: str, call: CallState, t: float) -> None:
        if call.outcome != WAITING:
            return
        call.outcome = CALL_ABANDONED
        call.abandoned_at = t
        self.calls_waiting[call.profile.channel] -= 1
        self.calls_total[(call.profile.channel, "abandoned")] += 1
        outcomes = call.outcomes
        for pos, n in enumerate(call.profile.norms):
            code = get_outcome(outcomes, pos)
            due = self.deadline_of(call, n)
            if code == PENDING:
                self._unwait(n, due)
                if due is not None and t <= due:
                    outcomes = set_outcome(outcomes, pos, ABANDONED)
            elif code == BREACHED:
                self.overdue_decided[n] -= 1  # no longer waiting
        call.outcomes = outcomes
        self._maybe_finished(subject, call)

    def _call_ended(self, subject: str, call: CallState, t: float, data: dict[str, Any]) -> None:
        if call.ended_at is None or t > call.ended_at:
            call.ended_at = t
        resolved = data.get("resolved")
        if resolved is not None:
            call.resolved = bool(resolved)
        self._maybe_finished(subject, call)

    # --- finishing and eviction -----------------------------------------------------------------

    def _maybe_finished(self, subject: str, st: ItemState | CallState) -> None:
        if isinstance(st, ItemState):
            if st.closed_at is None or st.is_open():
                return
            self._finished.append((st.closed_at + self.item_retention, subject, True))
        else:
            done = st.abandoned_at if st.abandoned_at is not None else st.ended_at
            if done is not None:
                self._finished.append((done + self.call_retention, subject, False))

    def _all_decided(self, st: ItemState | CallState) -> bool:
        return all(get_outcome(st.outcomes, pos) != PENDING for pos in range(len(st.profile.norms)))

    def _evict(self) -> None:
        fin = self._finished
        while fin and fin[0][0] <= self.cutoff:
            _, subject, is_item = fin.popleft()
            if is_item:
                item = self.items.get(subject)
                if item is None or item.is_open() or not self._all_decided(item):
                    continue
                if subject in self.dirty_items:
                    fin.append((self.cutoff + 1.0, subject, True))  # flush first, then evict
                    continue
                del self.items[subject]
            else:
                call = self.calls.get(subject)
                if call is None or call.outcome == WAITING or not self._all_decided(call):
                    continue
                if subject in self.dirty_calls:
                    fin.append((self.cutoff + 1.0, subject, False))
                    continue
                del self.calls[subject]

    # --- the sweep ------------------------------------------------------------------------------

    def advance(self, now: float, cutoff: float | None = None) -> None:
        """Move the clock to ``now`` and decide every deadline up to ``cutoff`` (now − lateness)."""
        self.clock = max(self.clock, now)
        target = self.clock - self.lateness if cutoff is None else min(cutoff, self.clock)
        moved = target > self.cutoff
        if moved:
            self.cutoff = target
        heap = self._heap
        while heap and heap[0][0] <= self.cutoff:
            due, n = heapq.heappop(heap)
            self._decide_bucket(n, due)
        if moved:
            if self._held_order and self._held_order[0][0] < target:
                self._expire_held()
            if self._finished and self._finished[0][0] <= target:
                self._evict()
            week = int(target // 604_800)
            if week != self._housekeeping_week:  # once a week: windows and the feedback horizon
                self._housekeeping_week = week
                self.advance_windows(self.clock)
                horizon = int((target - self.feedback_dedupe_horizon) // 86_400)
                for old in [d for d in self._feedback_seen if d < horizon]:
                    del self._feedback_seen[old]

    def _expire_held(self) -> None:
        """Held events older than the cutoff will never see their subject opened in time."""
        held, target = self._held_order, self.cutoff
        while held and held[0][0] < target:
            _, subject = held.popleft()
            events = self.held.get(subject)
            if events:
                keep = [e for e in events if e.time >= target]
                self.expired.extend(e for e in events if e.time < target)
                if keep:
                    self.held[subject] = keep
                else:
                    del self.held[subject]

    def _decide_bucket(self, n: int, due: float) -> None:
        key = (n, due)
        subjects = self._buckets.pop(key, ())
        self._waiting.pop(key, None)
        norm = self.norms[n]
        states: dict[str, Any] = self.calls if norm.family == "call" else self.items
        for subject in subjects:
            st = states.get(subject)
            if st is None:
                continue
            pos = st.profile.positions[n]
            if get_outcome(st.outcomes, pos) != PENDING or self.deadline_of(st, n) != due:
                continue
            st.outcomes = set_outcome(st.outcomes, pos, BREACHED)
            self._count(n, BREACHED, due)
            still_waiting = st.achieved(norm.stage) is None and not (
                isinstance(st, CallState) and st.outcome == CALL_ABANDONED
            )
            if still_waiting:
                self.overdue_decided[n] += 1
            if self.track_changes:
                (self.dirty_calls if norm.family == "call" else self.dirty_items).add(subject)

    def finish(self, until: float | None) -> None:
        """End of input (a replay): decide all up to ``until`` (or the clock); expire held."""
        end = until if until is not None else self.clock
        self.advance(end, cutoff=end)
        for events in self.held.values():
            self.expired.extend(events)
        self.held.clear()
        self._held_order.clear()

    # --- read-outs for metrics ------------------------------------------------------------------

    def waiting_by_norm(self, now: float) -> tuple[list[int], list[int]]:
        """(overdue, at risk) per norm index at ``now``."""
        overdue = list(self.overdue_decided)
        at_risk = [0] * len(self.norms)
        horizon_w = self.calendar.working_time(now) + 1.0
        horizon = self.calendar.from_working_time(horizon_w)
        for (n, due), count in self._waiting.items():
            if count <= 0:
                continue
            if due <= now:
                overdue[n] += count
            elif due <= horizon:
                at_risk[n] += count
        return overdue, at_risk

    def held_count(self) -> int:
        return sum(len(v) for v in self.held.values())
