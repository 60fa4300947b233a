"""`contactmon ingest`'s HTTP side against local fake ZGW and Open Klant APIs (no Kafka here).

The app's send function is a recorder (or one that fails, for the 503 case); the resources are
fetched over real HTTP from `tests.fixtures.zgw.fake_api` on 127.0.0.1. The real broker is in
tests/integration/test_ingest_e2e.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp.test_utils import TestClient, TestServer

from events.decode import Decoder, Event
from sources.pseudonym import Pseudonymiser
from streams.core.config import load_norms
from streams.ingest.config import IngestConfig
from streams.ingest.dead_letters import Record
from streams.ingest.fetch import Fetcher
from streams.ingest.metrics import IngestMetrics
from streams.ingest.producer import ProduceError
from streams.ingest.service import IngestService
from streams.ingest.settings import IngestSettings
from streams.ingest.web import IngestApp
from streams.live.settings import load_settings
from tests.fixtures.zgw.fake_api import FakeApis

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AUTH_ON = "Bearer open-notificaties-0123456789abcdef"
AUTH_OK = "Token open-klant-0123456789abcdef"
SECRET, TOKEN = "zgw-secret-for-tests-0123456789abcdef", "openklant-token-for-tests"
KEY = b"k" * 32
NOW = 1_720_000_000.0  # 2024-07-03: every fixture lies before it


def fixture(name: str) -> Any:
    folder = (
        "openklant"
        if name.startswith(("klantcontact", "internetaak", "notificatie-k", "notificatie-i"))
        else "zgw"
    )
    return orjson.loads((FIXTURES / folder / name).read_bytes())


def stock(fake: FakeApis) -> None:
    """Every ZGW and Open Klant fixture at its own URL."""
    for name in ("zaak.json", "zaaktype.json", "status-1.json", "status-2.json", "status-3.json"):
        body = fixture(name)
        fake.put(body["url"], body)
    for name in ("ontvangen", "behandeling", "afgehandeld", "heropend"):
        body = fixture(f"statustype-{name}.json")
        fake.put(body["url"], body)
    zaak = fixture("zaak.json")
    fake.put(zaak["url"] + "/audittrail", fixture("audittrail.json"))
    for name in ("klantcontact-telefoon.json", "klantcontact-balie-mislukt.json"):
        body = fixture(name)
        fake.put(body["url"], body)
    task = fixture("internetaak-verwerkt.json")
    fake.put(task["url"], task)


class Harness:
    def __init__(
        self, fake: FakeApis, client: TestClient[Any, Any], sent: list[Record], fetcher: Fetcher
    ) -> None:
        self.fake = fake
        self.client = client
        self.sent = sent
        self.fetcher = fetcher
        self.pseudonyms = Pseudonymiser(KEY)

    async def post(
        self, path: str, body: Any, auth: str | None = AUTH_ON, raw: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if auth is not None:
            headers["Authorization"] = auth
        data = raw if raw is not None else orjson.dumps(self.fake_urls(body))
        response = await self.client.post(path, data=data, headers=headers)
        return (
            response.status,
            await response.json() if response.content_type == "application/json" else None,
        )

    def fake_urls(self, body: Any) -> Any:
        return orjson.loads(
            orjson.dumps(body).replace(b"https://openzaak.example.nl", self.fake.base.encode())
        )

    def events(self) -> list[Event]:
        decoder = Decoder(["bergen", "castricum", "heiloo", "uitgeest"])
        out = []
        for record in self.sent:
            if not record.headers:
                decoded = decoder.decode(record.value, NOW)
                assert isinstance(decoded, Event), decoded
                assert record.key == decoded.municipality.encode()
                out.append(decoded)
        return out

    def dead(self) -> list[tuple[dict[str, str], Any]]:
        return [({k: v.decode() for k, v in r.headers}, r.value) for r in self.sent if r.headers]


@asynccontextmanager
async def harness(
    tmp: Path,
    send: Callable[[Sequence[Record]], Awaitable[None]] | None = None,
    ready: Callable[[], bool] = lambda: True,
    **env: str,
):  # type: ignore[no-untyped-def]
    fake = FakeApis(SECRET, TOKEN)
    async with TestServer(fake.application(), host="127.0.0.1") as api:
        fake.base = str(api.make_url("")).rstrip("/")
        stock(fake)
        config_path = tmp / "ingest.yaml"
        config_path.write_text(
            (FIXTURES / "zgw" / "ingest.yaml").read_text().replace("{base}", fake.base)
        )
        environ = {
            "CONTACTMON_INGEST_CONFIG": str(config_path),
            "CONTACTMON_ZGW_CLIENT_ID": "contactmon",
            "CONTACTMON_ZGW_SECRET": SECRET,
            "CONTACTMON_OPENKLANT_TOKEN": TOKEN,
            "CONTACTMON_FETCH_ATTEMPTS": "3",
            "CONTACTMON_MAX_BODY_BYTES": "4096",
            **env,
        }
        settings = load_settings(IngestSettings, environ)
        norms = load_norms()
        config = IngestConfig.load(
            config_path,
            {"TEST_INGEST_AUTH_ON": AUTH_ON, "TEST_INGEST_AUTH_OK": AUTH_OK},
            frozenset(norms.slugs),
        )
        sent: list[Record] = []

        async def record(records: Sequence[Record]) -> None:
            sent.extend(records)

        async with aiohttp.ClientSession() as session:
            fetcher = Fetcher(
                settings,
                config.file.zgw.api_roots,
                config.file.openklant.api_roots,
                session,
                first_backoff=0.01,
            )
            service = IngestService(
                config,
                Decoder(norms.slugs),
                Pseudonymiser(KEY),
                fetcher,
                events_topic="contact.events",
                dlq_topic="contact.events.dlq",
                clock=lambda: NOW,
            )
            metrics = IngestMetrics(lambda: fetcher.attempts_failed, ready)
            app = IngestApp(
                service,
                config.subscriptions,
                send or record,
                metrics,
                settings.max_body_bytes,
                ready=ready,
                metrics_credentials=settings.metrics_credentials,
            )
            async with TestClient(TestServer(app.application())) as client:
                yield Harness(fake, client, sent, fetcher)


def run(tmp: Path, scenario: Callable[[Harness], Awaitable[None]], **kwargs: Any) -> None:
    async def main() -> None:
        async with harness(tmp, **kwargs) as h:
            await scenario(h)

    asyncio.run(main())


def test_a_status_notification_becomes_its_event_and_redelivery_the_same_bytes(
    tmp_path: Path,
) -> None:
    async def scenario(h: Harness) -> None:
        status, answer = await h.post("/notificaties", fixture("notificatie-status-create.json"))
        assert (status, answer) == (200, {"events": 1, "dead_letters": 0, "ignored": 0})
        [opened] = h.events()
        assert opened.type == "item.opened"
        assert opened.data["kind"] == "klacht"
        assert opened.data["channel"] == "email"
        assert opened.subject == h.pseudonyms.subject("zaak", fixture("zaak.json")["uuid"])
        first = list(h.sent)
        await h.post("/notificaties", fixture("notificatie-status-create.json"))
        assert h.sent[len(first) :] == first  # same key, same bytes: a duplicate for the worker
        assert all(ok for _, ok in h.fake.requests)  # our JWT was accepted on every fetch

    run(tmp_path, scenario)


def test_the_open_notificaties_cloudevent_form_and_a_suspension(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        assert (await h.post("/notificaties", fixture("cloudevent-status-create.json")))[0] == 200
        assert (await h.post("/notificaties", fixture("notificatie-zaak-partial-update.json")))[
            0
        ] == 200
        assert [e.type for e in h.events()] == ["item.responded", "item.paused"]
        # an update that did not touch the suspension: nothing to produce, nothing to retry
        later = fixture("notificatie-zaak-partial-update.json") | {
            "aanmaakdatum": "2024-05-29T12:00:00.300Z"
        }
        status, answer = await h.post("/notificaties", later)
        assert (status, answer) == (200, {"events": 0, "dead_letters": 0, "ignored": 1})

    run(tmp_path, scenario)


def test_wrong_or_missing_authorization_is_401_and_nothing_is_read(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        for auth in (None, "Bearer wrong", AUTH_ON + "x", AUTH_ON.lower()):
            status, _ = await h.post(
                "/notificaties", fixture("notificatie-status-create.json"), auth=auth
            )
            assert status == 401
        status, _ = await h.post("/cloudevents", {}, auth="Bearer nope")
        assert status == 401
        assert h.sent == []
        assert h.fake.requests == []
        metrics = await (await h.client.get("/metrics")).text()
        assert (
            'contact_ingest_requests_total{outcome="unauthorized",route="/notificaties"} 4.0'
            in metrics
        )

    run(tmp_path, scenario)


def test_an_oversized_body_is_413_by_length_and_while_reading(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        big = b'{"x": "' + b"a" * 5000 + b'"}'
        status, _ = await h.post("/cloudevents", None, raw=big)
        assert status == 413

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b"a" * 1000

        response = await h.client.post(
            "/notificaties", data=chunks(), headers={"Authorization": AUTH_ON}
        )
        assert response.status == 413
        assert h.sent == []

    run(tmp_path, scenario)


def test_unknown_rsin_is_a_dead_letter_without_fetching_and_without_source_ids(
    tmp_path: Path,
) -> None:
    async def scenario(h: Harness) -> None:
        body = fixture("notificatie-status-create.json")
        body["kenmerken"]["bronorganisatie"] = "123456782"
        status, answer = await h.post("/notificaties", body)
        assert (status, answer["dead_letters"]) == (200, 1)
        [(headers, value)] = h.dead()
        assert headers["reason"] == "unknown_municipality"
        assert headers["source.route"] == "/notificaties"
        assert headers["source.subscription"] == "open-notificaties"
        assert h.fake.requests == []
        text = value.decode()
        assert fixture("zaak.json")["uuid"] not in text
        assert "statussen" not in text
        assert "Bearer" not in text
        assert all("Bearer" not in v for v in headers.values())
        summary = orjson.loads(value)
        assert summary["subject"] == h.pseudonyms.subject("zaak", fixture("zaak.json")["uuid"])
        assert summary["kenmerken"] == {
            "bronorganisatie": "123456782",
            "zaaktype": h.fake_urls(fixture("zaaktype.json"))["url"],
        }
        assert h.dead()[0][0]  # keyed for one-per-key consumers:
        assert h.sent[0].key.startswith(b"ingest:unknown_municipality:")

    run(tmp_path, scenario)


def test_unmapped_zaaktype_is_a_dead_letter(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        zaaktype = fixture("zaaktype.json") | {"identificatie": "OMGEVINGSVERGUNNING"}
        h.fake.put(zaaktype["url"], zaaktype)
        await h.post("/notificaties", fixture("notificatie-status-create.json"))
        assert [d[0]["reason"] for d in h.dead()] == ["unmapped_zaaktype"]
        assert h.events() == []

    run(tmp_path, scenario)


def test_a_resource_that_fails_is_retried_then_dead_lettered(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        status_url = fixture("status-1.json")["url"]
        h.fake.fail(status_url, 500, 404)  # then it answers: retried to success
        await h.post("/notificaties", fixture("notificatie-status-create.json"))
        assert [e.type for e in h.events()] == ["item.opened"]
        h.sent.clear()
        h.fake.fail(status_url, 503, 503, 503)  # three attempts, all failing
        before = len(h.fake.requests)
        status, _ = await h.post("/notificaties", fixture("notificatie-status-create.json"))
        assert status == 200
        assert [d[0]["reason"] for d in h.dead()] == ["source_unavailable"]
        assert h.dead()[0][0]["field"] == "status"
        asked = [path for path, _ in h.fake.requests[before:]]
        assert asked.count(h.fake.path_of(status_url)) == 3  # three attempts at the Status
        assert len(asked) == 3 + 2  # and, fetched beside it, the Zaak and its statuses once each
        metrics = await (await h.client.get("/metrics")).text()
        assert "contact_ingest_fetch_failures_total 5.0" in metrics

    run(tmp_path, scenario)


def test_the_zaak_is_the_one_the_status_names_not_the_hoofdobject(tmp_path: Path) -> None:
    """The Zaak and its statuses are fetched beside the Status from the notification's
    hoofdObject; when the Status names another zaak, that one is fetched and mapped."""

    async def scenario(h: Harness) -> None:
        zaak = fixture("zaak.json")
        other = zaak | {
            "url": zaak["url"].replace("5d8c9d2e", "00000000"),
            "uuid": zaak["uuid"].replace("5d8c9d2e", "00000000"),
            "bronorganisatie": "002564440",  # heiloo, where the real zaak is castricum's
        }
        h.fake.put(other["url"], other)
        for hoofd in (other["url"], zaak["url"].replace("5d8c9d2e", "11111111")):  # or none
            h.sent.clear()
            body = fixture("notificatie-status-create.json") | {"hoofdObject": hoofd}
            status, answer = await h.post("/notificaties", body)
            assert (status, answer["events"]) == (200, 1)
            [opened] = h.events()
            assert (opened.type, opened.municipality) == ("item.opened", "castricum")
            assert opened.subject == h.pseudonyms.subject("zaak", zaak["uuid"])

    run(tmp_path, scenario)


def test_a_resource_that_does_not_fit_its_spec_is_source_invalid(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        broken = fixture("status-1.json")
        del broken["datumStatusGezet"]
        h.fake.put(broken["url"], broken)
        await h.post("/notificaties", fixture("notificatie-status-create.json"))
        [(headers, _)] = h.dead()
        assert (headers["reason"], headers["field"]) == (
            "source_invalid",
            "status.datumStatusGezet",
        )

    run(tmp_path, scenario)


def test_a_resource_outside_the_api_roots_is_never_fetched(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        body = fixture("notificatie-status-create.json")
        body["resourceUrl"] = "https://elders.example.org/statussen/1"
        await h.post(
            "/notificaties",
            body,
            raw=orjson.dumps(h.fake_urls(body) | {"resourceUrl": body["resourceUrl"]}),
        )
        [(headers, _)] = h.dead()
        assert (headers["reason"], headers["field"]) == ("invalid_field", "status")
        assert h.fake.requests == []

    run(tmp_path, scenario)


def test_malformed_notifications_are_dead_letters_with_their_reason(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.post("/notificaties", None, raw=b"{not json")
        await h.post("/notificaties", {"kanaal": "zaken"})
        reasons = [(d[0]["reason"], d[0]["field"]) for d in h.dead()]
        assert reasons == [("not_json", ""), ("missing_field", "hoofdObject")]
        assert orjson.loads(h.dead()[0][1]) == {"body": "[verwijderd]", "body_bytes": 9}

    run(tmp_path, scenario)


def test_cloudevents_single_and_batch_with_a_bad_one(tmp_path: Path) -> None:
    good = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:nld:gemeente:heiloo:fixi",
        "type": "nl.contactmonitor.item.opened",
        "time": "2024-05-21T09:30:00+02:00",
        "subject": "fixi-1",
        "data": {"municipality": "heiloo", "kind": "melding", "channel": "app"},
    }
    personal = good | {"id": "e-3", "subject": "jan@example.nl"}

    async def scenario(h: Harness) -> None:
        status, answer = await h.post("/cloudevents", good)
        assert (status, answer["events"]) == (200, 1)
        assert h.sent[0].value == orjson.dumps(good)  # byte for byte
        status, answer = await h.post("/cloudevents", [good | {"id": "e-2"}, personal, {"x": 1}])
        assert (status, answer) == (200, {"events": 1, "dead_letters": 2, "ignored": 0})
        reasons = [d[0]["reason"] for d in h.dead()]
        assert reasons == ["personal_data", "missing_field"]
        assert b"jan@example.nl" not in h.dead()[0][1]  # the decoder's redacted copy

    run(tmp_path, scenario)


def test_no_acknowledgement_is_503_so_the_sender_retries(tmp_path: Path) -> None:
    async def refuse(_records: Sequence[Record]) -> None:
        raise ProduceError("KafkaTimeoutError")

    async def scenario(h: Harness) -> None:
        status, _ = await h.post("/notificaties", fixture("notificatie-status-create.json"))
        assert status == 503
        metrics = await (await h.client.get("/metrics")).text()
        assert (
            'contact_ingest_requests_total{outcome="unavailable",route="/notificaties"} 1.0'
            in metrics
        )
        assert 'contact_ingest_requests_total{outcome="accepted"' in metrics
        assert (await h.client.get("/healthz")).status == 200

    run(tmp_path, scenario, send=refuse)


def test_open_klant_contacts_and_call_back_requests(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.post("/notificaties", fixture("notificatie-klantcontact-create.json"), auth=AUTH_OK)
        await h.post("/notificaties", fixture("notificatie-internetaak-update.json"), auth=AUTH_OK)
        events = h.events()
        assert [e.type for e in events] == [
            "call.queued",
            "call.answered",
            "call.ended",
            "item.opened",
            "item.closed",
        ]
        assert events[0].data["channel"] == "telefoon"
        assert events[2].data["resolved"] is False
        assert events[3].data["kind"] == "terugbelverzoek"
        assert {e.municipality for e in events} == {"castricum"}  # the subscription's
        # the same notification through a subscription without a municipality: dead letter
        await h.post("/notificaties", fixture("notificatie-klantcontact-create.json"))
        assert [d[0]["reason"] for d in h.dead()] == ["unknown_municipality"]

    run(tmp_path, scenario)
