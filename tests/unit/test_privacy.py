"""Canary values in subjects and extra fields never reach logs, metrics or the export."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.cli import main
from tests.factories import event, opened

CANARIES = ("CANARYSUBJECT", "Jan Kanarie", "kanarie@example.nl", "0612345678")


def canary_events() -> list[bytes]:
    subject = "fixi-CANARYSUBJECT"
    return [
        opened(subject, "2024-03-04 09:00", naam="Jan Kanarie", email="kanarie@example.nl"),
        event("item.responded", subject, "2024-03-05 09:00", telefoon="0612345678"),
        event("item.closed", subject, "2024-03-06 09:00"),
        event("feedback.given", None, "2024-03-06 10:00", channel="app", score=8, about=subject),
        # rejected events with personal data: their reasons are logged, their payload is not
        event("item.responded", "kcc-CANARYSUBJECT", "2024-03-06 11:00", naam="Jan Kanarie"),
        opened(
            "fixi-CANARYSUBJECT-2", "2024-03-06 12:00", channel="fax", email="kanarie@example.nl"
        ),
    ]


class TestCanaries:
    """A seeded canary shows up nowhere but the rejects file, which keeps the original bytes."""

    def test_no_canary_in_any_output(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        data = tmp_path / "events.jsonl"
        data.write_bytes(b"\n".join(canary_events()) + b"\n")
        store = f"sqlite:///{tmp_path / 's.sqlite3'}"
        metrics = tmp_path / "metrics.prom"
        rejects = tmp_path / "rejects.jsonl"
        args = ["--log-json", "--log-level", "DEBUG", "replay", str(data), "--store", store]
        args += [
            "--metrics-file",
            str(metrics),
            "--rejects",
            str(rejects),
            "--until",
            "2024-04-01T00:00:00+02:00",
        ]
        assert main(args) == 0
        outputs = {"metrics": metrics.read_bytes()}
        for fmt in ("csv", "json", "xlsx"):
            out = tmp_path / f"export.{fmt}"
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
                        str(out),
                    ]
                )
                == 0
            )
            outputs[fmt] = out.read_bytes()
        captured = capsys.readouterr()
        outputs["stdout"] = captured.out.encode()
        outputs["stderr"] = captured.err.encode()
        assert b"event rejected" in outputs["stderr"]  # the rejections were logged...
        for name, blob in outputs.items():
            for canary in CANARIES:
                assert canary.encode() not in blob, f"{canary!r} leaked into {name}"
        assert b"CANARYSUBJECT" in rejects.read_bytes()  # ...and kept whole for the dead letters
