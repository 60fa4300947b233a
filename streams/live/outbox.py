"""Messages the worker produces while it reads: dead letters and forwarded events.

Both must be in Kafka before the checkpoint that includes the events they came from is written:
otherwise a crash right after the checkpoint would lose them (the events before the checkpoint
are never read again). The `Outbox` keeps every message until the broker acknowledged it
(``acks=all``), sends again what failed, and tells the checkpoint when everything up to a mark has
been acknowledged (`Outbox.delivered`). The order is: capture the state and take a mark, wait for
the acknowledgements up to the mark, write the checkpoint, commit the offset
(`streams.live.driver`).

A message sent again after a failure, or after a crash before the checkpoint, may reach the topic
twice; dead letters carry a key that is the same every time (`streams.live.runtime.dead_letter_key`)
so that a consumer of the dead-letter topic can keep one per key, and a forwarded event sent twice
is a duplicate the core ignores (same ``source`` and ``id``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from streams.live.runtime import FORWARDED_FROM, DeadLetter, Forward, Outgoing

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Message:
    """One record to produce; ``partition`` None lets the producer's partitioner pick by key."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers
    partition: int | None = None


SendFn = Callable[[Message], Awaitable["asyncio.Future[Any]"]]
"""Hands a message to the producer; returns the future of its delivery (aiokafka's ``send``)."""


def message_of(outgoing: Outgoing, *, events_topic: str, dlq_topic: str) -> Message:
    """The Kafka record of a dead letter or a forward."""
    if isinstance(outgoing, Forward):
        origin = f"{outgoing.source_partition}:{outgoing.source_offset}".encode()
        return Message(
            events_topic,
            outgoing.municipality.encode(),
            outgoing.raw,
            [(FORWARDED_FROM, origin)],
            outgoing.partition,
        )
    return dead_letter_message(outgoing, events_topic=events_topic, dlq_topic=dlq_topic)


def dead_letter_message(dead: DeadLetter, *, events_topic: str, dlq_topic: str) -> Message:
    """The original bytes as value; reason, field, detail and the source in the headers."""
    r = dead.rejection
    headers: Headers = [
        ("reason", r.reason.value.encode()),
        ("field", (r.field or "").encode()),
        ("detail", r.detail.encode()),
        ("source.topic", events_topic.encode()),
        ("source.partition", str(dead.partition).encode()),
        ("source.offset", str(dead.offset).encode()),
    ]
    if r.exception is not None:  # internal_error: the exception's class, never its text
        headers.append(("exception", r.exception.encode()))
    return Message(dlq_topic, dead.key, r.raw, headers)


class Backoff:
    """Exponential delays between retries: ``first``, doubling, at most ``most`` seconds."""

    def __init__(self, first: float = 0.5, most: float = 30.0) -> None:
        self.first = first
        self.most = most
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self.most, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.first


class Outbox:
    """Messages on their way to Kafka, kept until acknowledged; see the module doc.

    ``send`` hands a message to the producer; ``on_error`` hears of every failed attempt (the
    broker watch counts them), ``on_delivered`` of every acknowledgement.
    """

    def __init__(
        self,
        send: SendFn,
        *,
        on_error: Callable[[BaseException], None] = lambda exc: None,
        on_delivered: Callable[[], None] = lambda: None,
        backoff: Backoff | None = None,
    ) -> None:
        self._send = send
        self._on_error = on_error
        self._on_delivered = on_delivered
        self._backoff = backoff or Backoff()
        self._next_seq = 0
        self._pending: dict[int, Message] = {}  # by sequence number, oldest first
        self._queue: deque[int] = deque()  # sequence numbers not handed to the producer yet
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self.sent = 0  # acknowledged messages
        self.failures = 0  # failed attempts

    def put(self, message: Message) -> int:
        """Queue ``message``; returns its sequence number."""
        seq = self._next_seq
        self._next_seq += 1
        self._pending[seq] = message
        self._queue.append(seq)
        self._wake.set()
        return seq

    def mark(self) -> int:
        """A mark after every message put so far (for `delivered`)."""
        return self._next_seq

    @property
    def pending(self) -> int:
        """Messages not acknowledged yet."""
        return len(self._pending)

    def oldest_pending(self) -> int | None:
        return next(iter(self._pending), None)

    async def delivered(self, mark: int, timeout: float | None = None) -> bool:
        """Wait until every message put before ``mark`` is acknowledged; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            changed = self._changed  # taken before the check: a change after it sets this one
            oldest = self.oldest_pending()
            if oldest is None or oldest >= mark:
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return False

    async def run(self) -> None:
        """Hand queued messages to the producer, forever (a task; cancel it to stop)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                seq = self._queue.popleft()
                message = self._pending.get(seq)
                if message is None:
                    continue
                try:
                    future = await self._send(message)
                except asyncio.CancelledError:
                    self._queue.appendleft(seq)
                    raise
                except Exception as exc:  # the producer refused it now (no broker, a timeout)
                    self._failed(seq, exc)
                    continue
                future.add_done_callback(partial(self._done, seq))

    def _done(self, seq: int, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            self._failed(seq, asyncio.CancelledError())
            return
        exc = future.exception()
        if exc is not None:
            self._failed(seq, exc)
            return
        if self._pending.pop(seq, None) is not None:
            self.sent += 1
            self._backoff.reset()
            self._on_delivered()
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _failed(self, seq: int, exc: BaseException) -> None:
        """Send ``seq`` again after a pause that grows while failures go on."""
        self.failures += 1
        self._on_error(exc)
        asyncio.get_running_loop().call_later(self._backoff.next(), self._again, seq)

    def _again(self, seq: int) -> None:
        if seq in self._pending:
            self._queue.append(seq)
            self._wake.set()
