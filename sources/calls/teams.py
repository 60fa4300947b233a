"""The Microsoft Teams call-queue history profile: one CSV row per call that reached a queue.

Columns (any case): ``Call ID``, ``Call Start Time``, ``Call Queue Identity``, ``Call Queue Call
Result``, ``Wait Time (s)``, ``Call Duration (s)`` as a call-queue history export names them
(``Agent Name`` and other columns are not read). The municipality is the one the queue's name
names (``KCC Castricum``), unless ``--municipality`` fixes it. ``Call Start Time`` is UTC when
it has no offset, as Teams writes it.

- ``agent_joined_conference``, ``transferred_to_agent``: queued at the start, answered after
  the wait, ended at start + duration;
- ``disconnected`` (the caller hung up), ``timed_out``, ``overflown`` (no agent in time, the
  call left the queue): queued, abandoned after the wait;
- ``declined``, ``error``, ``failed``, ``invalid``: no event, the call never waited for an
  agent (skipped, counted by result); any other value is rejected as ``unknown_outcome``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sources.calls.common import Call, CallMapper, Columns, Skip
from sources.records import BadValue, Reject, label, parse_seconds

__all__ = ["COLUMNS", "TeamsProfile"]

CALL_ID = "Call ID"
START = "Call Start Time"
QUEUE = "Call Queue Identity"
RESULT = "Call Queue Call Result"
WAIT = "Wait Time (s)"
DURATION = "Call Duration (s)"
COLUMNS: Final = (CALL_ID, START, QUEUE, RESULT, WAIT, DURATION)

ANSWERED: Final = frozenset({"agent_joined_conference", "transferred_to_agent"})
ABANDONED: Final = frozenset({"disconnected", "timed_out", "overflown"})
NOT_QUEUED: Final = frozenset({"declined", "error", "failed", "invalid"})


class TeamsProfile:
    """Maps rows of a Teams call-queue history export."""

    name = "teams"

    def __init__(self, mapper: CallMapper) -> None:
        self.mapper = mapper
        self.columns: Columns | None = None
        self._queues: dict[str, tuple[str, str]] = {}

    def header(self, header: Sequence[str]) -> None:
        self.columns = Columns(header, COLUMNS)

    def row(self, row: Sequence[str]) -> list[dict[str, Any]] | Reject | Skip:
        assert self.columns is not None, "header() first"
        c = self.columns
        result = c.get(row, RESULT).strip().lower()
        if result in NOT_QUEUED:
            return Skip(f"teams_{result}")
        try:
            call_id = c.get(row, CALL_ID).strip()
            if not call_id:
                raise BadValue("missing_value", CALL_ID, "is empty")
            municipality, queue = self._queue(c.get(row, QUEUE).strip())
            # Teams writes UTC without an offset
            start = self.mapper.times.epoch(c.get(row, START), START, default_utc=True)
            wait = parse_seconds(c.get(row, WAIT), WAIT) or 0.0
            if result in ANSWERED:
                duration = parse_seconds(c.get(row, DURATION), DURATION)
                answered = start + wait
                ended = start + max(duration, wait) if duration is not None else None
                call = Call(
                    call_id, municipality, queue, "telefoon", start, answered=answered, ended=ended
                )
            elif result in ABANDONED:
                call = Call(call_id, municipality, queue, "telefoon", start, abandoned=start + wait)
            elif not result:
                raise BadValue("missing_value", RESULT, "is empty")
            else:
                raise BadValue("unknown_outcome", RESULT, "is not a Teams call-queue call result")
        except BadValue as bad:
            return bad.reject
        return self.mapper.events(call)

    def _queue(self, identity: str) -> tuple[str, str]:
        found = self._queues.get(identity)
        if found is None:
            found = (self.mapper.municipality(identity, QUEUE, within=True), label(identity))
            self._queues[identity] = found
        return found
