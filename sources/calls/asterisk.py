"""The Asterisk ``queue_log`` profile: one line per queue event, mapped line by line.

A line is ``timestamp|callid|queue|agent|event|param1|param2|...`` (the timestamp in UTC epoch
seconds). Each line maps on its own, so a log of any size is read with bounded memory and a
call's lines may be split over two files:

- ``ENTERQUEUE`` → ``call.queued`` (the caller id in its parameters is not read);
- ``CONNECT`` → ``call.answered``;
- ``ABANDON``, ``EXITWITHTIMEOUT``, ``EXITWITHKEY``, ``EXITEMPTY`` → ``call.abandoned``;
- ``COMPLETEAGENT``, ``COMPLETECALLER``, ``TRANSFER``, ``BLINDTRANSFER``,
  ``ATTENDEDTRANSFER`` → ``call.ended``;
- anything else (``AGENTCALLED``, ``RINGNOANSWER``, ``ADDMEMBER``, ``PAUSE``, ...): no event
  (skipped, counted by its name).

The agent field is never read. A call is identified by its ``callid`` and queue together (a call
transferred to a second queue is a second queued call there); the municipality is the one the
queue's name names (``castricum-kcc``), unless ``--municipality`` fixes it.
"""

from __future__ import annotations

from typing import Any, Final

from sources.calls.common import CallMapper, Skip
from sources.records import BadValue, Reject, label

__all__ = ["EVENTS", "AsteriskProfile"]

EVENTS: Final = {
    "ENTERQUEUE": "call.queued",
    "CONNECT": "call.answered",
    "ABANDON": "call.abandoned",
    "EXITWITHTIMEOUT": "call.abandoned",
    "EXITWITHKEY": "call.abandoned",
    "EXITEMPTY": "call.abandoned",
    "COMPLETEAGENT": "call.ended",
    "COMPLETECALLER": "call.ended",
    "TRANSFER": "call.ended",
    "BLINDTRANSFER": "call.ended",
    "ATTENDEDTRANSFER": "call.ended",
}
FIELDS: Final = 5  # timestamp, callid, queue, agent, event


class AsteriskProfile:
    """Maps ``queue_log`` lines (already split at ``|``)."""

    name = "asterisk"

    def __init__(self, mapper: CallMapper) -> None:
        self.mapper = mapper
        self._queues: dict[str, tuple[str, str]] = {}

    def row(self, fields: list[str]) -> list[dict[str, Any]] | Reject | Skip:
        """The event of one line, or why there is none."""
        if len(fields) < FIELDS:
            return Reject("bad_line", None, "has fewer than 5 '|'-separated fields")
        stamp, callid, queue_name, _agent, name = fields[:FIELDS]
        etype = EVENTS.get(name.strip())
        if etype is None:
            return Skip(name.strip() or "no_event")
        callid = callid.strip()
        if not callid or callid == "NONE":
            return Reject("missing_value", "callid", "is empty")
        try:
            municipality, queue = self._queue(queue_name.strip())
            time = self._time(stamp)
        except BadValue as bad:
            return bad.reject
        key = f"{queue_name.strip()}/{callid}"
        data: dict[str, Any] | None = None
        if etype == "call.queued":
            data = {"channel": self.mapper.channel, "queue": queue}
        return [self.mapper.event(key, etype, time, municipality, data)]

    def _queue(self, name: str) -> tuple[str, str]:
        found = self._queues.get(name)
        if found is None:
            if not name or name == "NONE":
                raise BadValue("missing_value", "queue", "is empty")
            found = (self.mapper.municipality(name, "queue", within=True), label(name))
            self._queues[name] = found
        return found

    @staticmethod
    def _time(stamp: str) -> float:
        try:
            seconds = float(stamp)
        except ValueError:
            raise BadValue("bad_date", "timestamp", "is not a number of epoch seconds") from None
        if not 946_684_800 <= seconds < 4_102_444_800:  # 2000 up to 2100
            raise BadValue("bad_date", "timestamp", "lies outside the years 2000 to 2099")
        return seconds
