"""The pure ZGW mapping: a notification and the resources behind it → the contract's events.

No I/O here: `streams.ingest` fetches the Status, its StatusType, the Zaak, its ZaakType, the
zaak's statuses and (for a changed zaak) its audit trail, validated with `sources.zgw.models`,
and hands them over. The same facts always give the same events with the same ids, so a
notification delivered twice gives duplicates the monitor ignores.

Statuses (``zaken`` / ``status`` / ``create``), placed among all statuses of the zaak in the
order of ``datumStatusGezet``:

- the zaak's first status → ``item.opened`` (kind, category and channel from the configuration);
- a status whose StatusType ``isEindstatus`` → ``item.closed``;
- a status right after an end status that is not one itself → ``item.reopened``;
- a status of a StatusType configured as a response (by URL or omschrijving, or every one with
  ``informeren``) → ``item.responded`` (the core keeps the first).

A first status can be all of these at once (a zaak registered as handled gives opened and closed).

Suspension (``zaken`` / ``zaak`` / ``update`` or ``partial_update``): the zaak's audit trail
entry of this change (the one closest in time to the notification, within
`AUDIT_MATCH_SECONDS`) says whether ``opschorting.indicatie`` flipped: false → true is
``item.paused``, true → false ``item.resumed``, at the notification's ``aanmaakdatum``. An update
that did not flip it maps to nothing.

Subjects are the keyed pseudonym of the zaak's UUID; event ids are derived from the Status URL
(or the audit trail entry's UUID) and the event type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from events.decode import Reason
from sources.pseudonym import Pseudonymiser
from sources.zgw.config import ZaaktypeMapping, ZgwMapping
from sources.zgw.contract import ContractEvent, Unmappable, contract_event, source_uri
from sources.zgw.models import AuditTrail, Status, StatusType, Zaak, ZaakType

AUDIT_MATCH_SECONDS: Final = 60.0
"""How far apart the audit trail entry of a change and its notification may be."""

SUBJECT_SYSTEM: Final = "zaak"
UPDATE_ACTIONS: Final = frozenset({"update", "partial_update"})


@dataclass(frozen=True, slots=True)
class ZaakFacts:
    """The zaak and its zaaktype, fetched for every notification about it."""

    zaak: Zaak
    zaaktype: ZaakType


@dataclass(frozen=True, slots=True)
class _Target:
    municipality: str
    mapping: ZaaktypeMapping
    source: str
    subject: str
    pseudonyms: Pseudonymiser


def municipality_of(bronorganisatie: str, config: ZgwMapping) -> str:
    """The slug for an RSIN, or `Unmappable` ``unknown_municipality``."""
    slug = config.municipalities.get(bronorganisatie)
    if slug is None:
        raise Unmappable(
            Reason.UNKNOWN_MUNICIPALITY,
            "bronorganisatie",
            "is not an RSIN in the ingest configuration's zgw.municipalities",
        )
    return slug


def _target(facts: ZaakFacts, config: ZgwMapping, pseudonyms: Pseudonymiser) -> _Target:
    municipality = municipality_of(facts.zaak.bronorganisatie, config)
    mapping = config.zaaktype(facts.zaaktype.url, facts.zaaktype.identificatie)
    if mapping is None:
        raise Unmappable(
            Reason.UNMAPPED_ZAAKTYPE,
            "zaaktype",
            "is neither a URL nor an identificatie in the ingest configuration's zgw.zaaktypen",
        )
    return _Target(
        municipality,
        mapping,
        source_uri(municipality, config.source_system),
        pseudonyms.subject(SUBJECT_SYSTEM, facts.zaak.uuid),
        pseudonyms,
    )


def _responds(statustype: StatusType, config: ZgwMapping) -> bool:
    rule = config.responded
    return (
        (rule.informeren and statustype.informeren)
        or statustype.url in rule.statustypen
        or statustype.omschrijving in rule.statustypen
    )


def _ordered(history: Sequence[tuple[Status, StatusType]]) -> list[tuple[Status, StatusType]]:
    unique = {status.url: (status, kind) for status, kind in history}
    return sorted(unique.values(), key=lambda pair: (pair[0].datumStatusGezet, pair[0].url))


def map_status(
    status: Status,
    statustype: StatusType,
    history: Sequence[tuple[Status, StatusType]],
    facts: ZaakFacts,
    config: ZgwMapping,
    pseudonyms: Pseudonymiser,
) -> list[ContractEvent]:
    """The events one status says, given all statuses of its zaak (this one may be missing).

    Raises `Unmappable` for an unknown RSIN or an unmapped zaaktype.
    """
    if status.statustype != statustype.url:
        raise Unmappable(
            Reason.SOURCE_INVALID, "statustype", "is not the StatusType the Status names"
        )
    target = _target(facts, config, pseudonyms)
    ordered = _ordered([*history, (status, statustype)])
    position = next(i for i, (s, _) in enumerate(ordered) if s.url == status.url)
    when = status.datumStatusGezet
    types: list[str] = []
    if position == 0:
        types.append("item.opened")
    elif ordered[position - 1][1].isEindstatus and not statustype.isEindstatus:
        types.append("item.reopened")
    if statustype.isEindstatus:
        types.append("item.closed")
    elif _responds(statustype, config):
        types.append("item.responded")
    return [
        _event(short, ("zgw-status", status.url, short), when, target, facts, config)
        for short in types
    ]


def _indicatie(resource: dict[str, Any] | None) -> bool:
    if not resource:
        return False
    opschorting = resource.get("opschorting")
    return isinstance(opschorting, dict) and opschorting.get("indicatie") is True


def map_opschorting(
    when: datetime,
    audit: Sequence[AuditTrail],
    facts: ZaakFacts,
    config: ZgwMapping,
    pseudonyms: Pseudonymiser,
) -> list[ContractEvent]:
    """``item.paused`` / ``item.resumed`` for a change of the zaak notified at ``when``.

    ``audit`` is the zaak's audit trail; the change is its update entry closest to ``when``
    (within `AUDIT_MATCH_SECONDS`) that flipped ``opschorting.indicatie``. None: no events.
    """
    flips = [
        entry
        for entry in audit
        if entry.resource == "zaak"
        and entry.actie in UPDATE_ACTIONS
        and entry.resourceUrl == facts.zaak.url
        and abs((entry.aanmaakdatum - when).total_seconds()) <= AUDIT_MATCH_SECONDS
        and _indicatie(entry.wijzigingen.oud) != _indicatie(entry.wijzigingen.nieuw)
    ]
    if not flips:
        return []
    target = _target(facts, config, pseudonyms)
    entry = min(flips, key=lambda e: (abs((e.aanmaakdatum - when).total_seconds()), e.uuid))
    short = "item.paused" if _indicatie(entry.wijzigingen.nieuw) else "item.resumed"
    return [_event(short, ("zgw-audittrail", entry.uuid, short), when, target, facts, config)]


def _event(
    short: str,
    id_parts: tuple[str, ...],
    when: datetime,
    target: _Target,
    facts: ZaakFacts,
    config: ZgwMapping,
) -> ContractEvent:
    data: dict[str, Any] = {"municipality": target.municipality}
    if short == "item.opened":
        mapping = target.mapping
        data |= {
            "kind": mapping.kind,
            "channel": config.communicatiekanalen.get(
                facts.zaak.communicatiekanaal, mapping.channel
            ),
            "category": mapping.category,
            "segment": mapping.segment,
            "source_system": config.source_system,
        }
    elif short == "item.closed":
        data["resolution"] = "afgehandeld"
    return contract_event(
        short,
        event_id=target.pseudonyms.event_id(*id_parts),
        source=target.source,
        time=when,
        subject=target.subject,
        data=data,
    )
