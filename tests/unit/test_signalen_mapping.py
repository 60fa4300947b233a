"""Signalen's mapping without HTTP: area mapping, what counts as the response, KTO scores, the
deadline comparison and the configuration file (`sources.signalen`, `sources.signalen_config`).

The signals and histories are the fixtures of tests/fixtures/signalen (written after Signalen's
published API), with location fields set per test where the test is about them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from events.vocabulary import TYPE_PREFIX
from sources.pseudonym import Pseudonymiser
from sources.records import LocalTimes, Municipalities, Reject
from sources.signalen import (
    HistoryEntry,
    Signal,
    SignalenConfig,
    SignalenMapper,
    compare_deadlines,
)
from sources.signalen_config import ConfigError, load_config
from streams.core.config import load_norms

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "signalen"
NAMES = {
    "bergen": "Bergen (NH)",
    "castricum": "Castricum",
    "heiloo": "Heiloo",
    "uitgeest": "Uitgeest",
}
TOWNS = Municipalities(NAMES)


def signals(**location: dict[str, Any]) -> dict[int, Signal]:
    """The fixture signals by id, with ``location`` fields set per id (``{"101": {...}}``)."""
    out = {}
    for raw in json.loads((FIXTURES / "signals.json").read_text())["results"]:
        raw["location"].update(location.get(str(raw["id"]), {}))
        out[raw["id"]] = Signal.model_validate(raw)
    return out


def history(signal_id: int) -> list[HistoryEntry]:
    entries = json.loads((FIXTURES / "histories.json").read_text())[str(signal_id)]
    return [HistoryEntry.model_validate(e) for e in entries]


def mapped(
    config: SignalenConfig, signal: Signal, entries: list[HistoryEntry] | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """(short type, time, event) of the signal's events."""
    result = SignalenMapper(Pseudonymiser(b"k" * 32), config, LocalTimes()).events(
        signal, history(signal.id) if entries is None else entries
    )
    assert not isinstance(result, Reject), result
    return [(e["type"].removeprefix(TYPE_PREFIX), e["time"], e) for _, _, e in result]


def responded(
    config: SignalenConfig, signal: Signal, entries: list[HistoryEntry] | None = None
) -> str | None:
    events = mapped(config, signal, entries)
    return next((t for kind, t, _ in events if kind == "item.responded"), None)


class TestAreaMapping:
    CONFIG = SignalenConfig(
        municipality=None,
        area_field="location.buurt_code",
        areas={"BU0383": "castricum", "bu0373": "bergen", "BU03830099": "heiloo"},
    )

    def test_a_signal_goes_to_the_municipality_its_field_names(self) -> None:
        found = signals(
            **{"101": {"buurt_code": "BU03830001"}, "102": {"buurt_code": "BU03730204"}}
        )
        for signal_id, slug in ((101, "castricum"), (102, "bergen")):
            events = [e for _, _, e in mapped(self.CONFIG, found[signal_id])]
            assert {e["data"]["municipality"] for e in events} == {slug}
            assert {e["source"] for e in events} == {f"urn:nld:gemeente:{slug}:signalen"}

    def test_exact_value_then_the_longest_start(self) -> None:
        found = signals(**{"101": {"buurt_code": "bu03830099"}, "102": {"buurt_code": "BU038300"}})
        assert self.CONFIG.municipality_of(found[101]) == "heiloo"
        assert self.CONFIG.municipality_of(found[102]) == "castricum"

    def test_unplaced_signals_go_to_the_default_or_are_rejected(self) -> None:
        found = signals(**{"101": {"buurt_code": "BU99990001"}})
        mapper = SignalenMapper(Pseudonymiser(b"k" * 32), self.CONFIG, LocalTimes())
        for signal in (found[101], found[103]):  # an unknown code, no code at all
            result = mapper.events(signal, history(signal.id))
            assert result == Reject(
                "unknown_municipality",
                "location.buurt_code",
                "has no value the area mapping knows, and there is no default municipality",
            )
        with_default = replace(self.CONFIG, municipality="uitgeest")
        assert with_default.municipality_of(found[103]) == "uitgeest"

    def test_by_stadsdeel_or_category(self) -> None:
        found = signals(**{"102": {"stadsdeel": "Heiloo"}})
        by_area = SignalenConfig(None, area_field="location.stadsdeel", areas={"heiloo": "heiloo"})
        assert by_area.municipality_of(found[102]) == "heiloo"
        by_category = SignalenConfig(
            "bergen", area_field="category.main_slug", areas={"afval": "castricum"}
        )
        assert [by_category.municipality_of(found[i]) for i in (101, 102)] == [
            "castricum",
            "bergen",
        ]

    def test_address_fields_are_never_kept(self) -> None:
        signal = signals()[101]
        assert signal.location is not None
        kept = json.dumps(signal.model_dump(mode="json"))
        for value in ("Dorpsstraat", "1901AB", "0612345678", "melder101"):
            assert value not in kept


class TestResponse:
    def test_status_reply_or_either(self) -> None:
        found = signals()
        status = SignalenConfig("castricum")
        reply = replace(status, response_from="reply")
        either = replace(status, response_from="either")
        # 102: in behandeling (a status, no text) on the 6th; the first text to the reporter
        # comes with afgehandeld on the 12th
        assert responded(status, found[102]) == "2024-03-06T09:00:00+01:00"
        assert responded(reply, found[102]) == "2024-03-12T16:00:00+01:00"
        assert responded(either, found[102]) == "2024-03-06T09:00:00+01:00"
        # 101: reaction requested, with a question to the reporter: both rules agree
        for config in (status, reply, either):
            assert responded(config, found[101]) == "2024-03-05T08:10:00+01:00"
        # 103: cancelled with a text ("Dubbele melding"): a reply; no response state before
        assert responded(status, found[103]) is None
        assert responded(reply, found[103]) == "2024-04-08T09:30:00+02:00"

    def test_the_reporters_own_text_is_no_reply(self) -> None:
        # 101 without its question: only "reactie ontvangen" carries a text, the reporter's
        entries = [e for e in history(101) if e.identifier != "UPDATE_STATUS_507"]
        config = SignalenConfig("castricum", response_from="reply")
        assert responded(config, signals()[101], entries) is None

    def test_responded_once_and_before_the_closing_of_the_same_change(self) -> None:
        events = mapped(replace(SignalenConfig("castricum"), response_from="reply"), signals()[102])
        kinds = [kind for kind, _, _ in events]
        assert kinds.count("item.responded") == 1
        assert kinds.index("item.responded") == kinds.index("item.closed") - 1


def scores(config: SignalenConfig, signal: Signal) -> list[int]:
    return [e["data"]["score"] for kind, _, e in mapped(config, signal) if kind == "feedback.given"]


def test_kto_scores_are_configured() -> None:
    found = signals()[102]
    config = SignalenConfig("castricum", satisfied_score=10, unsatisfied_score=2)
    (score,) = [
        e["data"]["score"] for kind, _, e in mapped(config, found) if kind == "feedback.given"
    ]
    assert score == 10
    other = replace(config, satisfied_prefixes=("tevreden",))  # "Ja, …" no longer matches
    (score,) = [
        e["data"]["score"] for kind, _, e in mapped(other, found) if kind == "feedback.given"
    ]
    assert score == 2
    with pytest.raises(ValueError, match="between 1 and 10"):
        SignalenConfig("castricum", satisfied_score=11)


def test_deadline_comparison_knows_the_easter_holidays() -> None:
    """Signalen counts Good Friday and Easter Monday as working days; the calendar does not."""
    calendar = load_norms(None).calendar
    found = signals()
    first = compare_deadlines(found[101], calendar)
    assert first is not None
    assert (first.opened, first.working_days, first.theirs, first.ours) == (
        date(2024, 3, 4),
        5,
        date(2024, 3, 11),
        date(2024, 3, 11),
    )
    assert not first.disagrees
    easter = compare_deadlines(found[103], calendar)  # Thursday 28 March, five working days
    assert easter is not None
    assert (easter.theirs, easter.ours) == (date(2024, 4, 4), date(2024, 4, 8))
    assert easter.disagrees
    assert easter.factor_3 == (5, date(2024, 4, 4), date(2024, 4, 8))
    assert easter.factor_3_disagrees


class TestConfigFile:
    def write(self, tmp_path: Path, text: str) -> Path:
        path = tmp_path / "signalen.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def test_a_full_file(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path,
            "name: regio\n"
            "municipality:\n  default: Heiloo\n  field: location.buurt_code\n"
            "  values: {BU0383: Castricum, BU0373: bergen}\n"
            "response:\n  from: either\n  states: [b]\n  reply_states: [o, a]\n"
            "kto: {satisfied: 9, unsatisfied: 4, satisfied_prefixes: [Ja, Tevreden]}\n",
        )
        config, name = load_config(path, None, TOWNS)
        assert name == "regio"
        assert config.municipality == "heiloo"
        assert config.areas == {"BU0383": "castricum", "BU0373": "bergen"}
        assert config.response_from == "either"
        assert config.response_states == {"b"}
        assert config.reply_states == {"o", "a"}
        assert (config.satisfied_score, config.unsatisfied_score) == (9, 4)
        assert config.satisfied_prefixes == ("ja", "tevreden")
        # --municipality wins over the file's default
        assert load_config(path, "uitgeest", TOWNS)[0].municipality == "uitgeest"

    def test_no_file_one_municipality(self) -> None:
        config, name = load_config(None, "castricum", TOWNS)
        assert (config.municipality, config.area_field, name) == ("castricum", None, None)

    @pytest.mark.parametrize(
        ("text", "names"),
        [
            ("municipality: {field: location.buurt_code, values: {BU1: alkmaar}}", "alkmaar"),
            ("municipality: {field: location.address, values: {x: bergen}}", "municipality.field"),
            ("municipality: {field: location.buurt_code}", "municipality.values"),
            ("municipality: {values: {BU1: bergen}}", "municipality.field"),
            ("response: {states: [behandeling]}", "'behandeling'"),
            ("response: {from: first}", "response.from"),
            ("kto: {satisfied: 11}", "kto.satisfied"),
            ("kto: {satisfied_prefixes: []}", "kto.satisfied_prefixes"),
            ("colour: blue", "colour"),
            ("[unclosed", "not YAML"),
            ("{}", "--municipality"),
        ],
    )
    def test_errors_name_what_to_change(self, tmp_path: Path, text: str, names: str) -> None:
        with pytest.raises(ConfigError, match=names.replace("[", r"\[").replace(".", r"\.")):
            load_config(self.write(tmp_path, text), None, TOWNS)
