"""The outbox: messages kept until acknowledged, sent again after a failure, and a mark that
tells a checkpoint when everything before it is in Kafka."""

from __future__ import annotations

import asyncio
from typing import Any

from events.decode import Reason, Rejection
from streams.live.outbox import Backoff, Message, Outbox, dead_letter_message
from streams.live.runtime import DeadLetter


def message(n: int) -> Message:
    return Message("t.dlq", f"k{n}".encode(), f"v{n}".encode(), [])


class Broker:
    """Hands out a future per send; the test settles them."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.futures: list[asyncio.Future[Any]] = []

    async def send(self, m: Message) -> asyncio.Future[Any]:
        self.sent.append(m)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return future


def test_delivered_waits_for_every_message_before_the_mark() -> None:
    async def scenario() -> None:
        broker = Broker()
        outbox = Outbox(broker.send)
        runner = asyncio.ensure_future(outbox.run())
        outbox.put(message(1))
        outbox.put(message(2))
        mark = outbox.mark()
        outbox.put(message(3))  # after the mark: not waited for
        await asyncio.sleep(0.01)
        assert not await outbox.delivered(mark, timeout=0.05)
        broker.futures[1].set_result(None)
        assert not await outbox.delivered(mark, timeout=0.05)  # the first one still not
        broker.futures[0].set_result(None)
        assert await outbox.delivered(mark, timeout=1)
        assert outbox.pending == 1
        runner.cancel()

    asyncio.run(scenario())


def test_a_failed_message_is_sent_again_after_a_pause() -> None:
    async def scenario() -> None:
        broker = Broker()
        errors: list[BaseException] = []
        outbox = Outbox(broker.send, on_error=errors.append, backoff=Backoff(0.05, 0.1))
        runner = asyncio.ensure_future(outbox.run())
        outbox.put(message(1))
        await asyncio.sleep(0.01)
        broker.futures[0].set_exception(ConnectionError("gone"))
        await asyncio.sleep(0.02)
        assert len(broker.sent) == 1  # not at once: after the backoff
        await asyncio.sleep(0.1)
        assert [m.key for m in broker.sent] == [b"k1", b"k1"]
        broker.futures[1].set_result(None)
        assert await outbox.delivered(outbox.mark(), timeout=1)
        assert (outbox.sent, outbox.failures, len(errors)) == (1, 1, 1)
        runner.cancel()

    asyncio.run(scenario())


def test_a_send_the_producer_refuses_is_retried() -> None:
    async def scenario() -> None:
        attempts: list[Message] = []

        async def refusing(m: Message) -> asyncio.Future[Any]:
            attempts.append(m)
            if len(attempts) == 1:
                raise ConnectionError("no broker")
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

        outbox = Outbox(refusing, backoff=Backoff(0.01, 0.02))
        runner = asyncio.ensure_future(outbox.run())
        outbox.put(message(1))
        assert await outbox.delivered(outbox.mark(), timeout=1)
        assert len(attempts) == 2
        runner.cancel()

    asyncio.run(scenario())


def test_dead_letter_headers() -> None:
    rejection = Rejection(Reason.INTERNAL_ERROR, None, "applying it raised X", b"raw", "X")
    m = dead_letter_message(
        DeadLetter(rejection, 3, 17, b"3:17"), events_topic="ev", dlq_topic="dlq"
    )
    assert (m.topic, m.key, m.value, m.partition) == ("dlq", b"3:17", b"raw", None)
    assert dict(m.headers) == {
        "reason": b"internal_error",
        "field": b"",
        "detail": b"applying it raised X",
        "source.topic": b"ev",
        "source.partition": b"3",
        "source.offset": b"17",
        "exception": b"X",
    }
