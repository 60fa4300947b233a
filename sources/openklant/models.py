"""The Klantinteracties API resources the mapping reads (Open Klant 2.x), named after its spec.

Only the fields the mapping relies on; the rest of a response (``inhoud``, ``onderwerp``,
``toelichting``, the people involved) is ignored and never read: it is free text about a person.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict


class _SpecModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ForeignKey(_SpecModel):
    """``KlantcontactForeignKey`` / ``InterneTaakForeignKey``: a reference by uuid and url."""

    uuid: str
    url: str


class Klantcontact(_SpecModel):
    """``Klantcontact``: a contact that took place, on a channel, successful or not."""

    uuid: str
    url: str
    kanaal: str
    indicatieContactGelukt: bool | None = None
    plaatsgevondenOp: AwareDatetime
    leiddeTotInterneTaken: list[ForeignKey]


class InterneTaak(_SpecModel):
    """``InterneTaak``: a task that came out of a contact, e.g. calling the person back."""

    uuid: str
    url: str
    gevraagdeHandeling: str
    aanleidinggevendKlantcontact: ForeignKey
    status: Literal["te_verwerken", "verwerkt"]
    toegewezenOp: AwareDatetime
    afgehandeldOp: AwareDatetime | None = None
