"""Events that arrived before their subject's opening event, held for the out-of-order grace period.

An ``item.responded`` may overtake its ``item.opened`` on the way (another producer, a retry).
Such an event is held until its subject opens, then applied in event-time order; when its time
falls behind the shard's cutoff (clock − lateness) with still no opening, it expires and the
monitor rejects it as ``unknown_subject``. What expires depends on the held events' times only,
not on the order they came in, so a checkpoint (which keeps them in time order) changes nothing.
"""

from __future__ import annotations

import heapq

from events.decode import Event

DEFAULT_MAX_HELD = 100_000
"""Held events per municipality at most (about 1.2 kB each); over it the oldest expire early."""


class HeldEvents:
    """Held events per subject, and the order in which they expire."""

    __slots__ = ("by_subject", "count", "order")

    def __init__(self) -> None:
        self.by_subject: dict[str, list[Event]] = {}
        self.order: list[tuple[float, str]] = []  # a heap of (event time, subject)
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def __contains__(self, subject: object) -> bool:
        return subject in self.by_subject

    def hold(self, subject: str, ev: Event, limit: int = DEFAULT_MAX_HELD) -> list[Event]:
        """Hold ``ev``; returns the events that had to make room (the oldest, over ``limit``)."""
        self.by_subject.setdefault(subject, []).append(ev)
        heapq.heappush(self.order, (ev.time, subject))
        self.count += 1
        evicted: list[Event] = []
        while self.count > limit and self.order:
            _, oldest = heapq.heappop(self.order)
            events = self.by_subject.pop(oldest, [])
            self.count -= len(events)
            evicted.extend(events)
        return evicted

    def release(self, subject: str) -> list[Event]:
        """The held events of a subject that just opened, oldest first."""
        events = self.by_subject.pop(subject, None)
        if not events:
            return []
        self.count -= len(events)
        events.sort(key=lambda e: e.time)
        return events

    def expire(self, cutoff: float) -> list[Event]:
        """Remove and return the held events older than ``cutoff``."""
        order = self.order
        expired: list[Event] = []
        while order and order[0][0] < cutoff:
            _, subject = heapq.heappop(order)
            events = self.by_subject.get(subject)
            if events:
                keep = [e for e in events if e.time >= cutoff]
                expired.extend(e for e in events if e.time < cutoff)
                self.count -= len(events) - len(keep)
                if keep:
                    self.by_subject[subject] = keep
                else:
                    del self.by_subject[subject]
        return expired

    def expire_all(self) -> list[Event]:
        """Remove and return every held event (the end of a replay)."""
        expired = [e for events in self.by_subject.values() for e in events]
        self.by_subject.clear()
        self.order.clear()
        self.count = 0
        return expired
