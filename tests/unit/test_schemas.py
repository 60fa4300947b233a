"""Tests for events.schema: the checked-in JSON Schemas are current and describe the examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

from events.decode import parse_time
from events.schema import SCHEMA_DIR, main, render, schema_documents, stale_files, write_schemas
from events.vocabulary import TYPE_PREFIX, EventType

EXAMPLES = SCHEMA_DIR.parent / "examples"

# jsonschema checks `format: date-time` only with an optional package; check it with the
# contract's own RFC 3339 parser instead.
FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time", raises=ValueError)(parse_time)


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMATS)


def schema_name(event: dict[str, Any]) -> str:
    """The schema for an event: its type's, or the envelope for a type outside the contract."""
    full = event.get("type")
    known = {t.full: t.value for t in EventType}
    return known.get(full, "envelope") if isinstance(full, str) else "envelope"


def valid_events() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (EXAMPLES / "valid.jsonl").read_bytes().splitlines()]


def invalid_cases() -> list[dict[str, Any]]:
    lines = (EXAMPLES / "invalid.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines]


class TestCheckedInFiles:
    """The files in events/schemas/ are what the models generate now."""

    def test_no_schema_file_is_stale(self) -> None:
        assert stale_files() == [], "run `make schemas` (python -m events.schema)"

    def test_no_file_is_left_over_from_an_older_model(self) -> None:
        on_disk = {path.name for path in SCHEMA_DIR.glob("*.json")}
        assert on_disk == set(schema_documents())

    def test_one_schema_per_event_type_and_the_envelope(self) -> None:
        names = set(schema_documents())
        assert names == {f"{t.value}.json" for t in EventType} | {"envelope.json"}

    def test_files_are_sorted_indented_and_end_with_a_newline(self) -> None:
        for path in SCHEMA_DIR.glob("*.json"):
            text = path.read_text(encoding="utf-8")
            document = json.loads(text)
            assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"

    def test_every_schema_is_a_valid_2020_12_schema(self) -> None:
        for document in schema_documents().values():
            Draft202012Validator.check_schema(document)


class TestCommand:
    """`python -m events.schema` writes the files and `--check` reports stale ones."""

    def test_write_then_check(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["--out", str(tmp_path / "schemas")]) == 0
        written = sorted(path.name for path in (tmp_path / "schemas").iterdir())
        assert written == sorted(schema_documents())
        assert main(["--out", str(tmp_path / "schemas"), "--check"]) == 0
        assert "item.opened.json" in capsys.readouterr().out

    def test_check_names_a_changed_and_a_missing_file(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        write_schemas(tmp_path)
        (tmp_path / "item.opened.json").write_text("{}\n", encoding="utf-8")
        (tmp_path / "call.ended.json").unlink()
        assert stale_files(tmp_path) == ["call.ended.json", "item.opened.json"]
        assert main(["--out", str(tmp_path), "--check"]) == 1
        assert "item.opened.json" in capsys.readouterr().err

    def test_render_is_deterministic(self) -> None:
        first = {name: render(document) for name, document in schema_documents().items()}
        second = {name: render(document) for name, document in schema_documents().items()}
        assert first == second


class TestExamplesAgainstSchemas:
    """The examples pass or fail the JSON Schemas as they pass or fail the decoder."""

    @pytest.mark.parametrize("event", valid_events(), ids=lambda event: event["type"])
    def test_valid_examples_pass_their_type_schema_and_the_envelope(
        self, event: dict[str, Any]
    ) -> None:
        short = event["type"].removeprefix(TYPE_PREFIX)
        assert list(validator(short).iter_errors(event)) == []
        assert list(validator("envelope").iter_errors(event)) == []

    def test_null_optional_fields_pass(self) -> None:
        event = next(e for e in valid_events() if e["type"] == EventType.ITEM_OPENED.full)
        event["data"].update(category=None, segment=None, team=None)
        assert list(validator("item.opened").iter_errors(event)) == []

    @pytest.mark.parametrize(
        "case",
        [case for case in invalid_cases() if case["reason"] != "not_json"],
        ids=lambda case: case["note"],
    )
    def test_invalid_examples_fail_the_schema_unless_only_context_refuses_them(
        self, case: dict[str, Any]
    ) -> None:
        event = json.loads(case["raw"])
        name = schema_name(event) if isinstance(event, dict) else "envelope"
        errors = list(validator(name).iter_errors(event))
        # A schema cannot know the configured municipalities or calendar, nor check a media
        # type's grammar.
        schema_cannot_tell = case["reason"] in {
            "unknown_municipality",
            "time_out_of_range",
            "personal_data",
        } or case["field"] == ("datacontenttype")
        assert (errors == []) == schema_cannot_tell
