"""The data of one municipality's shard: what events made, and what a checkpoint holds.

Plain data only — no norms, calendar or functions (those come from the configuration and are bound
again on restore), so a checkpoint can be written and read as data. The lifecycles
(``streams.core.items``, ``streams.core.calls``) and the :class:`~streams.core.shard.Shard`
operate on it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from streams.core.aggregates import Aggregates
from streams.core.deadline_index import DeadlineIndex
from streams.core.feedback import FeedbackRow
from streams.core.held import HeldEvents
from streams.core.seen_keys import SeenKeys
from streams.core.state import GROUPS, CallState, ItemState, Profile

_NEVER = float("-inf")


@dataclass(slots=True)
class Clock:
    """A shard's clocks (UTC epoch seconds).

    ``now`` is the newest time the shard was advanced to (event time in a replay, wall time live);
    deadlines are decided up to ``cutoff`` = now − lateness. ``last_event`` is the event time of
    the newest event; ``housekeeping_week`` the week of the last weekly housekeeping.
    """

    now: float = _NEVER
    cutoff: float = _NEVER
    last_event: float | None = None
    housekeeping_week: int | None = None


@dataclass(slots=True)
class ShardParts:
    """Everything events made in one municipality.

    ``finished_items`` and ``finished_calls`` list (finished at, subject) of closed items and
    ended calls in the order they finished, for eviction once their retention has passed.
    ``profiles`` interns the attributes many subjects share (rebuilt as subjects are restored).
    """

    items: dict[str, ItemState]
    calls: dict[str, CallState]
    index: DeadlineIndex
    totals: Aggregates
    seen: SeenKeys = field(default_factory=SeenKeys)  # feedback and evicted subjects' keys
    held: HeldEvents = field(default_factory=HeldEvents)
    clock: Clock = field(default_factory=Clock)
    finished_items: deque[tuple[float, str]] = field(default_factory=deque)
    finished_calls: deque[tuple[float, str]] = field(default_factory=deque)
    profiles: dict[tuple[Any, ...], Profile] = field(default_factory=dict)

    @classmethod
    def empty(cls, norm_ids: tuple[str, ...]) -> ShardParts:
        return cls({}, {}, DeadlineIndex(GROUPS), Aggregates(norm_ids))


@dataclass(slots=True)
class Changes:
    """What changed since the store last took the rows (``streams.core.changes``).

    ``evicted_items`` and ``evicted_calls`` keep the last state of changed subjects that were
    evicted before their rows were taken: eviction never waits for the rows, so when a driver
    takes them changes nothing a later event does.
    """

    items: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)
    feedback: list[FeedbackRow] = field(default_factory=list)
    evicted_items: dict[str, ItemState] = field(default_factory=dict)
    evicted_calls: dict[str, CallState] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.items or self.calls or self.feedback)

    def clear(self) -> None:
        self.items.clear()
        self.calls.clear()
        self.feedback.clear()
        self.evicted_items.clear()
        self.evicted_calls.clear()
