"""From mapped records to a sink: every event checked, counted, and sent or written.

`checked_lines` runs a mapping over records and yields each event as its time (UTC epoch seconds,
as the check read it) and its JSON line: the line is encoded once and its time parsed once, for the
check and the ordering both. Every event is checked before it leaves: a record whose events the
monitor would refuse is rejected as a whole, as ``event_<reason>``, so an import produces only
what the monitor accepts. Two checks:

- `Decoder` (``full``): the monitor's own decoder over the event's bytes — for the importers of a
  few hundred records a day (Fixi, Signalen);
- `EventCheck`: the decoder's checks that an event built by a mapping can fail — its time (RFC
  3339, within the calendar's years, not in the future), its municipality (configured) and its
  labels (short, no control characters, no personal data; each distinct label checked once).
  The rest of an event (attribute names, types, the words of the contract) is fixed by the
  mapping's code, and the tests decode every event of the golden files with the decoder itself.
  For call records, where the full decode would double the cost of a row.

Rejects go to the rejects file with the record's place (``file:line``, or a signal's number),
never the record itself, which may hold a caller's number or a reporter's address.

`in_time_order` puts the lines in event-time order within a bounded window (a heap of at most
``window`` events): an export lists a report's opening, reply and closing together, weeks apart,
and the monitor decides a deadline when its clock passes it, so events that arrive in time order
give the same figures whether a driver sweeps after every event or after every batch. Memory
stays bounded; an event later than the window is sent when it comes. A record's place
(``file:line``) is formatted only when it is rejected.

`deliver` sends the lines to Kafka, writes them to a JSON Lines file (0600), or, for
``--dry-run``, only counts them; then prints the summary.
"""

from __future__ import annotations

import heapq
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from events.decode import Decoder, Reason, Rejection, time_to_epoch
from events.personal import personal_data_in
from events.vocabulary import MAX_LABEL_LENGTH
from sources.records import Reject, Skip
from streams.importers.output import KafkaFailed, Rejects, Tally, send, write_jsonl

if TYPE_CHECKING:
    from streams.live.settings import KafkaSettings
    from streams.progress import Progress

__all__ = [
    "EventCheck",
    "Record",
    "Timed",
    "Where",
    "checked_lines",
    "deliver",
    "in_time_order",
    "lines_of",
    "place",
]

Mapped = list[dict[str, Any]] | Reject | Skip
Where = str | tuple[str, int]  # a signal's number, or (file, line): formatted only for a reject
Record = tuple[Where, Mapped]  # where it was, what the mapping made of it
Timed = tuple[float, bytes]  # an event's time (UTC epoch seconds) and its JSON line
PROGRESS_EVERY = 2_000


LABELS = ("category", "team", "queue", "source_system")
MAX_FUTURE_S = 600.0


class EventCheck:
    """The decoder's verdicts on what a mapping's event can get wrong (see the module doc)."""

    def __init__(self, decoder: Decoder, span: tuple[float, float]) -> None:
        self.municipalities = decoder.municipalities
        self.earliest, self.latest = span
        self._labels: dict[str, bool] = {}

    def verdict(self, event: dict[str, Any], now: float) -> float | Reject:
        """The event's time (UTC epoch seconds) when the monitor would take it, else a Reject."""
        try:
            when = time_to_epoch(event["time"])
        except ValueError:
            return Reject("event_invalid_field", "time", "is not an RFC 3339 time")
        if when > now + MAX_FUTURE_S:
            return Reject(f"event_{Reason.FUTURE_TIME.value}", "time", "lies in the future")
        if not self.earliest <= when < self.latest:
            return Reject(
                f"event_{Reason.TIME_OUT_OF_RANGE.value}", "time", "lies outside the calendar"
            )
        data = event["data"]
        if data["municipality"] not in self.municipalities:
            return Reject(
                f"event_{Reason.UNKNOWN_MUNICIPALITY.value}",
                "data.municipality",
                "is not one of the configured municipalities",
            )
        if len(data) > 1:  # only the municipality: no label to check
            labels = self._labels
            for name in LABELS:
                value = data.get(name)
                if value is not None and not labels.get(value, False) and not self._label_ok(value):
                    return Reject(
                        f"event_{Reason.PERSONAL_DATA.value}",
                        f"data.{name}",
                        "is not a short label without personal data",
                    )
        return when

    def _label_ok(self, value: str) -> bool:
        ok = self._labels.get(value)
        if ok is None:
            ok = (
                0 < len(value) <= MAX_LABEL_LENGTH
                and value.isprintable()
                and personal_data_in(value) is None
            )
            if len(self._labels) < 10_000:
                self._labels[value] = ok
        return ok


def place(where: Where) -> str:
    """``file:line`` (or a signal's number) of a record."""
    return where if type(where) is str else f"{where[0]}:{where[1]}"


def checked_lines(
    records: Iterable[Record],
    check: Decoder | EventCheck,
    tally: Tally,
    rejects: Rejects,
    *,
    progress: Callable[[], None] | None = None,
) -> Iterator[Timed]:
    """``(time, line)`` of each event of ``records`` (time in UTC epoch seconds, the JSON line);
    rejects and skips counted and written."""
    dumps = orjson.dumps
    now = time.time()
    counts = tally.events
    full = check.decode if isinstance(check, Decoder) else None
    verdict_of = check.verdict if isinstance(check, EventCheck) else None
    rows = tally.rows
    next_progress = rows + PROGRESS_EVERY
    try:
        for where, result in records:
            mapped = result
            rows += 1
            if rows >= next_progress:
                tally.rows = rows
                next_progress = rows + PROGRESS_EVERY
                if progress is not None:
                    progress()
                now = time.time()
            if type(mapped) is list:
                timed: list[Timed] = []
                problem: Reject | None = None
                for event in mapped:
                    line = dumps(event)
                    if verdict_of is not None:
                        when = verdict_of(event, now)
                    else:
                        assert full is not None
                        decoded = full(line, now)
                        if type(decoded) is Rejection:
                            reason = f"event_{decoded.reason.value}"
                            when = Reject(reason, decoded.field, decoded.detail)
                        else:
                            when = decoded.time  # type: ignore[union-attr]
                    if type(when) is Reject:
                        problem = when
                        break
                    timed.append((when, line))  # type: ignore[arg-type]
                if problem is None:
                    for event in mapped:
                        counts[event["type"]] += 1
                    yield from timed
                    continue
                mapped = problem
            if type(mapped) is Skip:
                tally.skipped[mapped.why] += 1
            elif type(mapped) is Reject:
                tally.rejects[mapped.reason] += 1
                rejects.add(mapped.reason, mapped.field, mapped.detail, where=place(where))
    finally:
        tally.rows = rows


def lines_of(timed: Iterable[Timed]) -> Iterator[bytes]:
    """The lines of ``(time, line)`` pairs, in the order they come."""
    for _, line in timed:
        yield line


def in_time_order(timed: Iterable[Timed], window: int) -> Iterator[bytes]:
    """The lines sorted by their event's time within a heap of ``window`` (0: as they come)."""
    if window <= 0:
        yield from lines_of(timed)
        return
    heap: list[tuple[float, int, bytes]] = []
    push, pushpop, pop = heapq.heappush, heapq.heappushpop, heapq.heappop
    for seq, (when, line) in enumerate(timed, 1):
        if seq <= window:
            push(heap, (when, seq, line))
        else:
            yield pushpop(heap, (when, seq, line))[2]
    while heap:
        yield pop(heap)[2]


def deliver(
    command: str,
    lines: Iterator[bytes],
    tally: Tally,
    *,
    to: str,
    dry_run: bool,
    out: str | None,
    settings: KafkaSettings | None,
    rate: float | None,
    ensure_topics: bool,
    progress: Progress,
) -> int:
    """Send, write or count the lines; print the summary line; returns the exit code."""
    from streams.files import open_private  # noqa: PLC0415

    what = f"contactmon {command}"
    with progress:
        if dry_run:
            for _ in lines:
                pass
            target = "dry run, nothing sent or written"
        elif to == "kafka":
            assert settings is not None
            try:
                send(lines, settings, rate=rate, ensure=ensure_topics)
            except KafkaFailed as error:
                print(f"{what}: {error}", file=sys.stderr)
                return error.code
            target = f"sent to topic {settings.events_topic} on {settings.bootstrap_servers}"
        elif out is None or out == "-":
            write_jsonl(lines, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            target = "written to stdout"
        else:
            path = Path(out)
            # a device or pipe (/dev/null, a FIFO) is written as it is: never chmod what is not
            # our own file
            special = path.exists() and not path.is_file()
            with path.open("wb") if special else open_private(path) as f:
                write_jsonl(lines, f)
            target = f"written to {out}"
    print(tally.summary(f"{what} ({target})"), file=sys.stderr)
    return 0
