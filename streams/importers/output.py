"""Where importers put what they made: events to a JSON Lines file or Kafka, rejects to a file.

Shared by ``contactmon publish`` and ``contactmon import``:

- `Tally`: rows read, events by type, rejects by reason, records skipped by why; its `summary`
  is the line a command prints (also the ``--dry-run`` report).
- `Rejects`: the rejects file (JSON Lines, 0600): per rejected record its reason, field and fixed
  sentence, where it was (file and line) and the record itself when it is a line of a file the
  user gave (never a value from a polled API, which may hold a reporter's e-mail address).
- `kafka_settings` and `send`: the ``CONTACTMON_*`` Kafka settings with ``--bootstrap-servers``,
  and sending through `streams.live.producer.produce` (acks=all, keyed by municipality) with the
  broker checked first, so a wrong password is one sentence, not a 30 s timeout.
- `write_jsonl`: the same events to a file, one per line, as `contactmon replay` reads them.
"""

from __future__ import annotations

import argparse
import base64
import logging
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from events.vocabulary import TYPE_PREFIX
from streams.files import open_private

if TYPE_CHECKING:
    from streams.live.settings import KafkaSettings

__all__ = [
    "EXIT_KAFKA",
    "EXIT_USAGE",
    "Rejects",
    "Tally",
    "add_kafka_arguments",
    "kafka_settings",
    "send",
    "write_jsonl",
]

EXIT_KAFKA = 1
EXIT_USAGE = 2
WRITE_CHUNK = 512


@dataclass
class Tally:
    """What an import or publish did, for the summary line and ``--dry-run``.

    ``events`` counts by type, short (``item.opened``) or full (``nl.contactmonitor.…``).
    """

    rows: int = 0
    events: Counter[str] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    notes: dict[str, int] = field(default_factory=dict)

    def summary(self, what: str, unit: str = "rows") -> str:
        """``<what>: N rows read, M events (type n, ...); K rejected (reason k, ...)``."""
        short = Counter({t.removeprefix(TYPE_PREFIX): n for t, n in self.events.items()})
        per_type = ", ".join(f"{t} {n}" for t, n in sorted(short.items()))
        line = f"{what}: {self.rows} {unit} read, {sum(self.events.values())} events"
        if per_type:
            line += f" ({per_type})"
        line += f"; {sum(self.rejects.values())} rejected"
        if self.rejects:
            line += " (" + ", ".join(f"{r} {n}" for r, n in sorted(self.rejects.items())) + ")"
        if self.skipped:
            skipped = ", ".join(f"{r} {n}" for r, n in sorted(self.skipped.items()))
            line += f"; {sum(self.skipped.values())} skipped ({skipped})"
        for note, count in sorted(self.notes.items()):
            line += f"; {note} {count}"
        return line


class Rejects:
    """The rejects file (or none): one JSON object per rejected record, with its reason."""

    def __init__(self, path: Path | None) -> None:
        self._file: IO[bytes] | None = open_private(path) if path is not None else None

    def add(
        self,
        reason: str,
        field: str | None,
        detail: str,
        *,
        where: str | None = None,
        raw: bytes | None = None,
    ) -> None:
        if self._file is None:
            return
        record: dict[str, object] = {"reason": reason, "field": field, "detail": detail}
        if where is not None:
            record["where"] = where
        if raw is not None:
            try:
                record["raw"] = raw.decode("utf-8")
            except UnicodeDecodeError:
                record["raw_base64"] = base64.b64encode(raw).decode("ascii")
        self._file.write(orjson.dumps(record) + b"\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def write_jsonl(events: Iterable[Mapping[str, Any] | bytes], out: IO[bytes]) -> int:
    """Write each event as one line; bytes are written as they are. Returns how many.

    Lines are joined and written in chunks of `WRITE_CHUNK` (one write per event costs more than
    the encoding of the event).
    """
    count = 0
    chunk: list[bytes] = []
    add = chunk.append
    dumps = orjson.dumps
    for event in events:
        add(event if type(event) is bytes else dumps(event))
        if len(chunk) >= WRITE_CHUNK:
            out.write(b"\n".join(chunk) + b"\n")
            count += len(chunk)
            chunk.clear()
    if chunk:
        out.write(b"\n".join(chunk) + b"\n")
        count += len(chunk)
    return count


def add_kafka_arguments(parser: argparse.ArgumentParser) -> None:
    """``--bootstrap-servers``, ``--ensure-topics`` and ``--rate``, as `simulate` has them."""
    kafka = parser.add_argument_group("with Kafka")
    kafka.add_argument(
        "--bootstrap-servers",
        type=_servers,
        metavar="HOST:PORT[,...]",
        help="the Kafka brokers (default: CONTACTMON_BOOTSTRAP_SERVERS, else 127.0.0.1:9092)",
    )
    kafka.add_argument(
        "--ensure-topics",
        action="store_true",
        help="first create the events and dead-letter topics when missing",
    )
    kafka.add_argument(
        "--rate",
        type=_positive_number,
        metavar="N",
        help="send at most N events per second (default: as fast as the broker takes them)",
    )


def _servers(text: str) -> str:
    from streams.live.settings import parse_bootstrap_servers  # noqa: PLC0415

    try:
        return ",".join(parse_bootstrap_servers(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number above 0: {text!r}")
    return value


def kafka_settings(command: str, bootstrap_servers: str | None) -> KafkaSettings | None:
    """The CONTACTMON_* Kafka settings with ``--bootstrap-servers``; None (and why) if unusable."""
    from streams.live.settings import KafkaSettings, SettingsError, load_settings  # noqa: PLC0415

    overrides = {"bootstrap_servers": bootstrap_servers} if bootstrap_servers else {}
    try:
        return load_settings(KafkaSettings, overrides=overrides)
    except SettingsError as error:
        lines = "".join(f"\n  {problem}" for problem in error.problems)
        print(f"contactmon {command}: the Kafka settings cannot be used:{lines}", file=sys.stderr)
        return None


class KafkaFailed(RuntimeError):
    """The broker could not be used (a check, a topic or deliveries failed); exit code 1 or 2."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def send(
    events: Iterable[Mapping[str, Any] | bytes],
    settings: KafkaSettings,
    *,
    rate: float | None,
    ensure: bool,
) -> int:
    """Send the events to the events topic (acks=all, keyed by municipality); returns how many.

    Raises `KafkaFailed` with exit code 2 when the brokers refuse the login or TLS (a setting to
    fix) and 1 when a topic is missing or deliveries failed.
    """
    from streams.live.clients import BrokerCheckError, check_brokers  # noqa: PLC0415
    from streams.live.producer import ProducerError, produce  # noqa: PLC0415
    from streams.live.topics import TopicError, ensure_topics  # noqa: PLC0415

    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        check_brokers(settings)
    except BrokerCheckError as error:
        raise KafkaFailed(str(error), EXIT_USAGE) from None
    try:
        if ensure:
            ensure_topics(settings)
        return produce(events, settings, rate=rate)
    except (TopicError, ProducerError) as error:
        raise KafkaFailed(str(error), EXIT_KAFKA) from None
