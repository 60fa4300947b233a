"""Tests for events.decode: the hot-path decoder, its time parsing and its reject reasons."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import events
from events import decode
from events.decode import (
    Decoder,
    Event,
    Reason,
    Rejection,
    is_json_media_type,
    parse_time,
    time_to_epoch,
)
from events.vocabulary import EVENT_TYPES
from streams.core.config import load_norms

EXAMPLES = Path(events.__file__).parent / "examples"  # not decode.__file__: it may be compiled
MUNICIPALITIES = ("bergen", "castricum", "heiloo", "uitgeest")
NOW = datetime(2024, 6, 1, tzinfo=UTC).timestamp()
DECODER = Decoder(MUNICIPALITIES, time_span=load_norms().calendar.supported_span())

# RFC 3339 section 5.6 `date-time`, with the space separator its note allows: the reference the
# hand-written shape check must agree with.
RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"  # full-date
    r"[Tt ]"
    r"[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"  # partial-time
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"  # time-offset
)


def valid_lines() -> list[bytes]:
    return (EXAMPLES / "valid.jsonl").read_bytes().splitlines()


def invalid_cases() -> list[dict[str, Any]]:
    lines = (EXAMPLES / "invalid.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines]


def base_event(**changes: Any) -> dict[str, Any]:
    """The first valid example as a dict, with top-level attributes changed (None removes)."""
    event: dict[str, Any] = orjson.loads(valid_lines()[0])
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def decode_obj(obj: object, now: float = NOW, decoder: Decoder = DECODER) -> Event | Rejection:
    return decoder.decode(orjson.dumps(obj), now)


def accepted(obj: object) -> Event:
    result = decode_obj(obj)
    assert isinstance(result, Event), result
    return result


def rejected(obj: object) -> Rejection:
    result = decode_obj(obj)
    assert isinstance(result, Rejection), result
    return result


def of_type(short: str, data: dict[str, Any], subject: str | None = "s-1") -> dict[str, Any]:
    event = base_event(type=f"nl.contactmonitor.{short}", data={"municipality": "heiloo", **data})
    if subject is None:
        del event["subject"]
    else:
        event["subject"] = subject
    return event


class TestExamples:
    """The example files decode to what they say."""

    def test_every_valid_example_is_accepted_with_its_own_type(self) -> None:
        lines = valid_lines()
        types = []
        for line in lines:
            result = DECODER.decode(line, NOW)
            assert isinstance(result, Event), result
            assert result.full_type == orjson.loads(line)["type"]
            assert result.raw == line
            types.append(result.type)
        assert sorted(types) == sorted(EVENT_TYPES)

    @pytest.mark.parametrize("case", invalid_cases(), ids=lambda case: case["note"])
    def test_every_invalid_example_is_rejected_for_its_reason(self, case: dict[str, Any]) -> None:
        raw = case["raw"].encode()
        result = DECODER.decode(raw, NOW)
        assert isinstance(result, Rejection)
        assert (result.reason, result.field) == (case["reason"], case["field"])
        if result.reason is Reason.PERSONAL_DATA:  # the one case whose copy is redacted
            redacted = orjson.loads(result.raw)
            original = orjson.loads(raw)
            field = case["field"].removeprefix("data.")
            where = (
                (redacted, original) if field == "subject" else (redacted["data"], original["data"])
            )
            assert where[0][field] == "[verwijderd]"
            assert str(where[1][field]).encode() not in result.raw
        else:
            assert result.raw == raw

    def test_invalid_examples_cover_every_reason_the_decoder_gives_without_context(self) -> None:
        contextual = {
            Reason.FUTURE_TIME,
            Reason.UNKNOWN_SUBJECT,
            Reason.ALREADY_OPENED,
            Reason.WRONG_PARTITION,
            Reason.INTERNAL_ERROR,
            Reason.TOO_LARGE,  # needs a line over the configured limit (tests/unit/test_cli_traps)
            # set by `contactmon ingest` for a source message, never by the decoder
            # (tests/unit/test_ingest_http.py, tests/integration/test_ingest_e2e.py)
            Reason.UNMAPPED_ZAAKTYPE,
            Reason.SOURCE_UNAVAILABLE,
            Reason.SOURCE_INVALID,
        }
        covered = {case["reason"] for case in invalid_cases()}
        assert covered == {reason.value for reason in Reason} - contextual


class TestEnvelope:
    """The CloudEvents attributes are checked as the contract says."""

    def test_the_contract_example_decodes(self) -> None:
        event = accepted(base_event())
        assert event.id == "7d3f0c9e-2b1a-4c55-9a0e-0f3c2d1b9a77"
        assert event.source == "urn:nld:gemeente:castricum:fixi"
        assert event.type == "item.opened"
        assert event.subject == "fixi-3c1e9a"
        assert event.municipality == "castricum"
        assert event.time == datetime(2024, 5, 21, 7, 30, tzinfo=UTC).timestamp()

    def test_bytes_that_are_not_utf8_are_not_json(self) -> None:
        result = DECODER.decode(b'{"id": "\xff"}', NOW)
        assert isinstance(result, Rejection)
        assert result.reason is Reason.NOT_JSON

    @pytest.mark.parametrize("raw", [b"", b"   ", b"null", b"42", b"[]"])
    def test_empty_and_scalar_messages_are_refused(self, raw: bytes) -> None:
        result = DECODER.decode(raw, NOW)
        assert isinstance(result, Rejection)
        assert result.reason in (Reason.NOT_JSON, Reason.NOT_OBJECT)
        assert result.field is None

    @pytest.mark.parametrize("specversion", ["1", "1.0.0", 1.0, "0.3"])
    def test_only_specversion_1_0(self, specversion: object) -> None:
        result = rejected(base_event(specversion=specversion))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, "specversion")

    @pytest.mark.parametrize("attribute", ["id", "source", "type", "time", "data"])
    def test_a_required_attribute_that_is_null_is_missing(self, attribute: str) -> None:
        event = base_event()
        event[attribute] = None
        result = rejected(event)
        assert (result.reason, result.field) == (Reason.MISSING_FIELD, attribute)

    @pytest.mark.parametrize("attribute", ["id", "source"])
    @pytest.mark.parametrize("value", ["", 7, ["a"], {"a": 1}, True])
    def test_id_and_source_are_non_empty_strings(self, attribute: str, value: object) -> None:
        result = rejected(base_event(**{attribute: value}))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, attribute)

    @pytest.mark.parametrize(
        "value",
        ["nl.contactmonitor.item.deleted", "item.opened", "", "NL.CONTACTMONITOR.ITEM.OPENED"],
    )
    def test_a_type_string_outside_the_contract_is_an_unknown_type(self, value: str) -> None:
        result = rejected(base_event(type=value))
        assert (result.reason, result.field) == (Reason.UNKNOWN_TYPE, "type")

    @pytest.mark.parametrize("value", [1, ["nl.contactmonitor.item.opened"], {"a": "b"}])
    def test_a_type_that_is_no_string_is_invalid(self, value: object) -> None:
        result = rejected(base_event(type=value))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, "type")

    def test_unknown_attributes_and_data_fields_are_ignored(self) -> None:
        event = base_event(traceparent="00-abc", dataschema="urn:x", extension={"a": [1]})
        event["data"]["note"] = "anything at all"
        decoded = accepted(event)
        assert "note" not in decoded.data

    @pytest.mark.parametrize(
        "content_type",
        ["application/json", "application/cloudevents+json", "application/json; charset=utf-8"],
    )
    def test_json_media_types_are_accepted(self, content_type: str) -> None:
        accepted(base_event(datacontenttype=content_type))

    @pytest.mark.parametrize("content_type", ["text/plain", "", "json", 3])
    def test_other_media_types_are_refused(self, content_type: object) -> None:
        result = rejected(base_event(datacontenttype=content_type))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, "datacontenttype")

    def test_datacontenttype_may_be_absent(self) -> None:
        accepted(base_event(datacontenttype=None))

    @pytest.mark.parametrize("data", [[], "castricum", 1, True])
    def test_data_must_be_an_object(self, data: object) -> None:
        result = rejected(base_event(data=data))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, "data")


class TestSubject:
    """`subject` is required for item and call events, optional for feedback."""

    @pytest.mark.parametrize("short", ["item.responded", "call.answered", "call.abandoned"])
    def test_item_and_call_events_need_a_subject(self, short: str) -> None:
        result = rejected(of_type(short, {}, subject=None))
        assert (result.reason, result.field) == (Reason.MISSING_FIELD, "subject")

    def test_feedback_may_come_without_subject(self) -> None:
        event = accepted(of_type("feedback.given", {"channel": "chat", "score": 6}, subject=None))
        assert event.subject is None

    @pytest.mark.parametrize("subject", ["", 12, ["s"]])
    @pytest.mark.parametrize("short", ["item.responded", "feedback.given"])
    def test_a_subject_is_a_non_empty_string(self, subject: object, short: str) -> None:
        event = of_type(short, {"channel": "chat", "score": 6})
        event["subject"] = subject
        result = rejected(event)
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, "subject")


class TestData:
    """Each type's data fields: required ones, defaults, word lists and value types."""

    def test_item_opened_fills_in_the_defaults(self) -> None:
        event = accepted(of_type("item.opened", {"kind": "vraag", "channel": "email"}))
        assert event.data == {
            "municipality": "heiloo",
            "kind": "vraag",
            "channel": "email",
            "category": "overig",
            "segment": "onbekend",
            "source_system": None,
            "team": None,
        }

    def test_null_optional_fields_take_their_defaults(self) -> None:
        data = {"kind": "vraag", "channel": "email", "category": None, "segment": None}
        event = accepted(of_type("item.opened", data))
        assert (event.data["category"], event.data["segment"]) == ("overig", "onbekend")

    def test_item_closed_defaults_to_afgehandeld(self) -> None:
        event = accepted(of_type("item.closed", {}))
        assert event.data == {"municipality": "heiloo", "resolution": "afgehandeld", "upheld": None}

    def test_call_queued_takes_only_live_channels(self) -> None:
        for channel in ("telefoon", "chat", "balie"):
            assert accepted(of_type("call.queued", {"channel": channel})).data["channel"] == channel
        result = rejected(of_type("call.queued", {"channel": "email"}))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, "data.channel")

    def test_call_queued_data(self) -> None:
        event = accepted(of_type("call.queued", {"channel": "balie", "queue": "burgerzaken"}))
        assert event.data == {
            "municipality": "heiloo",
            "channel": "balie",
            "queue": "burgerzaken",
            "segment": "onbekend",
        }

    @pytest.mark.parametrize(
        ("short", "data", "field"),
        [
            ("item.opened", {"channel": "app"}, "data.kind"),
            ("item.opened", {"kind": "klacht"}, "data.channel"),
            ("call.queued", {}, "data.channel"),
            ("feedback.given", {"score": 5}, "data.channel"),
            ("feedback.given", {"channel": "app"}, "data.score"),
            ("item.responded", {"municipality": None}, "data.municipality"),
        ],
    )
    def test_required_data_fields(self, short: str, data: dict[str, Any], field: str) -> None:
        result = rejected(of_type(short, data))
        assert (result.reason, result.field) == (Reason.MISSING_FIELD, field)

    @pytest.mark.parametrize("score", [0, 11, -1, 7.5, 7.0, "7", True, False, [7]])
    def test_a_score_is_a_whole_number_from_1_to_10(self, score: object) -> None:
        result = rejected(of_type("feedback.given", {"channel": "app", "score": score}))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, "data.score")

    @pytest.mark.parametrize("score", [1, 10])
    def test_score_bounds_are_inclusive(self, score: int) -> None:
        assert accepted(of_type("feedback.given", {"channel": "app", "score": score})).data[
            "score"
        ] == (score)

    @pytest.mark.parametrize(
        ("short", "field"), [("item.closed", "upheld"), ("call.ended", "resolved")]
    )
    @pytest.mark.parametrize("value", [0, 1, "true", "ja", [True]])
    def test_flags_are_real_booleans(self, short: str, field: str, value: object) -> None:
        result = rejected(of_type(short, {field: value}))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, f"data.{field}")

    @pytest.mark.parametrize(
        ("short", "data", "field"),
        [
            ("item.opened", {"kind": "melding", "channel": "app", "category": ""}, "category"),
            ("item.opened", {"kind": "melding", "channel": "app", "team": 5}, "team"),
            (
                "item.opened",
                {"kind": "melding", "channel": "app", "source_system": []},
                "source_system",
            ),
            ("call.queued", {"channel": "chat", "queue": False}, "queue"),
            ("feedback.given", {"channel": "chat", "score": 3, "about": ""}, "about"),
            ("feedback.given", {"channel": "chat", "score": 3, "kind": "compliment"}, "kind"),
            ("item.opened", {"kind": "melding", "channel": "app", "segment": "burger"}, "segment"),
            ("item.closed", {"resolution": "opgelost"}, "resolution"),
            ("item.opened", {"kind": "Melding", "channel": "app"}, "kind"),
            ("item.opened", {"kind": "melding", "channel": "fax"}, "channel"),
        ],
    )
    def test_optional_fields_are_checked_when_present(
        self, short: str, data: dict[str, Any], field: str
    ) -> None:
        result = rejected(of_type(short, data))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, f"data.{field}")

    def test_feedback_data(self) -> None:
        data = {"channel": "telefoon", "score": 9, "kind": "klacht", "about": "zaak-1"}
        event = accepted(of_type("feedback.given", data))
        assert event.data == {"municipality": "heiloo", **data}

    @pytest.mark.parametrize("municipality", ["alkmaar", "Castricum", "castricum "])
    def test_a_municipality_outside_the_configuration_is_unknown(self, municipality: str) -> None:
        result = rejected(of_type("item.responded", {"municipality": municipality}))
        assert (result.reason, result.field) == (Reason.UNKNOWN_MUNICIPALITY, "data.municipality")

    @pytest.mark.parametrize("municipality", ["", 383, ["castricum"]])
    def test_a_municipality_is_a_non_empty_string(self, municipality: object) -> None:
        result = rejected(of_type("item.responded", {"municipality": municipality}))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, "data.municipality")

    def test_the_configuration_decides_the_municipalities(self) -> None:
        only_bergen = Decoder(["bergen"])
        assert only_bergen.municipalities == frozenset({"bergen"})
        event = of_type("item.responded", {"municipality": "bergen"})
        assert isinstance(decode_obj(event, decoder=only_bergen), Event)
        result = decode_obj(of_type("item.responded", {}), decoder=only_bergen)
        assert isinstance(result, Rejection)
        assert result.reason is Reason.UNKNOWN_MUNICIPALITY


class TestTime:
    """`time` is RFC 3339 with an offset, and may not lie too far in the future."""

    @pytest.mark.parametrize(
        "text",
        [
            "2024-05-21T09:30:00+02:00",
            "2024-05-21T07:30:00Z",
            "2024-05-21t07:30:00z",
            "2024-05-21 07:30:00Z",
            "2024-05-21T07:30:00.000Z",
            "2024-05-21T03:30:00-04:00",
            "2024-05-21T09:30:00.000000000+02:00",
        ],
    )
    def test_rfc3339_forms_name_the_same_moment(self, text: str) -> None:
        expected = datetime(2024, 5, 21, 7, 30, tzinfo=UTC)
        assert parse_time(text) == expected
        assert time_to_epoch(text) == expected.timestamp()

    def test_fractions_are_kept(self) -> None:
        assert (
            time_to_epoch("2024-05-21T07:30:00.25Z")
            == datetime(2024, 5, 21, 7, 30, 0, 250000, tzinfo=UTC).timestamp()
        )

    @pytest.mark.parametrize(
        "text",
        [
            "2024-05-21T09:30:00",  # no offset: names no moment
            "2024-05-21T09:30+02:00",  # no seconds
            "2024-05-21T09:30:00+02",  # offset without minutes
            "2024-05-21T09:30:00+0200",
            "2024-05-21T09:30:00+02:00:00",
            "20240521T093000+0200",  # ISO 8601 basic format
            "2024-W21-2T09:30:00+02:00",  # week date
            "2024-05-21T09:30:00,5+02:00",  # comma fraction
            "2024-05-21T09:30:00.+02:00",
            "2024-05-21X09:30:00+02:00",
            "2024-05-21T24:00:00+02:00",
            "2024-02-30T09:30:00+02:00",
            "2024-05-21T09:30:60Z",  # leap second: datetime cannot hold it
            "2024-05-21T09:61:00+02:00",
            "2024-05-21T09:30:00+24:00",
            "2024-05-21",
            "",
            "١٢٣٤-05-21T09:30:00+02:00",
        ],
    )
    def test_other_forms_are_refused(self, text: str) -> None:
        with pytest.raises(ValueError, match="RFC 3339"):
            parse_time(text)
        with pytest.raises(ValueError, match="RFC 3339"):
            time_to_epoch(text)
        result = rejected(base_event(time=text))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, "time")

    @pytest.mark.parametrize("value", [1716276600, 1716276600.0, ["2024-05-21T09:30:00Z"]])
    def test_a_time_that_is_no_string_is_invalid(self, value: object) -> None:
        result = rejected(base_event(time=value))
        assert (result.reason, result.field) == (Reason.INVALID_FIELD, "time")

    def test_up_to_ten_minutes_ahead_is_accepted(self) -> None:
        event_time = datetime(2024, 5, 21, 7, 30, tzinfo=UTC).timestamp()
        assert isinstance(DECODER.decode(valid_lines()[0], event_time - 600.0), Event)
        result = DECODER.decode(valid_lines()[0], event_time - 600.5)
        assert isinstance(result, Rejection)
        assert (result.reason, result.field) == (Reason.FUTURE_TIME, "time")

    def test_the_future_bound_is_configurable(self) -> None:
        event_time = datetime(2024, 5, 21, 7, 30, tzinfo=UTC).timestamp()
        strict = Decoder(MUNICIPALITIES, max_future=0.0)
        assert isinstance(strict.decode(valid_lines()[0], event_time), Event)
        assert isinstance(strict.decode(valid_lines()[0], event_time - 1.0), Rejection)

    def test_events_from_the_past_are_accepted(self) -> None:
        assert isinstance(DECODER.decode(valid_lines()[0], NOW + 10 * 365 * 86400), Event)

    @settings(max_examples=300, deadline=None)
    @given(
        moment=st.datetimes(
            min_value=datetime(1900, 1, 2),
            max_value=datetime(2200, 12, 30),
            timezones=st.builds(
                timezone, st.integers(-18 * 60, 18 * 60).map(lambda m: timedelta(minutes=m))
            ),
        ),
        shape=st.sampled_from(["seconds", "micro", "utc", "utc-micro", "space"]),
    )
    def test_formatted_moments_round_trip(self, moment: datetime, shape: str) -> None:
        if shape.startswith("utc"):
            moment = moment.astimezone(UTC)
        spec = "microseconds" if shape.endswith("micro") else "seconds"
        text = moment.isoformat(sep=" " if shape == "space" else "T", timespec=spec)
        if shape.startswith("utc"):
            text = text.replace("+00:00", "Z")
        if spec == "seconds":
            moment = moment.replace(microsecond=0)
        assert parse_time(text) == moment
        assert time_to_epoch(text) == moment.timestamp()

    @settings(max_examples=500, deadline=None)
    @given(
        text=st.one_of(
            st.text(max_size=30),
            st.lists(st.sampled_from(list("0123456789-:+.TtZz ,W")), min_size=18, max_size=32).map(
                "".join
            ),
            st.tuples(
                st.sampled_from(["2024-05-21T09:30:00+02:00", "2024-12-31T23:59:59.5Z"]),
                st.integers(0, 24),
                st.text(min_size=0, max_size=2),
            ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]) :]),
        )
    )
    def test_only_rfc3339_is_accepted_and_both_parsers_agree(self, text: str) -> None:
        try:
            moment = parse_time(text)
        except ValueError:
            with pytest.raises(ValueError, match="RFC 3339"):
                time_to_epoch(text)
            return
        assert RFC3339.fullmatch(text)
        assert moment.tzinfo is not None
        assert time_to_epoch(text) == moment.timestamp()

    def test_the_hour_cache_stays_bounded(self) -> None:
        start = datetime(2000, 1, 1, tzinfo=UTC)
        for hour in range(decode._HOUR_EPOCHS_MAX + 10):
            moment = start + timedelta(hours=hour)
            text = moment.isoformat(timespec="seconds")
            assert time_to_epoch(text) == moment.timestamp()
        assert len(decode._HOUR_EPOCHS) <= decode._HOUR_EPOCHS_MAX


def dedupe_key(event: Event) -> bytes:
    """The de-duplication key the core computes: BLAKE2b-64 of ``source\0id``."""
    return hashlib.blake2b(f"{event.source}\x00{event.id}".encode(), digest_size=8).digest()


class TestDuplicates:
    """A duplicate decodes to the same (source, id), so it gets the same de-duplication key."""

    def test_duplicates_share_the_key_whatever_their_payload(self) -> None:
        first = accepted(base_event())
        again = base_event(time="2024-05-22T10:00:00+02:00")
        again["data"]["category"] = "afval"
        assert dedupe_key(accepted(again)) == dedupe_key(first)

    def test_another_source_or_id_gives_another_key(self) -> None:
        first = dedupe_key(accepted(base_event()))
        assert dedupe_key(accepted(base_event(id="other"))) != first
        assert dedupe_key(accepted(base_event(source="urn:nld:gemeente:heiloo:fixi"))) != first


class TestPrivacy:
    """Rejections and reprs never carry a value from the event."""

    CANARY = "Jan-Jansen-0612345678"

    @pytest.mark.parametrize(
        "event",
        [
            base_event(subject=["Jan-Jansen-0612345678"]),
            base_event(id={"name": "Jan-Jansen-0612345678"}),
            base_event(time="Jan-Jansen-0612345678"),
            base_event(type="Jan-Jansen-0612345678"),
            base_event(datacontenttype="Jan-Jansen-0612345678"),
            of_type("item.opened", {"kind": "Jan-Jansen-0612345678", "channel": "app"}),
            of_type("feedback.given", {"channel": "app", "score": "Jan-Jansen-0612345678"}),
            of_type("item.responded", {"municipality": "Jan-Jansen-0612345678"}),
        ],
    )
    def test_a_rejection_names_the_field_but_not_the_value(self, event: dict[str, Any]) -> None:
        result = rejected(event)
        assert self.CANARY.encode() in result.raw  # the DLQ keeps the original bytes
        shown = f"{result.field} {result.detail} {result!r}"
        assert self.CANARY not in shown

    def test_an_event_repr_leaves_out_subject_and_data(self) -> None:
        event = accepted(base_event(subject="canary-jan-jansen"))
        assert "canary-jan-jansen" not in repr(event)


class TestMediaType:
    """Which `datacontenttype` values mean JSON data."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("application/json", True),
            ("Application/JSON", True),
            ("application/json;charset=utf-8", True),
            ("application/cloudevents+json", True),
            ("+json", False),
            ("text/plain", False),
            ("application/jsonx", False),
            (None, False),
            (["application/json"], False),
        ],
    )
    def test_is_json_media_type(self, value: object, expected: bool) -> None:
        assert is_json_media_type(value) is expected
