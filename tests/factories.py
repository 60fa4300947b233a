"""Small builders for contract events in tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

AMS = ZoneInfo("Europe/Amsterdam")
_ids = itertools.count(1)


def local(text: str) -> datetime:
    """An Amsterdam-local datetime from 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=AMS)


def ts(text: str) -> float:
    """UTC epoch seconds of an Amsterdam-local 'YYYY-MM-DD HH:MM'."""
    return local(text).timestamp()


def event(
    etype: str,
    subject: str | None,
    when: str,
    municipality: str = "castricum",
    *,
    id: str | None = None,
    source: str | None = None,
    **data: Any,
) -> bytes:
    """One contract event as raw bytes; ``when`` is Amsterdam-local 'YYYY-MM-DD HH:MM'."""
    obj: dict[str, Any] = {
        "specversion": "1.0",
        "id": id or f"evt-{next(_ids)}",
        "source": source or f"urn:nld:gemeente:{municipality}:test",
        "type": f"nl.contactmonitor.{etype}",
        "time": local(when).isoformat(),
        "datacontenttype": "application/json",
        "data": {"municipality": municipality, **data},
    }
    if subject is not None:
        obj["subject"] = subject
    return orjson.dumps(obj)


def opened(
    subject: str, when: str, kind: str = "melding", channel: str = "app", **kw: Any
) -> bytes:
    return event("item.opened", subject, when, kind=kind, channel=channel, **kw)
