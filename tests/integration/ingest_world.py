"""Three weeks of zaken as Open Zaak would hold them, their notifications, and the expected events.

`world(seed)` builds ~200 zaken of three zaaktypen in three municipalities: statuses (received,
in handling, handled, and one zaak handled, reopened and handled again), suspensions of
meldingen (with the audit trail entries that record them), answers that come late, zaken never
answered or still open. It returns the resources for `tests.fixtures.zgw.fake_api.FakeApis`
(validated with the spec models), the notifications Open Notificaties would POST in the order
it would, and — written independently of the mapping, from the scenario itself — the contract
events those notifications must give, with ids and subjects of its own (metrics carry neither).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from sources.zgw.models import AuditTrail, Notificatie, Status, StatusType, Zaak, ZaakType
from tests.fixtures.zgw.fake_api import PLACEHOLDER

ZAKEN = f"{PLACEHOLDER}/zaken/api/v1"
CATALOGI = f"{PLACEHOLDER}/catalogi/api/v1"
START = datetime(2024, 3, 4, 7, 0, tzinfo=UTC)  # a Monday
DAYS = 21
RSIN = {"castricum": "517439943", "heiloo": "002564440", "bergen": "001826241"}
ZAAKTYPEN = {  # identificatie: (kind, category, channel) as in tests/fixtures/zgw/ingest.yaml
    "MOR": ("melding", "openbare-ruimte", "app"),
    "KLACHT": ("klacht", "klacht", "webformulier"),
    "VRAAG": ("vraag", "algemeen", "email"),
}
STATUSTYPEN = (
    ("Ontvangen", False),
    ("In behandeling", False),
    ("Afgehandeld", True),
    ("Heropend", False),
)
NOTIFY_DELAY = timedelta(milliseconds=300)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class World:
    resources: dict[str, Any] = field(default_factory=dict)
    notifications: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    expected: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)

    def notification_bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in sorted(self.notifications, key=lambda pair: pair[0])]

    def expected_lines(self) -> list[bytes]:
        ordered = sorted(self.expected, key=lambda pair: pair[0])
        return [orjson.dumps(event) for _, event in ordered]


def world(seed: int = 12, zaken: int = 200) -> World:
    rng = random.Random(seed)
    w = World()
    types: dict[str, list[str]] = {}
    for ident in ZAAKTYPEN:
        zt_url = f"{CATALOGI}/zaaktypen/{_uuid(rng)}"
        urls = [f"{CATALOGI}/statustypen/{_uuid(rng)}" for _ in STATUSTYPEN]
        types[ident] = [zt_url, *urls]
        w.resources[zt_url] = ZaakType.model_validate(
            {
                "url": zt_url,
                "identificatie": ident,
                "omschrijving": ident.title(),
                "doorlooptijd": "P8W",
                "servicenorm": "P2W",
                "statustypen": urls,
            }
        ).model_dump(mode="json")
        for n, (url, (omschrijving, eind)) in enumerate(zip(urls, STATUSTYPEN, strict=True), 1):
            w.resources[url] = StatusType.model_validate(
                {
                    "url": url,
                    "omschrijving": omschrijving,
                    "zaaktype": zt_url,
                    "zaaktypeIdentificatie": ident,
                    "volgnummer": n,
                    "isEindstatus": eind,
                }
            ).model_dump(mode="json")
    serial = 0

    def expect(when: datetime, short: str, subject: str, municipality: str, **data: Any) -> None:
        nonlocal serial
        serial += 1
        w.expected.append(
            (
                when,
                {
                    "specversion": "1.0",
                    "id": f"expected-{serial}",
                    "source": "urn:test:expected",
                    "type": f"nl.contactmonitor.{short}",
                    "time": _time(when),
                    "subject": subject,
                    "data": {"municipality": municipality, **data},
                },
            )
        )

    for i in range(zaken):
        municipality = rng.choice(sorted(RSIN))
        ident = rng.choice(sorted(ZAAKTYPEN))
        kind, category, channel = ZAAKTYPEN[ident]
        zt_url, *st = types[ident]
        zaak_uuid = _uuid(rng)
        zaak_url = f"{ZAKEN}/zaken/{zaak_uuid}"
        subject = f"zaak-{i}"
        opened = START + timedelta(days=rng.randrange(DAYS - 3), minutes=rng.randrange(9 * 60))
        steps: list[tuple[datetime, int]] = [(opened, 0)]
        answered = opened + timedelta(minutes=rng.randrange(30, 6 * 24 * 60))  # some late
        if i == 0 or rng.random() < 0.9:
            steps.append((answered, 1))
        last = answered
        flips: list[datetime] = []
        if kind == "melding" and rng.random() < 0.35:
            paused = answered + timedelta(hours=rng.randrange(2, 30))
            resumed = paused + timedelta(hours=rng.randrange(20, 100))
            flips = [paused, resumed]
            last = resumed
        if i == 0 or rng.random() < 0.75:
            closed = last + timedelta(minutes=rng.randrange(60, 12 * 24 * 60))
            steps.append((closed, 2))
            if i == 0:  # the reopened zaak: handled, reopened, handled again
                steps += [(closed + timedelta(days=1), 3), (closed + timedelta(days=3), 2)]
        zaak = {
            "url": zaak_url,
            "uuid": zaak_uuid,
            "bronorganisatie": RSIN[municipality],
            "zaaktype": zt_url,
            "startdatum": opened.date().isoformat(),
            "communicatiekanaal": "",
            "opschorting": {"indicatie": False, "reden": ""},
        }
        w.resources[zaak_url] = Zaak.model_validate(zaak).model_dump(mode="json")
        kenmerken = {
            "bronorganisatie": RSIN[municipality],
            "zaaktype": zt_url,
            "vertrouwelijkheidaanduiding": "openbaar",
        }
        for n, (moment, which) in enumerate(steps):
            status_url = f"{ZAKEN}/statussen/{_uuid(rng)}"
            w.resources[status_url] = Status.model_validate(
                {
                    "url": status_url,
                    "uuid": status_url.rsplit("/", 1)[1],
                    "zaak": zaak_url,
                    "statustype": st[which],
                    "datumStatusGezet": _time(moment),
                }
            ).model_dump(mode="json")
            notified = moment + NOTIFY_DELAY
            w.notifications.append(
                (
                    notified,
                    Notificatie.model_validate(
                        {
                            "kanaal": "zaken",
                            "hoofdObject": zaak_url,
                            "resource": "status",
                            "resourceUrl": status_url,
                            "actie": "create",
                            "aanmaakdatum": _time(notified),
                            "kenmerken": kenmerken,
                        }
                    ).model_dump(mode="json"),
                )
            )
            if n == 0:
                expect(
                    moment,
                    "item.opened",
                    subject,
                    municipality,
                    kind=kind,
                    channel=channel,
                    category=category,
                    segment="onbekend",
                    source_system="zgw",
                )
            elif STATUSTYPEN[steps[n - 1][1]][1] and not STATUSTYPEN[which][1]:
                expect(moment, "item.reopened", subject, municipality)
            if STATUSTYPEN[which][1]:
                expect(moment, "item.closed", subject, municipality, resolution="afgehandeld")
            elif which == 1:
                expect(moment, "item.responded", subject, municipality)
        audit = []
        for n, moment in enumerate(flips):
            before, after = (zaak, zaak | {"opschorting": {"indicatie": True, "reden": "wacht"}})
            if n % 2:
                before, after = after, before
            audit.append(
                AuditTrail.model_validate(
                    {
                        "uuid": _uuid(rng),
                        "actie": "partial_update",
                        "resource": "zaak",
                        "resourceUrl": zaak_url,
                        "aanmaakdatum": _time(moment),
                        "wijzigingen": {"oud": before, "nieuw": after},
                    }
                ).model_dump(mode="json")
            )
            notified = moment + NOTIFY_DELAY
            w.notifications.append(
                (
                    notified,
                    {
                        "kanaal": "zaken",
                        "hoofdObject": zaak_url,
                        "resource": "zaak",
                        "resourceUrl": zaak_url,
                        "actie": "partial_update",
                        "aanmaakdatum": _time(notified),
                        "kenmerken": kenmerken,
                    },
                )
            )
            expect(notified, "item.resumed" if n % 2 else "item.paused", subject, municipality)
        w.resources[zaak_url + "/audittrail"] = audit
    return w
