"""The pure Open Klant mapping (`sources.openklant.mapping`), fixtures from the spec."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from events.decode import Decoder, Event, Reason
from sources.openklant.mapping import OpenKlantMapping, map_internetaak, map_klantcontact
from sources.openklant.models import InterneTaak, Klantcontact
from sources.pseudonym import Pseudonymiser
from sources.zgw.contract import Unmappable, encode

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openklant"
P = Pseudonymiser(b"k" * 32)
CONFIG = OpenKlantMapping(kanalen={"telefoon": "telefoon", "balie": "balie"})
DECODER = Decoder(["castricum"])
WHEN = datetime.fromisoformat("2024-05-22T11:05:01+00:00")


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def decoded(events: list[dict[str, Any]]) -> list[Event]:
    out = [DECODER.decode(encode(e), 1_720_000_000.0) for e in events]
    assert all(isinstance(e, Event) for e in out), out
    return out  # type: ignore[return-value]


def test_a_phone_contact_is_a_call_answered_and_not_resolved_when_it_led_to_a_task() -> None:
    contact = Klantcontact.model_validate(load("klantcontact-telefoon.json"))
    events = decoded(map_klantcontact(contact, "castricum", CONFIG, P))
    assert [e.type for e in events] == ["call.queued", "call.answered", "call.ended"]
    assert {e.time for e in events} == {contact.plaatsgevondenOp.timestamp()}
    assert events[0].data["channel"] == "telefoon"  # "Telefoon" in Open Klant
    assert events[2].data["resolved"] is False
    assert {e.subject for e in events} == {P.subject("klantcontact", contact.uuid)}


def test_a_failed_counter_contact_is_abandoned_and_other_kanalen_say_nothing() -> None:
    contact = Klantcontact.model_validate(load("klantcontact-balie-mislukt.json"))
    events = decoded(map_klantcontact(contact, "castricum", CONFIG, P))
    assert [e.type for e in events] == ["call.queued", "call.abandoned"]
    email = contact.model_copy(update={"kanaal": "e-mail"})
    assert map_klantcontact(email, "castricum", CONFIG, P) == []


def test_a_call_back_task_opens_and_closes_a_terugbelverzoek_with_stable_ids() -> None:
    open_task = InterneTaak.model_validate(load("internetaak-te-verwerken.json"))
    done = InterneTaak.model_validate(load("internetaak-verwerkt.json"))
    [opened] = decoded(map_internetaak(open_task, WHEN, "castricum", CONFIG, P))
    assert (opened.type, opened.data["kind"]) == ("item.opened", "terugbelverzoek")
    assert opened.time == open_task.toegewezenOp.timestamp()
    again_opened, closed = decoded(map_internetaak(done, WHEN, "castricum", CONFIG, P))
    assert again_opened.raw == opened.raw  # the same event: a duplicate for the monitor
    assert closed.type == "item.closed"
    assert done.afgehandeldOp is not None
    assert closed.time == done.afgehandeldOp.timestamp()
    other = done.model_copy(update={"gevraagdeHandeling": "Brief sturen"})
    assert map_internetaak(other, WHEN, "castricum", CONFIG, P) == []


def test_no_municipality_no_events() -> None:
    contact = Klantcontact.model_validate(load("klantcontact-telefoon.json"))
    with pytest.raises(Unmappable) as caught:
        map_klantcontact(contact, None, CONFIG, P)
    assert caught.value.reason is Reason.UNKNOWN_MUNICIPALITY


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_fixture_fits_its_model(name: str) -> None:
    model = {"klantcontact": Klantcontact, "internetaak": InterneTaak}.get(name.partition("-")[0])
    if model is None:
        assert name.startswith("notificatie-")
        return
    body = load(name)
    model.model_validate(body)
    del body["uuid"]
    with pytest.raises(ValidationError):
        model.model_validate(body)


def test_the_config_refuses_a_kanaal_without_a_live_queue() -> None:
    with pytest.raises(ValidationError):
        OpenKlantMapping(kanalen={"e-mail": "email"})
