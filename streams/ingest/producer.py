"""The ingest service's Kafka producer: acks=all, idempotent, and a request waits for every ack.

`Producer.send_all` hands a request's records to aiokafka and returns only when the broker has
acknowledged all of them (``acks=all``: every in-sync replica has them), or raises
`ProduceError` after ``CONTACTMON_PRODUCE_TIMEOUT`` seconds. The web layer answers 2xx only
after it returned, so a crash never loses an accepted notification; on an error it answers 503
and the sender sends again (a record that did reach the broker is then a duplicate: same event
id, or the same dead-letter key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from kafka.errors import KafkaError

from streams.ingest.dead_letters import Record
from streams.live.clients import kafka_credentials
from streams.live.settings import KafkaSettings

CLIENT_ID = "contactmon-ingest"


class ProduceError(RuntimeError):
    """The broker did not acknowledge a request's records in time (or refused them)."""


class Producer:
    """One aiokafka producer for the service's life."""

    def __init__(self, settings: KafkaSettings, timeout: float) -> None:
        credentials = kafka_credentials(settings)
        auth: dict[str, Any] = {
            "bootstrap_servers": settings.servers,
            "security_protocol": credentials.security_protocol,
        }
        if credentials.uses_sasl:
            auth.update(
                sasl_mechanism=credentials.sasl_mechanism,
                sasl_plain_username=credentials.sasl_username,
                sasl_plain_password=credentials.sasl_password,
            )
        if credentials.ssl_context is not None:
            auth["ssl_context"] = credentials.ssl_context
        self._timeout = timeout
        self._client = AIOKafkaProducer(
            client_id=CLIENT_ID,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            request_timeout_ms=int(timeout * 1000),
            **auth,
        )

    async def start(self) -> None:
        await self._client.start()

    async def stop(self) -> None:
        await self._client.stop()

    async def send_all(self, records: Sequence[Record]) -> None:
        """Every record acknowledged, or `ProduceError`."""
        if not records:
            return
        try:
            async with asyncio.timeout(self._timeout):
                futures = [
                    await self._client.send(r.topic, r.value, key=r.key, headers=r.headers or None)
                    for r in records
                ]
                await asyncio.gather(*futures)
        except (KafkaError, TimeoutError) as exc:
            raise ProduceError(type(exc).__name__) from None
