"""The contract's topics: create them when missing, refuse too few partitions, place a key.

The brokers run with topic auto-creation off, so the events topic and its dead-letter topic are
created here, explicitly, with the partition count and replication factor of the settings. A topic
that already exists with fewer partitions than asked is an error, not something to repair: adding
partitions changes ``murmur2(key) % partitions`` and so moves municipalities to other partitions,
which breaks the "a municipality is in one partition" promise the worker's state relies on. A topic
with more partitions than asked is used as it is.

`partition_for` is the default partitioner of kafka-python and of the Java client, for a UTF-8
key; the worker and the tests use it to know where a municipality's events are.
"""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, for_code
from kafka.partitioner.default import murmur2

from streams.live.clients import kafka_python_kwargs
from streams.live.settings import KafkaSettings

__all__ = ["TopicError", "ensure_topics", "partition_for"]

RETRY_BACKOFF_S = 0.5
CLIENT_ID = "contactmon-topics"
NO_ERROR = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
TOPIC_ALREADY_EXISTS = 36


class TopicError(RuntimeError):
    """The topics cannot be made ready: no broker answers, too few partitions, a refused create."""


def partition_for(key: str, partitions: int) -> int:
    """The partition the default partitioner picks for ``key`` among ``partitions`` partitions.

    The positive part of the murmur2 hash of the key's UTF-8 bytes, modulo the partition count:
    what kafka-python's ``DefaultPartitioner`` and the Java client's ``BuiltInPartitioner`` do
    for a message with a key.
    """
    if partitions < 1:
        raise ValueError(f"a topic has at least 1 partition, got {partitions}")
    digest: int = murmur2(key.encode("utf-8"))
    return (digest & 0x7FFFFFFF) % partitions


def ensure_topics(settings: KafkaSettings, *, timeout: float = 30.0) -> dict[str, int]:
    """Create the events and dead-letter topics when missing; returns {topic: partitions}.

    Both get ``settings.partitions`` partitions, ``settings.replication_factor`` replicas and an
    explicit ``retention.ms`` (``events_retention_days``, ``dlq_retention_days``).
    Idempotent: existing topics with enough partitions are left as they are. Retries while the
    brokers do not answer (or answer with a retriable error) for up to ``timeout`` seconds.

    Raises TopicError when a topic has fewer partitions than asked, when the broker refuses to
    create one (say, a replication factor above the number of brokers), or when no broker
    answered in time.
    """
    wanted = {settings.events_topic: settings.partitions, settings.dlq_topic: settings.partitions}
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _ensure_once(settings, wanted, deadline)
        except KafkaError as error:
            if not error.retriable:
                raise TopicError(
                    f"Kafka at {settings.bootstrap_servers} refused the topic set-up: {error}"
                ) from error
            if time.monotonic() + RETRY_BACKOFF_S >= deadline:
                raise TopicError(
                    f"the Kafka brokers at {settings.bootstrap_servers} did not answer within "
                    f"{timeout:g} s (last error: {error}); is a broker running there?"
                ) from error
        time.sleep(RETRY_BACKOFF_S)


def _ensure_once(
    settings: KafkaSettings, wanted: dict[str, int], deadline: float
) -> dict[str, int]:
    """One attempt: connect, check what exists, create what is missing, check again."""
    admin = KafkaAdminClient(
        **kafka_python_kwargs(settings),
        client_id=CLIENT_ID,
        bootstrap_timeout_ms=_ms_left(deadline),
        request_timeout_ms=_ms_left(deadline),
    )
    try:
        counts = _partition_counts(admin, list(wanted))
        _check_enough(counts, wanted, settings)
        missing = {topic: wanted[topic] for topic, count in counts.items() if count is None}
        if missing:
            _create(admin, missing, settings.replication_factor, _retention(settings))
            admin.wait_for_topics(list(missing), timeout_ms=_ms_left(deadline))
            counts = _partition_counts(admin, list(wanted))
            # Someone else may have created a topic between our look and our create.
            _check_enough(counts, wanted, settings)
        return {topic: count or 0 for topic, count in counts.items()}
    finally:
        admin.close()


def _ms_left(deadline: float) -> int:
    """Milliseconds until ``deadline``, at least one second (a client needs some time)."""
    return max(1000, int((deadline - time.monotonic()) * 1000))


def _partition_counts(admin: Any, topics: list[str]) -> dict[str, int | None]:
    """Each topic's partition count, None when it does not exist."""
    counts: dict[str, int | None] = {}
    for description in admin.describe_topics(topics):
        code = description["error_code"]
        if code == UNKNOWN_TOPIC_OR_PARTITION:
            counts[description["name"]] = None
        elif code == NO_ERROR:
            counts[description["name"]] = len(description["partitions"])
        else:
            raise for_code(code)(f"describing topic {description['name']}")
    return {topic: counts.get(topic) for topic in topics}


def _check_enough(
    counts: dict[str, int | None], wanted: dict[str, int], settings: KafkaSettings
) -> None:
    """Raise TopicError for an existing topic with fewer partitions than asked."""
    short = [
        f"topic {topic} has {count} partitions, fewer than the {wanted[topic]} asked"
        for topic, count in counts.items()
        if count is not None and count < wanted[topic]
    ]
    if short:
        raise TopicError(
            f"{'; '.join(short)} (on {settings.bootstrap_servers}). Adding partitions would move "
            f"municipalities to other partitions, so it is not done here: set "
            f"{settings.env_name('partitions')} to the topic's count, or recreate the topic "
            "while no worker runs."
        )


def _retention(settings: KafkaSettings) -> dict[str, dict[str, str]]:
    """The topic configs the worker sets when it creates a topic: an explicit retention."""
    day_ms = 86_400_000
    return {
        settings.events_topic: {"retention.ms": str(settings.events_retention_days * day_ms)},
        settings.dlq_topic: {"retention.ms": str(settings.dlq_retention_days * day_ms)},
    }


def _create(
    admin: Any,
    missing: dict[str, int],
    replication_factor: int,
    configs: dict[str, dict[str, str]],
) -> None:
    """Create the missing topics; a topic that appeared meanwhile is fine, other refusals raise."""
    request = {
        topic: {
            "num_partitions": partitions,
            "replication_factor": replication_factor,
            "configs": configs.get(topic, {}),
        }
        for topic, partitions in missing.items()
    }
    response = admin.create_topics(request, raise_errors=False)
    for result in response["topics"]:
        code = result["error_code"]
        if code in (NO_ERROR, TOPIC_ALREADY_EXISTS):
            continue
        error = for_code(code)
        if error.retriable:
            raise error(f"creating topic {result['name']}")
        raise TopicError(
            f"Kafka refused to create topic {result['name']} "
            f"({missing[result['name']]} partitions, replication factor {replication_factor}): "
            f"{result.get('error_message') or error.__name__}"
        )
