"""Dead letters of the ingest service: the worker's shape, keeping only what fixes the cause.

The worker's dead letters (`streams.live.outbox.dead_letter_message`) carry the reason, field and
detail in headers and the event's bytes as the value. The ingest service keeps that shape on the
same topic (``CONTACTMON_DLQ_TOPIC``):

- headers ``reason``, ``field``, ``detail`` (a fixed sentence, never a value from the message),
  ``source.route`` (``/cloudevents`` or ``/notificaties``) and ``source.subscription`` (the
  sender's configured name) instead of the worker's topic, partition and offset;
- the value: for a contract event, the decoder's rejection bytes (the event as sent, or its
  redacted copy when it held personal data); for a notification, a summary that says what to
  configure — ``kanaal``, ``resource``, ``actie``, ``aanmaakdatum``, the ``bronorganisatie`` and
  ``zaaktype`` kenmerken, and the keyed pseudonym of the zaak (or contact, task) as ``subject`` —
  with ``hoofdObject`` and ``resourceUrl`` replaced by ``[verwijderd]``: raw source identifiers do
  not reach Kafka. A body that is not JSON is kept as its size only;
- the key: ``ingest:<reason>:<digest of the body>``, the same when the sender retries, so a
  consumer of the topic keeps one per key.

Never in a dead letter: the Authorization header, the credentials, any other kenmerk (free text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any, Final

import orjson

from events.decode import Rejection
from events.personal import REDACTED
from sources.pseudonym import Pseudonymiser
from sources.zgw.contract import Unmappable
from sources.zgw.models import Notificatie

KEPT_KENMERKEN: Final = ("bronorganisatie", "zaaktype")
SUBJECT_SYSTEMS: Final = {
    "zaken": "zaak",
    "klantcontacten": "klantcontact",
    "internetaken": "internetaak",
}


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record to produce (an event or a dead letter)."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def _key(reason: str, body: bytes) -> bytes:
    return f"ingest:{reason}:{blake2b(body, digest_size=12).hexdigest()}".encode()


def _headers(
    reason: str, field_name: str | None, detail: str, route: str, subscription: str
) -> list[tuple[str, bytes]]:
    return [
        ("reason", reason.encode()),
        ("field", (field_name or "").encode()),
        ("detail", detail.encode()),
        ("source.route", route.encode()),
        ("source.subscription", subscription.encode()),
    ]


def rejected_event(rejection: Rejection, *, topic: str, route: str, subscription: str) -> Record:
    """A contract event the decoder refused: its rejection bytes, as the worker keeps them."""
    r = rejection
    return Record(
        topic,
        _key(r.reason.value, r.raw),
        r.raw,
        _headers(r.reason.value, r.field, r.detail, route, subscription),
    )


def notification_summary(
    notificatie: Notificatie | None, body: bytes, pseudonyms: Pseudonymiser
) -> bytes:
    """What a dead letter keeps of a notification (see the module doc)."""
    if notificatie is None:
        return orjson.dumps({"body": REDACTED, "body_bytes": len(body)})
    summary: dict[str, Any] = {
        "kanaal": notificatie.kanaal,
        "resource": notificatie.resource,
        "actie": notificatie.actie,
        "aanmaakdatum": notificatie.aanmaakdatum.isoformat(),
        "hoofdObject": REDACTED,
        "resourceUrl": REDACTED,
        "kenmerken": {
            k: notificatie.kenmerken[k]
            for k in KEPT_KENMERKEN
            if isinstance(notificatie.kenmerken.get(k), str)
        },
    }
    system = SUBJECT_SYSTEMS.get(notificatie.kanaal)
    if system is not None:
        uuid = notificatie.hoofdObject.rstrip("/").rsplit("/", 1)[-1]
        summary["subject"] = pseudonyms.subject(system, uuid)
    return orjson.dumps(summary)


def unmappable_notification(
    problem: Unmappable,
    notificatie: Notificatie | None,
    body: bytes,
    pseudonyms: Pseudonymiser,
    *,
    topic: str,
    route: str,
    subscription: str,
) -> Record:
    """A notification that will never map, as a dead letter."""
    reason = problem.reason.value
    return Record(
        topic,
        _key(reason, body),
        notification_summary(notificatie, body, pseudonyms),
        _headers(reason, problem.field, problem.detail, route, subscription),
    )
