"""From mapped records to a sink: every event checked, counted, and sent or written.

`checked_lines` runs a mapping over records and yields each event as its JSON line. Every event
is checked before it leaves: a record whose events the monitor would refuse is rejected as a
whole, as ``event_<reason>``, so an import produces only what the monitor accepts. Two checks:

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
stays bounded; an event later than the window is sent when it comes.

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

__all__ = ["EventCheck", "Record", "checked_lines", "deliver", "in_time_order"]

Mapped = list[dict[str, Any]] | Reject | Skip
Record = tuple[str, Mapped]  # where (file:line), what the mapping made of it
PROGRESS_EVERY = 2_000


LABELS = ("category", "team", "queue", "source_system")
MAX_FUTURE_S = 600.0


class EventCheck:
    """The decoder's verdicts on what a mapping's event can get wrong (see the module doc)."""

    def __init__(self, decoder: Decoder, span: tuple[float, float]) -> None:
        self.municipalities = decoder.municipalities
        self.earliest, self.latest = span
        self._labels: dict[str, bool] = {}

    def problem(self, event: dict[str, Any], now: float) -> Reject | None:
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
        for name in LABELS:
            value = data.get(name)
            if value is not None and not self._label_ok(value):
                return Reject(
                    f"event_{Reason.PERSONAL_DATA.value}",
                    f"data.{name}",
                    "is not a short label without personal data",
                )
        return None

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


def checked_lines(
    records: Iterable[Record],
    check: Decoder | EventCheck,
    tally: Tally,
    rejects: Rejects,
    *,
    progress: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """The JSON lines of the events of ``records``; rejects and skips counted and written."""
    dumps = orjson.dumps
    now = time.time()
    counts = tally.events
    full = check.decode if isinstance(check, Decoder) else None
    problem_of = check.problem if isinstance(check, EventCheck) else None
    for where, result in records:
        mapped = result
        tally.rows += 1
        if progress is not None and tally.rows % PROGRESS_EVERY == 0:
            progress()
            now = time.time()
        if type(mapped) is list:
            lines = [dumps(event) for event in mapped]
            problem: Reject | None = None
            for event, line in zip(mapped, lines, strict=True):
                if problem_of is not None:
                    problem = problem_of(event, now)
                elif full is not None:
                    verdict = full(line, now)
                    if type(verdict) is Rejection:
                        reason = f"event_{verdict.reason.value}"
                        problem = Reject(reason, verdict.field, verdict.detail)
                if problem is not None:
                    break
            if problem is None:
                for event, line in zip(mapped, lines, strict=True):
                    counts[event["type"]] += 1
                    yield line
                continue
            mapped = problem
        if type(mapped) is Skip:
            tally.skipped[mapped.why] += 1
        elif type(mapped) is Reject:
            tally.rejects[mapped.reason] += 1
            rejects.add(mapped.reason, mapped.field, mapped.detail, where=where)


def in_time_order(lines: Iterable[bytes], window: int) -> Iterator[bytes]:
    """The lines sorted by their event's time within a heap of ``window`` (0: as they come)."""
    if window <= 0:
        yield from lines
        return
    heap: list[tuple[float, int, bytes]] = []
    loads = orjson.loads
    for seq, line in enumerate(lines):
        key = (time_to_epoch(loads(line)["time"]), seq, line)
        if len(heap) < window:
            heapq.heappush(heap, key)
        else:
            yield heapq.heappushpop(heap, key)[2]
    while heap:
        yield heapq.heappop(heap)[2]


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
