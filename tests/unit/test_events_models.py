"""Tests for events.models (and events.vocabulary): the pydantic specification, and its equivalence
with the hand-written decoder in events.decode."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from events import models
from events.decode import Decoder, Event, Reason
from events.models import (
    MODELS,
    CloudEvent,
    FeedbackGiven,
    ItemClosed,
    ItemOpened,
    validate_event,
)
from events.personal import personal_data_in
from events.vocabulary import (
    CALL_CHANNELS,
    CALL_TYPES,
    CHANNELS,
    EVENT_TYPES,
    ITEM_TYPES,
    KINDS,
    RESOLUTIONS,
    SEGMENTS,
    TYPE_PREFIX,
    EventType,
)

EXAMPLES = Path(models.__file__).parent / "examples"
MUNICIPALITIES = ("bergen", "castricum", "heiloo", "uitgeest")
DECODER = Decoder(MUNICIPALITIES)
NOW = datetime(2024, 6, 1, tzinfo=UTC).timestamp()
# What only the decoder checks, because it needs context the models do not have.
CONTEXT_REASONS = frozenset(
    # what the models cannot judge: the configuration, the wall clock and the personal-data check
    {
        Reason.UNKNOWN_MUNICIPALITY,
        Reason.FUTURE_TIME,
        Reason.TIME_OUT_OF_RANGE,
        Reason.PERSONAL_DATA,
    }
)


def valid_lines() -> list[bytes]:
    return (EXAMPLES / "valid.jsonl").read_bytes().splitlines()


def example(short: str) -> dict[str, Any]:
    """The valid example of one event type, as a dict."""
    for line in valid_lines():
        event: dict[str, Any] = orjson.loads(line)
        if event["type"] == TYPE_PREFIX + short:
            return event
    raise LookupError(short)


def parse(raw: bytes) -> models.AnyEvent:
    """One JSON message through the models, parsed with orjson like the decoder does."""
    return validate_event(orjson.loads(raw))


def refuses(event: object) -> bool:
    try:
        validate_event(event)
    except ValidationError:
        return True
    return False


class TestVocabulary:
    """The word lists say what the contract says, and the models use exactly them."""

    def test_the_contract_words(self) -> None:
        assert {"melding", "vraag", "terugbelverzoek", "klacht", "aanvraag"} == KINDS
        assert {
            "telefoon",
            "balie",
            "email",
            "webformulier",
            "app",
            "brief",
            "chat",
            "social",
        } == CHANNELS
        assert {"telefoon", "chat", "balie"} == CALL_CHANNELS
        assert CALL_CHANNELS <= CHANNELS
        assert {"inwoner", "ondernemer", "maatschappelijke_partner", "onbekend"} == SEGMENTS
        assert {"afgehandeld", "doorgestuurd", "ingetrokken", "vervallen"} == RESOLUTIONS

    def test_event_types_and_families(self) -> None:
        assert len(EVENT_TYPES) == 11
        assert ITEM_TYPES | CALL_TYPES | {"feedback.given"} == EVENT_TYPES
        assert EventType.CALL_QUEUED.full == "nl.contactmonitor.call.queued"
        assert EventType.FEEDBACK_GIVEN.family == "feedback"

    def test_every_event_type_has_a_model_whose_type_is_its_full_name(self) -> None:
        assert set(MODELS) == set(EventType)
        for event_type, model in MODELS.items():
            assert typing.get_args(model.model_fields["type"].annotation) == (event_type.full,)
        assert set(typing.get_args(models.FullEventType)) == {t.full for t in EventType}

    def test_subject_is_required_exactly_for_item_and_call_events(self) -> None:
        for event_type, model in MODELS.items():
            required = model.model_fields["subject"].is_required()
            assert required == (event_type.family in ("item", "call"))


class TestModels:
    """The models accept the examples and apply the contract's rules."""

    def test_every_valid_example_parses_into_its_model(self) -> None:
        for line in valid_lines():
            event = parse(line)
            assert type(event) is MODELS[EventType(event.type.removeprefix(TYPE_PREFIX))]
            assert event.time.tzinfo is not None

    def test_the_envelope_reads_any_event(self) -> None:
        for line in valid_lines():
            envelope = CloudEvent.model_validate(orjson.loads(line))
            assert envelope.data.municipality in MUNICIPALITIES

    def test_defaults_are_filled_in(self) -> None:
        event = example("item.opened")
        event["data"] = {"municipality": "castricum", "kind": "melding", "channel": "app"}
        opened = validate_event(event)
        assert isinstance(opened, ItemOpened)
        assert opened.data.category == "overig"
        assert opened.data.segment == "onbekend"
        assert opened.data.team is None
        closed = validate_event({**example("item.closed"), "data": {"municipality": "castricum"}})
        assert isinstance(closed, ItemClosed)
        assert closed.data.resolution == "afgehandeld"

    def test_null_counts_as_absent(self) -> None:
        event = example("item.opened")
        event["data"]["category"] = None
        event["data"]["segment"] = None
        opened = validate_event(event)
        assert isinstance(opened, ItemOpened)
        assert (opened.data.category, opened.data.segment) == ("overig", "onbekend")
        assert refuses({**example("item.opened"), "subject": None})

    def test_unknown_fields_are_ignored(self) -> None:
        event = example("feedback.given")
        event["partitionkey"] = "castricum"
        event["data"]["comment"] = "free text"
        given_ = validate_event(event)
        assert isinstance(given_, FeedbackGiven)
        assert "comment" not in given_.data.model_dump()
        assert "partitionkey" not in given_.model_dump()

    def test_feedback_needs_no_subject(self) -> None:
        event = example("feedback.given")
        event.pop("subject", None)
        assert validate_event(event).subject is None

    @pytest.mark.parametrize("score", [7.0, "7", True, 0, 11])
    def test_no_coercion_of_scores(self, score: object) -> None:
        event = example("feedback.given")
        event["data"]["score"] = score
        assert refuses(event)

    @pytest.mark.parametrize("upheld", [1, "true", "ja"])
    def test_no_coercion_of_flags(self, upheld: object) -> None:
        event = example("item.closed")
        event["data"]["upheld"] = upheld
        assert refuses(event)

    @pytest.mark.parametrize(
        "time", ["2024-05-21T09:30:00", "2024-05-21", 1716276600, "20240521T093000Z"]
    )
    def test_time_needs_rfc3339_with_offset(self, time: object) -> None:
        assert refuses({**example("item.opened"), "time": time})

    def test_models_are_immutable(self) -> None:
        event = parse(valid_lines()[0])
        with pytest.raises(ValidationError):
            event.id = "other"


# -- equivalence of models and decoder ----------------------------------------------------------

OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
MOMENTS = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=OFFSETS
)


@st.composite
def rfc3339_times(draw: st.DrawFn) -> str:
    moment = draw(MOMENTS)
    shape = draw(st.sampled_from(["offset", "utc", "fraction", "space"]))
    if shape == "utc":
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if shape == "fraction":
        return moment.isoformat(timespec="microseconds")
    return moment.isoformat(sep=" " if shape == "space" else "T", timespec="seconds")


# Labels and subjects the contract accepts: no control characters, nothing that looks personal.
NAMES = st.text(
    st.characters(
        blacklist_categories=("Cs",), blacklist_characters=[*map(chr, range(32)), "\x7f"]
    ),
    min_size=1,
    max_size=12,
).filter(lambda v: personal_data_in(v) is None)
UNKNOWN = st.dictionaries(st.text(max_size=6), st.integers(-9, 9) | st.text(max_size=4), max_size=2)
TIMES_BAD = st.sampled_from(
    ["2024-05-21T09:30:00", "2024-05-21T09:30+02:00", "20240521T093000Z", "2024-13-01T00:00:00Z"]
)
WORDS = sorted(
    KINDS
    | CHANNELS
    | SEGMENTS
    | RESOLUTIONS
    | set(MUNICIPALITIES)
    | {t.full for t in EventType}
    | {"1.0", "", "overig", "application/json", "text/plain", "alkmaar"}
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 12),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(WORDS),
    rfc3339_times(),
    TIMES_BAD,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


# Values at the edges of the rules: bounds, empty strings, near-miss types.
TRICKY: st.SearchStrategy[object] = st.sampled_from(
    [None, "", 0, 1, 10, 11, 7.5, 1.0, True, False, "7", [], {}, "x"]
)
REPLACEMENTS = st.one_of(TRICKY, st.sampled_from(WORDS), JSON_VALUES)
# Types with data fields first: hypothesis favours early choices.
TYPES_BY_INTEREST = (
    "feedback.given",
    "item.opened",
    "call.queued",
    "item.closed",
    "call.ended",
    *sorted(
        EVENT_TYPES - {"feedback.given", "item.opened", "call.queued", "item.closed", "call.ended"}
    ),
)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value for an optional field: the strategy's, or null (absence is fixed_dictionaries')."""
    return st.none() | strategy


def words(values: frozenset[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(values))


def data_of(short: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid data for one event type: required fields, any optional ones, maybe unknown extras."""
    required: dict[str, st.SearchStrategy[Any]] = {"municipality": st.sampled_from(MUNICIPALITIES)}
    optional_fields: dict[str, st.SearchStrategy[Any]] = {"extra": UNKNOWN}
    if short == "item.opened":
        required |= {"kind": words(KINDS), "channel": words(CHANNELS)}
        optional_fields |= {
            "category": optional(NAMES),
            "segment": optional(words(SEGMENTS)),
            "source_system": optional(NAMES),
            "team": optional(NAMES),
        }
    elif short == "item.closed":
        optional_fields |= {
            "resolution": optional(words(RESOLUTIONS)),
            "upheld": optional(st.booleans()),
        }
    elif short == "call.queued":
        required |= {"channel": words(CALL_CHANNELS)}
        optional_fields |= {"queue": optional(NAMES), "segment": optional(words(SEGMENTS))}
    elif short == "call.ended":
        optional_fields |= {"resolved": optional(st.booleans())}
    elif short == "feedback.given":
        required |= {"channel": words(CHANNELS), "score": st.integers(1, 10)}
        optional_fields |= {"kind": optional(words(KINDS)), "about": optional(NAMES)}
    return st.fixed_dictionaries(required, optional=optional_fields)


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    short = draw(st.sampled_from(TYPES_BY_INTEREST))
    required: dict[str, st.SearchStrategy[Any]] = {
        "specversion": st.just("1.0"),
        "id": NAMES,
        "source": NAMES,
        "type": st.just(TYPE_PREFIX + short),
        "time": rfc3339_times(),
        "data": data_of(short),
    }
    optional_fields: dict[str, st.SearchStrategy[Any]] = {
        "datacontenttype": optional(
            st.sampled_from(["application/json", "application/cloudevents+json; charset=utf-8"])
        ),
        "traceparent": UNKNOWN,
    }
    if short == "feedback.given":
        optional_fields["subject"] = optional(NAMES)
    else:
        required["subject"] = NAMES
    event: dict[str, Any] = draw(st.fixed_dictionaries(required, optional=optional_fields))
    return event


ENVELOPE_KEYS = (
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "datacontenttype",
    "data",
)
DATA_KEYS = {
    "item.opened": ("kind", "channel", "category", "segment", "source_system", "team"),
    "item.closed": ("resolution", "upheld"),
    "call.queued": ("channel", "queue", "segment"),
    "call.ended": ("resolved",),
    "feedback.given": ("channel", "score", "kind", "about"),
}
FULL_TYPES = sorted(t.full for t in EventType)


def mutate(event: dict[str, Any], draw: st.DataObject) -> None:
    """Break the event in 1 to 3 places: give a key another value, drop it, change the type.

    Keys come from the current type's data fields (listed first: hypothesis favours early
    choices), then the envelope, then `data.municipality`, so every field is hit often.
    """
    for _ in range(draw.draw(st.integers(1, 3))):
        operation = draw.draw(st.sampled_from(["replace", "drop", "retype", "add"]))
        if operation == "retype":
            event["type"] = draw.draw(st.sampled_from(FULL_TYPES))
            continue
        short = str(event.get("type")).removeprefix(TYPE_PREFIX)
        keys = (*DATA_KEYS.get(short, ()), *ENVELOPE_KEYS, "municipality")
        key = draw.draw(st.sampled_from(keys))
        target = event if key in ENVELOPE_KEYS else event.get("data")
        if not isinstance(target, dict):
            continue
        if operation == "drop":
            target.pop(key, None)
        elif operation == "add":
            target[draw.draw(st.text(max_size=4))] = draw.draw(JSON_VALUES)
        else:
            target[key] = draw.draw(REPLACEMENTS)


def assert_same_verdict(raw: bytes) -> bool:
    """Decoder and models accept or reject `raw` alike, and agree on what they accepted.

    "Accept" for the decoder includes the rejections only context can give (municipality not
    configured, time too far ahead). Returns whether the models accepted.
    """
    result = DECODER.decode(raw, NOW + 200 * 365 * 86400.0)
    model: models.AnyEvent | None
    try:
        model = parse(raw)
    except ValueError:
        model = None
    if model is None:
        assert not isinstance(result, Event), "decoder accepted what the models refuse"
        assert result.reason not in CONTEXT_REASONS, "models refuse what only context refuses"
        return False
    if not isinstance(result, Event):
        assert result.reason in CONTEXT_REASONS, f"decoder refused what the models accept: {result}"
        return True
    assert result.type == model.type.removeprefix(TYPE_PREFIX)
    assert (result.id, result.source, result.subject) == (model.id, model.source, model.subject)
    assert result.time == model.time.timestamp()
    assert result.municipality == model.data.municipality
    assert result.data == model.data.model_dump(mode="json")
    return True


ABSENT = object()
EDGE_VALUES = (
    ABSENT,
    None,
    "",
    0,
    1,
    10,
    11,
    -1,
    7.5,
    1.0,
    True,
    False,
    "7",
    [],
    {},
    ["melding"],
    {"municipality": "heiloo"},
    "2024-05-21T09:30:00+02:00",
    "2024-05-21T09:30:00",
    *WORDS,
)


def with_value(event: dict[str, Any], key: str, value: object) -> dict[str, Any]:
    """A copy of `event` with `key` (an envelope attribute or a data field) set or removed."""
    copy: dict[str, Any] = orjson.loads(orjson.dumps(event))
    target = copy if key in ENVELOPE_KEYS else copy["data"]
    if value is ABSENT:
        target.pop(key, None)
    else:
        target[key] = value
    return copy


class TestEquivalence:
    """The hand-written decoder and the pydantic models give the same verdicts."""

    @pytest.mark.parametrize("short", sorted(EVENT_TYPES))
    def test_every_field_with_every_edge_value(self, short: str) -> None:
        event = example(short)
        keys = {
            *ENVELOPE_KEYS,
            "municipality",
            *(k for fields in DATA_KEYS.values() for k in fields),
        }
        verdicts = set()
        for key in sorted(keys):
            for value in EDGE_VALUES:
                verdicts.add(assert_same_verdict(orjson.dumps(with_value(event, key, value))))
        assert verdicts == {True, False}

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(event=valid_events())
    def test_valid_events_are_accepted_by_both_with_the_same_content(
        self, event: dict[str, Any]
    ) -> None:
        raw = orjson.dumps(event)
        assert isinstance(DECODER.decode(raw, NOW + 200 * 365 * 86400.0), Event)
        assert assert_same_verdict(raw)

    @settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(event=valid_events(), draw=st.data())
    def test_mutated_events_get_the_same_verdict(
        self, event: dict[str, Any], draw: st.DataObject
    ) -> None:
        mutate(event, draw)
        assert_same_verdict(orjson.dumps(event))

    @settings(max_examples=300, deadline=None)
    @given(document=JSON_VALUES)
    def test_arbitrary_json_gets_the_same_verdict(self, document: object) -> None:
        assert_same_verdict(orjson.dumps(document))

    @settings(max_examples=200, deadline=None)
    @given(raw=st.binary(max_size=40))
    def test_arbitrary_bytes_get_the_same_verdict(self, raw: bytes) -> None:
        assert_same_verdict(raw)

    def test_the_examples_get_the_same_verdict(self) -> None:
        for line in valid_lines():
            assert assert_same_verdict(line)
        for line in (EXAMPLES / "invalid.jsonl").read_bytes().splitlines():
            case = orjson.loads(line)
            accepted = assert_same_verdict(case["raw"].encode())
            assert accepted == (case["reason"] in CONTEXT_REASONS)
