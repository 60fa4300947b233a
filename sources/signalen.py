"""Signalen (the open-source reporting system of Amsterdam and the VNG) to item events: pure.

Models of the private API's responses, named after its fields (only the fields read; the rest,
among them the reporter's e-mail address and phone number, the text and the location, is never
kept): `SignalPage` (``/signals/v1/private/signals/``: ``_links.next.href``, ``count``,
``results``), `Signal` and `HistoryEntry` (``/signals/v1/private/signals/{id}/history``).

`SignalenMapper.events` turns a signal and its history into contract events. The history's
``UPDATE_STATUS`` entries say ``Status gewijzigd naar: <display name>``; the display name gives
the state (`STATES`), and the state the event:

- the signal itself (``created_at``) → ``item.opened`` (kind ``melding``, category
  ``<main_slug>-<sub_slug>`` or the sub slug, channel from ``source``);
- the first change to a state in ``response_states`` (default ``b``, ``ingepland``,
  ``reaction requested``, ``forward to external``) → ``item.responded``;
- ``h`` (on hold), ``reaction requested`` → ``item.paused``; ``reaction received`` and any
  later change to a working state while paused → ``item.resumed``;
- ``o`` afgehandeld → ``item.closed`` (``afgehandeld``), ``a`` geannuleerd → ``item.closed``
  (``ingetrokken``); ``reopened`` → ``item.reopened``;
- ``RECEIVE_FEEDBACK`` entries (the KTO) → ``feedback.given`` about the signal, with the score
  configured for satisfied (``Ja, …``) or not (``Nee, …``).

Event ids come from the history entry (``p.event_id("signalen", signal_id, identifier, type)``),
so fetching a history again gives the same events; `history_number` orders the entries for the
poller's cursor. `deadline_disagrees` compares Signalen's category deadline (Monday to Friday,
no holidays) with the same number of working days on the monitor's calendar (Dutch holidays).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from sources.pseudonym import Pseudonymiser
from sources.records import LocalTimes, Reject, cloud_event

__all__ = [
    "STATES",
    "HistoryEntry",
    "Signal",
    "SignalPage",
    "SignalenConfig",
    "SignalenMapper",
    "deadline_disagrees",
    "history_number",
]

SYSTEM: Final = "signalen"

# display name (as the history shows it) -> state code (Signalen's workflow)
STATES: Final = {
    "gemeld": "m",
    "in afwachting van behandeling": "i",
    "in behandeling": "b",
    "on hold": "h",
    "ingepland": "ingepland",
    "extern: te verzenden": "ready to send",
    "afgehandeld": "o",
    "geannuleerd": "a",
    "heropend": "reopened",
    "gesplitst": "s",
    "extern: verzoek tot afhandeling": "closure requested",
    "reactie gevraagd": "reaction requested",
    "reactie ontvangen": "reaction received",
    "doorzetten naar extern": "forward to external",
    "extern: verzonden": "sent",
    "extern: mislukt": "send failed",
    "extern: afgehandeld": "done external",
    "verzoek tot heropenen": "reopen requested",
}
PAUSING: Final = frozenset({"h", "reaction requested"})
CLOSING: Final = {"o": "afgehandeld", "a": "ingetrokken"}
STATUS_PREFIX: Final = "status gewijzigd naar:"
_NUMBER = re.compile(r"_(\d+)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Link(_Model):
    href: str | None = None


class Links(_Model):
    next: Link = Field(default_factory=Link)


class Category(_Model):
    main_slug: str
    sub_slug: str
    deadline: datetime | None = None
    deadline_factor_3: datetime | None = None


class Status(_Model):
    state: str
    created_at: datetime


class Signal(_Model):
    id: int
    signal_id: str
    source: str = ""
    status: Status
    category: Category
    created_at: datetime
    updated_at: datetime


class SignalPage(_Model):
    links: Links = Field(alias="_links")
    count: int
    results: list[Signal]


class HistoryEntry(_Model):
    identifier: str
    when: datetime
    what: str
    action: str | None = None
    description: str | None = None


def history_number(entry: HistoryEntry) -> int:
    """The number at the end of an entry's identifier (``UPDATE_STATUS_124`` → 124), or 0."""
    match = _NUMBER.search(entry.identifier)
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class SignalenConfig:
    """What a municipality decides about its Signalen instance."""

    municipality: str
    response_states: frozenset[str] = frozenset(
        {"b", "ingepland", "reaction requested", "forward to external"}
    )
    satisfied_score: int = 8
    unsatisfied_score: int = 3
    channels: dict[str, str] = field(
        default_factory=lambda: {"telefoon": "telefoon", "e-mail": "email", "balie": "balie"}
    )
    default_channel: str = "webformulier"


class SignalenMapper:
    """A signal and its history → contract events (see the module doc)."""

    def __init__(self, p: Pseudonymiser, config: SignalenConfig, times: LocalTimes) -> None:
        self.p = p
        self.config = config
        self.times = times
        self.source = f"urn:nld:gemeente:{config.municipality}:{SYSTEM}"

    def _channel(self, source: str) -> str:
        text = source.lower()
        for word, channel in self.config.channels.items():
            if word in text:
                return channel
        return self.config.default_channel

    def _event(
        self, signal: Signal, parts: Sequence[str], type: str, when: datetime, **data: Any
    ) -> dict[str, Any]:
        return cloud_event(
            event_id=self.p.event_id(SYSTEM, signal.signal_id, *parts, type),
            source=self.source,
            type=type,
            time=self.times.rfc3339(when),
            subject=self.p.subject(SYSTEM, signal.signal_id),
            data={"municipality": self.config.municipality, **data},
        )

    def events(
        self, signal: Signal, history: Iterable[HistoryEntry]
    ) -> list[tuple[str, int, dict[str, Any]]] | Reject:
        """``(what, history number, event)`` for the signal's opening (``("opened", 0, …)``)
        and each history entry that means an event (``UPDATE_STATUS`` or ``RECEIVE_FEEDBACK``
        and its number): the poller sends those past its cursor."""
        cat = signal.category
        category = (
            cat.sub_slug if cat.sub_slug == cat.main_slug else f"{cat.main_slug}-{cat.sub_slug}"
        )
        opened = self._event(
            signal,
            ("opened",),
            "item.opened",
            signal.created_at,
            kind="melding",
            channel=self._channel(signal.source),
            category=category[:100],
            source_system=SYSTEM,
        )
        out: list[tuple[str, int, dict[str, Any]]] = [("opened", 0, opened)]
        responded = paused = False
        for entry in sorted(history, key=lambda e: (e.when, history_number(e))):
            number = history_number(entry)
            parts = (entry.identifier,)
            if entry.what == "RECEIVE_FEEDBACK":
                satisfied = (entry.description or "").strip().lower().startswith("ja")
                score = self.config.satisfied_score if satisfied else self.config.unsatisfied_score
                data = {"channel": self._channel(signal.source), "score": score, "kind": "melding"}
                feedback = self._event(signal, parts, "feedback.given", entry.when, **data)
                feedback["data"]["about"] = feedback["subject"]
                out.append((entry.what, number, feedback))
                continue
            if entry.what != "UPDATE_STATUS":
                continue
            action = (entry.action or "").strip()
            if not action.lower().startswith(STATUS_PREFIX):
                return Reject("unknown_status", "history.action", "is not a status change")
            state = STATES.get(action[len(STATUS_PREFIX) :].strip().lower())
            if state is None:
                return Reject("unknown_status", "history.action", "names an unknown status")
            types: list[tuple[str, dict[str, Any]]] = []
            if state == "reopened":
                types.append(("item.reopened", {}))
                responded = paused = False
            elif state in CLOSING:
                types.append(("item.closed", {"resolution": CLOSING[state]}))
                paused = False
            elif state in PAUSING:
                if not paused:
                    types.append(("item.paused", {}))
                    paused = True
            elif paused and state not in ("m", "i"):
                types.append(("item.resumed", {}))
                paused = False
            if state in self.config.response_states and not responded:
                types.insert(0, ("item.responded", {}))
                responded = True
            for type, data in types:
                event = self._event(signal, parts, type, entry.when, **data)
                out.append((entry.what, number, event))
        return out


def _mon_fri_days(start: date, end: date) -> int:
    """Signalen's count: Monday to Friday days after ``start`` up to and including ``end``."""
    days, d = 0, start
    while d < end:
        d += timedelta(days=1)
        days += d.weekday() < 5
    return days


def deadline_disagrees(signal: Signal, calendar: Any) -> bool | None:
    """Whether Signalen's category deadline falls on another day than the same number of
    working days on the monitor's calendar (which knows holidays); None without a deadline.

    ``calendar`` is a `streams.core.calendar.BusinessCalendar` (``local_date``,
    ``is_working_day``, ``next_working_day``).
    """
    due = signal.category.deadline
    if due is None:
        return None
    opened_day = calendar.local_date(signal.created_at.timestamp())
    theirs = calendar.local_date(due.timestamp())
    ours, left = opened_day, _mon_fri_days(opened_day, theirs)
    while left > 0:
        ours = calendar.next_working_day(ours)
        left -= 1
    return bool(ours != theirs)
