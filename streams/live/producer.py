"""Send contract events to the events topic, keyed by municipality, at a chosen pace.

`produce` takes events as dicts (the simulator's) or as JSON bytes (lines of a file) and sends each
to ``settings.events_topic`` with kafka-python: the value is the event's JSON exactly as a JSON
Lines file holds it (without the newline), the key the UTF-8 ``data.municipality``, so all events
of a municipality land in one partition (contract section 2). Bytes whose municipality cannot be
read are sent unchanged without a key: refusing them is the worker's job (it sends them to the
dead-letter topic with a reason), and a test feed may contain them on purpose.

Two paces, which can be combined:

- ``rate``: at most that many events per second (`RateLimiter`, a token bucket).
- ``speed``: playback on event time (`Playback`): the gap between an event's ``time`` and the
  latest one before it is divided by ``speed`` and slept, each gap capped at `MAX_GAP_S`, so
  ``speed=8640`` plays a day in ten seconds and a quiet night or weekend does not stall a demo.
  The events keep their own times; only the sending is paced.

The Kafka message timestamp stays the moment of sending, not the event time: the topic's retention
is measured on message timestamps, and events from months ago would otherwise be deleted at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from streams.live.clients import kafka_python_kwargs
from streams.live.settings import KafkaSettings

__all__ = [
    "MAX_GAP_S",
    "Playback",
    "ProducerError",
    "Progress",
    "RateLimiter",
    "encode",
    "produce",
]

MAX_GAP_S = 3.0  # the longest a single event-time gap is slept in playback
BURST_S = 0.05  # a token bucket holds at most this many seconds' worth of events (and at least 1)
CATCH_UP_S = 1.0  # playback further behind its schedule than this stops trying to catch up
PROGRESS_EVERY_S = 0.5
LINGER_MS = 5
CLIENT_ID = "contactmon-producer"

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class ProducerError(RuntimeError):
    """Events could not be sent: no broker, a missing topic, or deliveries that failed."""


@dataclass(frozen=True)
class Progress:
    """How far `produce` is: events handed to the producer and the event time reached.

    A report, not a display: `streams.progress` draws it on a terminal (rate and time left too).
    """

    sent: int
    event_time: str | None  # the ``time`` attribute of the latest event sent, as written


@dataclass(frozen=True)
class Message:
    """One event ready to send: the value's bytes, the key's bytes, and its time when readable."""

    value: bytes
    key: bytes | None
    time: str | None
    timestamp: float | None


class RateLimiter:
    """A token bucket: on average at most ``rate`` events per second.

    It starts with one token and holds at most ``max(1, rate·BURST_S)``, so a short burst after a
    pause is allowed (sleeping per event at high rates would undershoot) but never a long one.
    """

    def __init__(
        self, rate: float, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        if not rate > 0:
            raise ValueError(f"the rate must be above 0 events per second, got {rate}")
        self.rate = rate
        self.capacity = max(1.0, rate * BURST_S)
        self._clock = clock
        self._sleep = sleep
        self._tokens = 1.0
        self._stamp = clock()

    def acquire(self) -> None:
        """Take one token, sleeping until there is one."""
        self._refill()
        if self._tokens < 1.0:
            self._sleep((1.0 - self._tokens) / self.rate)
            self._refill()
        # A sleep that ended a hair early leaves the bucket slightly negative: the next event
        # then waits that much longer, so the average never exceeds the rate.
        self._tokens -= 1.0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now


class Playback:
    """Paces events by their event time: each gap divided by ``speed``, capped at ``max_gap``.

    The gap is measured from the latest event time seen so far, so events that arrive out of order
    (``--shuffle-minutes``) go at once instead of making the clock run twice. Waiting is done
    against a schedule, so the time spent sending does not add up to a drift; when sending falls
    more than `CATCH_UP_S` behind, the schedule restarts from now instead of rushing to catch up.
    """

    def __init__(
        self,
        speed: float,
        *,
        max_gap: float = MAX_GAP_S,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"the speed must be above 0, got {speed}")
        self.speed = speed
        self.max_gap = max_gap
        self._clock = clock
        self._sleep = sleep
        self._latest: float | None = None
        self._due = 0.0

    def wait(self, timestamp: float | None) -> None:
        """Sleep until the event at epoch seconds ``timestamp`` is due; None goes at once."""
        if timestamp is None:
            return
        now = self._clock()
        if self._latest is None:
            self._latest, self._due = timestamp, now
            return
        gap = min(max(timestamp - self._latest, 0.0) / self.speed, self.max_gap)
        self._latest = max(self._latest, timestamp)
        self._due = max(self._due, now - CATCH_UP_S) + gap
        if self._due > now:
            self._sleep(self._due - now)


def encode(event: bytes | Mapping[str, Any]) -> Message:
    """The message for one event: its JSON bytes, its municipality key and its time, if readable.

    A dict is serialised as `streams.simulate.generator.write_jsonl` does; bytes are sent as they
    are, without a trailing line break.
    """
    if isinstance(event, bytes | bytearray):
        value = bytes(event).rstrip(b"\r\n")
        try:
            parsed: Any = orjson.loads(value)
        except orjson.JSONDecodeError:
            return Message(value, None, None, None)
    else:
        parsed = event
        value = orjson.dumps(event)
    if not isinstance(parsed, Mapping):
        return Message(value, None, None, None)
    data = parsed.get("data")
    slug = data.get("municipality") if isinstance(data, Mapping) else None
    key = slug.encode("utf-8") if isinstance(slug, str) and slug else None
    moment = parsed.get("time")
    if not isinstance(moment, str):
        return Message(value, key, None, None)
    try:
        timestamp = datetime.fromisoformat(moment).timestamp()
    except ValueError:
        return Message(value, key, None, None)
    return Message(value, key, moment, timestamp)


class _Deliveries:
    """Counts the deliveries that failed; the producer's I/O thread reports them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failed = 0
        self.first_error: BaseException | None = None

    def failure(self, error: BaseException) -> None:
        with self._lock:
            self.failed += 1
            if self.first_error is None:
                self.first_error = error


def _close(producer: Any, timeout: float) -> None:
    """Close the producer; a failure to close is not raised.

    Closing flushes again: after a failure that flush can fail too, and must not hide the first
    error; after a successful flush every delivery is already settled and counted.
    """
    try:
        producer.close(timeout=timeout)
    except KafkaError:
        return


def produce(
    events: Iterable[bytes | Mapping[str, Any]],
    settings: KafkaSettings,
    *,
    rate: float | None = None,
    speed: float | None = None,
    progress: Callable[[Progress], None] | None = None,
    max_block: float = 30.0,
) -> int:
    """Send the events to ``settings.events_topic``, keyed by municipality; returns how many.

    ``rate``: at most that many events per second (None: as fast as the broker takes them).
    ``speed``: playback by event time, see `Playback` (None: no pause between events).
    ``progress`` is called about twice a second and once at the end. ``max_block`` bounds the
    wait for a broker and for the topic's metadata (a missing topic fails after it).

    Sends with ``acks="all"`` and flushes at the end; raises ProducerError when no broker answers,
    the topic does not exist, or any delivery failed (with the number that failed).
    """
    limiter = RateLimiter(rate) if rate is not None else None
    playback = Playback(speed) if speed is not None else None
    deliveries = _Deliveries()
    try:
        producer = KafkaProducer(
            **kafka_python_kwargs(settings),
            client_id=CLIENT_ID,
            acks="all",
            linger_ms=LINGER_MS,
            bootstrap_timeout_ms=int(max_block * 1000),
            max_block_ms=int(max_block * 1000),
        )
    except KafkaError as error:
        raise ProducerError(
            f"no Kafka broker answered at {settings.bootstrap_servers}: {error}"
        ) from error
    sent = 0
    latest: str | None = None
    reported = time.monotonic()
    topic = settings.events_topic
    try:
        for event in events:
            message = encode(event)
            if playback is not None:
                playback.wait(message.timestamp)
            if limiter is not None:
                limiter.acquire()
            future = producer.send(topic, value=message.value, key=message.key)
            future.add_errback(deliveries.failure)
            sent += 1
            latest = message.time or latest
            now = time.monotonic()
            if progress is not None and now - reported >= PROGRESS_EVERY_S:
                progress(Progress(sent, latest))
                reported = now
        producer.flush()
    except KafkaTimeoutError as error:
        raise ProducerError(
            f"Kafka at {settings.bootstrap_servers} took no events for topic {topic} within "
            f"{max_block:g} s ({error}). Does the topic exist? The brokers do not create topics "
            "themselves: create it with `contactmon simulate --to kafka --ensure-topics`"
        ) from error
    except KafkaError as error:
        raise ProducerError(f"sending to {topic} failed after {sent} events: {error}") from error
    finally:
        _close(producer, max_block)
    if progress is not None:
        progress(Progress(sent, latest))
    if deliveries.failed:
        raise ProducerError(
            f"{deliveries.failed} of {sent} events were not delivered to {topic} on "
            f"{settings.bootstrap_servers}: {deliveries.first_error}"
        )
    return sent
