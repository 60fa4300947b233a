"""Personal data where pseudonyms and labels belong is refused, and no output keeps it: not the
store, the metrics, the export, the log, nor the rejects file (which gets a redacted copy)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from events.personal import personal_data_in
from streams.cli import main
from tests.factories import event, opened

CANARIES = {
    "e-mail": "jan.canary@example.nl",
    "bsn": "111222333",  # passes the elfproef
    "phone": "06-12345678",
    "iban": "NL91ABNA0417164300",
    "postcode": "Dorpsstraat 12, 1851 AB Heiloo",
}


def poisoned_events() -> list[bytes]:
    lines = [
        opened("ok-1", "2024-05-13 10:00"),
        event("item.responded", "ok-1", "2024-05-13 11:00"),
    ]
    for n, value in enumerate(CANARIES.values()):
        lines += [
            opened(value, "2024-05-13 10:00"),
            opened(f"c{n}", "2024-05-13 10:00", category=value),
            opened(f"t{n}", "2024-05-13 10:00", team=value),
            opened(f"s{n}", "2024-05-13 10:00", source_system=value),
            event("call.queued", f"q{n}", "2024-05-13 10:00", channel="telefoon", queue=value),
            event("feedback.given", None, "2024-05-13 10:00", channel="app", score=7, about=value),
        ]
    return lines


class TestDetection:
    """Each kind is recognised; pseudonyms and ordinary labels are not."""

    @pytest.mark.parametrize("value", sorted(CANARIES.values()))
    def test_canaries_are_recognised(self, value: str) -> None:
        assert personal_data_in(value) is not None

    @pytest.mark.parametrize(
        "value",
        [
            "fixi-3c1e9a",
            "7d3f0c9e-2b1a-4c55-9a0e-0f3c2d1b9a77",
            "ZAAK-2024-0000001234",
            "straatverlichting",
            "Team Openbare Ruimte 2",
            "123456789",  # nine digits that fail the elfproef
            "fixi-12345678",  # an id's digits, not a number of its own
            "ZAAK-123456782",  # a case number that happens to pass the elfproef
            "a3f1c2d4e5b6a7980123456789abcdef0123456789abcdef0123456789abcdef",
        ],
    )
    def test_pseudonyms_and_labels_pass(self, value: str) -> None:
        assert personal_data_in(value) is None


class TestNoOutputKeepsIt:
    """A replay of events with personal data in every field leaves it in no output."""

    def test_canaries_nowhere(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        data = tmp_path / "events.jsonl"
        data.write_bytes(b"\n".join(poisoned_events()) + b"\n")
        store, metrics, rejects = tmp_path / "s.sqlite3", tmp_path / "m.prom", tmp_path / "r.jsonl"
        argv = ["replay", str(data), "--store", f"sqlite:///{store}", "--rejects", str(rejects)]
        assert main([*argv, "--metrics-file", str(metrics), "--until", "2024-06-01T00:00:00Z"]) == 0
        export = tmp_path / "export.csv"
        assert (
            main(
                [
                    "export",
                    "--month",
                    "2024-05",
                    "--store",
                    f"sqlite:///{store}",
                    "--out",
                    str(export),
                ]
            )
            == 0
        )
        logs = capsys.readouterr()
        outputs = {
            "store": store.read_bytes(),
            "metrics": metrics.read_bytes(),
            "rejects": rejects.read_bytes(),
            "export": export.read_bytes(),
            "log": (logs.out + logs.err).encode(),
        }
        for name, content in outputs.items():
            for kind, value in CANARIES.items():
                assert value.encode() not in content, f"{kind} in {name}"
        rejected = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
        assert len(rejected) == 6 * len(CANARIES)
        assert {r["reason"] for r in rejected} == {"personal_data"}
        assert all("[verwijderd]" in r["raw"] for r in rejected)
