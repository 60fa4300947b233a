"""Feedback (``feedback.given``): satisfaction scores per channel, de-duplicated by event key.

Feedback has no lifecycle, so its duplicates cannot be found on a subject: the keys of the events
seen are kept per day of their event time, for ``horizon`` seconds (400 days by default, longer
than any redelivery or replay overlap), and older days are forgotten by :meth:`FeedbackLog.prune`.
"""

from __future__ import annotations

from typing import NamedTuple

from events.decode import Event

from streams.core.aggregates import Aggregates

DEFAULT_DEDUPE_HORIZON = 400 * 86_400.0


class FeedbackRow(NamedTuple):
    """One new feedback event, for the store."""

    key: str  # the event's de-duplication key, hex
    channel: str
    kind: str | None
    score: int
    given_at: float


class FeedbackLog:
    """The keys of the feedback events seen, per day of event time."""

    __slots__ = ("seen_by_day",)

    def __init__(self) -> None:
        self.seen_by_day: dict[int, set[bytes]] = {}

    def give(self, ev: Event, key: bytes, totals: Aggregates) -> FeedbackRow | None:
        """Count a feedback event; None when it is a duplicate."""
        seen = self.seen_by_day.setdefault(int(ev.time // 86_400), set())
        if key in seen:
            return None
        seen.add(key)
        d = ev.data
        totals.events_total["feedback.given"] += 1
        totals.score(d["channel"], ev.time, d["score"])
        return FeedbackRow(key.hex(), d["channel"], d.get("kind"), d["score"], ev.time)

    def prune(self, before: float) -> None:
        """Forget the keys of days wholly before ``before``."""
        horizon = int(before // 86_400)
        for day in [d for d in self.seen_by_day if d < horizon]:
            del self.seen_by_day[day]
