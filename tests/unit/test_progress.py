"""The progress line: drawn on a terminal only, with the total, rate, time left and the note."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from streams import progress
from streams.cli import main
from streams.live import producer
from streams.progress import Progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw from the first move on, without the half second's delay."""
    monkeypatch.setattr(progress, "REFRESH_S", 0.0)


@pytest.mark.usefixtures("at_once")
def test_nothing_is_written_when_the_stream_is_not_a_terminal() -> None:
    out = io.StringIO()
    with Progress("replay", total=1000, unit="B", file=out) as line:
        line.to(500, "5 events")
        line.to(1000, "10 events")
    assert out.getvalue() == ""


@pytest.mark.usefixtures("at_once")
def test_on_a_terminal_it_shows_the_total_rate_time_left_and_note() -> None:
    out = FakeTerminal()
    with Progress("simulate", total=4000, unit=" events sent", file=out) as line:
        line.to(1000, "event time 2024-03-01T09:00:00+01:00")
        line.to(4000, "event time 2024-03-31T17:00:00+02:00")
    text = out.getvalue()
    last = text.rstrip("\n").rsplit("\r", 1)[-1]
    assert last.startswith("simulate: 100%")
    assert "4.00k/4.00k" in last
    assert " events sent/s" in last  # the rate
    assert "<00:00" in last  # elapsed < time left
    assert last.endswith("event time 2024-03-31T17:00:00+02:00]")
    assert text.endswith("\n")  # the last state stays, and what follows starts on a new line


@pytest.mark.usefixtures("at_once")
def test_forced_onto_any_stream_and_in_bytes() -> None:
    out = io.StringIO()
    with Progress("replay", total=3 * 1024 * 1024, unit="B", file=out, terminal=True) as line:
        line.to(3 * 1024 * 1024, "13,729 events")
    last = out.getvalue().rstrip("\n").rsplit("\r", 1)[-1]
    assert "3.00M/3.00M" in last
    assert "B/s, 13,729 events]" in last


def test_a_short_run_draws_nothing_even_on_a_terminal() -> None:
    out = FakeTerminal()
    with Progress("replay", total=10, file=out) as line:
        line.to(10)
    assert out.getvalue() == ""


@pytest.mark.usefixtures("at_once")
def test_without_a_total_there_is_no_bar_and_no_time_left() -> None:
    out = FakeTerminal()
    with Progress("replay", unit="B", file=out) as line:
        line.to(2048)
    last = out.getvalue().rstrip("\n").rsplit("\r", 1)[-1]
    assert last.startswith("replay: 2.00kB [")
    assert "%" not in last


@pytest.mark.usefixtures("at_once")
def test_what_is_written_aside_gets_a_line_of_its_own() -> None:
    out = FakeTerminal()
    with Progress("replay", total=100, file=out) as line:
        line.to(40, "40 events")
        with line.aside():
            out.write("a log line\n")
        line.to(100, "100 events")
    before, after = out.getvalue().split("a log line\n")
    assert before.endswith("\r")  # the progress line was wiped first, so the log line starts clean
    assert after.startswith("\rreplay:  40%")  # and drawn again after it
    assert after.rstrip("\n").rsplit("\r", 1)[-1].startswith("replay: 100%")


def test_aside_writes_nothing_when_no_line_is_shown() -> None:
    out = FakeTerminal()
    with Progress("replay", total=100, file=out) as line:  # within the delay: nothing drawn
        line.to(40)
        with line.aside():
            out.write("a log line\n")
    assert out.getvalue() == "a log line\n"


@pytest.mark.usefixtures("at_once")
def test_replay_and_simulate_leave_no_progress_off_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    simulate = ["simulate", "--start", "2024-03-01", "--months", "1", "--out", str(events)]
    assert main(simulate) == 0
    assert main(["replay", str(events), "--no-store"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    assert "%|" not in err
    assert "events written to" in err  # the summary lines stay
    assert "replay done" in err


@pytest.mark.usefixtures("at_once")
def test_simulate_to_kafka_on_a_terminal_shows_events_sent_and_event_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def produce(
        events: Sequence[dict[str, Any]],
        settings: object,
        *,
        rate: float | None,
        speed: float | None,
        progress: Callable[[producer.Progress], None],
    ) -> int:
        for sent, event in enumerate(
            events, 1
        ):  # reports like the real one: now and then, at the end
            if sent % 100 == 0 or sent == len(events):
                progress(producer.Progress(sent, event["time"]))
        return len(events)

    monkeypatch.setattr(producer, "produce", produce)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    week = ["--start", "2024-03-04", "--end", "2024-03-11", "--municipality", "uitgeest"]
    assert main(["simulate", "--to", "kafka", *week]) == 0
    text = terminal.getvalue()
    bar, summary = text.rstrip("\n").rsplit("\n", 1)
    last = bar.rsplit("\r", 1)[-1]
    assert last.startswith("simulate: 100%")
    assert " events sent/s, event time 2024-" in last
    assert summary.startswith("contactmon simulate: ")
    assert " events sent to topic " in summary
