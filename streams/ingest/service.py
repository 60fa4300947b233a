"""What a request becomes: the records to produce (events and dead letters), or nothing to do.

`IngestService` turns one request body into a `Result` — the Kafka records to send and what
happened to each message — and leaves the sending to the web layer (`streams.ingest.web`),
which answers only after the broker acknowledged them all.

- ``/cloudevents``: contract CloudEvents, one object or an array. Each is checked by the same
  `Decoder` as the worker (with the norms file's municipalities): good ones go to the events
  topic keyed by municipality, byte for byte; bad ones are dead letters with the decoder's reason.
- ``/notificaties``: a ZGW or Open Klant notification in any of its forms
  (`sources.zgw.notification`). The resources behind it are fetched (`streams.ingest.fetch`;
  those that do not depend on each other at the same time, see `IngestService._status`) and
  mapped (`sources.zgw.mapping`, `sources.openklant.mapping`); the events are checked by the
  decoder too. A notification that will never map (`Unmappable`: unknown RSIN, unmapped zaaktype,
  a resource that stayed unavailable or does not fit its spec) is a dead letter; one about
  something the monitor does not follow (a rol, a document, a zaak update that does not touch
  the suspension) is ``ignored``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

import orjson

from events.decode import Decoder, Event, Reason
from sources.openklant.mapping import map_internetaak, map_klantcontact
from sources.openklant.models import InterneTaak, Klantcontact
from sources.pseudonym import Pseudonymiser
from sources.zgw.contract import ContractEvent, Unmappable, encode
from sources.zgw.mapping import (
    UPDATE_ACTIONS,
    ZaakFacts,
    map_opschorting,
    map_status,
    municipality_of,
)
from sources.zgw.models import (
    AuditTrail,
    Notificatie,
    PaginatedStatusList,
    Status,
    StatusType,
    Zaak,
    ZaakType,
)
from sources.zgw.notification import parse_notification
from streams.ingest.config import IngestConfig, Subscription
from streams.ingest.dead_letters import Record, rejected_event, unmappable_notification
from streams.ingest.fetch import Fetcher

MAX_STATUS_PAGES: Final = 20
CLOUDEVENTS: Final = "/cloudevents"
NOTIFICATIES: Final = "/notificaties"


@dataclass(slots=True)
class Result:
    """The records of one request and what happened to its messages."""

    records: list[Record] = field(default_factory=list)
    events: int = 0
    dead_letters: list[str] = field(default_factory=list)  # their reasons
    ignored: int = 0

    @property
    def outcome(self) -> str:
        """``accepted`` (an event produced), ``dead_lettered``, or ``ignored``."""
        if self.events:
            return "accepted"
        return "dead_lettered" if self.dead_letters else "ignored"

    def summary(self) -> dict[str, int]:
        return {
            "events": self.events,
            "dead_letters": len(self.dead_letters),
            "ignored": self.ignored,
        }


class IngestService:
    """Bodies in, records out (see the module doc); holds no state per request."""

    def __init__(
        self,
        config: IngestConfig,
        decoder: Decoder,
        pseudonyms: Pseudonymiser,
        fetcher: Fetcher,
        *,
        events_topic: str,
        dlq_topic: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._decoder = decoder
        self._pseudonyms = pseudonyms
        self._fetcher = fetcher
        self._events_topic = events_topic
        self._dlq_topic = dlq_topic
        self._clock = clock

    # -- contract events ---------------------------------------------------------------------

    def cloudevents(self, body: bytes, subscription: Subscription) -> Result:
        """A contract event, or a JSON array of them (a batch)."""
        result = Result()
        messages: list[bytes] = [body]
        if body.lstrip()[:1] == b"[":
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, list):
                messages = [orjson.dumps(item) for item in parsed]
        now = self._clock()
        for raw in messages:
            self._check(raw, now, result, CLOUDEVENTS, subscription)
        return result

    def _check(
        self, raw: bytes, now: float, result: Result, route: str, subscription: Subscription
    ) -> None:
        decoded = self._decoder.decode(raw, now)
        if isinstance(decoded, Event):
            result.records.append(Record(self._events_topic, decoded.municipality.encode(), raw))
            result.events += 1
            return
        result.records.append(
            rejected_event(
                decoded, topic=self._dlq_topic, route=route, subscription=subscription.name
            )
        )
        result.dead_letters.append(decoded.reason.value)

    # -- notifications -----------------------------------------------------------------------

    async def notificaties(self, body: bytes, subscription: Subscription) -> Result:
        """A ZGW or Open Klant notification (any form)."""
        result = Result()
        notificatie: Notificatie | None = None
        try:
            try:
                obj: Any = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise Unmappable(Reason.NOT_JSON, None, "is not UTF-8 encoded JSON") from None
            notificatie = parse_notification(obj, self._config.file.zgw.zaken_api_root)
            events = await self._map(notificatie, subscription)
        except Unmappable as problem:
            result.records.append(
                unmappable_notification(
                    problem,
                    notificatie,
                    body,
                    self._pseudonyms,
                    topic=self._dlq_topic,
                    route=NOTIFICATIES,
                    subscription=subscription.name,
                )
            )
            result.dead_letters.append(problem.reason.value)
            return result
        if not events:
            result.ignored += 1
        now = self._clock()
        for event in events:
            self._check(encode(event), now, result, NOTIFICATIES, subscription)
        return result

    async def _map(self, n: Notificatie, subscription: Subscription) -> list[ContractEvent]:
        zgw = self._config.file.zgw
        if n.kanaal == "zaken":
            rsin = n.kenmerken.get("bronorganisatie")
            if isinstance(rsin, str):
                municipality_of(rsin, zgw)  # an organisation not configured: no fetching
            if n.resource == "status" and n.actie == "create":
                return await self._status(n)
            if n.resource == "zaak" and n.actie in UPDATE_ACTIONS:
                return await self._zaak_update(n)
            return []
        ok = self._config.file.openklant
        if (n.kanaal, n.resource, n.actie) == ("klantcontacten", "klantcontact", "create"):
            contact = await self._fetcher.get(n.resourceUrl, Klantcontact, "klantcontact")
            return map_klantcontact(contact, subscription.municipality, ok, self._pseudonyms)
        if n.kanaal == "internetaken" and n.resource == "internetaak" and n.actie != "destroy":
            task = await self._fetcher.get(n.resourceUrl, InterneTaak, "internetaak")
            return map_internetaak(
                task, n.aanmaakdatum, subscription.municipality, ok, self._pseudonyms
            )
        return []

    async def _zaak(self, url: str) -> ZaakFacts:
        zaak = await self._fetcher.get(url, Zaak, "zaak")
        zaaktype = await self._fetcher.get(zaak.zaaktype, ZaakType, "zaaktype", catalog=True)
        return ZaakFacts(zaak, zaaktype)

    async def _status(self, n: Notificatie) -> list[ContractEvent]:
        """The Status and, at the same time, the Zaak and its statuses as the hoofdObject names
        it; used only when the Status names that zaak too (otherwise fetched again after it).
        A Status URL that may not be fetched fetches nothing at all."""
        self._fetcher.check(n.resourceUrl, "status")
        fetched = await _settled(
            self._fetcher.get(n.resourceUrl, Status, "status"),
            self._zaak(n.hoofdObject),
            self._statuses(n.hoofdObject),
        )
        status: Status = _value(fetched[0])
        if status.zaak == n.hoofdObject:
            facts: ZaakFacts = _value(fetched[1])
        else:
            facts = await self._zaak(status.zaak)
        if facts.zaak.url == n.hoofdObject:
            statuses: list[Status] = _value(fetched[2])
        else:
            statuses = await self._statuses(facts.zaak.url)
        catalog = not facts.zaaktype.concept  # a concept ZaakType's StatusTypes may change
        urls = list(dict.fromkeys([status.statustype, *(s.statustype for s in statuses)]))
        found = await _settled(*(self._statustype(url, catalog) for url in urls))
        kinds = {url: _value(kind) for url, kind in zip(urls, found, strict=True)}
        return map_status(
            status,
            kinds[status.statustype],
            [(s, kinds[s.statustype]) for s in statuses],
            facts,
            self._config.file.zgw,
            self._pseudonyms,
        )

    async def _zaak_update(self, n: Notificatie) -> list[ContractEvent]:
        """The Zaak and, at the same time, its audit trail (used when the Zaak is at that URL)."""
        fetched = await _settled(self._zaak(n.resourceUrl), self._audit(n.resourceUrl))
        facts: ZaakFacts = _value(fetched[0])
        if facts.zaak.url == n.resourceUrl:
            audit: list[AuditTrail] = _value(fetched[1])
        else:
            audit = await self._audit(facts.zaak.url)
        return map_opschorting(
            n.aanmaakdatum, audit, facts, self._config.file.zgw, self._pseudonyms
        )

    async def _audit(self, zaak_url: str) -> list[AuditTrail]:
        audit: list[AuditTrail] = await self._fetcher.get(
            zaak_url.rstrip("/") + "/audittrail", list[AuditTrail], "audittrail"
        )
        return audit

    async def _statustype(self, url: str, catalog: bool) -> StatusType:
        value: StatusType = await self._fetcher.get(url, StatusType, "statustype", catalog=catalog)
        return value

    async def _statuses(self, zaak_url: str) -> list[Status]:
        root = zaak_url.rstrip("/").rsplit("/zaken/", 1)[0]
        url: str | None = f"{root}/statussen?zaak={quote(zaak_url, safe='')}"
        out: list[Status] = []
        for _ in range(MAX_STATUS_PAGES):
            if url is None:
                break
            page: PaginatedStatusList = await self._fetcher.get(
                url, PaginatedStatusList, "statussen"
            )
            out += page.results
            url = page.next
        return out


async def _settled(*fetches: Awaitable[Any]) -> list[Any]:
    """The results of ``fetches`` run at the same time, each a value or the error it raised
    (`_value` raises it), so the caller decides whose error counts, in its own order rather
    than in the order the answers came."""
    return await asyncio.gather(*fetches, return_exceptions=True)


def _value(result: Any) -> Any:
    if isinstance(result, BaseException):
        raise result
    return result
