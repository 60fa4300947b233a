"""The hot path: raw bytes in, an `Event` or a `Rejection` out.

`Decoder.decode` applies the checks of the contract (section 2) by hand over the dict that
`orjson.loads` returns: exact type tests, set membership, a cached RFC 3339 time conversion. The
whole decode of a typical event costs about three to four times `orjson.loads` alone (about 2 µs on
top of the parse on the development machine); validating through the pydantic models in
`events.models` would cost many times more. The models stay the readable specification; a
property-based test (tests/unit/test_events_models.py) proves both accept and reject the same
events and fill in the same defaults.

Rules that both sides apply:

- An attribute or data field whose value is JSON `null` counts as absent: a required one is then
  missing, an optional one takes its default.
- Unknown attributes and data fields are ignored. `Event.data` holds only the contract's fields of
  the event's type, every one of them present (`None` where absent and without a default).
- Strings that name something (`id`, `source`, `subject`, `category`, ...) must be non-empty.
- `time` is RFC 3339 with a `T` (or `t`, or a space), seconds, an optional fraction and a `Z` or
  `±HH:MM` offset. A time without offset is refused: it names no moment.

Checks only the decoder makes, because they need context: the municipality must be one of the
configured ones, and `time` may lie at most `max_future` seconds after `now`.

A `Rejection` carries a machine-readable `Reason`, the offending field and a fixed sentence; never a
value from the event, so it can be logged as it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import orjson

from events.errors import InvalidEvent
from events.personal import REDACTED, personal_data_in
from events.vocabulary import (
    CALL_CHANNELS,
    CHANNELS,
    DEFAULT_CATEGORY,
    DEFAULT_RESOLUTION,
    DEFAULT_SEGMENT,
    KINDS,
    MAX_LABEL_LENGTH,
    MAX_SUBJECT_LENGTH,
    RESOLUTIONS,
    SEGMENTS,
    SPECVERSION,
    TYPE_PREFIX,
    EventType,
)

__all__ = [
    "Decoder",
    "Event",
    "Reason",
    "Rejection",
    "is_json_media_type",
    "parse_time",
    "time_to_epoch",
]


class Reason(StrEnum):
    """Why an event was rejected: one machine-readable code per case of the contract."""

    NOT_JSON = "not_json"  # not UTF-8 JSON (orjson also refuses integers beyond 64 bits)
    NOT_OBJECT = "not_object"  # JSON, but not an object
    MISSING_FIELD = "missing_field"  # a required attribute or data field is absent or null
    INVALID_FIELD = "invalid_field"  # wrong type or value: bad specversion, bad time, score 11, ...
    UNKNOWN_TYPE = "unknown_type"  # `type` is a string, but not one of the contract's event types
    UNKNOWN_MUNICIPALITY = "unknown_municipality"  # not one of the configured municipalities
    FUTURE_TIME = "future_time"  # `time` more than `max_future` seconds after `now`
    TIME_OUT_OF_RANGE = "time_out_of_range"  # a time (or its deadline) the calendar cannot place
    WRONG_PARTITION = (
        "wrong_partition"  # set by the driver: keyed to another municipality's partition
    )
    INTERNAL_ERROR = "internal_error"  # set by the core: applying it raised; the shard is unchanged
    TOO_LARGE = "too_large"  # longer than the event size limit (only its first KiB is kept)
    PERSONAL_DATA = "personal_data"  # a subject or label looks like personal data (copy redacted)
    UNKNOWN_SUBJECT = "unknown_subject"  # set by the core: never opened, after the grace period
    ALREADY_OPENED = "already_opened"  # set by the core: another opening for a subject still open
    UNMAPPED_ZAAKTYPE = "unmapped_zaaktype"  # set by ingest: no kind/category for the zaaktype
    SOURCE_UNAVAILABLE = "source_unavailable"  # set by ingest: a resource could not be fetched
    SOURCE_INVALID = "source_invalid"  # set by ingest: a fetched resource does not fit its spec


class Event:
    """A decoded, valid event; plain slots, built once per message on the hot path.

    `type` is the short name (`item.opened`), `time` the event time as UTC epoch seconds, `data` the
    contract's data fields of this type with defaults filled in, `raw` the original bytes.
    """

    __slots__ = (
        "data",
        "id",
        "municipality",
        "raw",
        "source",
        "subject",
        "time",
        "type",
    )

    def __init__(
        self,
        id: str,
        source: str,
        type: str,
        time: float,
        subject: str | None,
        municipality: str,
        data: dict[str, Any],
        raw: bytes = b"",
    ) -> None:
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.subject = subject
        self.municipality = municipality
        self.data = data
        self.raw = raw

    @property
    def full_type(self) -> str:
        """The CloudEvents `type` attribute, e.g. `nl.contactmonitor.item.opened`."""
        return TYPE_PREFIX + self.type

    def __repr__(self) -> str:
        # No subject and no data: a repr ends up in logs.
        return (
            f"Event(type={self.type!r}, municipality={self.municipality!r}, "
            f"source={self.source!r}, id={self.id!r}, time={self.time!r})"
        )


class Rejection:
    """A refused message: the reason code, the offending field, a fixed sentence, the raw bytes.

    `field` is a dotted path such as `time` or `data.kind` (None when the message as a whole is
    wrong); `detail` never contains a value from the message, so both can be logged as they are.
    `exception` is the class name of the exception behind an `internal_error` (never its message,
    which may quote the event).
    """

    __slots__ = ("detail", "exception", "field", "raw", "reason")

    def __init__(
        self,
        reason: Reason,
        field: str | None,
        detail: str,
        raw: bytes,
        exception: str | None = None,
    ) -> None:
        self.reason = reason
        self.field = field
        self.detail = detail
        self.raw = raw
        self.exception = exception

    def __repr__(self) -> str:
        # The raw bytes stay out: they may hold anything.
        return (
            f"Rejection(reason={self.reason.value!r}, field={self.field!r}, "
            f"detail={self.detail!r}, raw=<{len(self.raw)} bytes>)"
        )


# -- time -------------------------------------------------------------------------------------

# `text[4:23:3]` of `2024-05-21T09:30:00+02:00` (the usual shape) picks the characters at 4, 7, 10,
# 13, 16, 19 and 22: the separators and the offset's sign and colon. One slice and one set lookup
# settle the usual shape; everything else goes the long way through `_has_rfc3339_shape`.
_USUAL_SHAPES: Final = frozenset({"--T::+:", "--T::-:"})
_UTC_SHAPE: Final = "--T::Z"  # `text[4:20:3]` of `2024-05-21T07:30:00Z`
_SEPARATORS: Final = frozenset({"--T::", "--t::", "-- ::"})
_TIME_DETAIL: Final = "must be an RFC 3339 date-time with an offset"


def _has_rfc3339_shape(text: str) -> bool:
    """True when `text` is laid out as RFC 3339 `date-time`; digits are left to fromisoformat.

    `datetime.fromisoformat` also takes ISO 8601 forms RFC 3339 does not (basic format, week
    dates, no seconds, no offset, `+HH` offsets, a comma before the fraction, any separator), so the
    layout is checked first: separators at fixed places, then the tail after the seconds.
    """
    size = len(text)
    if size < 20 or text[4:17:3] not in _SEPARATORS:
        return False
    tail = text[19]
    if tail in ("Z", "z"):
        return size == 20
    if tail in ("+", "-"):
        return size == 25 and text[22] == ":"
    if tail != ".":
        return False
    if text[-1] in ("Z", "z"):
        fraction = text[20:-1]
    elif size >= 27 and text[-6] in ("+", "-") and text[-3] == ":":
        fraction = text[20:-6]
    else:
        return False
    return fraction.isascii() and fraction.isdigit()


def parse_time(value: object) -> datetime:
    """Parse an RFC 3339 date-time with offset into an aware `datetime`; ValueError otherwise.

    Shared by the decoder and the pydantic models, so both agree on every string. Accepts `T`, `t`
    or a space between date and time, any number of fraction digits (microseconds are kept), `Z`,
    `z` or `±HH:MM`. Leap seconds (`:60`) are refused: Python's datetime cannot hold them.
    """
    if type(value) is not str:
        raise ValueError(_TIME_DETAIL)
    if not (len(value) == 25 and value[4:23:3] in _USUAL_SHAPES):
        if not _has_rfc3339_shape(value):
            raise ValueError(_TIME_DETAIL)
        if value[10] == "t":
            value = value[:10] + "T" + value[11:]
        if value[-1] == "z":
            value = value[:-1] + "Z"
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(_TIME_DETAIL) from None


# The decoder's fast path for the usual shape. Minutes and seconds are looked up in a table of the
# sixty valid two-digit strings (which checks and converts at once); the date, hour and offset
# together name an hour whose epoch is computed once through `parse_time` and then kept. Events
# cluster in time, so nearly every lookup hits; the cache is emptied when it grows past its bound.
# Module-level and shared by all decoders: every entry is a pure function of its key, and single
# dict operations are atomic, so threads cannot corrupt it.
_TWO_DIGITS: Final = {f"{number:02d}": number for number in range(60)}
_HOUR_EPOCHS: dict[str, float] = {}
_HOUR_EPOCHS_MAX: Final = 20_000  # more than two years of hours in one offset


def time_to_epoch(value: object) -> float:
    """UTC epoch seconds of an RFC 3339 date-time; ValueError when it is not one.

    The same verdict and the same float as `parse_time(value).timestamp()`, nearly twice as fast
    for the usual shape `YYYY-MM-DDTHH:MM:SS±HH:MM` (and as fast for `…Z`). The fast path never
    rejects: whatever it does not recognise goes through `parse_time`.
    """
    if type(value) is str and (
        (len(value) == 25 and value[4:23:3] in _USUAL_SHAPES)
        or (len(value) == 20 and value[4:20:3] == _UTC_SHAPE)
    ):
        minute = _TWO_DIGITS.get(value[14:16])
        second = _TWO_DIGITS.get(value[17:19])
        if minute is not None and second is not None:
            hour_key = value[:13] + value[19:]
            hour = _HOUR_EPOCHS.get(hour_key)
            if hour is None:
                hour = parse_time(f"{value[:13]}:00:00{value[19:]}").timestamp()
                if len(_HOUR_EPOCHS) >= _HOUR_EPOCHS_MAX:
                    _HOUR_EPOCHS.clear()
                _HOUR_EPOCHS[hour_key] = hour
            return hour + (minute * 60 + second)
    return parse_time(value).timestamp()


def is_json_media_type(value: object) -> bool:
    """True for `application/json`, `…+json` and those with parameters (CloudEvents JSON format)."""
    if value == "application/json":
        return True
    if type(value) is not str:
        return False
    media = value.partition(";")[0].strip().lower()
    return media == "application/json" or ("/" in media and media.endswith("+json"))


# -- field checks -------------------------------------------------------------------------------
# The per-type checks are written out field by field: on the hot path a helper call per field
# costs more than the check itself. Each failed check raises at once, naming its field.


def _problem(field: str, value: object, detail: str) -> InvalidEvent:
    """MISSING_FIELD when the value is absent (or null), INVALID_FIELD with `detail` otherwise."""
    if value is None:
        return InvalidEvent(Reason.MISSING_FIELD, field, "is required")
    return InvalidEvent(Reason.INVALID_FIELD, field, detail)


def _invalid(field: str, detail: str) -> InvalidEvent:
    """INVALID_FIELD for a value that is present but wrong."""
    return InvalidEvent(Reason.INVALID_FIELD, field, detail)


_NON_EMPTY: Final = "must be a non-empty string"
_KIND: Final = "must be one of the contract's kinds"
_CHANNEL: Final = "must be one of the contract's channels"
_SEGMENT: Final = "must be one of the contract's segments"
_BOOL: Final = "must be true or false"


_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_LABEL_DETAIL: Final = f"must be 1 to {MAX_LABEL_LENGTH} characters without control characters"
_SUBJECT_DETAIL: Final = f"must be 1 to {MAX_SUBJECT_LENGTH} characters without control characters"


def _label(field: str, value: object) -> str:
    """A free-text label (category, team, queue, source system): short, no control characters."""
    if type(value) is not str or not 0 < len(value) <= MAX_LABEL_LENGTH or _CONTROL.search(value):
        raise _invalid(field, _LABEL_DETAIL)
    return value


def _municipality_only(_data: dict[str, Any], municipality: str) -> dict[str, Any]:
    """item.responded, item.paused, item.resumed, item.reopened, call.answered, call.abandoned."""
    return {"municipality": municipality}


def _item_opened(data: dict[str, Any], municipality: str) -> dict[str, Any]:
    get = data.get
    kind = get("kind")
    if type(kind) is not str or kind not in KINDS:
        raise _problem("data.kind", kind, _KIND)
    channel = get("channel")
    if type(channel) is not str or channel not in CHANNELS:
        raise _problem("data.channel", channel, _CHANNEL)
    category = get("category")
    category = DEFAULT_CATEGORY if category is None else _label("data.category", category)
    segment = get("segment")
    if segment is None:
        segment = DEFAULT_SEGMENT
    elif type(segment) is not str or segment not in SEGMENTS:
        raise _invalid("data.segment", _SEGMENT)
    source_system = get("source_system")
    if source_system is not None:
        _label("data.source_system", source_system)
    team = get("team")
    if team is not None:
        _label("data.team", team)
    return {
        "municipality": municipality,
        "kind": kind,
        "channel": channel,
        "category": category,
        "segment": segment,
        "source_system": source_system,
        "team": team,
    }


def _item_closed(data: dict[str, Any], municipality: str) -> dict[str, Any]:
    resolution = data.get("resolution")
    if resolution is None:
        resolution = DEFAULT_RESOLUTION
    elif type(resolution) is not str or resolution not in RESOLUTIONS:
        raise _invalid("data.resolution", "must be one of the contract's resolutions")
    upheld = data.get("upheld")
    if upheld is not None and type(upheld) is not bool:
        raise _invalid("data.upheld", _BOOL)
    return {"municipality": municipality, "resolution": resolution, "upheld": upheld}


def _call_queued(data: dict[str, Any], municipality: str) -> dict[str, Any]:
    get = data.get
    channel = get("channel")
    if type(channel) is not str or channel not in CALL_CHANNELS:
        raise _problem("data.channel", channel, "must be telefoon, chat or balie")
    queue = get("queue")
    if queue is not None:
        _label("data.queue", queue)
    segment = get("segment")
    if segment is None:
        segment = DEFAULT_SEGMENT
    elif type(segment) is not str or segment not in SEGMENTS:
        raise _invalid("data.segment", _SEGMENT)
    return {"municipality": municipality, "channel": channel, "queue": queue, "segment": segment}


def _call_ended(data: dict[str, Any], municipality: str) -> dict[str, Any]:
    resolved = data.get("resolved")
    if resolved is not None and type(resolved) is not bool:
        raise _invalid("data.resolved", _BOOL)
    return {"municipality": municipality, "resolved": resolved}


def _feedback_given(data: dict[str, Any], municipality: str) -> dict[str, Any]:
    get = data.get
    channel = get("channel")
    if type(channel) is not str or channel not in CHANNELS:
        raise _problem("data.channel", channel, _CHANNEL)
    score = get("score")
    if type(score) is not int or not 1 <= score <= 10:
        raise _problem("data.score", score, "must be a whole number from 1 to 10")
    kind = get("kind")
    if kind is not None and (type(kind) is not str or kind not in KINDS):
        raise _invalid("data.kind", _KIND)
    about = get("about")
    if about is not None and (
        type(about) is not str or not 0 < len(about) <= MAX_SUBJECT_LENGTH or _CONTROL.search(about)
    ):
        raise _invalid("data.about", _SUBJECT_DETAIL)
    return {
        "municipality": municipality,
        "channel": channel,
        "score": score,
        "kind": kind,
        "about": about,
    }


_DataCheck = Callable[[dict[str, Any], str], dict[str, Any]]

# Full CloudEvents type -> (short name, does it need a subject, data check).
_TYPES: Final[dict[str, tuple[str, bool, _DataCheck]]] = {
    EventType.ITEM_OPENED.full: ("item.opened", True, _item_opened),
    EventType.ITEM_RESPONDED.full: ("item.responded", True, _municipality_only),
    EventType.ITEM_PAUSED.full: ("item.paused", True, _municipality_only),
    EventType.ITEM_RESUMED.full: ("item.resumed", True, _municipality_only),
    EventType.ITEM_CLOSED.full: ("item.closed", True, _item_closed),
    EventType.ITEM_REOPENED.full: ("item.reopened", True, _municipality_only),
    EventType.CALL_QUEUED.full: ("call.queued", True, _call_queued),
    EventType.CALL_ANSWERED.full: ("call.answered", True, _municipality_only),
    EventType.CALL_ABANDONED.full: ("call.abandoned", True, _municipality_only),
    EventType.CALL_ENDED.full: ("call.ended", True, _call_ended),
    EventType.FEEDBACK_GIVEN.full: ("feedback.given", False, _feedback_given),
}


DEFAULT_MAX_EVENT_BYTES: Final = 1 << 20
"""Events longer than this (1 MiB) are rejected as `too_large`; a contract event is < 2 KiB."""
KEPT_OF_TOO_LARGE: Final = 1024
"""How much of a too-large event its rejection keeps (the DLQ and rejects file are bounded too)."""


_TEXT_FIELDS: Final = ("category", "team", "queue", "source_system", "about")


def _personal_field(subject: object, clean: dict[str, Any]) -> tuple[str, str] | None:
    """The first field that looks like personal data, and what it looks like; or None."""
    if type(subject) is str:
        what = personal_data_in(subject)
        if what is not None:
            return "subject", what
    for name in _TEXT_FIELDS:
        value = clean.get(name)
        if type(value) is str:
            what = personal_data_in(value)
            if what is not None:
                return f"data.{name}", what
    return None


def _redacted(obj: dict[str, Any], field: str) -> bytes:
    """The event with the value of ``field`` (``subject`` or ``data.<name>``) replaced."""
    copy = dict(obj)
    if field == "subject":
        copy["subject"] = REDACTED
    else:
        copy["data"] = {**copy["data"], field.removeprefix("data."): REDACTED}
    return orjson.dumps(copy)


class Decoder:
    """Turns raw message bytes into an `Event` or a `Rejection`; never raises on bad input.

    `municipalities` are the configured slugs; `max_future` is how far (seconds) an event's time may
    lie after `now` (the contract: 10 minutes); `time_span` is the [start, end) of the times the
    business calendar can place (events outside it are `time_out_of_range`, so a producer's null
    date such as `0001-01-01` never reaches the core). One decoder can serve every message of a
    process: it holds no per-message state.
    """

    __slots__ = ("_earliest", "_latest", "_max_bytes", "_max_future", "_municipalities")

    def __init__(
        self,
        municipalities: Iterable[str],
        max_future: float = 600.0,
        time_span: tuple[float, float] = (-math.inf, math.inf),
        max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._municipalities = frozenset(municipalities)
        self._max_bytes = max_bytes
        self._max_future = max_future
        self._earliest, self._latest = time_span

    @property
    def municipalities(self) -> frozenset[str]:
        """The municipality slugs this decoder accepts."""
        return self._municipalities

    def decode(self, raw: bytes, now: float) -> Event | Rejection:
        """Decode one message; `now` (UTC epoch seconds) bounds how far in the future `time` may be.

        The checks run in the order the contract lists the fields, so a message with several faults
        is rejected for the first: envelope, then data, then the two context checks.
        """
        if len(raw) > self._max_bytes:
            return Rejection(
                Reason.TOO_LARGE,
                None,
                f"is longer than {self._max_bytes} bytes (only the first {KEPT_OF_TOO_LARGE} kept)",
                raw[:KEPT_OF_TOO_LARGE],
            )
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return Rejection(Reason.NOT_JSON, None, "is not UTF-8 encoded JSON", raw)
        if type(obj) is not dict:
            return Rejection(Reason.NOT_OBJECT, None, "is not a JSON object", raw)
        get = obj.get
        try:
            specversion = get("specversion")
            if specversion != SPECVERSION:
                raise _problem("specversion", specversion, 'must be "1.0"')
            event_id = get("id")
            if type(event_id) is not str or not event_id:
                raise _problem("id", event_id, _NON_EMPTY)
            source = get("source")
            if type(source) is not str or not source:
                raise _problem("source", source, _NON_EMPTY)

            full_type = get("type")
            known = _TYPES.get(full_type) if type(full_type) is str else None
            if known is None:
                if type(full_type) is str:
                    raise InvalidEvent(
                        Reason.UNKNOWN_TYPE, "type", "is not one of the contract's event types"
                    )
                raise _problem("type", full_type, "must be a string")
            short_type, needs_subject, check_data = known

            text = get("time")
            try:
                when = time_to_epoch(text)
            except ValueError:
                raise _problem("time", text, _TIME_DETAIL) from None

            subject = get("subject")
            if subject is None:
                if needs_subject:
                    raise _problem("subject", None, _NON_EMPTY)
            elif (
                type(subject) is not str
                or not 0 < len(subject) <= MAX_SUBJECT_LENGTH
                or _CONTROL.search(subject)
            ):
                raise _invalid("subject", _SUBJECT_DETAIL)

            content_type = get("datacontenttype")
            if (
                content_type is not None
                and content_type != "application/json"
                and not is_json_media_type(content_type)
            ):
                raise _invalid("datacontenttype", "must be a JSON media type")

            data = get("data")
            if type(data) is not dict:
                raise _problem("data", data, "must be a JSON object")
            municipality = data.get("municipality")
            if type(municipality) is not str or not municipality:
                raise _problem("data.municipality", municipality, _NON_EMPTY)
            clean = check_data(data, municipality)
            personal = _personal_field(subject, clean)
            if personal is not None:
                field, what = personal
                return Rejection(
                    Reason.PERSONAL_DATA,
                    field,
                    f"looks like {what}, where the contract wants a pseudonym or a label "
                    "(the value is redacted in this copy)",
                    _redacted(obj, field),
                )

            if municipality not in self._municipalities:
                raise InvalidEvent(
                    Reason.UNKNOWN_MUNICIPALITY,
                    "data.municipality",
                    "is not one of the configured municipalities",
                )
            if when > now + self._max_future:
                raise InvalidEvent(Reason.FUTURE_TIME, "time", "lies too far in the future")
            if not self._earliest <= when < self._latest:
                raise InvalidEvent(
                    Reason.TIME_OUT_OF_RANGE,
                    "time",
                    "lies outside the years the business calendar covers (a null date such as "
                    "0001-01-01?)",
                )
        except InvalidEvent as problem:
            return Rejection(Reason(problem.reason), problem.field, problem.detail, raw)
        return Event(event_id, source, short_type, when, subject, municipality, clean, raw)
