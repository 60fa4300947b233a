"""The three forms of a notification (`sources.zgw.notification`) read as one `Notificatie`."""

from __future__ import annotations

from typing import Any

import pytest

from events.decode import Reason
from sources.zgw.contract import Unmappable
from sources.zgw.notification import parse_notification
from tests.unit.test_zgw_models import load

ZAKEN_ROOT = "https://openzaak.example.nl/zaken/api/v1/"


def test_the_notificaties_form() -> None:
    n = parse_notification(load("notificatie-status-create.json"))
    assert (n.kanaal, n.resource, n.actie) == ("zaken", "status", "create")
    assert n.resourceUrl == load("status-1.json")["url"]
    assert n.kenmerken["bronorganisatie"] == "517439943"


def test_the_open_notificaties_cloudevent_form_rebuilds_the_resource_url() -> None:
    n = parse_notification(load("cloudevent-status-create.json"))
    assert (n.kanaal, n.resource, n.actie) == ("zaken", "status", "create")
    assert n.resourceUrl == load("status-2.json")["url"]
    assert n.hoofdObject == load("zaak.json")["url"]
    assert n.kenmerken == {
        k: v for k, v in load("cloudevent-status-create.json")["data"].items() if k != "hoofdObject"
    }
    assert n.aanmaakdatum.isoformat() == "2024-05-22T09:15:00.200000+00:00"


def test_open_zaaks_experimental_zaak_event_with_a_relative_dataref() -> None:
    n = parse_notification(load("openzaak-zaak-opgeschort.json"), ZAKEN_ROOT)
    assert (n.kanaal, n.resource, n.actie) == ("zaken", "zaak", "partial_update")
    assert n.resourceUrl == load("zaak.json")["url"]
    with pytest.raises(Unmappable) as caught:
        parse_notification(load("openzaak-zaak-opgeschort.json"), None)
    assert caught.value.field == "dataref"


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        ([1, 2], Reason.NOT_OBJECT, None),
        ({"kanaal": "zaken"}, Reason.MISSING_FIELD, "hoofdObject"),
        (
            load("notificatie-status-create.json") | {"aanmaakdatum": "gisteren"},
            Reason.INVALID_FIELD,
            "aanmaakdatum",
        ),
        (
            load("cloudevent-status-create.json") | {"type": "com.example.other"},
            Reason.UNKNOWN_TYPE,
            "type",
        ),
        (
            load("cloudevent-status-create.json") | {"data": {}},
            Reason.MISSING_FIELD,
            "data.hoofdObject",
        ),
        (
            load("cloudevent-status-create.json") | {"type": "nl.overheid.zaken.rol.create"},
            Reason.INVALID_FIELD,
            "type",
        ),
    ],
)
def test_a_body_that_fits_no_form(body: Any, reason: Reason, field: str | None) -> None:
    with pytest.raises(Unmappable) as caught:
        parse_notification(body, ZAKEN_ROOT)
    assert (caught.value.reason, caught.value.field) == (reason, field)
    assert "gisteren" not in str(caught.value)  # never a value from the body
