"""The ``contactmon simulate`` subcommand: write simulated contract events as JSON Lines.

The CLI module registers the subcommand with `add_arguments` and calls `run`; `run` returns the
process exit code (0 done, 2 a usage error such as an unknown municipality or ``--to kafka``,
which is not available yet).

Events whose time lies after the moment of the run are left out, because the contract rejects
events more than ten minutes in the future; the summary line says how many. A period in the past
is therefore unaffected, and the same arguments give byte-identical output.
"""

from __future__ import annotations

import argparse
import sys
import time
from calendar import monthrange
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import date, datetime
from typing import BinaryIO

from events.vocabulary import TYPE_PREFIX
from streams.simulate.generator import ZONE, Event, event_time, shuffle_arrival, simulate
from streams.simulate.generator import write_jsonl as write_events
from streams.simulate.profiles import DEFAULT_MUNICIPALITIES, SimulationError
from streams.simulate.scenarios import SCENARIOS

__all__ = ["add_arguments", "add_months", "default_start", "run"]

TARGETS = ("file", "kafka")
NOT_YET = (
    "contactmon simulate: --to kafka is not available yet (it comes with the live pipeline); "
    "write a file with --to file --out PATH and feed it to `contactmon replay`"
)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return value


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of minutes >= 0: {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``contactmon simulate`` to ``parser``."""
    parser.description = (
        "Write realistic, reproducible contact events (the contract's CloudEvents) for the "
        "municipalities: Fixi reports, questions, call-back requests, complaints, applications, "
        "phone/chat/counter calls and feedback. Items are opened in the period; their follow-up "
        "events (responses, closes, feedback) are written too, also after the period, up to now."
    )
    parser.add_argument(
        "--to",
        choices=TARGETS,
        default="file",
        help="where the events go (default: file). kafka is not available yet: exits with 2",
    )
    parser.add_argument(
        "--out",
        default="-",
        metavar="PATH",
        help="JSON Lines file to write, one event per line; '-' is stdout (default)",
    )
    parser.add_argument(
        "--start",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="first local date on which items are opened (default: the first of last month)",
    )
    period = parser.add_mutually_exclusive_group()
    period.add_argument(
        "--end",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="the local date after the period (exclusive; default: one month after --start)",
    )
    period.add_argument(
        "--months", type=_positive_int, metavar="N", help="length of the period in months"
    )
    parser.add_argument(
        "--municipality",
        dest="municipalities",
        nargs="+",
        action="extend",
        metavar="SLUG",
        help=f"municipalities to simulate (default: {' '.join(DEFAULT_MUNICIPALITIES)})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        metavar="N",
        help="random seed; the same seed gives the same events",
    )
    parser.add_argument(
        "--slip",
        nargs="+",
        action="extend",
        metavar="SLUG",
        help="municipalities whose melding response norm slips (most responses late), for demos",
    )
    parser.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help="write a named scenario with known outcomes instead (see --list-scenarios); "
        "fixes its own period and municipalities",
    )
    parser.add_argument("--list-scenarios", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--shuffle-minutes",
        type=_minutes,
        default=0.0,
        metavar="M",
        help="write in a shuffled arrival order: each event delayed by a seeded random 0–M "
        "minutes, to test out-of-order arrival (default 0: event-time order); replay it with "
        "--lateness of at least M·60 seconds for the same outcomes as in order",
    )


def add_months(day: date, months: int) -> date:
    """The same day of the month ``months`` months later (the month's last day if it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def default_start(today: date) -> date:
    """The first day of the month before ``today``'s month."""
    return add_months(today.replace(day=1), -1)


def run(args: argparse.Namespace) -> int:
    """Generate the events the options ask for and write them; returns the exit code."""
    if args.list_scenarios:
        for name, scenario in sorted(SCENARIOS.items()):
            print(f"{name}\t{scenario.description}")
        return 0
    if args.to == "kafka":
        print(NOT_YET, file=sys.stderr)
        return 2
    try:
        events = _events(args)
    except SimulationError as error:
        print(f"contactmon simulate: error: {error}", file=sys.stderr)
        return 2
    now = time.time()
    kept = [event for event in events if event_time(event) <= now]
    if args.shuffle_minutes:
        kept = shuffle_arrival(kept, args.shuffle_minutes, args.seed)
    with ExitStack() as stack:
        out: BinaryIO = sys.stdout.buffer
        if args.out != "-":
            out = stack.enter_context(open(args.out, "wb"))
        written = write_events(kept, out)
        out.flush()
    print(_summary(kept, written, len(events) - len(kept), args.out), file=sys.stderr)
    return 0


def _events(args: argparse.Namespace) -> list[Event]:
    """The events of the scenario, or of the period and municipalities the options name."""
    if args.scenario is not None:
        clashing = [
            option
            for option, value in (
                ("--start", args.start),
                ("--end", args.end),
                ("--months", args.months),
                ("--municipality", args.municipalities),
                ("--slip", args.slip),
            )
            if value is not None
        ]
        if clashing:
            raise SimulationError(
                f"--scenario fixes its own period and municipalities; drop {', '.join(clashing)}"
            )
        return SCENARIOS[args.scenario].build(args.seed)
    start = args.start or default_start(datetime.now(ZONE).date())
    end = args.end or add_months(start, args.months or 1)
    municipalities: Sequence[str] = args.municipalities or DEFAULT_MUNICIPALITIES
    return simulate(start, end, municipalities, seed=args.seed, slip=set(args.slip or ()))


def _summary(events: Sequence[Event], written: int, future: int, out: str) -> str:
    """One line for stderr: how many events went where, per type, and how many were left out."""
    counts = Counter(event["type"].removeprefix(TYPE_PREFIX) for event in events)
    per_type = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    target = "stdout" if out == "-" else out
    line = f"contactmon simulate: {written} events written to {target} ({per_type})"
    if future:
        line += f"; {future} events later than now left out"
    return line
