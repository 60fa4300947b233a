"""The ingest service's Kafka producer: acks=all, idempotent, and a request waits for every ack.

`Producer.send_all` hands a request's records to aiokafka and returns only when the broker has
acknowledged all of them (``acks=all``: every in-sync replica has them), or raises
`ProduceError` after ``CONTACTMON_PRODUCE_TIMEOUT`` seconds. The web layer answers 2xx only
after it returned, so a crash never loses an accepted notification; on an error it answers 503
and the sender sends again (a record that did reach the broker is then a duplicate: same event
id, or the same dead-letter key).

The broker need not be there when the service starts (a restart during an outage must not
become a crash loop): `Producer.run` sets the topics up and starts the client, retrying with a
backoff (1 s doubling to 10 s) while no broker answers, then probes the broker every
``probe_interval`` seconds for as long as the service runs. Until the first connection, and while
the broker is unreachable, `ready` is false: the web layer answers 503 and /healthz says so. The
broker's state is an `Incident`: one log line when it becomes unreachable and one when it is
back, never one per retry; aiokafka's own per-retry connection errors go to the same incident
(`KafkaLogFilter`) instead of the log. A topic set-up the broker refuses (too few partitions, a
replication factor it cannot give) is not retried: `TopicError` ends `run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError, KafkaTimeoutError  # type: ignore[import-untyped]
from kafka.errors import KafkaError as AdminError

from streams.ingest.dead_letters import Record
from streams.live.clients import kafka_python_kwargs
from streams.live.incidents import LEADERSHIP_CHANGE, Incident, KafkaLogFilter
from streams.live.settings import KafkaSettings
from streams.live.topics import TopicError

log = structlog.get_logger(__name__)

CLIENT_ID = "contactmon-ingest"
FIRST_RETRY_S = 1.0
MOST_RETRY_S = 10.0
PROBE_INTERVAL_S = 5.0
CLOSE_S = 5.0  # at most this long to close a client (a broker away must not hold a shutdown)


class ProduceError(RuntimeError):
    """The broker did not acknowledge a request's records in time (or refused them)."""


def unreachable(exc: TopicError) -> bool:
    """Whether the topics could not be set up because no broker answered (retry later), rather
    than because the broker refused them (a configuration error)."""
    cause = exc.__cause__
    return isinstance(cause, AdminError) and bool(cause.retriable)


class Producer:
    """One aiokafka producer for the service's life, connected in the background (`run`)."""

    def __init__(
        self,
        settings: KafkaSettings,
        timeout: float,
        *,
        prepare: Callable[[], object] | None = None,
        probe_interval: float = PROBE_INTERVAL_S,
        first_retry: float = FIRST_RETRY_S,
    ) -> None:
        self._options = kafka_python_kwargs(settings)  # aiokafka takes the same names
        self._timeout = timeout
        self._prepare = prepare  # blocking (kafka-python's admin client): run in a thread
        self._probe_interval = probe_interval
        self._first_retry = first_retry
        self._client: Any = None
        self.broker = Incident("Kafka broker", log)
        self._filter = KafkaLogFilter(self.broker)

    @property
    def ready(self) -> bool:
        """Connected, and the broker answered the last time it was asked."""
        return self._client is not None and not self.broker.down

    def _new_client(self) -> Any:
        return AIOKafkaProducer(
            client_id=CLIENT_ID,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            request_timeout_ms=int(self._timeout * 1000),
            **self._options,
        )

    async def run(self) -> None:
        """Connect (retrying while no broker answers), then probe until cancelled."""
        self._filter.install()
        try:
            await self._connect()
            while True:
                await asyncio.sleep(self._probe_interval)
                await self._probe()
        finally:
            self._filter.uninstall()

    async def _connect(self) -> None:
        delay = self._first_retry
        while True:
            client = None
            try:
                if self._prepare is not None:
                    await asyncio.to_thread(self._prepare)
                    self._prepare = None
                client = self._new_client()
                await client.start()
            except TopicError as exc:
                if not unreachable(exc):
                    raise
                self.broker.failure(str(exc))
            except (KafkaError, OSError, TimeoutError) as exc:
                self.broker.failure(f"{type(exc).__name__}: {exc}")
                if client is not None:
                    await _bounded(client.stop())
            else:
                self._client = client
                self.broker.success()
                log.info("connected to Kafka", detail=",".join(self._options["bootstrap_servers"]))
                return
            await asyncio.sleep(delay)
            delay = min(MOST_RETRY_S, delay * 2)

    async def _probe(self) -> None:
        """Ask the brokers for the cluster's metadata: the broker's state for `ready`."""
        try:
            async with asyncio.timeout(min(self._timeout, PROBE_INTERVAL_S)):
                await self._client.client.fetch_all_metadata()
        except (KafkaError, OSError, TimeoutError) as exc:
            self.broker.failure(f"{type(exc).__name__}: {exc}")
        else:
            self.broker.success()

    async def stop(self) -> None:
        """Close the client (bounded: with the broker away it could wait for ever)."""
        client, self._client = self._client, None
        if client is not None:
            await _bounded(client.stop())

    async def send_all(self, records: Sequence[Record]) -> None:
        """Every record acknowledged, or `ProduceError`."""
        if not records:
            return
        if not self.ready:
            raise ProduceError("the Kafka broker is not reachable")
        try:
            async with asyncio.timeout(self._timeout):
                futures = [
                    await self._client.send(r.topic, r.value, key=r.key, headers=r.headers or None)
                    for r in records
                ]
                await asyncio.gather(*futures)
        except TimeoutError:
            self.broker.failure("no acknowledgement in time")
            raise ProduceError("KafkaTimeoutError") from None
        except KafkaError as exc:
            leadership = LEADERSHIP_CHANGE.search(type(exc).__name__)
            if (exc.retriable and not leadership) or isinstance(exc, KafkaTimeoutError):
                self.broker.failure(f"{type(exc).__name__}: {exc}")
            else:  # the broker answers but refuses these records: not an outage
                log.warning("records refused; answered 503", reason=type(exc).__name__)
            raise ProduceError(type(exc).__name__) from None
        self.broker.success()


async def _bounded(closing: Any) -> None:
    try:
        async with asyncio.timeout(CLOSE_S):
            await closing
    except (TimeoutError, KafkaError, OSError):
        pass
