"""The norms of one municipality, and the deadline each sets for an item or call, pauses included.

Pausable norms follow the contract's clarifications of December 2026 (section 3):

- the time an item is paused does not count: the deadline moves later by the paused time, measured
  exactly (working time for ``workdays``, elapsed time otherwise; see ``streams.core.deadlines``);
- only a pause that starts at or before the (so far extended) deadline — equal is within it — and
  before the norm's stage was reached counts; one that starts later changes nothing;
- an item that reaches the norm's stage while paused ends its pause at that moment, and is judged
  against the deadline extended by all pauses up to it;
- while an item is paused and has not reached the stage, its deadline is unknown (``None``): the
  clock stands still, the item is neither overdue nor at risk, and nothing is decided until it is
  resumed, reaches the stage, or closes.

Pure: the deadline is recomputed from the item's sorted pause steps, so events that arrive out of
order give the same deadline as in order.
"""

from __future__ import annotations

from collections.abc import Callable

from streams.core.calendar import BusinessCalendar
from streams.core.config import Norm
from streams.core.deadlines import Unit, deadline, paused_amount
from streams.core.state import ItemHistory, ItemState, Subject

DeadlineFn = Callable[[float, float], float]  # (opened at, paused amount) -> deadline
VERY_LATE_FACTOR = 3.0  # "very late": past three times the norm's duration (as Signalen marks it)


class NormDeadlines:
    """Deadlines of the norms of one municipality, for its items and calls."""

    __slots__ = ("_fns", "_late_fns", "calendar", "norms")

    def __init__(self, norms: tuple[Norm, ...], calendar: BusinessCalendar) -> None:
        self.norms = norms
        self.calendar = calendar
        self._fns = [self._fn(n) for n in norms]
        self._late_fns = [self._fn(n, VERY_LATE_FACTOR) for n in norms]

    def _fn(self, norm: Norm, factor: float = 1.0) -> DeadlineFn:
        cal, unit, within = self.calendar, norm.unit, norm.within * factor
        if unit is Unit.SECONDS:
            return lambda opened, paused: opened + within + paused
        if unit is Unit.HOURS:
            return lambda opened, paused: opened + within * 3600.0 + paused
        return lambda opened, paused: deadline(cal, unit, within, opened, paused)

    def at_opening(self, norm: int, opened_at: float) -> float:
        """The deadline of ``norm`` for a subject opened at ``opened_at``, before any pause."""
        return self._fns[norm](opened_at, 0.0)

    def of(self, st: Subject, norm: int) -> float | None:
        """The current deadline of ``norm`` for ``st``; None while its clock is stopped (paused
        without having reached the stage)."""
        return self._deadline(self._fns[norm], st, norm)

    def very_late(self, st: Subject, norm: int) -> float | None:
        """When ``st`` becomes very late for ``norm``: three times the norm's duration after
        opening (moved by pauses as the deadline is); None while paused."""
        return self._deadline(self._late_fns[norm], st, norm)

    def _deadline(self, fn: DeadlineFn, st: Subject, norm: int) -> float | None:
        rule = self.norms[norm]
        if not isinstance(st, ItemState) or st.history is None or not st.history.pauses:
            return fn(st.opened_at, 0.0)
        if not rule.pausable:
            return fn(st.opened_at, 0.0)
        return self._paused_deadline(fn, rule, st, st.history)

    def _paused_deadline(
        self, fn: DeadlineFn, rule: Norm, st: ItemState, history: ItemHistory
    ) -> float | None:
        opened = st.opened_at
        reached = st.reached(rule.stage)
        paused = 0.0
        current = fn(opened, 0.0)
        started: float | None = None
        for t, step in history.pauses:
            if started is None:
                if step < 0:
                    continue  # a resume without a pause
                if t > current or (reached is not None and t >= reached):
                    break  # a pause after the deadline or the stage changes nothing
                started = max(t, opened)
            elif step < 0:
                end = t if reached is None else min(t, reached)
                paused += paused_amount(self.calendar, rule.unit, started, end)
                current = fn(opened, paused)
                started = None
                if reached is not None and t >= reached:
                    break  # the pause ended when the stage was reached
        if started is not None:
            if reached is None:
                return None  # paused now: the clock stands still
            paused += paused_amount(self.calendar, rule.unit, started, reached)
            current = fn(opened, paused)
        return current

    def stopped(self, st: Subject, norm: int) -> bool:
        """Whether ``st`` is paused now for a pausable ``norm`` (and has not reached its stage)."""
        rule = self.norms[norm]
        if not rule.pausable or not isinstance(st, ItemState) or st.history is None:
            return False
        return st.reached(rule.stage) is None and is_paused(st.history)


def is_paused(history: ItemHistory) -> bool:
    """Whether the latest pause step (by time) leaves the item paused."""
    paused = False
    for _, step in history.pauses:
        paused = step > 0
    return paused
