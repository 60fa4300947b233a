"""The norms file: defaults, overrides, and errors that name the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.core.config import DEFAULT_NORMS_PATH, ConfigError, load_norms, parse_norms
from streams.core.deadlines import Unit

MINIMAL = """\
norms:
  - id: melding-reactie
    applies_to: {kind: melding}
    stage: response
    within: 3
    unit: workdays
    target: 0.90
"""


class TestDefaults:
    """The shipped norms file holds the contract's default norms and municipalities."""

    def test_default_norms_match_the_contract(self) -> None:
        config = load_norms()
        norms = {n.id: n for n in config.norms_by_municipality["castricum"]}
        assert {k: (n.within, n.unit, n.target, n.stage) for k, n in norms.items()} == {
            "melding-reactie": (3, Unit.WORKDAYS, 0.90, "response"),
            "melding-afhandeling": (10, Unit.WORKDAYS, 0.90, "resolution"),
            "vraag-reactie": (3, Unit.WORKDAYS, 0.90, "response"),
            "terugbelverzoek-reactie": (2, Unit.WORKDAYS, 0.90, "response"),
            "klacht-afhandeling": (6, Unit.WEEKS, 1.0, "resolution"),
            "telefoon-opname": (30, Unit.SECONDS, 0.80, "answer"),
        }
        assert norms["telefoon-opname"].family == "call"
        assert norms["telefoon-opname"].channel == "telefoon"

    def test_default_municipalities(self) -> None:
        config = load_norms(DEFAULT_NORMS_PATH)
        assert [(m.slug, m.cbs_code) for m in config.municipalities] == [
            ("bergen", "GM0373"),
            ("castricum", "GM0383"),
            ("heiloo", "GM0399"),
            ("uitgeest", "GM0450"),
        ]

    def test_municipalities_default_when_the_file_names_none(self) -> None:
        assert parse_norms(MINIMAL).slugs == ("bergen", "castricum", "heiloo", "uitgeest")


class TestOverrides:
    """Overrides change one municipality's norm and leave the others alone."""

    def test_heiloo_override(self) -> None:
        config = parse_norms(MINIMAL + "overrides:\n  heiloo:\n    melding-reactie: {within: 2}\n")
        assert config.norms_by_municipality["heiloo"][0].within == 2
        assert config.norms_by_municipality["castricum"][0].within == 3


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_norms(text, source="norms.yaml")
    return str(info.value)


class TestErrors:
    """A bad file stops start-up with a message naming the line and the field."""

    def test_bad_value_names_line_and_field(self) -> None:
        message = error_of(MINIMAL.replace("within: 3", "within: -3"))
        assert "norms.yaml line 5, norms[0].within" in message
        assert "greater than 0" in message

    def test_unknown_unit(self) -> None:
        message = error_of(MINIMAL.replace("unit: workdays", "unit: fortnights"))
        assert "line 6, norms[0].unit" in message

    def test_unknown_key_is_an_error(self) -> None:
        message = error_of(MINIMAL.replace("target: 0.90", "target: 0.90\n    targt: 0.8"))
        assert "line 8, norms[0].targt" in message

    def test_unknown_kind(self) -> None:
        message = error_of(MINIMAL.replace("kind: melding", "kind: brief"))
        assert "line 3, norms[0].applies_to" in message
        assert "kind must be one of" in message

    def test_answer_stage_needs_a_call_norm(self) -> None:
        message = error_of(MINIMAL.replace("stage: response", "stage: answer"))
        assert "stage 'answer' is for calls" in message

    def test_duplicate_ids(self) -> None:
        body = MINIMAL + MINIMAL.split("norms:\n", 1)[1]
        assert "repeated: melding-reactie" in error_of(body)

    def test_override_of_an_unknown_norm(self) -> None:
        message = error_of(
            MINIMAL + "overrides:\n  heiloo:\n    melding-afhandeling: {within: 2}\n"
        )
        assert "names norm 'melding-afhandeling'" in message

    def test_override_of_an_unknown_municipality(self) -> None:
        message = error_of(MINIMAL + "overrides:\n  alkmaar:\n    melding-reactie: {within: 2}\n")
        assert "municipality 'alkmaar'" in message

    def test_not_yaml(self) -> None:
        assert "line 3: not valid YAML" in error_of("norms:\n  - id: [unclosed\n")

    def test_empty_file(self) -> None:
        assert "empty" in error_of("")

    def test_bad_timezone(self) -> None:
        message = error_of("calendar:\n  timezone: Mars/Olympus\n" + MINIMAL)
        assert "calendar" in message
        assert "timezone" in message

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="cannot read norms file"):
            load_norms(tmp_path / "nope.yaml")
