"""The ``contactmon simulate`` subcommand: simulated contract events to a JSON Lines file or Kafka.

The CLI module registers the subcommand with `add_arguments` and calls `run`; `run` returns the
process exit code: 0 done, 1 Kafka failed (no broker answers, a topic is missing or has too few
partitions, deliveries failed), 2 a usage error (an unknown municipality, an option that does not
go with the target, unusable ``CONTACTMON_*`` settings).

``--to file`` writes one event per line. ``--to kafka`` sends the same events, in the same order,
to the events topic with `streams.live.producer.produce`: the value is the event's line without
its line break, the key the municipality. The Kafka settings come from the ``CONTACTMON_*``
environment variables (`streams.live.settings.KafkaSettings`), ``--bootstrap-servers`` overriding
``CONTACTMON_BOOTSTRAP_SERVERS``; ``--ensure-topics`` creates the topics first, ``--rate`` and
``--speed`` pace the sending.

Events whose time lies after the moment of the run are left out, because the contract rejects
events more than ten minutes in the future; the summary line says how many. A period in the past
is therefore unaffected, and the same arguments give byte-identical output.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from calendar import monthrange
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import date, datetime
from typing import TYPE_CHECKING, BinaryIO

from events.vocabulary import TYPE_PREFIX
from streams.simulate.generator import ZONE, Event, event_time, shuffle_arrival, simulate
from streams.simulate.generator import write_jsonl as write_events
from streams.simulate.profiles import DEFAULT_MUNICIPALITIES, SimulationError
from streams.simulate.scenarios import SCENARIOS

if TYPE_CHECKING:
    from streams.live.producer import Progress as Sent
    from streams.live.settings import KafkaSettings

__all__ = ["add_arguments", "add_months", "default_start", "run"]

TARGETS = ("file", "kafka")
EXIT_KAFKA = 1
EXIT_USAGE = 2
KAFKA_OPTIONS = {
    "bootstrap_servers": "--bootstrap-servers",
    "rate": "--rate",
    "speed": "--speed",
    "ensure_topics": "--ensure-topics",
}


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


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number above 0: {text!r}")
    return value


def _servers(text: str) -> str:
    from streams.live.settings import parse_bootstrap_servers  # noqa: PLC0415  (see _send)

    try:
        return ",".join(parse_bootstrap_servers(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``contactmon simulate`` to ``parser``."""
    parser.description = (
        "Write realistic, reproducible contact events (the contract's CloudEvents) for the "
        "municipalities: Fixi reports, questions, call-back requests, complaints, applications, "
        "phone/chat/counter calls and feedback. Items are opened in the period; their follow-up "
        "events (responses, closes, feedback) are written too, also after the period, up to now. "
        "They go to a JSON Lines file (--to file) or to the Kafka events topic (--to kafka)."
    )
    parser.add_argument(
        "--to",
        choices=TARGETS,
        default="file",
        help="where the events go (default: file). file: JSON Lines to --out. kafka: each event "
        "to the events topic (CONTACTMON_EVENTS_TOPIC, default contact.events), keyed by "
        "municipality, with the Kafka settings of the CONTACTMON_* environment variables",
    )
    parser.add_argument(
        "--out",
        default="-",
        metavar="PATH",
        help="with --to file: the JSON Lines file to write, one event per line; '-' is stdout "
        "(default)",
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
    kafka = parser.add_argument_group("with --to kafka")
    kafka.add_argument(
        "--bootstrap-servers",
        type=_servers,
        metavar="HOST:PORT[,...]",
        help="the Kafka brokers (default: CONTACTMON_BOOTSTRAP_SERVERS, else 127.0.0.1:9092)",
    )
    kafka.add_argument(
        "--ensure-topics",
        action="store_true",
        help="first create the events and dead-letter topics when missing (CONTACTMON_PARTITIONS "
        "partitions, default 4); fails when one exists with fewer",
    )
    kafka.add_argument(
        "--rate",
        type=_positive_number,
        metavar="N",
        help="send at most N events per second (default: as fast as the broker takes them)",
    )
    kafka.add_argument(
        "--speed",
        type=_positive_number,
        metavar="X",
        help="play back on event time, X times faster than real time: 8640 plays a day in 10 "
        "seconds (a single pause is at most a few seconds; the events keep their own times)",
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
    misplaced = _misplaced_options(args)
    if misplaced:
        print(f"contactmon simulate: error: {misplaced}", file=sys.stderr)
        return EXIT_USAGE
    settings = _kafka_settings(args) if args.to == "kafka" else None
    if args.to == "kafka" and settings is None:
        return EXIT_USAGE
    try:
        events = _events(args)
    except SimulationError as error:
        print(f"contactmon simulate: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    now = time.time()
    kept = [event for event in events if event_time(event) <= now]
    if args.shuffle_minutes:
        kept = shuffle_arrival(kept, args.shuffle_minutes, args.seed)
    future = len(events) - len(kept)
    if settings is not None:
        return _send(args, settings, kept, future)
    with ExitStack() as stack:
        out: BinaryIO = sys.stdout.buffer
        if args.out != "-":
            out = stack.enter_context(open(args.out, "wb"))
        written = write_events(kept, out)
        out.flush()
    target = "stdout" if args.out == "-" else args.out
    print(_summary(kept, f"{written} events written to {target}", future), file=sys.stderr)
    return 0


def _misplaced_options(args: argparse.Namespace) -> str | None:
    """Why the options do not go with the target (``--out`` with kafka, ``--rate`` with file)."""
    if args.to == "kafka":
        if args.out != "-":
            return "--out is for --to file; --to kafka sends to the events topic"
        return None
    given = [option for name, option in KAFKA_OPTIONS.items() if getattr(args, name, None)]
    if given:
        verb = "go" if len(given) > 1 else "goes"
        return f"{', '.join(given)} {verb} only with --to kafka"
    return None


def _kafka_settings(args: argparse.Namespace) -> KafkaSettings | None:
    """The CONTACTMON_* Kafka settings with ``--bootstrap-servers``; None (and why) if unusable."""
    # Imported here and in _send: the Kafka client and pydantic-settings take a fifth of a second
    # to import, which `contactmon --help` and `--to file` need not pay.
    from streams.live.settings import KafkaSettings, SettingsError, load_settings  # noqa: PLC0415

    overrides = {"bootstrap_servers": args.bootstrap_servers} if args.bootstrap_servers else {}
    try:
        return load_settings(KafkaSettings, overrides=overrides)
    except SettingsError as error:
        lines = "".join(f"\n  {problem}" for problem in error.problems)
        print(f"contactmon simulate: the Kafka settings cannot be used:{lines}", file=sys.stderr)
        return None


def _send(
    args: argparse.Namespace, settings: KafkaSettings, events: Sequence[Event], future: int
) -> int:
    """Send the events to the Kafka events topic; returns the exit code."""
    from streams.live.clients import BrokerCheckError, check_brokers  # noqa: PLC0415
    from streams.live.producer import ProducerError, produce  # noqa: PLC0415
    from streams.live.topics import TopicError, ensure_topics  # noqa: PLC0415
    from streams.progress import Progress  # noqa: PLC0415

    _quiet_kafka_client()
    try:  # an untrusted CA or a wrong password is a clear error now, not a 30 s timeout later
        check_brokers(settings)
    except BrokerCheckError as error:
        print(f"contactmon simulate: {error}", file=sys.stderr)
        return EXIT_USAGE
    line = Progress("simulate", total=len(events), unit=" events sent")

    def show(progress: Sent) -> None:
        note = f"event time {progress.event_time}" if progress.event_time else None
        line.to(progress.sent, note)

    try:
        with line:
            if args.ensure_topics:
                ensure_topics(settings)
            sent = produce(events, settings, rate=args.rate, speed=args.speed, progress=show)
    except (TopicError, ProducerError) as error:
        print(f"contactmon simulate: {error}", file=sys.stderr)
        return EXIT_KAFKA
    target = f"topic {settings.events_topic} on {settings.bootstrap_servers}"
    print(_summary(events, f"{sent} events sent to {target}", future), file=sys.stderr)
    return 0


def _quiet_kafka_client() -> None:
    """Silence kafka-python's own log lines (every connect and retry) unless debugging.

    Its INFO lines drown the progress line and its connection ERRORs repeat on every retry; what
    went wrong reaches the user once, in the TopicError or ProducerError message.
    """
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


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


def _summary(events: Sequence[Event], done: str, future: int) -> str:
    """One line for stderr: how many events went where, per type, and how many were left out."""
    counts = Counter(event["type"].removeprefix(TYPE_PREFIX) for event in events)
    per_type = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    line = f"contactmon simulate: {done} ({per_type})"
    if future:
        line += f"; {future} events later than now left out"
    return line
