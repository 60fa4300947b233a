"""pydantic models of the contract's events (sections 1 and 2): the readable specification.

One CloudEvents 1.0 envelope (NL GOV profile, structured JSON mode) and one model per event type,
each with its own data model. They generate the JSON Schemas in `events/schemas/` and serve callers
that want typed objects (tests, tools, the simulator). The stream processor does not use them: it
decodes with the hand-written checks of `events.decode`, which a property-based test holds to
exactly the verdicts of these models.

Deliberate choices, shared with the decoder:

- `extra="ignore"`: unknown attributes and data fields are ignored, not rejected (contract §2).
- `strict=True`: no coercion. A score must be a JSON integer (not `7.0`, not `"7"`, not `true`),
  a flag a JSON boolean. Word lists (`kind`, `channel`, ...) take their plain string values.
- JSON `null` counts as absent: a required field that is null is missing, an optional one takes
  its default.
- Names (`id`, `source`, `subject`, `category`, ...) are non-empty strings.
- `time` is RFC 3339 with an offset, parsed by the same function the decoder uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    model_validator,
)

from events.decode import is_json_media_type, parse_time
from events.vocabulary import (
    DEFAULT_CATEGORY,
    MAX_LABEL_LENGTH,
    MAX_SUBJECT_LENGTH,
    NO_CONTROL_CHARACTERS,
    CallChannel,
    Channel,
    EventType,
    Kind,
    Resolution,
    Segment,
)


def _json_media_type(value: str) -> str:
    if not is_json_media_type(value):
        raise ValueError("must be application/json or a +json media type")
    return value


# -- reusable field types -----------------------------------------------------------------------

EventId = Annotated[
    str,
    Field(
        min_length=1,
        description="Unique within its source; `source` + `id` identify the event, and an event "
        "with a pair seen before is a duplicate that changes nothing.",
    ),
]
Source = Annotated[
    str,
    Field(
        min_length=1,
        description="URI reference of the sending system.",
        examples=["urn:nld:gemeente:castricum:fixi"],
    ),
]
EventTime = Annotated[
    datetime,
    BeforeValidator(parse_time),
    Field(
        description="When it happened: RFC 3339 with an offset. Event time drives every clock; "
        "arrival order does not.",
        examples=["2024-05-21T09:30:00+02:00"],
    ),
]
Subject = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_SUBJECT_LENGTH,
        pattern=NO_CONTROL_CHARACTERS,
        description="Pseudonymous id of the item or call; never a name, BSN, phone number or "
        "e-mail address.",
        examples=["fixi-3c1e9a"],
    ),
]
ContentType = Annotated[
    str,
    AfterValidator(_json_media_type),
    Field(description="Media type of `data`: application/json (or another +json type)."),
]
Municipality = Annotated[
    str,
    Field(
        min_length=1,
        description="Slug of one of the configured municipalities.",
        examples=["castricum"],
    ),
]
Name = Annotated[
    str, Field(min_length=1, max_length=MAX_LABEL_LENGTH, pattern=NO_CONTROL_CHARACTERS)
]
KindName = Annotated[Kind, Strict(False), Field(description="What the item is.")]
ChannelName = Annotated[Channel, Strict(False), Field(description="How the person came in.")]
CallChannelName = Annotated[
    CallChannel, Strict(False), Field(description="The live queue's channel.")
]
SegmentName = Annotated[
    Segment, Strict(False), Field(description="Who the person is; every indicator splits by it.")
]
ResolutionName = Annotated[Resolution, Strict(False), Field(description="How it was closed.")]
Score = Annotated[int, Field(ge=1, le=10, description="Satisfaction, a whole number 1 to 10.")]


class ContractModel(BaseModel):
    """Base of every model here: strict, immutable, unknown keys ignored, null read as absent."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: item for key, item in value.items() if item is not None}
        return value


# -- data ---------------------------------------------------------------------------------------


class EventData(ContractModel):
    """The data every event carries: the municipality it belongs to (also the Kafka key)."""

    municipality: Municipality


class ItemOpenedData(EventData):
    """An item arrived: what it is, how it came in and where it is handled."""

    kind: KindName
    channel: ChannelName
    category: Annotated[Name, Field(description="Subject area, e.g. straatverlichting.")] = (
        DEFAULT_CATEGORY
    )
    segment: SegmentName = Segment.ONBEKEND
    source_system: (
        Annotated[Name, Field(description="The system it came from, e.g. fixi.")] | None
    ) = None
    team: Annotated[Name, Field(description="The team that handles it.")] | None = None


class ItemClosedData(EventData):
    """An item was closed: how, and for complaints whether it was upheld (gegrond)."""

    resolution: ResolutionName = Resolution.AFGEHANDELD
    upheld: Annotated[bool, Field(description="Complaints: gegrond.")] | None = None


class CallQueuedData(EventData):
    """A call, chat or counter visit entered a live queue."""

    channel: CallChannelName
    queue: Annotated[Name, Field(description="The queue's name.")] | None = None
    segment: SegmentName = Segment.ONBEKEND


class CallEndedData(EventData):
    """A call ended: whether it was handled within this contact (first-contact resolution)."""

    resolved: Annotated[bool, Field(description="Handled in this contact.")] | None = None


class FeedbackGivenData(EventData):
    """A person rated a contact."""

    channel: ChannelName
    score: Score
    kind: KindName | None = None
    about: (
        Annotated[Subject, Field(description="The subject of the item or call rated.")] | None
    ) = None


# -- envelopes ----------------------------------------------------------------------------------

FullEventType = Literal[
    "nl.contactmonitor.item.opened",
    "nl.contactmonitor.item.responded",
    "nl.contactmonitor.item.paused",
    "nl.contactmonitor.item.resumed",
    "nl.contactmonitor.item.closed",
    "nl.contactmonitor.item.reopened",
    "nl.contactmonitor.call.queued",
    "nl.contactmonitor.call.answered",
    "nl.contactmonitor.call.abandoned",
    "nl.contactmonitor.call.ended",
    "nl.contactmonitor.feedback.given",
]


class CloudEvent(ContractModel):
    """A contact monitor event: a CloudEvents 1.0 JSON object (NL GOV profile, structured mode)."""

    specversion: Literal["1.0"]
    id: EventId
    source: Source
    type: FullEventType
    time: EventTime
    subject: Subject | None = None
    datacontenttype: ContentType | None = None
    data: EventData


class ItemEvent(CloudEvent):
    """An event about an item; `subject` (the item's pseudonymous id) is required."""

    subject: Subject


class CallEvent(CloudEvent):
    """An event about a call; `subject` (the call's pseudonymous id) is required."""

    subject: Subject


class ItemOpened(ItemEvent):
    """An item arrived; it is open until closed and starts the clocks of the norms for it."""

    type: Literal["nl.contactmonitor.item.opened"]
    data: ItemOpenedData


class ItemResponded(ItemEvent):
    """The first reaction to the person; later ones change nothing."""

    type: Literal["nl.contactmonitor.item.responded"]


class ItemPaused(ItemEvent):
    """Waiting on the person: pausable norms stop their clock until item.resumed."""

    type: Literal["nl.contactmonitor.item.paused"]


class ItemResumed(ItemEvent):
    """The person answered: pausable norms start their clock again."""

    type: Literal["nl.contactmonitor.item.resumed"]


class ItemClosed(ItemEvent):
    """The item was handled (or forwarded, withdrawn, lapsed)."""

    type: Literal["nl.contactmonitor.item.closed"]
    data: ItemClosedData


class ItemReopened(ItemEvent):
    """A closed item was opened again; its earlier outcomes stand."""

    type: Literal["nl.contactmonitor.item.reopened"]


class CallQueued(CallEvent):
    """A call, chat or counter visit entered a live queue."""

    type: Literal["nl.contactmonitor.call.queued"]
    data: CallQueuedData


class CallAnswered(CallEvent):
    """Someone took the call."""

    type: Literal["nl.contactmonitor.call.answered"]


class CallAbandoned(CallEvent):
    """The person gave up waiting."""

    type: Literal["nl.contactmonitor.call.abandoned"]


class CallEnded(CallEvent):
    """The conversation ended."""

    type: Literal["nl.contactmonitor.call.ended"]
    data: CallEndedData


class FeedbackGiven(CloudEvent):
    """A person rated a contact; `subject` is optional here (use `about` to name what was rated)."""

    type: Literal["nl.contactmonitor.feedback.given"]
    data: FeedbackGivenData


AnyEvent = (
    ItemOpened
    | ItemResponded
    | ItemPaused
    | ItemResumed
    | ItemClosed
    | ItemReopened
    | CallQueued
    | CallAnswered
    | CallAbandoned
    | CallEnded
    | FeedbackGiven
)
"""Any one of the contract's events."""

MODELS: Final[Mapping[EventType, type[CloudEvent]]] = {
    EventType.ITEM_OPENED: ItemOpened,
    EventType.ITEM_RESPONDED: ItemResponded,
    EventType.ITEM_PAUSED: ItemPaused,
    EventType.ITEM_RESUMED: ItemResumed,
    EventType.ITEM_CLOSED: ItemClosed,
    EventType.ITEM_REOPENED: ItemReopened,
    EventType.CALL_QUEUED: CallQueued,
    EventType.CALL_ANSWERED: CallAnswered,
    EventType.CALL_ABANDONED: CallAbandoned,
    EventType.CALL_ENDED: CallEnded,
    EventType.FEEDBACK_GIVEN: FeedbackGiven,
}
"""The model of each event type."""

EVENT_ADAPTER: Final[TypeAdapter[AnyEvent]] = TypeAdapter(
    Annotated[AnyEvent, Field(discriminator="type")]
)
"""Validates any event, choosing the model by `type`."""


def validate_event(obj: object) -> AnyEvent:
    """Validate a parsed JSON value as one of the contract's events (pydantic.ValidationError)."""
    return EVENT_ADAPTER.validate_python(obj)
