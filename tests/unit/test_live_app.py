"""The worker's app layer: a Faust app without Faust's Kafka services, the driver in it, and a
/metrics rendering that exports only what the worker may export."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from streams.core.config import load_norms
from streams.live.app import LiveApp
from streams.live.driver import Clients
from streams.live.runtime import LiveRuntime
from streams.live.settings import WorkerSettings
from streams.live.store_thread import StoreThread
from streams.store import open_store
from tests.factories import opened
from tests.unit.test_live_driver import PARTITION, TOPIC, FakeConsumer, FakeProducer, until


def samples(text: bytes) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            key = s.name + "".join(f",{k}={v}" for k, v in sorted(s.labels.items()))
            out[key] = s.value
    return out


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        self.thread = StoreThread()
        self.store = self.thread.call(open_store, f"sqlite:///{tmp_path / 's.db'}")
        self.runtime = LiveRuntime(
            load_norms(),
            self.store,
            group="g",
            topic=TOPIC,
            partition_of=PARTITION.__getitem__,
            lateness=0,
            wall_clock=False,
        )
        self.journal: list[tuple[object, ...]] = []
        self.consumer = FakeConsumer(self.journal)
        self.producer = FakeProducer(self.journal)
        settings = WorkerSettings(events_topic=TOPIC, dlq_topic="t.dlq", group_id="g")
        self.app = LiveApp(
            settings,
            self.runtime,
            self.thread,
            clients=Clients(lambda: self.consumer, lambda: self.producer),
            serve=False,
        )

    def close(self) -> None:
        self.thread.call(self.store.close)
        self.thread.shutdown()


class TestFaustApp:
    """Faust is the frame (life cycle, signals, logging); its own Kafka services stay off."""

    def test_no_kafka_services_of_faust(self, tmp_path: Path) -> None:
        setup = Setup(tmp_path)
        try:
            app = setup.app.faust
            assert app.conf.web_enabled is False
            services = list(app.boot_strategy.server())
            assert app.consumer not in services
            assert app.producer not in services
            assert len(app.agents) == 0  # no Faust agent reads anything
            assert setup.app.driver.beacon.parent is app.beacon  # started and stopped with it
        finally:
            setup.close()

    def test_the_app_runs_the_driver(self, tmp_path: Path) -> None:
        setup = Setup(tmp_path)

        async def scenario() -> None:
            await setup.app.faust.start()
            try:
                await until(setup.app.driver.ready.is_set)
                await setup.consumer.assign(1)
                await until(lambda: 1 in setup.runtime.owned and not setup.consumer.paused)
                setup.consumer.append(1, opened("f1", "2024-05-13 10:00"))
                await until(lambda: setup.runtime.next_offset[1] == 1)
            finally:
                await setup.app.faust.stop()
            # the driver wrote its final checkpoint on the way out
            checkpoint = setup.thread.call(setup.store.load_checkpoint, "g", TOPIC, 1)
            assert checkpoint.offset == 1

        try:
            asyncio.run(scenario())
        finally:
            setup.close()


class TestMetrics:
    """/metrics: the contract's series of the owned partitions, while the worker may export them."""

    def test_exported_only_while_the_membership_is_confirmed(self, tmp_path: Path) -> None:
        setup = Setup(tmp_path)
        try:
            setup.thread.call(setup.runtime.restore, [1])
            setup.runtime.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            membership = setup.app.driver.membership
            membership.confirm()
            found = samples(setup.app.render())
            assert found["contact_worker_partitions_owned"] == 1
            assert found["contact_items_open,kind=melding,municipality=castricum"] == 1
            membership.lose()  # e.g. paused past the session timeout
            found = samples(setup.app.render())
            assert found["contact_worker_partitions_owned"] == 0
            assert not any(k.startswith("contact_items_open") for k in found)
            assert not any(k.startswith("contact_worker_next_offset") for k in found)
        finally:
            setup.close()

    def test_lag_is_absent_while_the_broker_is_unreachable(self, tmp_path: Path) -> None:
        setup = Setup(tmp_path)
        try:
            driver = setup.app.driver
            driver.consumer = setup.consumer  # as if connected
            setup.thread.call(setup.runtime.restore, [1])
            driver.membership.confirm()
            setup.consumer.append(1, opened("f1", "2024-05-13 10:00"))
            found = samples(setup.app.render())
            assert found["contact_worker_broker_connected"] == 1
            assert found["contact_worker_consumer_lag,partition=1"] == 1
            driver.broker.failure("Unable connect to node with id 1")
            found = samples(setup.app.render())
            assert found["contact_worker_broker_connected"] == 0
            assert "contact_worker_consumer_lag,partition=1" not in found
        finally:
            setup.close()

    def test_a_scrape_while_a_thread_holds_the_state_reuses_the_last_rendering(
        self, tmp_path: Path
    ) -> None:
        setup = Setup(tmp_path)
        try:
            setup.thread.call(setup.runtime.restore, [1])
            setup.app.driver.membership.confirm()
            setup.runtime.handle(1, 0, opened("f1", "2024-05-13 10:00"))
            before = samples(setup.app.render())
            with setup.runtime.state_lock:  # a checkpoint being captured in a thread
                setup.runtime.handle(1, 1, opened("f2", "2024-05-13 11:00"))
                during = samples(setup.app.render())
            after = samples(setup.app.render())
            key = "contact_items_open,kind=melding,municipality=castricum"
            assert (before[key], during[key], after[key]) == (1, 1, 2)
            # the health series are fresh all the same
            assert during["contact_worker_next_offset,partition=1"] == 2
        finally:
            setup.close()

    def test_store_errors_by_kind(self, tmp_path: Path) -> None:
        setup = Setup(tmp_path)
        try:
            setup.app.driver.health.store_errors["stale"] += 1
            found = samples(setup.app.render())
            assert found["contact_worker_store_errors_total,kind=stale"] == 1
            assert found["contact_worker_store_errors_total,kind=transient"] == 0
        finally:
            setup.close()
