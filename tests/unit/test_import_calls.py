"""`contactmon import calls-csv`: generic, Teams and Asterisk profiles, golden files, bad input."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from events.decode import Decoder, Event
from streams.cli import main
from tests.fixtures.generate_sources import FIGURES, TEST_KEY, UNTIL
from tests.integration.worker_harness import parse

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
HEADER = "call_id,municipality,queue,entered_at,answered_at,ended_at,outcome,wait_s,talk_s,resolved"


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTMON_PSEUDONYM_KEY", TEST_KEY)


def run_import(*args: str) -> int:
    return main(["import", "calls-csv", *args])


def events_of(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def figures(metrics: Path) -> dict[str, float]:
    """The golden files' figures: contract series summed over segment and category."""
    out: dict[str, float] = {}
    for (sample, labels), value in sorted(parse(metrics.read_text()).items()):
        if sample in FIGURES and value:
            kept = ",".join(f"{k}={v}" for k, v in labels if k not in ("segment", "category"))
            out[f"{sample}{{{kept}}}"] = out.get(f"{sample}{{{kept}}}", 0) + value
    return out


def secrets(source: Path, profile: str) -> list[str]:
    """Agent names, caller numbers and call ids of the first calls of a golden file."""
    lines = source.read_text(encoding="utf-8-sig").splitlines()
    found: set[str] = set()
    if profile == "teams":
        for line in lines[1:30]:
            call_id, *_, agent, caller = line.split(",")
            found |= {call_id, caller} | ({agent} if agent else set())
    else:
        for line in lines[:60]:
            fields = line.split("|")
            if fields[4] == "ENTERQUEUE":
                found |= {fields[1], fields[6]}
            if fields[3].startswith("SIP/"):
                found.add(fields[3])
    assert len(found) > 10
    return sorted(found)


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        ("calls/teams-castricum-2024-03.csv", "teams"),
        ("calls/asterisk-heiloo-2024-03.queue_log", "asterisk"),
    ],
)
def test_golden_file(name: str, profile: str, tmp_path: Path) -> None:
    source = FIXTURES / name
    expected = json.loads(
        source.with_name(source.name.split(".")[0] + ".expected.json").read_text()
    )
    out = tmp_path / "events.jsonl"
    assert run_import("--profile", profile, str(source), "--out", str(out)) == 0
    data = out.read_bytes()
    events = events_of(out)
    types: dict[str, int] = {}
    for e in events:
        short = str(e["type"]).removeprefix("nl.contactmonitor.")
        types[short] = types.get(short, 0) + 1
    assert types == expected["events_by_type"]
    assert events[:3] == expected["first_events"]
    decoder = Decoder(["bergen", "castricum", "heiloo", "uitgeest"])
    assert all(type(decoder.decode(line, 2e9)) is Event for line in data.splitlines())
    assert hashlib.sha256(data).hexdigest() == expected["sha256"]
    # no agent, caller number or call id leaves the importer
    for secret in secrets(source, profile):
        assert secret.encode() not in data, secret
    metrics = tmp_path / "m.prom"
    replay = ["replay", str(out), "--no-store", "--until", UNTIL, "--metrics-file", str(metrics)]
    assert main(replay) == 0
    assert figures(metrics) == expected["after_replay"]
    # importing again gives the same bytes: duplicates for the monitor, nothing new
    again = tmp_path / "again.jsonl"
    assert run_import("--profile", profile, str(source), "--out", str(again)) == 0
    assert again.read_bytes() == data


class TestGeneric:
    def write(self, tmp_path: Path, *rows: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / "calls.csv"
        path.write_bytes("\n".join([HEADER, *rows]).encode(encoding) + b"\n")
        return path

    def test_answered_abandoned_and_derived_times(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path,
            "c1,castricum,KCC,2024-03-04 09:00:00,2024-03-04 09:00:20,2024-03-04 09:05:00,"
            "answered,20,280,ja",
            "c2,Heiloo,KCC,2024-03-04 09:01:00,,,beantwoord,45,60,nee",
            "c3,Bergen (NH),KCC,2024-03-04 09:02:00,,,abandoned,12,,",
            "c4,uitgeest,,2024-03-04T09:03:00+01:00,,2024-03-04 09:03:40,timeout,,,",
        )
        out = tmp_path / "out.jsonl"
        assert run_import(str(path), "--out", str(out), "--reorder", "0") == 0  # file order
        events = events_of(out)
        by = [(e["type"], e["time"], e["data"]) for e in events]
        assert by[:3] == [
            (
                "nl.contactmonitor.call.queued",
                "2024-03-04T09:00:00+01:00",
                {"municipality": "castricum", "channel": "telefoon", "queue": "kcc"},
            ),
            (
                "nl.contactmonitor.call.answered",
                "2024-03-04T09:00:20+01:00",
                {"municipality": "castricum"},
            ),
            (
                "nl.contactmonitor.call.ended",
                "2024-03-04T09:05:00+01:00",
                {"municipality": "castricum", "resolved": True},
            ),
        ]
        assert by[3:6] == [
            (
                "nl.contactmonitor.call.queued",
                "2024-03-04T09:01:00+01:00",
                {"municipality": "heiloo", "channel": "telefoon", "queue": "kcc"},
            ),
            (
                "nl.contactmonitor.call.answered",
                "2024-03-04T09:01:45+01:00",
                {"municipality": "heiloo"},
            ),
            (
                "nl.contactmonitor.call.ended",
                "2024-03-04T09:02:45+01:00",
                {"municipality": "heiloo", "resolved": False},
            ),
        ]
        assert by[6][2]["municipality"] == "bergen"
        assert by[7][:2] == ("nl.contactmonitor.call.abandoned", "2024-03-04T09:02:12+01:00")
        assert by[9][:2] == ("nl.contactmonitor.call.abandoned", "2024-03-04T09:03:40+01:00")
        assert "queue" not in by[8][2]
        # one subject per call, pseudonymous; ids differ per event
        assert len({e["subject"] for e in events}) == 4
        assert all(re.fullmatch(r"calls-[0-9a-f]{32}", str(e["subject"])) for e in events)
        assert len({e["id"] for e in events}) == len(events)

    def test_events_leave_in_time_order(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path,
            "c1,castricum,KCC,2024-03-04 09:00:00,2024-03-04 09:00:20,2024-03-04 09:05:00,"
            "answered,20,280,ja",
            "c2,castricum,KCC,2024-03-04 09:01:00,,,abandoned,12,,",
        )
        out = tmp_path / "out.jsonl"
        assert run_import(str(path), "--out", str(out)) == 0
        times = [str(e["time"]) for e in events_of(out)]
        assert times == sorted(times)
        assert len(times) == 5

    def test_bad_rows_are_rejected_with_reason_and_place(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = self.write(
            tmp_path,
            "c1,castricum,KCC,2024-13-45 09:00:00,,,answered,20,,",
            "c2,castricum,KCC,2024-03-04 09:00:00,,,vanished,20,,",
            "c3,alkmaar,KCC,2024-03-04 09:00:00,,,answered,20,,",
            "c4,castricum,KCC,2024-03-04 09:00:00,2024-03-04 08:59:00,,answered,,,",
            "c5,castricum,KCC,2024-03-04 09:00:00,,,answered,,,",
            "c6,castricum,KCC,2024-03-04 09:00:00,,,answered,twenty,,",
            ",castricum,KCC,2024-03-04 09:00:00,,,answered,3,,",
            "c8,castricum,KCC,2099-03-04 09:00:00,,,answered,3,,",
            "c9,castricum,KCC,2024-03-04 09:00:00,,,answered,3,,misschien",
            "ok,castricum,KCC,2024-03-04 09:00:00,,,abandoned,3,,",
        )
        rejects = tmp_path / "rejects.jsonl"
        assert run_import(str(path), "--dry-run", "--rejects", str(rejects)) == 0
        got = [(r["reason"], r["field"], r["where"]) for r in events_of(rejects)]
        assert got == [
            ("bad_date", "entered_at", f"{path}:2"),
            ("unknown_outcome", "outcome", f"{path}:3"),
            ("unknown_municipality", "municipality", f"{path}:4"),
            ("bad_order", "answered_at", f"{path}:5"),
            ("missing_value", "answered_at", f"{path}:6"),
            ("bad_number", "wait_s", f"{path}:7"),
            ("missing_value", "call_id", f"{path}:8"),
            ("event_future_time", "time", f"{path}:9"),
            ("bad_value", "resolved", f"{path}:10"),
        ]
        err = capsys.readouterr().err
        assert "10 rows read, 2 events" in err
        assert "call.abandoned 1, call.queued 1" in err

    def test_missing_column_is_named_and_nothing_is_written(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "calls.csv"
        path.write_text(
            HEADER.replace(",talk_s", "") + "\nc1,castricum,K,2024-03-04 09:00:00,,,abandoned,3,\n"
        )
        out = tmp_path / "out.jsonl"
        assert run_import(str(path), "--out", str(out)) == 2
        err = capsys.readouterr().err
        assert "no column 'talk_s'" in err
        assert "Traceback" not in err
        assert not out.exists()

    @pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
    def test_bom_and_windows_1252_with_semicolons(self, tmp_path: Path, encoding: str) -> None:
        rows = [
            HEADER.replace(",", ";"),
            "c1;castricum;Belastingen – Café;04-03-2024 09:00;;;abandoned;3;;",
        ]
        path = tmp_path / "calls.csv"
        path.write_bytes("\r\n".join(rows).encode(encoding))
        out = tmp_path / "out.jsonl"
        assert run_import(str(path), "--out", str(out)) == 0
        queued = events_of(out)[0]
        assert queued["data"] == {
            "municipality": "castricum",
            "channel": "telefoon",
            "queue": "belastingen-cafe",
        }
        assert queued["time"] == "2024-03-04T09:00:00+01:00"

    def test_fixed_municipality_and_channel(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, "c1,,KCC,2024-03-04 09:00:00,,,abandoned,3,,")
        out = tmp_path / "out.jsonl"
        args = [str(path), "--out", str(out), "--municipality", "Uitgeest", "--channel", "chat"]
        assert run_import(*args) == 0
        assert events_of(out)[0]["data"] == {
            "municipality": "uitgeest",
            "channel": "chat",
            "queue": "kcc",
        }
        assert run_import(str(path), "--municipality", "alkmaar", "--dry-run") == 2


class TestUsage:
    def test_without_the_key_nothing_runs(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.delenv("CONTACTMON_PSEUDONYM_KEY")
        path = tmp_path / "c.csv"
        path.write_text(HEADER + "\n")
        assert run_import(str(path), "--dry-run") == 2
        err = capsys.readouterr().err
        assert "CONTACTMON_PSEUDONYM_KEY is not set" in err

    def test_options_that_do_not_go_together(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "c.csv"
        path.write_text(HEADER + "\n")
        assert run_import(str(path), "--rate", "5") == 2
        assert "only with --to kafka" in capsys.readouterr().err
        assert run_import(str(path), "--to", "kafka", "--out", "x.jsonl") == 2
        assert run_import(str(tmp_path / "none.csv")) == 2
        assert "no such file" in capsys.readouterr().err

    def test_a_file_that_is_not_utf8_further_on(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        row = "c{},castricum,KCC,2024-03-04 09:00:00,,,abandoned,3,,\n"
        body = "".join(row.format(i) for i in range(40_000)).encode()  # > 1 MiB of ASCII first
        path = tmp_path / "c.csv"
        path.write_bytes(
            HEADER.encode() + b"\n" + body + b"c,castricum,Caf\xe9,x,,,abandoned,3,,\n"
        )
        assert run_import(str(path), "--dry-run") == 2
        assert "--encoding" in capsys.readouterr().err


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """A twelve times longer file takes no more memory: rows are streamed, never kept."""

    def peak_rss_kib(rows: int) -> int:
        path = tmp_path / f"calls-{rows}.csv"
        with path.open("w") as f:
            f.write(HEADER + "\n")
            for i in range(rows):
                minute = i % 480
                f.write(
                    f"c{i},castricum,KCC,2024-03-{4 + i % 20:02d} {8 + minute // 60:02d}:"
                    f"{minute % 60:02d}:00,,,answered,{i % 50},{60 + i % 300},ja\n"
                )
        script = (
            "import resource, sys\n"
            "from streams.cli import main\n"
            f"assert main(['import', 'calls-csv', {str(path)!r}, '--dry-run']) == 0\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
        )
        return int(done.stdout.split()[-1])

    small, large = peak_rss_kib(5_000), peak_rss_kib(60_000)
    assert large < small + 8 * 1024, (small, large)  # within 8 MiB, for a file 12x as long
