"""Feedback (``feedback.given``): satisfaction scores per channel, de-duplicated by event key.

Feedback has no lifecycle, so its duplicates cannot be found on a subject: its keys go to the
shard's :class:`~streams.core.seen_keys.SeenKeys`, kept for the de-duplication horizon.
"""

from __future__ import annotations

from typing import NamedTuple

from events.decode import Event

from streams.core.aggregates import Aggregates
from streams.core.seen_keys import SeenKeys


class FeedbackRow(NamedTuple):
    """One new feedback event, for the store."""

    key: str  # the event's de-duplication key, hex
    channel: str
    kind: str | None
    score: int
    given_at: float


def give_feedback(ev: Event, key: bytes, seen: SeenKeys, totals: Aggregates) -> FeedbackRow | None:
    """Count a feedback event; None when it is a duplicate."""
    if not seen.add(key, ev.time):
        return None
    d = ev.data
    totals.events_total["feedback.given"] += 1
    totals.score(d["channel"], ev.time, d["score"])
    return FeedbackRow(key.hex(), d["channel"], d.get("kind"), d["score"], ev.time)
