"""The call lifecycle: queued, answered, abandoned, ended (contract section 2).

A call is a phone or chat conversation, or a counter visit, in a live queue. The answer stage is
reached by ``call.answered``; a call abandoned at or before its deadline is in neither met nor
breached, one abandoned after it was breached at the deadline. The first ending by arrival stands:
an answer after an abandonment (or the other way round) changes nothing.
"""

from __future__ import annotations

from typing import Any

from events.decode import Event

from streams.core.aggregates import COHORT_OUT
from streams.core.lifecycle import Lifecycle
from streams.core.state import (
    ABANDONED,
    ANSWERED,
    CALL_ABANDONED,
    PENDING,
    WAITING,
    CallState,
    Subject,
    is_breach,
    outcome_at,
    with_outcome,
)


class CallLifecycle(Lifecycle[CallState]):
    """Applies call events to a municipality's calls and decides their answer norms."""

    def open(self, subject: str, ev: Event, key: bytes) -> CallState:
        d = ev.data
        profile = self.profile(
            "call", None, d["channel"], d["segment"], None, None, None, d.get("queue")
        )
        deadlines = self.opening_deadlines(profile, ev.time)  # may raise: nothing changed yet
        call = CallState(profile, ev.time, key)
        self.totals.events_total["call.queued"] += 1
        self.totals.calls_waiting[profile.channel] += 1
        self.index_new(subject, call, deadlines)
        self.mark_changed(subject)
        return call

    def apply(
        self, subject: str, call: CallState, etype: str, t: float, data: dict[str, Any]
    ) -> None:
        """Apply a non-opening call event (already checked not to be a duplicate)."""
        if etype == "call.answered":
            self.answered(subject, call, t)
        elif etype == "call.abandoned":
            self.abandoned(subject, call, t)
        else:
            self.ended(subject, call, t, data)
        self.totals.events_total[etype] += 1
        self.mark_changed(subject)

    def is_finished(self, st: CallState) -> bool:
        return st.outcome != WAITING

    def answered(self, subject: str, call: CallState, t: float) -> None:
        if call.outcome == CALL_ABANDONED:
            return
        previous = call.answered_at
        if previous is not None and t >= previous:
            return
        before = self.before_reaching(call, "answer")
        call.answered_at = t
        if call.outcome == WAITING:
            call.outcome = ANSWERED
            self.totals.calls_waiting[call.profile.channel] -= 1
            self.totals.calls_total[(call.profile.channel, "answered")] += 1
        self.decide_reached(subject, call, t, "answer", previous, before)

    def abandoned(self, subject: str, call: CallState, t: float) -> None:
        if call.outcome != WAITING:
            return
        call.outcome = CALL_ABANDONED
        call.abandoned_at = t
        self.totals.calls_waiting[call.profile.channel] -= 1
        self.totals.calls_total[(call.profile.channel, "abandoned")] += 1
        outcomes = call.outcomes
        for pos, n in enumerate(call.profile.norms):
            code = outcome_at(outcomes, pos)
            due = self.deadlines.of(call, n)
            if code == PENDING:
                self.index.stop_waiting(n, due, call.profile.group)
                if due is not None and t <= due:
                    outcomes = with_outcome(outcomes, pos, ABANDONED)
                    self.totals.cohort(n, self.month_of(call), COHORT_OUT)
            elif is_breach(code):
                self.totals.overdue(n, call.profile, -1)  # no longer waiting
        call.outcomes = outcomes
        self.finished.append((t, subject))

    def ended(self, subject: str, call: CallState, t: float, data: dict[str, Any]) -> None:
        if call.ended_at is None or t > call.ended_at:
            call.ended_at = t
        resolved = data.get("resolved")
        if resolved is not None:
            call.resolved = bool(resolved)
        if call.abandoned_at is None:
            self.finished.append((t, subject))

    def still_waiting(self, st: Subject, n: int) -> bool:
        return st.reached("answer") is None and not (
            isinstance(st, CallState) and st.outcome == CALL_ABANDONED
        )
