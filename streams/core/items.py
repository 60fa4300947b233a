"""The item lifecycle: opened, responded, paused, resumed, closed, reopened (contract section 2).

Items are Fixi reports, questions, call-back requests, complaints and applications. The response
stage is reached by ``item.responded`` or ``item.closed``, whichever comes first; the resolution
stage by the first ``item.closed``. Later responses change nothing; a reopened item is counted as
reopened and its earlier outcomes stand. Events may arrive out of order: an earlier response or
close that arrives late moves the decision to its own time.
"""

from __future__ import annotations

from typing import Any

from events.decode import Event

from streams.core.aggregates import COHORT_OUT
from streams.core.lifecycle import Lifecycle
from streams.core.state import (
    EXCLUDED,
    MET,
    PENDING,
    WITHDRAWN,
    ItemState,
    is_breach,
    outcome_at,
    pack_closing,
    with_outcome,
)


class ItemLifecycle(Lifecycle[ItemState]):
    """Applies item events to a municipality's items and decides their norms."""

    def open(self, subject: str, ev: Event, key: bytes) -> ItemState:
        d = ev.data
        profile = self.profile(
            "item",
            d["kind"],
            d["channel"],
            d["segment"],
            d["category"],
            d.get("source_system"),
            d.get("team"),
            None,
        )
        deadlines = self.opening_deadlines(profile, ev.time)  # may raise: nothing changed yet
        st = ItemState(profile, ev.time, key)
        self.totals.events_total["item.opened"] += 1
        self.totals.open_items[profile.kind] += 1  # type: ignore[index]
        self.index_new(subject, st, deadlines)
        self.mark_changed(subject)
        return st

    def apply(
        self, subject: str, st: ItemState, etype: str, t: float, data: dict[str, Any]
    ) -> None:
        """Apply a non-opening item event (already checked not to be a duplicate)."""
        if etype == "item.responded":
            self.responded(subject, st, t)
        elif etype == "item.closed":
            self.closed(subject, st, t, data)
        elif etype == "item.reopened":
            self.reopened(st, t)
        else:
            self.pause_step(subject, st, t, 1 if etype == "item.paused" else -1)
        self.totals.events_total[etype] += 1
        self.mark_changed(subject)

    def is_finished(self, st: ItemState) -> bool:
        return not st.is_open()

    def responded(self, subject: str, st: ItemState, t: float) -> None:
        previous = st.responded_at
        if previous is not None and t >= previous:
            return
        before = self.before_reaching(st, "response")
        st.responded_at = t
        self.decide_reached(subject, st, t, "response", previous, before)
        self._duration(st, "response", t, previous)

    def closed(self, subject: str, st: ItemState, t: float, data: dict[str, Any]) -> None:
        was_open = st.is_open()
        if data["resolution"] in WITHDRAWN:
            self._withdraw(st, t)
        first = st.closed_at
        hist = st.history
        latest = first if hist is None or hist.last_closed_at is None else hist.last_closed_at
        if latest is None or t >= latest:
            st.closing = pack_closing(data["resolution"], data.get("upheld"))
        if first is None or t < first:
            before = self.before_reaching(st, "resolution")
            st.closed_at = t
            self.decide_reached(subject, st, t, "resolution", first, before)
            self._duration(st, "resolution", t, first)
        if first is not None:
            st.ensure_history().last_closed_at = max(t, latest if latest is not None else t)
        self.responded(subject, st, t)
        self._open_changed(st, was_open)
        if not st.is_open():
            self.finished.append((t, subject))

    def _withdraw(self, st: ItemState, t: float) -> None:
        """Withdrawn before a deadline: pending norms whose stage is not reached are excluded."""
        outcomes = st.outcomes
        for pos, n in enumerate(st.profile.norms):
            if outcome_at(outcomes, pos) != PENDING:
                continue
            due = self.deadlines.of(st, n)
            reached = st.reached(self.norms[n].stage)
            if (due is None or t <= due) and (reached is None or reached > t):
                if reached is None:
                    self.index.stop_waiting(n, due, st.profile.group)
                outcomes = with_outcome(outcomes, pos, EXCLUDED)
                self.totals.cohort(n, self.month_of(st), COHORT_OUT)
        st.outcomes = outcomes

    def reopened(self, st: ItemState, t: float) -> None:
        was_open = st.is_open()
        hist = st.ensure_history()
        hist.reopened += 1
        if hist.last_reopened_at is None or t > hist.last_reopened_at:
            hist.last_reopened_at = t
        self.totals.reopened[st.profile.kind] += 1  # type: ignore[index]
        self._open_changed(st, was_open)

    def _open_changed(self, st: ItemState, was_open: bool) -> None:
        now_open = st.is_open()
        if now_open != was_open:
            self.totals.open_items[st.profile.kind] += 1 if now_open else -1  # type: ignore[index]

    def _duration(self, st: ItemState, stage: str, t: float, previous: float | None) -> None:
        kind: str = st.profile.kind  # type: ignore[assignment]  # items always have a kind
        if previous is not None:
            self.totals.duration(kind, stage, previous, previous - st.opened_at, -1)
        self.totals.duration(kind, stage, t, t - st.opened_at)

    def pause_step(self, subject: str, st: ItemState, t: float, step: int) -> None:
        """``item.paused`` (+1) or ``item.resumed`` (-1) at ``t``: move the pausable deadlines."""
        rules = self.deadlines
        pausable = [n for n in st.profile.norms if self.norms[n].pausable]
        before = {n: (rules.of(st, n), rules.stopped(st, n)) for n in pausable}
        had_history = st.history is not None
        hist = st.ensure_history()
        hist.pauses.append((t, step))
        hist.pauses.sort()
        try:  # the new deadlines first: one the calendar cannot place changes nothing
            after = {n: rules.of(st, n) for n in pausable}
        except Exception:
            hist.pauses.remove((t, step))
            if not had_history:
                st.history = None
            raise
        positions = st.profile.positions
        for n in pausable:
            code = outcome_at(st.outcomes, positions[n])
            old, was_stopped = before[n]
            if is_breach(code):  # decided; a paused item is not overdue while it waits on us
                stopped = rules.stopped(st, n)
                if stopped != was_stopped and self.still_waiting(st, n):
                    self.totals.overdue(n, st.profile, -1 if stopped else 1)
                continue
            if code != PENDING:
                continue
            new = after[n]
            if new == old:
                continue
            reached = st.reached(self.norms[n].stage)
            if reached is None:
                self.index.stop_waiting(n, old, st.profile.group)
                if new is not None:
                    self.index.add(subject, n, new, st.profile.group)
            elif new is not None:
                self.index.add(subject, n, new, waiting=False)
                if reached <= new:  # a pause that arrived late moved the deadline past it
                    self.decide_late_pause(st, n, reached)

    def decide_late_pause(self, st: ItemState, n: int, reached: float) -> None:
        """A pause that arrived out of order shows that a late-looking stage was in time."""
        st.outcomes = with_outcome(st.outcomes, st.profile.positions[n], MET)
        self.count_decision(st, n, MET, reached)
