"""The ZGW resources the mapping reads, as pydantic models named after the published specs.

Only the fields the mapping relies on are modelled, each under its name in the OpenAPI
specification (so ``datumStatusGezet``, not ``datum_status_gezet``); other fields of a real
response are ignored. A fixture or a fetched response that lacks a required field, or has one of
the wrong type, fails validation: the ingest service then dead-letters the notification as
``source_invalid`` instead of guessing.

Specifications (VNG-Realisatie): Notificaties API 1.0 (``Message``), Zaken API 1.5 (``Zaak``,
``Opschorting``, ``Status``, ``AuditTrail``, ``PaginatedStatusList``), Catalogi API 1.3
(``ZaakType``, ``StatusType``).
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _SpecModel(BaseModel):
    """Fields as named in the spec; unknown fields ignored; immutable once read."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False)


# -- Notificaties API 1.0 -----------------------------------------------------------------------


class Notificatie(_SpecModel):
    """``Message``: what Open Notificaties POSTs to a subscriber's callback URL."""

    kanaal: str = Field(min_length=1, max_length=50)
    hoofdObject: str = Field(min_length=1, max_length=1000)
    resource: str = Field(min_length=1, max_length=100)
    resourceUrl: str = Field(min_length=1, max_length=1000)
    actie: str = Field(min_length=1, max_length=100)
    aanmaakdatum: AwareDatetime
    kenmerken: dict[str, Any] = Field(default_factory=dict)


# -- Zaken API 1.5 ------------------------------------------------------------------------------


class Opschorting(_SpecModel):
    """``Opschorting``: whether the handling of the zaak is suspended (waiting on the person)."""

    indicatie: bool
    reden: str = ""


class Zaak(_SpecModel):
    """``Zaak``: the fields that say whose, what kind, through which channel, and paused or not."""

    url: str
    uuid: str
    bronorganisatie: str = Field(pattern=r"^\d{9}$")
    zaaktype: str
    registratiedatum: str | None = None
    startdatum: str
    communicatiekanaal: str = ""
    opschorting: Opschorting | None = None


class Status(_SpecModel):
    """``Status``: a status a zaak reached, of a statustype, at ``datumStatusGezet``."""

    url: str
    uuid: str
    zaak: str
    statustype: str
    datumStatusGezet: AwareDatetime


class PaginatedStatusList(_SpecModel):
    """``PaginatedStatusList``: ``GET /statussen?zaak=…``, one page."""

    count: int
    next: str | None = None
    results: list[Status]


class AuditTrailWijzigingen(_SpecModel):
    """``Wijzigingen``: the whole resource before and after the action (either may be absent)."""

    oud: dict[str, Any] | None = None
    nieuw: dict[str, Any] | None = None


class AuditTrail(_SpecModel):
    """``AuditTrail``: one change of a zaak, ``GET /zaken/{zaak_uuid}/audittrail``.

    The user fields (``gebruikersId``, ``gebruikersWeergave``) are deliberately not modelled:
    they name employees and are never read.
    """

    uuid: str
    actie: str
    resource: str
    resourceUrl: str
    aanmaakdatum: AwareDatetime
    wijzigingen: AuditTrailWijzigingen


# -- Catalogi API 1.3 ---------------------------------------------------------------------------


class StatusType(_SpecModel):
    """``StatusType``: the kind of a status; ``isEindstatus`` marks the one that closes a zaak."""

    url: str
    omschrijving: str
    zaaktype: str
    zaaktypeIdentificatie: str = ""
    volgnummer: int
    isEindstatus: bool
    informeren: bool = False


class ZaakType(_SpecModel):
    """``ZaakType``: identification, and the promises on handling time recorded in the catalog.

    ``doorlooptijd`` (legal handling time) and ``servicenorm`` (the service promise) are ISO 8601
    durations such as ``P8W`` or ``P10D``.
    """

    url: str
    identificatie: str = Field(min_length=1)
    omschrijving: str
    doorlooptijd: str
    servicenorm: str | None = None
    opschortingEnAanhoudingMogelijk: bool = False
    concept: bool = False
