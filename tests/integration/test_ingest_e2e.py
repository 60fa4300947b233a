"""`contactmon ingest` as a real process on the real broker, with a real `contactmon worker` behind.

Open Zaak cannot run here: a local HTTP server (`tests.fixtures.zgw.fake_api`) serves three weeks
of zaken written from the Zaken and Catalogi specs (`tests.integration.ingest_world`). The
notifications are POSTed to the ingest service as Open Notificaties would; the worker's /metrics
must equal the core's state after the events the scenario says they stand for (written from the
scenario, not by the mapping), and POSTing everything again must change nothing but the
duplicate counter. Bad input goes to the dead-letter topic with its reason. A SIGKILL of the
service in the middle of a batch loses nothing it answered 2xx for.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.core.config import load_norms
from streams.core.monitor import Monitor
from streams.exposition import monitor_registry, render
from streams.live.settings import KafkaSettings
from tests.fixtures.zgw.fake_api import FakeApis, ServerThread
from tests.integration.conftest import free_ports
from tests.integration.ingest_harness import AUTH, REPO, SECRET, TOKEN, Ingest
from tests.integration.ingest_world import world
from tests.integration.test_worker_faults import EVENT_CLOCK, comparable, processed
from tests.integration.worker_harness import (
    Names,
    Samples,
    Worker,
    consume_all,
    parse,
    total,
    wait_until,
)

pytestmark = pytest.mark.integration

PARTITIONS = KafkaSettings().partitions
DUPLICATES = "contact_events_duplicate_total"


def pausable_norms(tmp: Path) -> Path:
    """The shipped norms with melding-afhandeling pausable, so suspensions move deadlines."""
    text = (REPO / "streams" / "norms" / "default.yaml").read_text()
    text, count = re.subn(
        r"(  - id: melding-afhandeling\n(?:    .*\n)*?    target: 0\.90\n)",
        r"\1    pausable: true\n",
        text,
    )
    assert count == 1
    path = tmp / "norms.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def fake_apis() -> Iterator[FakeApis]:
    fake = FakeApis(SECRET, TOKEN)
    port = free_ports(1)[0]
    fake.base = f"http://127.0.0.1:{port}"
    server = ServerThread(fake.application(), port).start()
    try:
        yield fake
    finally:
        server.stop()


def applied(lines: list[bytes], norms: Path) -> Samples:
    """The core's metrics after ``lines`` in order (what an event-clock worker holds)."""
    monitor = Monitor(load_norms(norms), lateness=0)
    for line in lines:
        monitor.process(line, time.time())
    return comparable(parse(render(monitor_registry(monitor)).decode()))


def without(samples: Samples, name: str) -> Samples:
    return {k: v for k, v in samples.items() if k[0] != name}


def test_three_weeks_of_notifications_end_to_end_and_again_changes_nothing(
    kafka_broker: str, fake_apis: FakeApis, tmp_path: Path
) -> None:
    scenario = world()
    for url, body in scenario.resources.items():
        fake_apis.put(url, body)
    names = Names()
    norms = pausable_norms(tmp_path)
    ingest = Ingest(kafka_broker, names, tmp_path, fake_apis.base).start()
    worker = Worker(
        kafka_broker,
        names,
        tmp_path,
        f"sqlite:///{tmp_path / 'store.sqlite3'}",
        CONTACTMON_NORMS_FILE=str(norms),
        **EVENT_CLOCK,
    )
    try:
        worker.start()
        wait_until("partitions assigned", lambda: worker.owned() == PARTITIONS, timeout=60)
        notifications = [fake_apis.rebase(b) for b in scenario.notification_bodies()]
        answers = [ingest.post("/notificaties", body) for body in notifications]
        assert {status for status, _ in answers} == {200}
        produced = sum(answer["events"] for _, answer in answers)
        assert produced == len(scenario.expected)
        assert sum(answer["dead_letters"] for _, answer in answers) == 0
        wait_until("the worker to apply them", lambda: processed([worker], produced), timeout=120)
        first = comparable(worker.scrape())
        assert first == applied(scenario.expected_lines(), norms)
        assert total(first, "contact_norm_outcomes_total", outcome="breached") > 0  # late answers
        assert total(first, "contact_items_reopened_total") == 1
        assert total(first, "contact_events_total", type="item.paused") == 24

        again = [ingest.post("/notificaties", body) for body in notifications]
        assert sum(answer["events"] for _, answer in again) == produced
        wait_until("the repeat applied", lambda: processed([worker], 2 * produced), timeout=120)
        second = comparable(worker.scrape())
        assert without(second, DUPLICATES) == without(first, DUPLICATES)
        assert total(second, DUPLICATES) == total(first, DUPLICATES) + produced

        served = ingest.metrics()
        assert total(served, "contact_ingest_requests_total", outcome="accepted") == 2 * len(
            notifications
        )
        assert total(served, "contact_ingest_events_total") == 2 * produced
        assert total(served, "contact_ingest_produce_seconds_count") == 2 * len(notifications)
    finally:
        worker.stop()
        ingest.stop()


def test_bad_input_on_the_real_topics(
    kafka_broker: str, fake_apis: FakeApis, tmp_path: Path
) -> None:
    scenario = world(seed=3, zaken=3)
    for url, body in scenario.resources.items():
        fake_apis.put(url, body)
    names = Names()
    ingest = Ingest(kafka_broker, names, tmp_path, fake_apis.base).start()
    try:
        first = fake_apis.rebase(scenario.notification_bodies()[0])
        assert ingest.post("/notificaties", first, auth="Bearer wrong")[0] == 401
        unknown = first | {"kenmerken": first["kenmerken"] | {"bronorganisatie": "123456782"}}
        missing = first | {"resourceUrl": first["resourceUrl"].rsplit("/", 1)[0] + "/nope"}
        zaaktype = scenario.notification_bodies()[0]["kenmerken"]["zaaktype"]
        other_type = dict(scenario.resources[zaaktype])
        other_type["identificatie"] = "OMGEVINGSVERGUNNING"
        fake_apis.put(zaaktype, other_type)
        bodies = [unknown, missing, first, b"{not json", b"x" * (2 << 20)]
        statuses = [ingest.post("/notificaties", body)[0] for body in bodies]
        assert statuses == [200, 200, 200, 200, 413]
        letters = consume_all(kafka_broker, names.dlq, expect=4)
        reasons = sorted(headers["reason"].decode() for _, _, headers in letters)
        assert reasons == [
            "not_json",
            "source_unavailable",
            "unknown_municipality",
            "unmapped_zaaktype",
        ]
        for key, value, headers in letters:
            assert key.startswith(b"ingest:")
            assert b"Bearer" not in value
            assert AUTH.encode() not in b"".join(headers.values())
            assert first["hoofdObject"].rsplit("/", 1)[1].encode() not in value  # no zaak UUID
        assert consume_all(kafka_broker, names.events, expect=0) == []
    finally:
        ingest.stop()


def _event(n: int) -> dict[str, Any]:
    municipality = ("bergen", "castricum", "heiloo", "uitgeest")[n % 4]
    return {
        "specversion": "1.0",
        "id": f"crash-{n}",
        "source": f"urn:nld:gemeente:{municipality}:test",
        "type": "nl.contactmonitor.item.opened",
        "time": "2024-05-21T09:30:00+02:00",
        "subject": f"crash-subject-{n}",
        "data": {"municipality": municipality, "kind": "melding", "channel": "app"},
    }


def test_sigkill_mid_batch_loses_nothing_that_was_answered_2xx(
    kafka_broker: str, fake_apis: FakeApis, tmp_path: Path
) -> None:
    names = Names()
    events = [_event(n) for n in range(400)]
    ingest = Ingest(kafka_broker, names, tmp_path, fake_apis.base).start()
    acknowledged: set[str] = set()
    lock = threading.Lock()

    def send(event: dict[str, Any]) -> str | None:
        try:
            status, _ = ingest.post("/cloudevents", event)
        except OSError:
            return None
        if status != 200:
            return None
        with lock:
            acknowledged.add(event["id"])
            if len(acknowledged) == 100:
                ingest.kill()  # in the middle of the batch, requests under way
        return str(event["id"])

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, events))
    assert ingest.proc is not None
    assert ingest.proc.returncode == -signal.SIGKILL
    failed = [e for e, result in zip(events, results, strict=True) if result is None]
    assert 0 < len(failed) < len(events) - 99
    restarted = Ingest(kafka_broker, names, tmp_path, fake_apis.base).start()
    try:
        for event in failed:  # the client retries what got no 2xx
            assert restarted.post("/cloudevents", event)[0] == 200
    finally:
        restarted.stop()
    records = consume_all(kafka_broker, names.events, expect=len(events))
    ids = [orjson.loads(value)["id"] for _, value, _ in records]
    assert acknowledged <= set(ids)
    assert set(ids) == {e["id"] for e in events}
    for key, value, _ in records:
        assert key == orjson.loads(value)["data"]["municipality"].encode()
    monitor = Monitor(load_norms(), lateness=0)
    for _, value, _ in records:
        monitor.process(value, time.time())
    samples = parse(render(monitor_registry(monitor)).decode())
    assert total(samples, "contact_events_total") == len(events)  # counted once
    assert total(samples, DUPLICATES) == len(records) - len(events)
