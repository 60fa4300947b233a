"""`contactmon publish`: lines checked as the worker checks them, bad ones to the rejects file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.importers.output import Tally
from streams.importers.publish import jsonl_lines
from tests.factories import event, opened
from tests.unit.test_replay import BAD_LINES

# the publisher cannot know which subjects were opened: that is the core's check, not the decoder's
DECODER_BAD = {k: v for k, v in BAD_LINES.items() if k != "unknown_subject"}


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


class TestDryRun:
    def test_counts_events_by_type_and_rejects_by_reason(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        good = [opened("p1", "2024-03-04 09:00"), event("item.responded", "p1", "2024-03-04 11:00")]
        path = write(tmp_path / "mixed.jsonl", [good[0], *DECODER_BAD.values(), b"", good[1]])
        rejects = tmp_path / "rejects.jsonl"
        code = main(["publish", str(path), "--dry-run", "--rejects", str(rejects)])
        assert code == 0
        err = capsys.readouterr().err
        assert f"{2 + len(DECODER_BAD)} lines read, 2 events" in err
        assert "item.opened 1, item.responded 1" in err
        records = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
        assert sorted(r["reason"] for r in records) == sorted(DECODER_BAD)
        by_reason = {r["reason"]: r for r in records}
        for reason, raw in DECODER_BAD.items():
            assert by_reason[reason]["raw"].encode() == raw, reason
        # where each came from: file and line number (line 1 is the good opening)
        assert by_reason["not_json"]["where"] == f"{path}:2"
        assert rejects.stat().st_mode & 0o777 == 0o600

    def test_a_line_not_in_utf8_is_kept_in_base64(self, tmp_path: Path) -> None:
        path = write(tmp_path / "latin.jsonl", [b'{"caf\xe9": 1}'])
        rejects = tmp_path / "r.jsonl"
        assert main(["publish", str(path), "--dry-run", "--rejects", str(rejects)]) == 0
        (record,) = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
        assert record["reason"] == "not_json"
        assert "raw_base64" in record


class TestUsage:
    def test_missing_file_is_exit_2(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["publish", str(tmp_path / "nope.jsonl"), "--dry-run"]) == 2
        assert "no such file" in capsys.readouterr().err

    def test_bad_kafka_settings_are_exit_2_before_reading(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CONTACTMON_SECURITY_PROTOCOL", "SASL_SSL")
        path = write(tmp_path / "a.jsonl", [opened("p1", "2024-03-04 09:00")])
        assert main(["publish", str(path)]) == 2
        err = capsys.readouterr().err
        assert "Kafka settings cannot be used" in err
        assert "Traceback" not in err

    def test_rate_must_be_positive(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_:
            main(["publish", "x.jsonl", "--rate", "0"])
        assert exit_.value.code == 2


class TestReading:
    def test_long_lines_are_cut_not_held(self, tmp_path: Path) -> None:
        long = b'{"x": "' + b"a" * 5000 + b'"}'
        path = write(tmp_path / "long.jsonl", [long, b"{}", b"  ", b"[]"])
        position = [0]
        lines = list(jsonl_lines([path], 1024, position))
        assert [len(raw) for raw, _ in lines] == [1025, 2, 2]
        assert [where.rsplit(":", 1)[1] for _, where in lines] == ["1", "2", "4"]
        assert position[0] == path.stat().st_size


class TestTally:
    def test_summary_line(self) -> None:
        tally = Tally(rows=3)
        tally.events.update({"call.queued": 2})
        tally.rejects.update({"bad_date": 1})
        tally.skipped.update({"AGENTCALLED": 4})
        assert tally.summary("x") == (
            "x: 3 rows read, 2 events (call.queued 2); 1 rejected (bad_date 1); "
            "4 skipped (AGENTCALLED 4)"
        )
