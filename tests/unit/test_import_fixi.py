"""`contactmon import fixi-csv`: the golden export, overlapping exports, mapping files, bad rows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import orjson
import pytest

from events.decode import Decoder, Event
from streams.cli import main
from tests.fixtures.generate_sources import TEST_KEY, UNTIL
from tests.unit.test_import_calls import FIXTURES, events_of, figures

GOLDEN = FIXTURES / "fixi" / "fixi-castricum-2024-03.csv"
HEADER = (
    "Meldingnummer;Datum melding;Status;Datum eerste reactie;Datum afgehandeld;Subcategorie;Team"
)


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTMON_PSEUDONYM_KEY", TEST_KEY)


def run_import(*args: str) -> int:
    return main(["import", "fixi-csv", *args])


def test_golden_export(tmp_path: Path) -> None:
    expected = json.loads(GOLDEN.with_name("fixi-castricum-2024-03.expected.json").read_text())
    out = tmp_path / "events.jsonl"
    rejects = tmp_path / "rejects.jsonl"
    assert run_import(str(GOLDEN), "--out", str(out), "--rejects", str(rejects)) == 0
    data = out.read_bytes()
    events = events_of(out)
    types: dict[str, int] = {}
    for e in events:
        short = str(e["type"]).removeprefix("nl.contactmonitor.")
        types[short] = types.get(short, 0) + 1
    assert types == expected["events_by_type"]
    assert events[:3] == expected["first_events"]
    assert hashlib.sha256(data).hexdigest() == expected["sha256"]
    decoder = Decoder(["bergen", "castricum", "heiloo", "uitgeest"])
    assert all(type(decoder.decode(line, 2e9)) is Event for line in data.splitlines())
    assert [r["reason"] for r in events_of(rejects)] == ["bad_date", "unknown_status"]
    # reports of the shared environment's other municipalities go to them, by team prefix
    assert {e["data"]["municipality"] for e in events} == {"castricum", "bergen", "heiloo"}
    # the reporter's address, the free text and the report numbers are never written
    text = GOLDEN.read_bytes().decode("cp1252")
    assert "@example.nl" in text
    for secret in (b"@example.nl", b"afval bij de ingang", b";4100"):
        assert secret not in data
    assert b"cafe-terras-overlast" in data  # Windows-1252 read: the é survived as e
    metrics = tmp_path / "m.prom"
    replay = ["replay", str(out), "--no-store", "--until", UNTIL, "--metrics-file", str(metrics)]
    assert main(replay) == 0
    assert figures(metrics) == expected["after_replay"]


def test_an_overlapping_export_adds_nothing_twice(tmp_path: Path) -> None:
    """March exported twice: on the 20th (open reports) and at the end (the same reports closed)."""
    groen = "Onkruid;Castricum - Groen"
    rows = [
        f"4100001;04-03-2024 09:00;Gemeld;;;{groen}",
        f"4100002;05-03-2024 10:00;In behandeling;05-03-2024 15:00;;{groen}",
        "4100003;06-03-2024 11:00;Afgehandeld;06-03-2024 12:00;07-03-2024 16:00;Onkruid;Heiloo",
    ]
    later = [
        f"4100001;04-03-2024 09:00;Afgewezen;08-03-2024 09:00;08-03-2024 09:00;{groen}",
        f"4100002;05-03-2024 10:00;Afgehandeld;05-03-2024 15:00;22-03-2024 10:00;{groen}",
        rows[2],
        "4100004;25-03-2024 11:00;Gemeld;;;Zwerfafval;Castricum - Wijkbeheer",
    ]
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("\n".join([HEADER, *rows]) + "\n")
    second.write_text("\n".join([HEADER, *later]) + "\n")
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert run_import(str(first), "--out", str(a)) == 0
    assert run_import(str(second), "--out", str(b)) == 0
    ids_a = {e["id"]: e for e in events_of(a)}
    ids_b = {e["id"]: e for e in events_of(b)}
    shared = ids_a.keys() & ids_b.keys()
    assert all(ids_a[i] == ids_b[i] for i in shared)  # the same record, the same event
    assert len(shared) == 6  # 3 opened, 4100002's reply, 4100003's reply and close
    new = [ids_b[i]["type"] for i in ids_b.keys() - shared]
    assert sorted(new) == sorted(
        [
            "nl.contactmonitor.item.responded",  # 4100001
            "nl.contactmonitor.item.closed",  # 4100001
            "nl.contactmonitor.item.closed",  # 4100002
            "nl.contactmonitor.item.opened",  # 4100004
        ]
    )
    both, union = tmp_path / "both.prom", tmp_path / "union.prom"
    argv = ["replay", "--no-store", "--until", UNTIL, "--metrics-file"]
    assert main([*argv, str(both), str(a), str(b)]) == 0
    merged = tmp_path / "merged.jsonl"
    merged.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in {**ids_a, **ids_b}.values()))
    assert main([*argv, str(union), str(merged)]) == 0
    assert figures(both) == figures(union)
    assert "contact_events_duplicate_total" in both.read_text()


def test_a_mapping_file_with_other_columns_and_a_municipality_column(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "columns:\n  report_number: Nummer\n  created: Aangemaakt\n  status: Toestand\n"
        "  closed: Gesloten\n  municipality: Gemeente\n"
        "statuses:\n  nieuw: open\n  klaar: {close: afgehandeld}\n"
        "  teruggetrokken: {close: ingetrokken}\n"
    )
    export = tmp_path / "export.csv"
    export.write_text(
        "Nummer,Aangemaakt,Toestand,Gesloten,Gemeente\n"
        "7,2024-03-04 09:00,Nieuw,,Uitgeest\n"
        "8,2024-03-04 10:00,Teruggetrokken,2024-03-05 10:00,Bergen (NH)\n"
        "9,2024-03-04 10:00,klaar,,Bergen (NH)\n"
    )
    out, rejects = tmp_path / "out.jsonl", tmp_path / "r.jsonl"
    args = [str(export), "--mapping", str(mapping), "--out", str(out), "--rejects", str(rejects)]
    assert run_import(*args) == 0
    events = events_of(out)
    assert [(e["data"]["municipality"], e["type"].split(".")[-1]) for e in events] == [
        ("uitgeest", "opened"),
        ("bergen", "opened"),
        ("bergen", "closed"),
    ]
    assert events[0]["data"]["category"] == "overig"
    assert events[0]["data"]["channel"] == "webformulier"
    assert events[2]["data"]["resolution"] == "ingetrokken"
    assert [(r["reason"], r["field"]) for r in events_of(rejects)] == [
        ("missing_value", "Gesloten")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns: {created: x, status: y}\nstatuses: {a: open}\n", "columns.report_number"),
        (
            "columns: {report_number: a, created: b, status: c}\nstatuses: {x: {close: weg}}\n",
            "statuses.x",
        ),
        ("columns: [\n", "is not YAML"),
    ],
)
def test_a_bad_mapping_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(text)
    assert run_import(str(GOLDEN), "--mapping", str(mapping), "--dry-run") == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_missing_column_is_named_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        HEADER.replace(";Status", "") + "\n1;04-03-2024 09:00;;;Onkruid;Castricum - Groen\n"
    )
    out = tmp_path / "out.jsonl"
    assert run_import(str(export), "--out", str(out)) == 2
    assert "no column 'Status'" in capsys.readouterr().err
    assert not out.exists()


def test_bad_rows(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "\n".join(
            [
                HEADER,
                "1;04-03-2024 09:00;Afgehandeld;;;Onkruid;Castricum - Groen",
                "2;04-03-2024 09:00;Gemeld;;;Onkruid;Alkmaar - Groen",
                "3;04-03-2024 09:00;Gemeld;03-03-2024 09:00;;Onkruid;Castricum - Groen",
                ";04-03-2024 09:00;Gemeld;;;Onkruid;Castricum - Groen",
                "5;04-03-2024 09:00;Gemeld;;;Onkruid;",
            ]
        )
        + "\n"
    )
    rejects = tmp_path / "r.jsonl"
    assert run_import(str(export), "--dry-run", "--rejects", str(rejects)) == 0
    assert [(r["reason"], r["field"]) for r in events_of(rejects)] == [
        ("missing_value", "Datum afgehandeld"),
        ("unknown_municipality", "Team"),
        ("bad_order", "Datum eerste reactie"),
        ("missing_value", "Meldingnummer"),
        ("missing_value", "Team"),
    ]
