"""Careless use and hostile input of `contactmon replay` end in a clear error before the run, or
in bounded rejections: nothing is overwritten, nothing grows without bound."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from events.decode import Reason
from streams.cli import main
from streams.core.config import load_norms
from streams.core.monitor import Monitor
from tests.factories import event, opened

WALL = 4_102_444_800.0


def events_file(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


class TestOutputsAreCheckedFirst:
    """An output path that cannot be right stops the run before it starts, with exit 2."""

    def test_rejects_naming_the_input_is_refused_and_the_input_kept(self, tmp_path: Path) -> None:
        data = events_file(tmp_path, opened("f1", "2024-05-13 10:00"))
        before = data.read_bytes()
        assert main(["replay", str(data), "--no-store", "--rejects", str(data)]) == 2
        assert data.read_bytes() == before

    @pytest.mark.parametrize("option", ["--rejects", "--metrics-file"])
    def test_an_output_in_a_missing_directory(self, tmp_path: Path, option: str) -> None:
        data = events_file(tmp_path, opened("f1", "2024-05-13 10:00"))
        target = tmp_path / "nope" / "out"
        assert main(["replay", str(data), "--no-store", option, str(target)]) == 2

    def test_an_output_that_is_a_directory(self, tmp_path: Path) -> None:
        data = events_file(tmp_path, opened("f1", "2024-05-13 10:00"))
        assert main(["replay", str(data), "--no-store", "--metrics-file", str(tmp_path)]) == 2

    @pytest.mark.parametrize("value", ["-100000", "nan", "inf", "-1", "soon"])
    def test_lateness_must_be_finite_and_not_negative(self, tmp_path: Path, value: str) -> None:
        data = events_file(tmp_path, opened("f1", "2024-05-13 10:00"))
        with pytest.raises(SystemExit) as stopped:
            main(["replay", str(data), "--no-store", f"--lateness={value}"])
        assert stopped.value.code == 2


class TestTooLarge:
    """A line over the size limit is rejected without being read whole; the rest goes on."""

    def test_a_five_megabyte_line(self, tmp_path: Path) -> None:
        huge = orjson.loads(opened("f2", "2024-05-13 10:00"))
        huge["data"]["category"] = "x" * (5 << 20)
        data = events_file(
            tmp_path,
            opened("f1", "2024-05-13 10:00"),
            orjson.dumps(huge),
            opened("f3", "2024-05-13 11:00"),
        )
        rejects, metrics = tmp_path / "rejects.jsonl", tmp_path / "m.prom"
        argv = ["replay", str(data), "--no-store", "--rejects", str(rejects)]
        assert main([*argv, "--metrics-file", str(metrics)]) == 0
        (line,) = rejects.read_bytes().splitlines()
        rejected = orjson.loads(line)
        assert rejected["reason"] == "too_large"
        assert len(rejected["raw"]) == 1024
        assert b'contact_events_total{municipality="castricum",type="item.opened"} 2.0' in (
            metrics.read_bytes()
        )


class TestRejectionLogging:
    """Half a million bad lines do not make half a million log lines."""

    def test_logged_at_most_ten_a_minute_per_reason_then_summarised(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        data = events_file(tmp_path, *[b"not json"] * 500)
        assert main(["--log-json", "replay", str(data), "--no-store"]) == 0
        lines = [orjson.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
        one_by_one = [x for x in lines if x["event"] == "event rejected"]
        summaries = [x for x in lines if x["event"].startswith("more events rejected")]
        assert len(one_by_one) == 10
        assert [(s["reason"], s["count"]) for s in summaries] == [("not_json", 490)]


class TestHeldEventsAreBounded:
    """Over the cap, the oldest held events are rejected early as unknown_subject."""

    def test_the_oldest_make_room(self) -> None:
        m = Monitor(load_norms(), max_held=3)
        for i in range(5):
            m.process(event("item.responded", f"x{i}", f"2024-05-13 10:0{i}"), WALL)
        reasons = [r.reason for r in m.take_rejections()]
        assert reasons == [Reason.UNKNOWN_SUBJECT, Reason.UNKNOWN_SUBJECT]
        assert m.shards["castricum"].held_count() == 3


class TestFileModes:
    """What replay writes is private whatever the umask: rejects 0600, metrics 0640."""

    def test_modes(self, tmp_path: Path) -> None:
        data = events_file(tmp_path, b"not json", opened("f1", "2024-05-13 10:00"))
        rejects, metrics = tmp_path / "r.jsonl", tmp_path / "m.prom"
        previous = os.umask(0)
        try:
            argv = ["replay", str(data), "--no-store", "--rejects", str(rejects)]
            assert main([*argv, "--metrics-file", str(metrics)]) == 0
        finally:
            os.umask(previous)
        assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
        assert stat.S_IMODE(metrics.stat().st_mode) == 0o640
