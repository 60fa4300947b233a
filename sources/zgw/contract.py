"""The contract's CloudEvents as the source adapters write them, and why a source record cannot be.

`contract_event` builds one event (contract section 2) as a plain dict; `encode` turns it into
the bytes that go to Kafka. `Unmappable` is what a mapping raises for a record that will never
map (an unknown RSIN, an unmapped zaaktype): the ingest service dead-letters it with the reason,
field and fixed detail it carries, never with a value from the record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from events.decode import Reason
from events.vocabulary import SPECVERSION, TYPE_PREFIX

ContractEvent = dict[str, Any]


class Unmappable(Exception):
    """A source record that cannot become contract events; `reason` is a `Reason` code."""

    def __init__(self, reason: Reason, field: str | None, detail: str) -> None:
        super().__init__(f"{reason.value}: {field}: {detail}")
        self.reason = reason
        self.field = field
        self.detail = detail


def rfc3339(moment: datetime) -> str:
    """``moment`` as RFC 3339 in UTC with a ``Z`` (what the decoder reads fastest)."""
    if moment.tzinfo is None:
        raise ValueError("a source time without offset names no moment")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{moment.microsecond:06d}Z" if moment.microsecond else "Z"
    )


def contract_event(
    short_type: str,
    *,
    event_id: str,
    source: str,
    time: datetime,
    subject: str,
    data: dict[str, Any],
) -> ContractEvent:
    """One contract event; ``data`` must hold ``municipality`` (and the type's required fields)."""
    return {
        "specversion": SPECVERSION,
        "id": event_id,
        "source": source,
        "type": TYPE_PREFIX + short_type,
        "time": rfc3339(time),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }


def encode(event: ContractEvent) -> bytes:
    """The event's bytes on Kafka (UTF-8 JSON, keys in a fixed order)."""
    return orjson.dumps(event)


def source_uri(municipality: str, system: str) -> str:
    """The contract's ``source`` of events from ``system`` for ``municipality``."""
    return f"urn:nld:gemeente:{municipality}:{system}"
