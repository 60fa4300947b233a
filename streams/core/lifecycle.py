"""What item and call lifecycles share: profiles, norm decisions and the deadline index.

A lifecycle holds no state of its own: it applies events to the subjects of a shard's
:class:`~streams.core.parts.ShardParts` (plain data, what a checkpoint holds) under the
municipality's norms (configuration). :class:`~streams.core.items.ItemLifecycle` and
:class:`~streams.core.calls.CallLifecycle` add the events of their family.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from typing import Any, Generic, TypeVar

from events.decode import Event

from streams.core.aggregates import APPLICABLE, COHORT_BREACHED, COHORT_MET
from streams.core.calendar import CalendarRangeError
from streams.core.norm_deadlines import NormDeadlines
from streams.core.parts import ShardParts
from streams.core.state import (
    BREACHED,
    MET,
    PENDING,
    VERY_LATE,
    CallState,
    ItemState,
    Profile,
    Subject,
    is_breach,
    outcome_at,
    with_outcome,
)

S = TypeVar("S", ItemState, CallState)


class Lifecycle(ABC, Generic[S]):
    """Decisions on the norms of one family (items or calls) of a municipality."""

    def __init__(
        self,
        deadlines: NormDeadlines,
        parts: ShardParts,
        finished: deque[tuple[float, str]],
        changed: set[str],
        track_changes: bool,
    ) -> None:
        self.deadlines = deadlines
        self.norms = deadlines.norms
        self.index = parts.index
        self.totals = parts.totals
        self.profiles = parts.profiles
        self.finished = finished  # (finished at, subject) of this family, for eviction
        self.changed = changed  # subjects whose rows changed, for the store
        self.track_changes = track_changes

    @abstractmethod
    def open(self, subject: str, ev: Event, key: bytes) -> S:
        """A new subject from its opening event (already checked to be new)."""

    @abstractmethod
    def apply(self, subject: str, st: S, etype: str, t: float, data: dict[str, Any]) -> None:
        """Apply a non-opening event (already checked not to be a duplicate)."""

    def profile(
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
        """The interned profile of these attributes, with the norms that apply to them."""
        key = (family, kind, channel, segment, category, source_system, team, queue)
        found = self.profiles.get(key)
        if found is None:
            applicable = tuple(
                i
                for i, n in enumerate(self.norms)
                if n.applies(family, kind, channel, segment, category)
            )
            slot = self.totals.categories.slot(category)
            found = self.profiles[key] = Profile(
                family,
                kind,
                channel,
                segment,
                category,
                source_system,
                team,
                queue,
                applicable,
                slot,
            )
        return found

    def opening_deadlines(self, profile: Profile, opened_at: float) -> list[tuple[int, float]]:
        """(norm, deadline) of every norm of ``profile`` for a subject opened at ``opened_at``.

        Worked out before a new subject changes anything, so a deadline the calendar cannot place
        (CalendarRangeError) leaves the shard as it was.
        """
        return [(n, self.deadlines.at_opening(n, opened_at)) for n in profile.norms]

    def index_new(self, subject: str, st: Subject, deadlines: list[tuple[int, float]]) -> None:
        """A new subject waits for every norm of its profile, under ``deadlines``; it joins the
        cohort of its opening month, and its category's count towards a slot."""
        profile = st.profile
        group = profile.group
        month = self.month_of(st)
        for n, due in deadlines:
            self.index.add(subject, n, due, group)
            self.totals.cohort(n, month, APPLICABLE)
        if self.totals.categories.opened(profile.category):
            # the category now has a slot: subjects opened from now on get profiles that say so
            for key in [k for k, p in self.profiles.items() if p.category == profile.category]:
                del self.profiles[key]

    def month_of(self, st: Subject) -> int:
        """The cohort (local month of opening) ``st`` belongs to."""
        return self.deadlines.calendar.month_number(st.opened_at)

    def before_reaching(
        self, st: Subject, stage: str
    ) -> dict[int, tuple[float | None, bool]] | None:
        """Per norm of ``stage``: the deadline ``st`` waits under now, and whether it is paused.

        Taken before the subject's reached time changes, for :meth:`decide_reached`. None for a
        subject that was never paused (the common case): its deadlines do not depend on when it
        reaches a stage, so there is nothing to remember.
        """
        if not isinstance(st, ItemState) or st.history is None or not st.history.pauses:
            return None
        deadlines = self.deadlines
        return {
            n: (deadlines.of(st, n), deadlines.stopped(st, n))
            for n in st.profile.norms
            if self.norms[n].stage == stage
        }

    def decide_reached(
        self,
        subject: str,
        st: Subject,
        t: float,
        stage: str,
        previous: float | None,
        before: dict[int, tuple[float | None, bool]] | None,
    ) -> None:
        """``st`` reached ``stage`` at ``t``, earlier than ``previous`` (None: the first time); its
        reached time is already ``t``. ``before`` is what :meth:`before_reaching` took."""
        outcomes = st.outcomes
        norms = self.norms
        for pos, n in enumerate(st.profile.norms):
            if norms[n].stage != stage:
                continue
            code = outcome_at(outcomes, pos)
            due = self.deadlines.of(st, n)
            indexed, paused = (due, False) if before is None else before[n]
            if code == PENDING:
                if previous is None:
                    self.index.stop_waiting(n, indexed, st.profile.group)
                if due is not None and t <= due:
                    outcomes = with_outcome(outcomes, pos, MET)
                    self.count_decision(st, n, MET, t)
                elif due is not None and due != indexed:
                    # late, against a deadline it was not indexed under (its pause ended by
                    # reaching the stage): the sweep decides the breach at that deadline
                    self.index.add(subject, n, due, waiting=False)
            elif code == MET and previous is not None:
                self.totals.decision_moved(n, st.profile, previous, t)
            elif is_breach(code) and previous is None:
                if not paused:
                    self.totals.overdue(n, st.profile, -1)  # overdue until now
                if code == BREACHED and self._past_very_late(st, n, t):
                    outcomes = with_outcome(outcomes, pos, VERY_LATE)
                    self.totals.very_late(n, st.profile)
        st.outcomes = outcomes

    def count_decision(self, st: Subject, n: int, code: int, when: float) -> None:
        """Count a met or breached decision, in the windows and in the subject's cohort."""
        self.totals.decided(n, st.profile, code, when)
        field = COHORT_MET if code == MET else COHORT_BREACHED
        self.totals.cohort(n, self.month_of(st), field)

    def _past_very_late(self, st: Subject, n: int, t: float) -> bool:
        try:
            late = self.deadlines.very_late(st, n)
        except CalendarRangeError:
            return False  # three times the norm lies past the calendar's years
        return late is not None and t > late

    def check_very_late(self, st: Subject, n: int, due: float) -> None:
        """The sweep reached ``due``, when ``st`` would become very late for norm ``n``."""
        pos = st.profile.positions[n]
        if outcome_at(st.outcomes, pos) != BREACHED or not self.still_waiting(st, n):
            return
        try:
            late = self.deadlines.very_late(st, n)
        except CalendarRangeError:
            return
        if late == due:  # else stale: a pause moved it, and a newer entry waits
            st.outcomes = with_outcome(st.outcomes, pos, VERY_LATE)
            self.totals.very_late(n, st.profile)

    def breach(self, subject: str, st: Subject, n: int, due: float) -> None:
        """The sweep found ``st`` still pending for norm ``n`` at its deadline ``due``."""
        pos = st.profile.positions[n]
        st.outcomes = with_outcome(st.outcomes, pos, BREACHED)
        self.count_decision(st, n, BREACHED, due)
        reached = st.reached(self.norms[n].stage)
        if reached is not None and self._past_very_late(st, n, reached):  # reached, very late
            st.outcomes = with_outcome(st.outcomes, pos, VERY_LATE)
            self.totals.very_late(n, st.profile)
        if self.still_waiting(st, n):
            if not self.deadlines.stopped(st, n):
                self.totals.overdue(n, st.profile, 1)
            try:
                late = self.deadlines.very_late(st, n)
            except CalendarRangeError:
                late = None
            if late is not None:  # the sweep looks again then: very late if still waiting
                self.index.add(subject, n + len(self.norms), late, waiting=False)
        self.mark_changed(subject)

    def still_waiting(self, st: Subject, n: int) -> bool:
        """Whether ``st`` still waits for norm ``n``'s stage (so a breach makes it overdue)."""
        return st.reached(self.norms[n].stage) is None

    def mark_changed(self, subject: str) -> None:
        """Note that ``subject``'s rows changed (for the store)."""
        if self.track_changes:
            self.changed.add(subject)

    @abstractmethod
    def is_finished(self, st: S) -> bool:
        """Whether ``st`` is done: an item closed and not reopened, a call answered or abandoned."""

    def all_decided(self, st: Subject) -> bool:
        """Whether no norm of ``st`` is pending any more."""
        return all(outcome_at(st.outcomes, p) != PENDING for p in range(len(st.profile.norms)))
