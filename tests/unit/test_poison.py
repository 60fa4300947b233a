"""One poison event never stops processing and never half-applies: it is rejected with a reason
and everything after it is processed as if it had never come."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from events import native
from events.decode import Reason
from streams.cli import main
from streams.core.config import load_norms
from streams.core.items import ItemLifecycle
from streams.core.monitor import REJECTED, Monitor
from streams.exposition import monitor_registry, render
from tests.factories import event, opened

WALL = 4_102_444_800.0  # 2100-01-01

CLEAN = [
    opened("f1", "2024-05-13 10:00"),
    event("item.responded", "f1", "2024-05-14 10:00"),
    opened("f2", "2024-05-13 11:00"),
    event("item.closed", "f2", "2024-05-20 11:00"),
]


def null_date(subject: str) -> bytes:
    raw = orjson.loads(opened(subject, "2024-05-13 12:00"))
    raw["time"] = "0001-01-01T00:00:00Z"
    return orjson.dumps(raw)


def exposition(m: Monitor) -> list[bytes]:
    """The metrics after the end of input, without the rejection counter (which must differ)."""
    m.finish()
    lines = render(monitor_registry(m)).splitlines()
    return [line for line in lines if not line.startswith(b"contact_events_rejected_total{")]


def run(m: Monitor, lines: list[bytes]) -> list[str]:
    return [m.process(line, WALL) for line in lines]


class TestTimesOutsideTheCalendar:
    """A null date or a time the calendar cannot place is rejected before the core sees it."""

    @pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "1900-06-01T10:00:00+01:00"])
    def test_rejected_as_time_out_of_range(self, when: str) -> None:
        raw = orjson.loads(opened("p1", "2024-05-13 12:00"))
        raw["time"] = when
        m = Monitor(load_norms())
        assert m.process(orjson.dumps(raw), WALL) == REJECTED
        (rejection,) = m.take_rejections()
        assert (rejection.reason, rejection.field) == (Reason.TIME_OUT_OF_RANGE, "time")

    def test_a_deadline_past_the_calendar_is_rejected_and_changes_nothing(self) -> None:
        config = load_norms()
        poisoned, clean = Monitor(config), Monitor(config)
        # opened days before the end of the calendar's last year: its 3 working days end after it
        poison = opened("a1", "2100-12-30 12:00")
        run(poisoned, CLEAN[:2])
        assert poisoned.process(poison, WALL + 400 * 86_400) == REJECTED
        run(poisoned, CLEAN[2:])
        run(clean, CLEAN)
        (rejection,) = poisoned.take_rejections()
        assert rejection.reason is Reason.TIME_OUT_OF_RANGE
        assert "a1" not in poisoned.shards["castricum"].items
        assert exposition(poisoned) == exposition(clean)


def in_pure_python_when_compiled(request: pytest.FixtureRequest) -> bool:
    """A compiled class cannot be patched: with the compiled core, run this test again in a
    pure-Python interpreter (``CONTACTMON_PURE_PYTHON=1``) and pass or fail as it does there.
    Returns True when that was done (the caller returns), False when the core here is pure."""
    if not native.active():
        return False
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            request.node.nodeid,
        ],
        env={**os.environ, "CONTACTMON_PURE_PYTHON": "1"},
        capture_output=True,
        text=True,
        check=False,
        cwd=request.config.rootpath,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    return True


class TestAnExceptionWhileApplying:
    """Any exception in a handler becomes an internal_error rejection of that event alone."""

    @pytest.fixture
    def broken(self, monkeypatch: pytest.MonkeyPatch) -> None:
        if native.active():
            return  # the test runs itself again in pure Python (`in_pure_python_when_compiled`)
        original = ItemLifecycle.responded

        def responded(self: ItemLifecycle, subject: str, st: object, t: float) -> None:
            if subject == "poison":
                raise RuntimeError("boom: subject poison")  # a message that quotes the event
            original(self, subject, st, t)  # type: ignore[arg-type]

        monkeypatch.setattr(ItemLifecycle, "responded", responded)

    @pytest.mark.usefixtures("broken")
    def test_the_event_is_rejected_and_the_state_is_as_without_it(
        self, request: pytest.FixtureRequest
    ) -> None:
        if in_pure_python_when_compiled(request):
            return
        poisoned, clean = Monitor(load_norms()), Monitor(load_norms())
        run(poisoned, [opened("poison", "2024-05-13 09:00"), *CLEAN[:2]])
        assert poisoned.process(event("item.responded", "poison", "2024-05-13 12:00"), WALL) == (
            REJECTED
        )
        run(poisoned, CLEAN[2:])
        run(clean, [opened("poison", "2024-05-13 09:00"), *CLEAN])
        (rejection,) = poisoned.take_rejections()
        assert rejection.reason is Reason.INTERNAL_ERROR
        assert rejection.exception == "RuntimeError"
        assert "poison" not in rejection.detail  # the exception's message never travels
        assert exposition(poisoned) == exposition(clean)

    @pytest.mark.usefixtures("broken")
    def test_the_rejected_event_is_not_remembered_as_seen(
        self, request: pytest.FixtureRequest
    ) -> None:
        if in_pure_python_when_compiled(request):
            return
        m = Monitor(load_norms())
        poison = event("item.responded", "poison", "2024-05-13 12:00", id="again")
        run(m, [opened("poison", "2024-05-13 09:00"), poison])
        assert m.shards["castricum"].items["poison"].responded_at is None
        assert m.shards["castricum"].totals.events_total["item.responded"] == 0


class TestReplayGoesOn:
    """`contactmon replay` rejects poison lines and processes every line after them."""

    def test_poison_in_the_middle_of_a_file(self, tmp_path: Path) -> None:
        clean = tmp_path / "clean.jsonl"
        dirty = tmp_path / "dirty.jsonl"
        clean.write_bytes(b"\n".join(CLEAN) + b"\n")
        dirty.write_bytes(b"\n".join([*CLEAN[:2], null_date("x1"), *CLEAN[2:]]) + b"\n")
        out = {}
        for name, path in (("clean", clean), ("dirty", dirty)):
            metrics, rejects = tmp_path / f"{name}.prom", tmp_path / f"{name}.rejects"
            argv = ["replay", str(path), "--no-store", "--metrics-file", str(metrics)]
            assert main([*argv, "--rejects", str(rejects)]) == 0
            out[name] = metrics.read_bytes()
        (line,) = (tmp_path / "dirty.rejects").read_bytes().splitlines()
        assert orjson.loads(line)["reason"] == "time_out_of_range"
        strip = b'contact_events_rejected_total{reason="time_out_of_range"} 1.0\n'
        assert out["dirty"].replace(strip, b"") == out["clean"]
