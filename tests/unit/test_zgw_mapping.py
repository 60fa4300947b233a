"""The pure ZGW mapping (`sources.zgw.mapping`), on fixtures written from the specs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

from events.decode import Decoder, Event, Reason
from sources.pseudonym import Pseudonymiser
from sources.zgw.config import ZgwMapping
from sources.zgw.contract import Unmappable, encode
from sources.zgw.mapping import ZaakFacts, map_opschorting, map_status
from sources.zgw.models import AuditTrail, Status, StatusType, Zaak, ZaakType
from tests.unit.test_zgw_models import load

KEY = b"k" * 32
P = Pseudonymiser(KEY)
KANAAL = load("zaak.json")["communicatiekanaal"]
CONFIG = ZgwMapping.model_validate(
    {
        "municipalities": {"517439943": "castricum"},
        "zaaktypen": {"KLACHT": {"kind": "klacht", "category": "afval", "channel": "brief"}},
        "communicatiekanalen": {KANAAL: "email"},
        "responded": {"statustypen": ["In behandeling"]},
    }
)
FACTS = ZaakFacts(
    Zaak.model_validate(load("zaak.json")), ZaakType.model_validate(load("zaaktype.json"))
)
STATUS = [Status.model_validate(load(f"status-{i}.json")) for i in (1, 2, 3)]
TYPE = {
    name: StatusType.model_validate(load(f"statustype-{name}.json"))
    for name in ("ontvangen", "behandeling", "afgehandeld", "heropend")
}
HISTORY = [
    (STATUS[0], TYPE["ontvangen"]),
    (STATUS[1], TYPE["behandeling"]),
    (STATUS[2], TYPE["afgehandeld"]),
]
AUDIT = [AuditTrail.model_validate(entry) for entry in load("audittrail.json")]
DECODER = Decoder(["bergen", "castricum", "heiloo", "uitgeest"])
NOW = datetime.fromisoformat("2024-07-01T00:00:00+00:00").timestamp()


def decoded(events: list[dict[str, Any]]) -> list[Event]:
    out = []
    for ev in events:
        result = DECODER.decode(encode(ev), NOW)
        assert isinstance(result, Event), result
        out.append(result)
    return out


def status_events(index: int, history: Any = HISTORY, config: ZgwMapping = CONFIG) -> list[Event]:
    status, kind = HISTORY[index]
    return decoded(map_status(status, kind, history, FACTS, config, P))


def test_first_status_opens_the_item_with_the_configured_words() -> None:
    [opened] = status_events(0)
    assert opened.type == "item.opened"
    assert opened.subject == P.subject("zaak", FACTS.zaak.uuid)
    assert FACTS.zaak.uuid not in opened.raw.decode()  # the raw source id never leaves
    assert opened.time == STATUS[0].datumStatusGezet.timestamp()
    assert opened.source == "urn:nld:gemeente:castricum:zgw"
    assert opened.data | {} == {
        "municipality": "castricum",
        "kind": "klacht",
        "channel": "email",  # from the zaak's communicatiekanaal
        "category": "afval",
        "segment": "onbekend",
        "source_system": "zgw",
        "team": None,
    }


def test_unknown_communicatiekanaal_falls_back_to_the_zaaktypes_channel() -> None:
    config = CONFIG.model_copy(update={"communicatiekanalen": {}})
    [opened] = status_events(0, config=config)
    assert opened.data["channel"] == "brief"


def test_a_configured_statustype_is_the_response_and_others_say_nothing() -> None:
    assert [e.type for e in status_events(1)] == ["item.responded"]
    silent = CONFIG.model_copy(
        update={"responded": CONFIG.responded.model_copy(update={"statustypen": []})}
    )
    assert status_events(1, config=silent) == []
    by_informeren = silent.model_copy(
        update={"responded": silent.responded.model_copy(update={"informeren": True})}
    )
    assert [e.type for e in status_events(1, config=by_informeren)] == ["item.responded"]
    by_url = silent.model_copy(
        update={
            "responded": silent.responded.model_copy(
                update={"statustypen": [TYPE["behandeling"].url]}
            )
        }
    )
    assert [e.type for e in status_events(1, config=by_url)] == ["item.responded"]


def test_the_end_status_closes_and_a_status_after_it_reopens() -> None:
    [closed] = status_events(2)
    assert closed.type == "item.closed"
    assert closed.data["resolution"] == "afgehandeld"
    reopen = Status.model_validate(
        load("status-3.json")
        | {
            "url": STATUS[2].url + "-heropend",
            "uuid": "0a7e1d5c-43f6-4d3f-8bd7-8d1c5b0e7a04",
            "statustype": TYPE["heropend"].url,
            "datumStatusGezet": "2024-06-12T08:00:00Z",
        }
    )
    events = decoded(map_status(reopen, TYPE["heropend"], HISTORY, FACTS, CONFIG, P))
    assert [e.type for e in events] == ["item.reopened"]


def test_a_first_status_that_is_the_end_status_opens_and_closes() -> None:
    status, kind = STATUS[2], TYPE["afgehandeld"]
    events = decoded(map_status(status, kind, [(status, kind)], FACTS, CONFIG, P))
    assert [e.type for e in events] == ["item.opened", "item.closed"]
    assert len({e.id for e in events}) == 2


def test_the_position_not_the_arrival_decides() -> None:
    """The zaak's status list may lag behind or run ahead of the notification: the events of a
    status depend on the statuses before it, not on those listed after it."""

    def raw(history: Any) -> list[bytes]:
        return [e.raw for e in status_events(1, history=history)]

    assert raw(HISTORY[:2]) == raw(HISTORY) == raw(list(reversed(HISTORY)))
    assert raw([HISTORY[0]]) == raw(HISTORY)  # the status itself missing from the list
    alone = [e.type for e in status_events(1, history=[])]
    assert alone == ["item.opened", "item.responded"]  # nothing before it: it is the first


def test_redelivery_gives_identical_bytes_and_other_records_other_ids() -> None:
    first = [encode(e) for e in map_status(STATUS[0], TYPE["ontvangen"], HISTORY, FACTS, CONFIG, P)]
    again = [encode(e) for e in map_status(STATUS[0], TYPE["ontvangen"], HISTORY, FACTS, CONFIG, P)]
    assert first == again
    ids = {e.id for i in range(3) for e in status_events(i)}
    assert len(ids) == 3
    other = Pseudonymiser(b"o" * 32)
    [moved] = map_status(STATUS[0], TYPE["ontvangen"], HISTORY, FACTS, CONFIG, other)
    assert moved["subject"] != orjson.loads(first[0])["subject"]


def test_unknown_rsin_and_unmapped_zaaktype_cannot_be_mapped() -> None:
    stranger = ZaakFacts(
        FACTS.zaak.model_copy(update={"bronorganisatie": "123456782"}), FACTS.zaaktype
    )
    with pytest.raises(Unmappable) as caught:
        map_status(STATUS[0], TYPE["ontvangen"], HISTORY, stranger, CONFIG, P)
    assert caught.value.reason is Reason.UNKNOWN_MUNICIPALITY
    assert "123456782" not in str(caught.value)
    other = ZaakFacts(FACTS.zaak, FACTS.zaaktype.model_copy(update={"identificatie": "VERGUNNING"}))
    with pytest.raises(Unmappable) as caught:
        map_status(STATUS[0], TYPE["ontvangen"], HISTORY, other, CONFIG, P)
    assert caught.value.reason is Reason.UNMAPPED_ZAAKTYPE


def test_zaaktype_by_url_as_well_as_by_identificatie() -> None:
    by_url = CONFIG.model_copy(
        update={"zaaktypen": {FACTS.zaaktype.url: CONFIG.zaaktypen["KLACHT"]}}
    )
    assert [e.type for e in status_events(0, config=by_url)] == ["item.opened"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_opschorting_flips_become_paused_and_resumed_at_the_notification_time() -> None:
    when = at("2024-05-23T10:00:00.500+00:00")
    [paused] = decoded(map_opschorting(when, AUDIT, FACTS, CONFIG, P))
    assert paused.type == "item.paused"
    assert paused.time == when.timestamp()
    resumed_at = at("2024-05-28T08:45:00.300+00:00")
    [resumed] = decoded(map_opschorting(resumed_at, AUDIT, FACTS, CONFIG, P))
    assert resumed.type == "item.resumed"
    assert resumed.subject == paused.subject
    again = decoded(map_opschorting(when, list(reversed(AUDIT)), FACTS, CONFIG, P))
    assert [e.raw for e in again] == [paused.raw]


def test_an_update_that_does_not_touch_opschorting_maps_to_nothing() -> None:
    assert map_opschorting(at("2024-05-29T12:00:00.200+00:00"), AUDIT, FACTS, CONFIG, P) == []
    # no audit entry near the notification: nothing either
    assert map_opschorting(at("2024-05-25T12:00:00+00:00"), AUDIT, FACTS, CONFIG, P) == []


def test_statustype_must_be_the_one_the_status_names() -> None:
    with pytest.raises(Unmappable) as caught:
        map_status(STATUS[0], TYPE["afgehandeld"], HISTORY, FACTS, CONFIG, P)
    assert caught.value.reason is Reason.SOURCE_INVALID
