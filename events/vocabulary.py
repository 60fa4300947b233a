"""The contract's words (sections 1 and 2): kinds, channels, segments, resolutions, event types.

Each word list exists twice: as a `StrEnum` (for typed code and the pydantic models, whose JSON
Schemas list the allowed values) and as a `frozenset[str]` of plain values (for the decoder's
membership checks, which compare the strings that came out of the JSON parser).

Municipalities are deliberately absent: they are configuration, and whoever builds a decoder passes
the allowed slugs in.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

SPECVERSION: Final = "1.0"
"""The only CloudEvents `specversion` the contract accepts."""

TYPE_PREFIX: Final = "nl.contactmonitor."
"""Every event's full CloudEvents `type` is this prefix plus a short name such as `item.opened`."""


class Kind(StrEnum):
    """What an item is: a report, a question, a call-back request, a complaint or an application."""

    MELDING = "melding"
    VRAAG = "vraag"
    TERUGBELVERZOEK = "terugbelverzoek"
    KLACHT = "klacht"
    AANVRAAG = "aanvraag"


class Channel(StrEnum):
    """How the person reached the municipality."""

    TELEFOON = "telefoon"
    BALIE = "balie"
    EMAIL = "email"
    WEBFORMULIER = "webformulier"
    APP = "app"
    BRIEF = "brief"
    CHAT = "chat"
    SOCIAL = "social"


class CallChannel(StrEnum):
    """The channels that have a live queue: phone, chat and the counter."""

    TELEFOON = "telefoon"
    CHAT = "chat"
    BALIE = "balie"


class Segment(StrEnum):
    """Who the person is; entrepreneurs and societal partners get special attention in policy."""

    INWONER = "inwoner"
    ONDERNEMER = "ondernemer"
    MAATSCHAPPELIJKE_PARTNER = "maatschappelijke_partner"
    ONBEKEND = "onbekend"


class Resolution(StrEnum):
    """How an item was closed; `ingetrokken` and `vervallen` before the deadline exclude a norm."""

    AFGEHANDELD = "afgehandeld"
    DOORGESTUURD = "doorgestuurd"
    INGETROKKEN = "ingetrokken"
    VERVALLEN = "vervallen"


class EventType(StrEnum):
    """The short event type names; the CloudEvents `type` is `TYPE_PREFIX` + the value."""

    ITEM_OPENED = "item.opened"
    ITEM_RESPONDED = "item.responded"
    ITEM_PAUSED = "item.paused"
    ITEM_RESUMED = "item.resumed"
    ITEM_CLOSED = "item.closed"
    ITEM_REOPENED = "item.reopened"
    CALL_QUEUED = "call.queued"
    CALL_ANSWERED = "call.answered"
    CALL_ABANDONED = "call.abandoned"
    CALL_ENDED = "call.ended"
    FEEDBACK_GIVEN = "feedback.given"

    @property
    def full(self) -> str:
        """The CloudEvents `type` attribute, e.g. `nl.contactmonitor.item.opened`."""
        return TYPE_PREFIX + self.value

    @property
    def family(self) -> str:
        """`item`, `call` or `feedback`: the part of the name before the dot."""
        return self.value.partition(".")[0]


KINDS: Final = frozenset(member.value for member in Kind)
CHANNELS: Final = frozenset(member.value for member in Channel)
CALL_CHANNELS: Final = frozenset(member.value for member in CallChannel)
SEGMENTS: Final = frozenset(member.value for member in Segment)
RESOLUTIONS: Final = frozenset(member.value for member in Resolution)
EVENT_TYPES: Final = frozenset(member.value for member in EventType)

ITEM_TYPES: Final = frozenset(t.value for t in EventType if t.family == "item")
CALL_TYPES: Final = frozenset(t.value for t in EventType if t.family == "call")

DEFAULT_CATEGORY: Final = "overig"
DEFAULT_SEGMENT: Final = Segment.ONBEKEND.value
DEFAULT_RESOLUTION: Final = Resolution.AFGEHANDELD.value

MAX_LABEL_LENGTH: Final = 100
"""Category, team, queue and source system are labels, not free text: at most this many characters,
none of them a control character."""
MAX_SUBJECT_LENGTH: Final = 200
"""Subjects are pseudonymous ids (a UUID is 36 characters, a hex HMAC 64)."""
NO_CONTROL_CHARACTERS: Final = r"^[^\x00-\x1f\x7f]+$"
"""The pattern labels and subjects match (the models and the JSON Schemas use it as it is)."""
