"""An incoming body on ``POST /notificaties`` as one `Notificatie`, whichever form it came in.

Three forms arrive at the same callback URL:

1. The Notificaties API message (``kanaal``, ``hoofdObject``, ``resource``, ``resourceUrl``,
   ``actie``, ``aanmaakdatum``, ``kenmerken``), as Open Notificaties sends it by default.
2. Open Notificaties' CloudEvents form (an abonnement with "send cloudevents"): ``type``
   ``nl.overheid.<kanaal>.<resource>.<actie>``, ``time`` the aanmaakdatum, ``data`` the kenmerken
   plus ``hoofdObject``, and ``subject`` only the last path segment of the resource URL (its
   UUID). The resource URL is rebuilt beside the hoofdObject: ``…/zaken/{uuid}`` with resource
   ``status`` and subject ``{s}`` gives ``…/statussen/{s}`` (`COLLECTIONS`).
3. Open Zaak's experimental events ``nl.overheid.zaken.zaak-<event>``: ``subject`` the zaak's
   UUID, ``dataref`` its (often relative) URL. A change of the zaak (``zaak-opgeschort``,
   ``zaak-gemuteerd``, ``zaak-bijgewerkt``) reads as ``zaak`` / ``partial_update``; the others as
   ``zaak`` / ``<event>``, which the mapping does not use.

A body that fits none of them raises `Unmappable` with ``missing_field`` or ``invalid_field`` and
the offending field, never its value.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urljoin

from pydantic import ValidationError

from events.decode import Reason
from sources.zgw.contract import Unmappable
from sources.zgw.models import Notificatie

CLOUDEVENT_PREFIX: Final = "nl.overheid."
COLLECTIONS: Final = {
    "zaak": "zaken",
    "status": "statussen",
    "klantcontact": "klantcontacten",
    "internetaak": "internetaken",
}
"""Resource name → the collection in its URL (Zaken API, Klantinteracties API)."""
ZAAK_CHANGES: Final = frozenset({"zaak-opgeschort", "zaak-gemuteerd", "zaak-bijgewerkt"})


def _field_of(error: ValidationError) -> tuple[Reason, str]:
    first = error.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    reason = Reason.MISSING_FIELD if first["type"] == "missing" else Reason.INVALID_FIELD
    return reason, field


def validated(model: type[Notificatie], obj: dict[str, Any]) -> Notificatie:
    """``obj`` validated as a `Notificatie`; `Unmappable` names the first bad field."""
    try:
        return model.model_validate(obj)
    except ValidationError as error:
        reason, field = _field_of(error)
        raise Unmappable(reason, field, "does not fit the Notificaties API's message") from None


def sibling_url(hoofd_object: str, resource: str, uuid: str) -> str:
    """The URL of ``resource`` ``uuid`` in the same API as ``hoofd_object``."""
    collection = COLLECTIONS.get(resource)
    if collection is None:
        raise Unmappable(
            Reason.INVALID_FIELD, "type", "names a resource whose URL cannot be rebuilt"
        )
    base, _, _ = hoofd_object.rstrip("/").rsplit("/", 2)
    return f"{base}/{collection}/{uuid}"


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if value is None:
        raise Unmappable(Reason.MISSING_FIELD, name, "is required")
    if type(value) is not str or not value:
        raise Unmappable(Reason.INVALID_FIELD, name, "must be a non-empty string")
    if name == "subject" and "/" in value:
        raise Unmappable(Reason.INVALID_FIELD, name, "must be the resource's UUID, not a path")
    return value


def from_cloudevent(obj: dict[str, Any], zaken_api_root: str | None) -> Notificatie:
    """The `Notificatie` a CloudEvent of form 2 or 3 (see the module doc) stands for."""
    kind = _text(obj, "type")
    if not kind.startswith(CLOUDEVENT_PREFIX):
        raise Unmappable(Reason.UNKNOWN_TYPE, "type", "is not an nl.overheid notification type")
    parts = kind.removeprefix(CLOUDEVENT_PREFIX).split(".")
    time = _text(obj, "time")
    subject = _text(obj, "subject")
    raw_data = obj.get("data")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    if len(parts) == 3:
        kanaal, resource, actie = parts
        hoofd_object = data.get("hoofdObject")
        if type(hoofd_object) is not str or not hoofd_object:
            raise Unmappable(Reason.MISSING_FIELD, "data.hoofdObject", "is required")
        kenmerken = {k: v for k, v in data.items() if k != "hoofdObject"}
        resource_url = sibling_url(hoofd_object, resource, subject)
    elif len(parts) == 2 and parts[0] == "zaken" and parts[1].startswith("zaak-"):
        kanaal, resource = "zaken", "zaak"
        actie = "partial_update" if parts[1] in ZAAK_CHANGES else parts[1]
        dataref = obj.get("dataref")
        if type(dataref) is str and dataref.startswith(("http://", "https://")):
            resource_url = dataref
        elif zaken_api_root is not None:
            resource_url = f"{zaken_api_root.rstrip('/')}/zaken/{subject}"
            if type(dataref) is str and dataref.startswith("/"):
                resource_url = urljoin(zaken_api_root, dataref)
        else:
            raise Unmappable(
                Reason.INVALID_FIELD,
                "dataref",
                "is not an absolute URL and no Zaken API root is configured to resolve it",
            )
        hoofd_object, kenmerken = resource_url, {}
    else:
        raise Unmappable(Reason.UNKNOWN_TYPE, "type", "is not a notification type this maps")
    return validated(
        Notificatie,
        {
            "kanaal": kanaal,
            "hoofdObject": hoofd_object,
            "resource": resource,
            "resourceUrl": resource_url,
            "actie": actie,
            "aanmaakdatum": time,
            "kenmerken": kenmerken,
        },
    )


def parse_notification(obj: object, zaken_api_root: str | None = None) -> Notificatie:
    """Any of the three forms as a `Notificatie`; `Unmappable` when it is none of them."""
    if not isinstance(obj, dict):
        raise Unmappable(Reason.NOT_OBJECT, None, "is not a JSON object")
    if "specversion" in obj:
        return from_cloudevent(obj, zaken_api_root)
    return validated(Notificatie, obj)
