"""`contactmon ingest` without a broker, and its /metrics behind basic auth (no Kafka here).

The app is the real one from `tests.unit.test_ingest_http`'s harness, with a readiness that the
test switches; the producer's connect loop runs against a port nobody listens on. The real broker
coming up late is tests/integration/test_ingest_broker_wait.py.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from pathlib import Path

import pytest
from kafka.errors import KafkaConnectionError, PolicyViolationError
from structlog.testing import capture_logs

from streams.ingest.dead_letters import Record
from streams.ingest.producer import ProduceError, Producer
from streams.ingest.settings import IngestSettings
from streams.live.settings import KafkaSettings, SettingsError, load_settings
from streams.live.topics import TopicError
from tests.unit.test_ingest_http import AUTH_ON, Harness, fixture, run

PASSWORD = "canary-ingest-Metr1cs-77"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_not_ready_answers_503_at_once_and_healthz_says_so(tmp_path: Path) -> None:
    state = {"ready": False}

    async def scenario(h: Harness) -> None:
        status, answer = await h.post("/notificaties", fixture("notificatie-status-create.json"))
        assert status == 503
        assert "send again" in answer["error"]
        assert (await h.post("/cloudevents", {}, auth="Bearer wrong"))[0] == 401  # auth first
        assert h.sent == []
        assert h.fake.requests == []  # nothing fetched for a request that cannot be produced
        healthz = await h.client.get("/healthz")
        assert (healthz.status, await healthz.text()) == (
            503,
            "not ready: waiting for the Kafka broker\n",
        )
        assert (await h.client.get("/livez")).status == 200  # the process serves: no restart
        metrics = await (await h.client.get("/metrics")).text()
        assert "contact_ingest_broker_connected 0.0" in metrics
        assert (
            'contact_ingest_requests_total{outcome="unavailable",route="/notificaties"} 1.0'
            in metrics
        )

        state["ready"] = True  # the producer connected
        assert (await h.client.get("/healthz")).status == 200
        status, answer = await h.post("/notificaties", fixture("notificatie-status-create.json"))
        assert (status, answer["events"]) == (200, 1)
        metrics = await (await h.client.get("/metrics")).text()
        assert "contact_ingest_broker_connected 1.0" in metrics

    run(tmp_path, scenario, ready=lambda: state["ready"])


def test_metrics_behind_basic_auth_and_healthz_open(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        assert (await h.client.get("/metrics")).status == 401
        wrong = await h.client.get("/metrics", headers=basic("prometheus", PASSWORD + "x"))
        assert wrong.status == 401
        assert wrong.headers["WWW-Authenticate"].startswith("Basic ")
        assert (await h.client.get("/metrics", headers=basic("other", PASSWORD))).status == 401
        assert (await h.client.get("/metrics", headers={"Authorization": AUTH_ON})).status == 401
        right = await h.client.get("/metrics", headers=basic("prometheus", PASSWORD))
        assert right.status == 200
        assert "contact_ingest_requests_total" in await right.text()
        assert (await h.client.get("/healthz")).status == 200
        assert (await h.post("/cloudevents", [], auth=AUTH_ON))[0] == 200  # webhooks unchanged

    run(
        tmp_path,
        scenario,
        CONTACTMON_METRICS_USERNAME="prometheus",
        CONTACTMON_METRICS_PASSWORD=PASSWORD,
    )


class TestSettings:
    def base(self, tmp_path: Path) -> dict[str, str]:
        config = tmp_path / "ingest.yaml"
        config.write_text("subscriptions: []\n")
        return {"CONTACTMON_INGEST_CONFIG": str(config)}

    def test_user_name_and_password_go_together(self, tmp_path: Path) -> None:
        env = self.base(tmp_path) | {"CONTACTMON_METRICS_USERNAME": "prometheus"}
        with pytest.raises(SettingsError, match="CONTACTMON_METRICS_PASSWORD: set both"):
            load_settings(IngestSettings, env)

    def test_a_password_off_loopback_needs_tls(self, tmp_path: Path) -> None:
        env = self.base(tmp_path) | {
            "CONTACTMON_METRICS_USERNAME": "prometheus",
            "CONTACTMON_METRICS_PASSWORD": PASSWORD,
            "CONTACTMON_INGEST_HOST": "0.0.0.0",
        }
        with pytest.raises(SettingsError, match="CONTACTMON_INGEST_CERTFILE") as error:
            load_settings(IngestSettings, env)
        assert PASSWORD not in str(error.value)
        on_loopback = load_settings(IngestSettings, env | {"CONTACTMON_INGEST_HOST": "127.0.0.1"})
        assert on_loopback.metrics_credentials == (b"prometheus", PASSWORD.encode())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def producer(prepare: object = None) -> Producer:
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{closed_port()}")
    return Producer(
        settings,
        timeout=1.0,
        prepare=prepare,  # type: ignore[arg-type]
        probe_interval=0.05,
        first_retry=0.02,
    )


def test_without_a_broker_it_retries_and_logs_the_outage_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts = []

    def prepare() -> None:  # the topics set-up, as ensure_topics fails with no broker
        attempts.append(1)
        if len(attempts) < 3:
            raise TopicError("no broker answered") from KafkaConnectionError("refused")

    async def main() -> None:
        p = producer(prepare)
        task = asyncio.create_task(p.run())
        await asyncio.sleep(1.5)
        assert not task.done()
        assert not p.ready
        with pytest.raises(ProduceError):
            await p.send_all([Record("contact.events", b"heiloo", b"{}")])
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await p.stop()
        assert p.broker.errors_total >= 4  # topics twice, then the client: retried, counted

    with capture_logs() as logs, caplog.at_level(logging.WARNING, logger="aiokafka"):
        asyncio.run(main())
    assert len(attempts) == 3
    assert [e["event"] for e in logs] == [
        "Kafka broker unreachable; retrying, errors are counted and not logged one by one"
    ]
    assert not [r for r in caplog.records if r.name.startswith("aiokafka")]  # no line per retry


def test_topics_the_broker_refuses_end_the_connect_loop() -> None:
    def prepare() -> None:
        raise TopicError("replication factor 3 > 1 broker") from PolicyViolationError("no")

    async def main() -> None:
        with pytest.raises(TopicError, match="replication factor"):
            await producer(prepare).run()

    asyncio.run(main())
