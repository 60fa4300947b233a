"""The pure Open Klant mapping: a klantcontact or an internetaak → the contract's events.

- A **klantcontact** on a channel with a live queue (configured in ``kanalen``: Open Klant's
  ``kanaal`` is free text such as ``telefoon`` or ``balie``) → a call at ``plaatsgevondenOp``:
  ``call.queued`` and, when ``indicatieContactGelukt`` is not false, ``call.answered`` and
  ``call.ended`` (``resolved``: it led to no internal task); when it is false,
  ``call.abandoned``. Open Klant records a contact after it happened, not the wait before it:
  queued and answered carry the same time, so these calls count in the call totals and the
  first-contact resolution but always meet an answer norm. Switch ``kanalen`` off for a channel
  whose calls come from the telephony platform, or they are counted twice.
- An **internetaak** whose ``gevraagdeHandeling`` is a call-back (``terugbel_handelingen``) → an
  item of kind ``terugbelverzoek``: ``item.opened`` at ``toegewezenOp``, ``item.closed`` at
  ``afgehandeldOp`` once its ``status`` is ``verwerkt`` (at the notification's time when Open Klant
  gives no ``afgehandeldOp``). Every notification about the task gives the events its current
  state says, with the same ids: a repeated one is a duplicate.

Open Klant names no organisation, so the municipality is the subscription's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.decode import Reason
from events.vocabulary import CALL_CHANNELS, CHANNELS
from sources.openklant.models import InterneTaak, Klantcontact
from sources.pseudonym import Pseudonymiser
from sources.zgw.contract import ContractEvent, Unmappable, contract_event, source_uri


class OpenKlantMapping(BaseModel):
    """Which kanalen are live-queue contacts, which tasks are call-backs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kanalen: dict[str, str] = Field(default_factory=lambda: {"telefoon": "telefoon"})
    terugbel_handelingen: list[str] = Field(default_factory=lambda: ["terugbellen"])
    terugbel_channel: str = "telefoon"
    terugbel_category: str = Field(default="terugbelverzoek", min_length=1, max_length=64)
    source_system: str = Field(default="openklant", pattern=r"^[a-z0-9-]{1,32}$")

    @model_validator(mode="after")
    def _known_words(self) -> Self:
        for kanaal, channel in self.kanalen.items():
            if channel not in CALL_CHANNELS:
                raise ValueError(f"kanalen.{kanaal}: must be one of {sorted(CALL_CHANNELS)}")
        if self.terugbel_channel not in CHANNELS:
            raise ValueError(f"terugbel_channel must be one of {sorted(CHANNELS)}")
        return self

    def channel_of(self, kanaal: str) -> str | None:
        return self.kanalen.get(kanaal.strip().lower())

    def is_terugbel(self, handeling: str) -> bool:
        wanted = handeling.strip().lower()
        return any(wanted == h.strip().lower() for h in self.terugbel_handelingen)


def _municipality(municipality: str | None) -> str:
    if municipality is None:
        raise Unmappable(
            Reason.UNKNOWN_MUNICIPALITY,
            "subscription",
            "names no municipality; Open Klant's notifications need one per subscription",
        )
    return municipality


def map_klantcontact(
    contact: Klantcontact,
    municipality: str | None,
    config: OpenKlantMapping,
    pseudonyms: Pseudonymiser,
) -> list[ContractEvent]:
    """The call a klantcontact on a live-queue channel stands for; [] for other kanalen."""
    channel = config.channel_of(contact.kanaal)
    if channel is None:
        return []
    slug = _municipality(municipality)
    when = contact.plaatsgevondenOp
    steps: list[tuple[str, dict[str, Any]]] = [("call.queued", {"channel": channel})]
    if contact.indicatieContactGelukt is False:
        steps.append(("call.abandoned", {}))
    else:
        steps += [
            ("call.answered", {}),
            ("call.ended", {"resolved": not contact.leiddeTotInterneTaken}),
        ]
    subject = pseudonyms.subject("klantcontact", contact.uuid)
    source = source_uri(slug, config.source_system)
    return [
        contract_event(
            short,
            event_id=pseudonyms.event_id("openklant-klantcontact", contact.url, short),
            source=source,
            time=when,
            subject=subject,
            data={"municipality": slug, **extra},
        )
        for short, extra in steps
    ]


def map_internetaak(
    task: InterneTaak,
    when: datetime,
    municipality: str | None,
    config: OpenKlantMapping,
    pseudonyms: Pseudonymiser,
) -> list[ContractEvent]:
    """The call-back request a task stands for (notified at ``when``); [] for other tasks."""
    if not config.is_terugbel(task.gevraagdeHandeling):
        return []
    slug = _municipality(municipality)
    subject = pseudonyms.subject("internetaak", task.uuid)
    source = source_uri(slug, config.source_system)
    steps: list[tuple[str, datetime, dict[str, Any]]] = [
        (
            "item.opened",
            task.toegewezenOp,
            {
                "kind": "terugbelverzoek",
                "channel": config.terugbel_channel,
                "category": config.terugbel_category,
                "source_system": config.source_system,
            },
        )
    ]
    if task.status == "verwerkt":
        steps.append(("item.closed", task.afgehandeldOp or when, {"resolution": "afgehandeld"}))
    return [
        contract_event(
            short,
            event_id=pseudonyms.event_id("openklant-internetaak", task.url, short),
            source=source,
            time=moment,
            subject=subject,
            data={"municipality": slug, **extra},
        )
        for short, moment, extra in steps
    ]
