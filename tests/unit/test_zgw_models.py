"""Every ZGW fixture fits the models named after the specs; a response that does not is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from sources.zgw.models import (
    AuditTrail,
    Notificatie,
    PaginatedStatusList,
    Status,
    StatusType,
    Zaak,
    ZaakType,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zgw"

MODEL_OF: dict[str, Any] = {
    "zaak.json": Zaak,
    "zaaktype.json": ZaakType,
    "status-": Status,
    "statustype-": StatusType,
    "statussen.json": PaginatedStatusList,
    "audittrail.json": list[AuditTrail],
    "notificatie-": Notificatie,
}


def _model(name: str) -> Any:
    for prefix, model in MODEL_OF.items():
        if name == prefix or (prefix.endswith("-") and name.startswith(prefix)):
            return model
    return None


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_every_fixture_fits_its_model(path: Path) -> None:
    if path.name.startswith(("cloudevent-", "openzaak-")):
        return  # CloudEvent forms: read by sources.zgw.notification (test_zgw_notification.py)
    model = _model(path.name)
    assert model is not None, f"{path.name}: no model known for this fixture"
    TypeAdapter(model).validate_python(load(path.name))


@pytest.mark.parametrize(
    ("model", "name", "field"),
    [
        (Status, "status-1.json", "datumStatusGezet"),
        (StatusType, "statustype-afgehandeld.json", "isEindstatus"),
        (Zaak, "zaak.json", "bronorganisatie"),
        (ZaakType, "zaaktype.json", "doorlooptijd"),
        (Notificatie, "notificatie-status-create.json", "resourceUrl"),
    ],
)
def test_a_response_without_a_required_field_is_refused(
    model: type[BaseModel], name: str, field: str
) -> None:
    body = load(name)
    del body[field]
    with pytest.raises(ValidationError, match=field):
        model.model_validate(body)


def test_a_time_without_offset_is_refused() -> None:
    body = load("status-1.json")
    body["datumStatusGezet"] = "2024-05-21T07:30:00"
    with pytest.raises(ValidationError):
        Status.model_validate(body)


def test_an_rsin_that_is_not_nine_digits_is_refused() -> None:
    body = load("zaak.json")
    body["bronorganisatie"] = "51743994"
    with pytest.raises(ValidationError):
        Zaak.model_validate(body)
