"""Topics the worker creates carry an explicit retention (privacy: nothing is kept forever)."""

from __future__ import annotations

from uuid import uuid4

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from streams.live.settings import KafkaSettings, load_settings
from streams.live.topics import ensure_topics

DAY_MS = 86_400_000


@pytest.mark.integration
class TestTopicRetention:
    """ensure_topics sets retention.ms on both topics from the settings."""

    def test_retention_as_configured(self, kafka_broker: str) -> None:
        name = f"it.retention.{uuid4().hex[:10]}"
        settings = load_settings(
            KafkaSettings,
            {},
            overrides={
                "bootstrap_servers": kafka_broker,
                "events_topic": f"{name}.events",
                "dlq_topic": f"{name}.events.dlq",
                "partitions": 2,
                "events_retention_days": 400,
                "dlq_retention_days": 7,
            },
        )
        ensure_topics(settings)
        admin = KafkaAdminClient(bootstrap_servers=kafka_broker, client_id="it-retention")
        try:
            found = admin.describe_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": None})
                    for topic in (settings.events_topic, settings.dlq_topic)
                ],
                config_filter="all",
            )
        finally:
            admin.close()
        retention = {
            topic: int(configs["retention.ms"]["value"])
            for topic, configs in found["topic"].items()
        }
        assert retention == {settings.events_topic: 400 * DAY_MS, settings.dlq_topic: 7 * DAY_MS}
