"""`contactmon replay` and `export` end to end on simulated files: order, duplicates, bad input."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import orjson
import pytest

from streams.cli import main
from tests.factories import event, opened

UNTIL = "2024-06-01T00:00:00+02:00"


@pytest.fixture(scope="module")
def month_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated month (March 2024) of all four municipalities."""
    path = tmp_path_factory.mktemp("sim") / "march.jsonl"
    assert (
        main(
            [
                "simulate",
                "--start",
                "2024-03-01",
                "--months",
                "1",
                "--seed",
                "5",
                "--out",
                str(path),
            ]
        )
        == 0
    )
    return path


def replay_and_export(tmp: Path, *files: Path, extra: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    store = f"sqlite:///{tmp / 'store.sqlite3'}"
    metrics = tmp / "metrics.prom"
    code = main(
        [
            "replay",
            *map(str, files),
            "--store",
            store,
            "--until",
            UNTIL,
            "--metrics-file",
            str(metrics),
            *extra,
        ]
    )
    assert code == 0
    out = tmp / "export.csv"
    assert main(["export", "--month", "2024-03", "--store", store, "--out", str(out)]) == 0
    return out.read_bytes(), metrics.read_bytes()


def without(metrics: bytes, *prefixes: str) -> list[str]:
    return [line for line in metrics.decode().splitlines() if not line.startswith(prefixes)]


def shuffle_within(lines: list[bytes], seconds: float, seed: int) -> list[bytes]:
    """Arrival order = event time + a random delay of up to ``seconds``."""
    rng = random.Random(seed)
    keyed = []
    for line in lines:
        t = orjson.loads(line)["time"]
        from datetime import datetime  # noqa: PLC0415

        keyed.append((datetime.fromisoformat(t).timestamp() + rng.uniform(0, seconds), line))
    keyed.sort(key=lambda k: k[0])
    return [line for _, line in keyed]


class TestOrderAndDuplicates:
    """Arrival order within the lateness and duplicates change nothing."""

    def test_shuffled_within_minutes_gives_the_same_export_and_metrics(
        self, month_file: Path, tmp_path: Path
    ) -> None:
        a, b = tmp_path / "a", tmp_path / "b"
        a.mkdir()
        b.mkdir()
        export_a, metrics_a = replay_and_export(a, month_file)
        lines = month_file.read_bytes().splitlines()
        shuffled = b / "shuffled.jsonl"
        shuffled.write_bytes(b"\n".join(shuffle_within(lines, 240, seed=9)) + b"\n")
        assert shuffled.read_bytes() != month_file.read_bytes()
        export_b, metrics_b = replay_and_export(b, shuffled)
        assert export_a == export_b
        assert metrics_a == metrics_b

    def test_the_file_twice_is_counted_once(self, month_file: Path, tmp_path: Path) -> None:
        a, b = tmp_path / "a", tmp_path / "b"
        a.mkdir()
        b.mkdir()
        export_a, metrics_a = replay_and_export(a, month_file)
        export_b, metrics_b = replay_and_export(b, month_file, month_file)
        assert export_a == export_b
        dup = "contact_events_duplicate_total"
        assert without(metrics_a, dup) == without(metrics_b, dup)
        n_lines = len(month_file.read_bytes().splitlines())
        dup_total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics_b.decode().splitlines()
            if line.startswith(dup)
        )
        assert dup_total == n_lines

    def test_two_exports_of_one_month_are_byte_identical(
        self, month_file: Path, tmp_path: Path
    ) -> None:
        store = f"sqlite:///{tmp_path / 's.sqlite3'}"
        assert main(["replay", str(month_file), "--store", store, "--until", UNTIL]) == 0
        for fmt in ("csv", "json", "xlsx"):
            one, two = tmp_path / f"1.{fmt}", tmp_path / f"2.{fmt}"
            assert (
                main(
                    [
                        "export",
                        "--month",
                        "2024-03",
                        "--store",
                        store,
                        "--format",
                        fmt,
                        "--out",
                        str(one),
                    ]
                )
                == 0
            )
            assert (
                main(
                    [
                        "export",
                        "--month",
                        "2024-03",
                        "--store",
                        store,
                        "--format",
                        fmt,
                        "--out",
                        str(two),
                    ]
                )
                == 0
            )
            assert one.read_bytes() == two.read_bytes()

    def test_replaying_into_the_same_store_twice_changes_nothing(
        self, month_file: Path, tmp_path: Path
    ) -> None:
        first, _ = replay_and_export(tmp_path, month_file)
        second, _ = replay_and_export(tmp_path, month_file)
        assert first == second


BAD_LINES: dict[str, bytes] = {
    "not_json": b"{this is not json",
    "not_object": b"[1, 2, 3]",
    "missing_field": orjson.dumps(
        {k: v for k, v in orjson.loads(opened("x1", "2024-03-04 10:00")).items() if k != "time"}
    ),
    "invalid_field": opened("x2", "2024-03-04 10:00").replace(
        b'"channel":"app"', b'"channel":"fax"'
    ),
    "unknown_type": event("item.teleported", "x3", "2024-03-04 10:00"),
    "unknown_municipality": event(
        "item.opened",
        "x4",
        "2024-03-04 10:00",
        municipality="alkmaar",
        kind="melding",
        channel="app",
    ),
    "future_time": opened("x5", "2099-01-01 10:00"),
    "unknown_subject": event("item.responded", "never-opened", "2024-03-04 10:00"),
}


class TestBadInput:
    """Every kind of bad input ends in the rejects file with its reason; processing goes on."""

    def test_every_bad_line_is_rejected_with_its_reason(self, tmp_path: Path) -> None:
        good = [opened("g1", "2024-03-04 09:00"), event("item.responded", "g1", "2024-03-04 11:00")]
        path = tmp_path / "mixed.jsonl"
        lines = [good[0], *BAD_LINES.values(), good[1]]
        path.write_bytes(b"\n".join(lines) + b"\n")
        rejects = tmp_path / "rejects.jsonl"
        metrics = tmp_path / "m.prom"
        code = main(
            [
                "replay",
                str(path),
                "--no-store",
                "--rejects",
                str(rejects),
                "--metrics-file",
                str(metrics),
            ]
        )
        assert code == 0
        records = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
        assert sorted(r["reason"] for r in records) == sorted(BAD_LINES)
        by_reason = {r["reason"]: r for r in records}
        for reason, raw in BAD_LINES.items():
            assert by_reason[reason]["raw"].encode() == raw, reason
        text = metrics.read_text()
        for reason in BAD_LINES:
            assert f'contact_events_rejected_total{{reason="{reason}"}} 1.0' in text
        assert 'contact_events_total{municipality="castricum",type="item.responded"} 1.0' in text

    def test_non_utf8_bytes_are_kept_as_base64(self, tmp_path: Path) -> None:
        path = tmp_path / "bin.jsonl"
        path.write_bytes(b"\xff\xfe not utf-8\n")
        rejects = tmp_path / "rejects.jsonl"
        assert main(["replay", str(path), "--no-store", "--rejects", str(rejects)]) == 0
        record = orjson.loads(rejects.read_bytes())
        assert record["reason"] == "not_json"
        assert "raw_base64" in record


class TestCommandErrors:
    """Bad configuration and bad arguments stop with a message, not a traceback."""

    def test_bad_norms_file_names_line_and_field(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        norms = tmp_path / "norms.yaml"
        norms.write_text(
            "norms:\n  - id: x\n    stage: response\n    within: 0\n"
            "    unit: workdays\n    target: 0.9\n"
        )
        data = tmp_path / "e.jsonl"
        data.write_bytes(opened("a", "2024-03-04 10:00") + b"\n")
        assert main(["replay", str(data), "--norms", str(norms), "--no-store"]) == 2
        err = capsys.readouterr().err
        assert "line 4, norms[0].within" in err

    def test_missing_input_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["replay", str(tmp_path / "nope.jsonl"), "--no-store"]) == 2
        assert "no such file" in capsys.readouterr().err

    def test_bad_month(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert (
            main(["export", "--month", "2024-13", "--store", f"sqlite:///{tmp_path / 's.sqlite3'}"])
            == 2
        )
        assert "--month must be YYYY-MM" in capsys.readouterr().err

    def test_until_without_offset(self, tmp_path: Path) -> None:
        with pytest.raises(SystemExit) as info:
            main(["replay", "x.jsonl", "--until", "2024-03-01T00:00:00"])
        assert info.value.code == 2


def export_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


class TestCastricumScenario:
    """The seed's Castricum first half of 2023 is reproduced: 1,232 reports, 88 % and 91 %."""

    def test_replayed_and_exported_the_percentages_come_back(self, tmp_path: Path) -> None:
        events = tmp_path / "castricum.jsonl"
        assert main(["simulate", "--scenario", "castricum_2023h1", "--out", str(events)]) == 0
        store = f"sqlite:///{tmp_path / 's.sqlite3'}"
        assert (
            main(["replay", str(events), "--store", store, "--until", "2023-09-01T00:00:00+02:00"])
            == 0
        )
        totals: dict[tuple[str, str], float] = {}
        for month in range(1, 7):
            out = tmp_path / f"2023-{month:02d}.csv"
            assert (
                main(
                    ["export", "--month", f"2023-{month:02d}", "--store", store, "--out", str(out)]
                )
                == 0
            )
            for row in export_rows(out):
                if (
                    row["municipality"] == "castricum"
                    and not row["channel"]
                    and not row["segment"]
                    and not row["kind"]
                ):
                    key = (row["indicator"], row["norm"])
                    totals[key] = totals.get(key, 0.0) + float(row["value"])
        assert totals[("opened", "")] == 1232
        for norm, pct in (("melding-reactie", 88.0), ("melding-afhandeling", 91.0)):
            met, breached = totals[("norm_met", norm)], totals[("norm_breached", norm)]
            assert met + breached == 1232
            assert round(100 * met / (met + breached), 1) == pct
