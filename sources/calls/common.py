"""What the call profiles share: a normalised call, its events, and the column lookup.

A profile reads its rows into a `Call` (times as UTC epoch seconds, the municipality as the
contract's slug); `CallMapper.events` turns a `Call` into its events:

- ``call.queued`` at ``entered`` (channel, queue label);
- ``call.answered`` at ``answered``, or ``call.abandoned`` at ``abandoned``;
- ``call.ended`` at ``ended`` (only after an answer), with ``resolved`` when the source says.

Every time must come at or after the one before it (a call answered before it entered the queue
is refused as ``bad_order``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from events.vocabulary import TYPE_PREFIX
from sources.pseudonym import Pseudonymiser
from sources.records import BadValue, LocalTimes, Municipalities, Reject, Skip

__all__ = ["Call", "CallMapper", "Columns", "MissingColumns", "Skip"]

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One queued call, normalised from a profile's row; times in UTC epoch seconds."""

    call_id: str
    municipality: str
    queue: str | None
    channel: str
    entered: float
    answered: float | None = None
    abandoned: float | None = None
    ended: float | None = None
    resolved: bool | None = None


class MissingColumns(ValueError):
    """The header lacks columns a profile needs; the message names them (and what it has)."""

    def __init__(self, missing: Sequence[str], header: Sequence[str]) -> None:
        names = ", ".join(repr(m) for m in missing)
        word = "column" if len(missing) == 1 else "columns"
        shown = ", ".join(repr(h) for h in header[:20])
        super().__init__(f"the file has no {word} {names} (its header: {shown})")
        self.missing = tuple(missing)


class Columns:
    """Positions of named columns in a header (names matched without case and outer spaces)."""

    def __init__(
        self, header: Sequence[str], required: Sequence[str], optional: Sequence[str] = ()
    ) -> None:
        found = {name.strip().lower(): i for i, name in enumerate(header)}
        missing = [name for name in required if name.lower() not in found]
        if missing:
            raise MissingColumns(missing, header)
        self.width = len(header)
        self.index: dict[str, int] = {
            name: found[name.lower()] for name in (*required, *optional) if name.lower() in found
        }

    def get(self, row: Sequence[str], name: str) -> str:
        """The value of column ``name`` in ``row`` ('' when the column or the cell is absent)."""
        i = self.index.get(name)
        if i is None or i >= len(row):
            return ""
        return row[i]


CHANNELS: Final = frozenset({"telefoon", "chat", "balie"})
_TYPES: Final = {
    t: TYPE_PREFIX + t for t in ("call.queued", "call.answered", "call.abandoned", "call.ended")
}


class CallMapper:
    """Turns normalised calls of one source system into the contract's events."""

    def __init__(
        self,
        pseudonymiser: Pseudonymiser,
        system: str,
        municipalities: Municipalities,
        times: LocalTimes,
        *,
        municipality: str | None = None,
        channel: str = "telefoon",
    ) -> None:
        if channel not in CHANNELS:
            raise ValueError(f"a call's channel is telefoon, chat or balie, not {channel!r}")
        self.p = pseudonymiser
        self.system = system
        self.municipalities = municipalities
        self.times = times
        self.fixed_municipality = municipality
        self.channel = channel
        self._sources: dict[str, str] = {}

    def municipality(self, text: str, field: str, *, within: bool = False) -> str:
        """The slug for a source's municipality text (or the fixed ``--municipality``)."""
        if self.fixed_municipality is not None:
            return self.fixed_municipality
        slug = (
            self.municipalities.within(text) if within else self.municipalities.of(text)
        ) or self.municipalities.within(text)
        if slug is None:
            if not text.strip():
                raise BadValue("missing_value", field, "is empty")
            raise BadValue(
                "unknown_municipality", field, "names none of the configured municipalities"
            )
        return slug

    def source(self, municipality: str) -> str:
        found = self._sources.get(municipality)
        if found is None:
            found = self._sources[municipality] = f"urn:nld:gemeente:{municipality}:{self.system}"
        return found

    def event(
        self,
        call_key: str,
        type: str,
        moment: float,
        municipality: str,
        data: Mapping[str, Any] | None = None,
        *,
        subject: str | None = None,
    ) -> Event:
        """One event about the call ``call_key`` (its id: system, call key and type).

        The contract's CloudEvent as `sources.records.cloud_event` builds it, written out (as in
        `events`): this runs for every line of a queue_log of millions of lines.
        """
        p = self.p
        system = self.system
        body = {"municipality": municipality}
        if data:
            body.update(data)
        return {
            "specversion": "1.0",
            "id": p.record_event_id(system, call_key, type),
            "source": self.source(municipality),
            "type": TYPE_PREFIX + type,
            "time": self.times.text(moment),
            "subject": subject or p.subject(system, call_key),
            "datacontenttype": "application/json",
            "data": body,
        }

    def events(self, call: Call) -> list[Event] | Reject:
        """The events of one call, or why it cannot be mapped."""
        m = call.municipality
        entered, answered, ended = call.entered, call.answered, call.ended
        queued: dict[str, Any] = {"municipality": m, "channel": call.channel}
        if call.queue:
            queued["queue"] = call.queue
        plan: list[tuple[str, float, dict[str, Any]]] = [("call.queued", entered, queued)]
        if answered is not None:
            if answered < entered:
                return Reject("bad_order", "answered_at", "lies before the call entered the queue")
            plan.append(("call.answered", answered, {"municipality": m}))
            if ended is not None:
                if ended < answered:
                    return Reject("bad_order", "ended_at", "lies before the call was answered")
                closing: dict[str, Any] = {"municipality": m}
                if call.resolved is not None:
                    closing["resolved"] = call.resolved
                plan.append(("call.ended", ended, closing))
        elif call.abandoned is not None:
            if call.abandoned < entered:
                return Reject("bad_order", "ended_at", "lies before the call entered the queue")
            plan.append(("call.abandoned", call.abandoned, {"municipality": m}))
        subject, ids = self.p.record_ids(self.system, call.call_id, [step[0] for step in plan])
        source = self.source(m)
        text = self.times.text
        return [
            {
                "specversion": "1.0",
                "id": event_id,
                "source": source,
                "type": _TYPES[type],
                "time": text(moment),
                "subject": subject,
                "datacontenttype": "application/json",
                "data": data,
            }
            for (type, moment, data), event_id in zip(plan, ids, strict=True)
        ]
