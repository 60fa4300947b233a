"""Signalen (the open-source reporting system of Amsterdam and the VNG) to item events: pure.

Models of the private API's responses, named after its fields (only the fields read; the rest,
among them the reporter's e-mail address and phone number, the text and the location, is never
kept): `SignalPage` (``/signals/v1/private/signals/``: ``_links.next.href``, ``count``,
``results``), `Signal` and `HistoryEntry` (``/signals/v1/private/signals/{id}/history``).

`SignalenMapper.events` turns a signal and its history into contract events. The history's
``UPDATE_STATUS`` entries say ``Status gewijzigd naar: <display name>``; the display name gives
the state (`STATES`), and the state the event:

- the signal itself (``created_at``) → ``item.opened`` (kind ``melding``, category
  ``<main_slug>-<sub_slug>`` or the sub slug, channel from ``source``), in the municipality
  `SignalenConfig.municipality_of` gives (one per instance, or by an area field of the signal);
- the response → ``item.responded``, as configured (``response_from``): the first change to a
  state in ``response_states`` (default ``b``, ``ingepland``, ``reaction requested``,
  ``forward to external``), or the first status change to one of ``reply_states`` that carries
  a text for the reporter (the first public reply), or whichever comes first;
- ``h`` (on hold), ``reaction requested`` → ``item.paused``; ``reaction received`` and any
  later change to a working state while paused → ``item.resumed``;
- ``o`` afgehandeld → ``item.closed`` (``afgehandeld``), ``a`` geannuleerd → ``item.closed``
  (``ingetrokken``); ``reopened`` → ``item.reopened``;
- ``RECEIVE_FEEDBACK`` entries (the KTO) → ``feedback.given`` about the signal, with the score
  configured for satisfied (``Ja, …``) or not (``Nee, …``).

A signal's location is read for its area fields only (``stadsdeel``, ``buurt_code``,
``area_code``, ``area_name``, ``area_type_code``); its address and geometry, the reporter and the
text never reach a model.

Event ids come from the history entry (``p.event_id("signalen", signal_id, identifier, type)``),
so fetching a history again gives the same events; `history_number` orders the entries for the
poller's cursor. `compare_deadlines` puts Signalen's category deadlines (``deadline`` and
``deadline_factor_3``: Monday to Friday, no holidays) beside the same number of working days on
the monitor's calendar (Dutch holidays); `deadline_disagrees` says whether the first differs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from sources.pseudonym import Pseudonymiser
from sources.records import LocalTimes, Reject, cloud_event

__all__ = [
    "AREA_FIELDS",
    "RESPONSE_FROM",
    "STATES",
    "DeadlineComparison",
    "HistoryEntry",
    "Location",
    "Signal",
    "SignalPage",
    "SignalenConfig",
    "SignalenMapper",
    "compare_deadlines",
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


class Location(_Model):
    """The area fields of a signal's location; its address and geometry are never read."""

    stadsdeel: str | None = None
    buurt_code: str | None = None
    area_type_code: str | None = None
    area_code: str | None = None
    area_name: str | None = None


class Signal(_Model):
    id: int
    signal_id: str
    source: str = ""
    status: Status
    category: Category
    location: Location | None = None
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


AREA_FIELDS: Final = (
    "location.stadsdeel",
    "location.buurt_code",
    "location.area_code",
    "location.area_name",
    "location.area_type_code",
    "category.main_slug",
    "category.sub_slug",
)
"""The signal fields a shared instance can place a signal in a municipality by."""

RESPONSE_FROM: Final = ("status", "reply", "either")
DEFAULT_RESPONSE_STATES: Final = frozenset(
    {"b", "ingepland", "reaction requested", "forward to external"}
)
DEFAULT_REPLY_STATES: Final = frozenset(
    {"i", "b", "h", "ingepland", "reaction requested", "o", "a", "reopened"}
)
"""States whose status text Signalen mails to the reporter; not ``m`` (the automatic
confirmation), ``reaction received`` (the reporter's own text) or the external states (a text to
an external handler)."""


@dataclass(frozen=True)
class SignalenConfig:
    """What a municipality (or the municipalities sharing an instance) decides about Signalen.

    - ``municipality``: every signal's municipality, or, with ``area_field``, the default for
      signals whose field's value is not in ``areas`` (None: those are rejected);
    - ``area_field`` and ``areas``: place each signal by a field of its location or category
      (`AREA_FIELDS`): ``areas`` maps a value, or the start of one (``BU0383`` for the buurt
      codes of Castricum), any case, to a municipality's slug; the longest match wins;
    - ``response_from``: what counts as the response: ``status``, the first change to one of
      ``response_states``; ``reply``, the first status change to one of ``reply_states`` that
      carries a text for the reporter; ``either``, whichever comes first;
    - ``satisfied_score`` and ``unsatisfied_score``: the KTO answer (``Ja, …`` or ``Nee, …``,
      as ``satisfied_prefixes`` say) as the contract's 1-10 score.
    """

    municipality: str | None
    area_field: str | None = None
    areas: Mapping[str, str] = field(default_factory=dict)
    response_from: str = "status"
    response_states: frozenset[str] = DEFAULT_RESPONSE_STATES
    reply_states: frozenset[str] = DEFAULT_REPLY_STATES
    satisfied_score: int = 8
    unsatisfied_score: int = 3
    satisfied_prefixes: tuple[str, ...] = ("ja",)
    channels: dict[str, str] = field(
        default_factory=lambda: {"telefoon": "telefoon", "e-mail": "email", "balie": "balie"}
    )
    default_channel: str = "webformulier"

    def __post_init__(self) -> None:
        if self.area_field is not None and self.area_field not in AREA_FIELDS:
            raise ValueError(f"area field must be one of {', '.join(AREA_FIELDS)}")
        if self.area_field is None and self.municipality is None:
            raise ValueError("give a municipality, or an area field with its values")
        if self.response_from not in RESPONSE_FROM:
            raise ValueError(f"response from must be one of {', '.join(RESPONSE_FROM)}")
        for score in (self.satisfied_score, self.unsatisfied_score):
            if not 1 <= score <= 10:
                raise ValueError("KTO scores lie between 1 and 10")

    def municipality_of(self, signal: Signal) -> str | None:
        """The slug of the signal's municipality (see the class doc), or None."""
        if self.area_field is None:
            return self.municipality
        part, name = self.area_field.split(".")
        holder = signal.location if part == "location" else signal.category
        value = getattr(holder, name, None) if holder is not None else None
        text = str(value).strip().lower() if value is not None else ""
        if text:
            found = self._areas().get(text)
            if found is not None:
                return found
            for key, slug in self._prefixes():
                if text.startswith(key):
                    return slug
        return self.municipality

    def _areas(self) -> dict[str, str]:
        return {key.strip().lower(): slug for key, slug in self.areas.items()}

    def _prefixes(self) -> list[tuple[str, str]]:
        return sorted(self._areas().items(), key=lambda item: len(item[0]), reverse=True)


class SignalenMapper:
    """A signal and its history → contract events (see the module doc)."""

    def __init__(self, p: Pseudonymiser, config: SignalenConfig, times: LocalTimes) -> None:
        self.p = p
        self.config = config
        self.times = times

    def _channel(self, source: str) -> str:
        text = source.lower()
        for word, channel in self.config.channels.items():
            if word in text:
                return channel
        return self.config.default_channel

    def _event(
        self,
        signal: Signal,
        municipality: str,
        parts: Sequence[str],
        type: str,
        when: datetime,
        **data: Any,
    ) -> dict[str, Any]:
        return cloud_event(
            event_id=self.p.event_id(SYSTEM, signal.signal_id, *parts, type),
            source=f"urn:nld:gemeente:{municipality}:{SYSTEM}",
            type=type,
            time=self.times.rfc3339(when),
            subject=self.p.subject(SYSTEM, signal.signal_id),
            data={"municipality": municipality, **data},
        )

    def _is_response(self, state: str, entry: HistoryEntry) -> bool:
        config = self.config
        by_status = state in config.response_states
        by_reply = state in config.reply_states and bool((entry.description or "").strip())
        if config.response_from == "status":
            return by_status
        if config.response_from == "reply":
            return by_reply
        return by_status or by_reply

    def events(
        self, signal: Signal, history: Iterable[HistoryEntry]
    ) -> list[tuple[str, int, dict[str, Any]]] | Reject:
        """``(what, history number, event)`` for the signal's opening (``("opened", 0, …)``)
        and each history entry that means an event (``UPDATE_STATUS`` or ``RECEIVE_FEEDBACK``
        and its number): the poller sends those past its cursor."""
        municipality = self.config.municipality_of(signal)
        if municipality is None:
            return Reject(
                "unknown_municipality",
                self.config.area_field,
                "has no value the area mapping knows, and there is no default municipality",
            )
        cat = signal.category
        category = (
            cat.sub_slug if cat.sub_slug == cat.main_slug else f"{cat.main_slug}-{cat.sub_slug}"
        )
        opened = self._event(
            signal,
            municipality,
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
                answer = (entry.description or "").strip().lower()
                satisfied = answer.startswith(self.config.satisfied_prefixes)
                score = self.config.satisfied_score if satisfied else self.config.unsatisfied_score
                data = {"channel": self._channel(signal.source), "score": score, "kind": "melding"}
                feedback = self._event(
                    signal, municipality, parts, "feedback.given", entry.when, **data
                )
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
            if not responded and self._is_response(state, entry):
                types.insert(0, ("item.responded", {}))
                responded = True
            for type, data in types:
                event = self._event(signal, municipality, parts, type, entry.when, **data)
                out.append((entry.what, number, event))
        return out


def _mon_fri_days(start: date, end: date) -> int:
    """Signalen's count: Monday to Friday days after ``start`` up to and including ``end``."""
    days, d = 0, start
    while d < end:
        d += timedelta(days=1)
        days += d.weekday() < 5
    return days


@dataclass(frozen=True)
class DeadlineComparison:
    """Signalen's category deadline beside ours for one signal (dates local).

    Signalen counts ``working_days`` Monday to Friday after the day the signal came in and
    knows no holidays; ours counts as many working days on the monitor's calendar (Dutch
    holidays). ``factor_3`` is the same for Signalen's ``deadline_factor_3`` (None without it).
    """

    opened: date
    working_days: int
    theirs: date
    ours: date
    factor_3: tuple[int, date, date] | None = None

    @property
    def disagrees(self) -> bool:
        return self.theirs != self.ours

    @property
    def factor_3_disagrees(self) -> bool | None:
        return None if self.factor_3 is None else self.factor_3[1] != self.factor_3[2]


def _ours(opened: date, working_days: int, calendar: Any) -> date:
    ours = opened
    for _ in range(working_days):
        ours = calendar.next_working_day(ours)
    return ours


def compare_deadlines(signal: Signal, calendar: Any) -> DeadlineComparison | None:
    """Signalen's deadlines of ``signal`` beside ours (see `DeadlineComparison`); None when the
    category has no deadline.

    ``calendar`` is a `streams.core.calendar.BusinessCalendar` (``local_date``,
    ``next_working_day``).
    """
    due = signal.category.deadline
    if due is None:
        return None
    opened = calendar.local_date(signal.created_at.timestamp())
    theirs = calendar.local_date(due.timestamp())
    days = _mon_fri_days(opened, theirs)
    factor_3 = None
    if signal.category.deadline_factor_3 is not None:
        theirs_3 = calendar.local_date(signal.category.deadline_factor_3.timestamp())
        days_3 = _mon_fri_days(opened, theirs_3)
        factor_3 = (days_3, theirs_3, _ours(opened, days_3, calendar))
    return DeadlineComparison(opened, days, theirs, _ours(opened, days, calendar), factor_3)


def deadline_disagrees(signal: Signal, calendar: Any) -> bool | None:
    """Whether Signalen's category deadline falls on another day than the same number of
    working days on the monitor's calendar (which knows holidays); None without a deadline."""
    comparison = compare_deadlines(signal, calendar)
    return None if comparison is None else comparison.disagrees
