"""Fixi report exports (CSV) to item events: pure, one row in, its events or a `Reject` out.

Fixi offers no public API, only exports: one row per report with its number, when it was made,
its current status, the date of the first public reply and of closing, its category and
subcategory, the team and how it came in. Column names differ per environment and version, so
they come from a mapping file (`FixiMapping`; the default ships as ``sources/fixi_mapping.yaml``).

A row gives:

- ``item.opened`` at the report's date: kind ``melding``, the channel of its source (``Bron``),
  the category label of its subcategory (else its category), ``source_system`` ``fixi`` and
  the team as a label;
- ``item.responded`` at the first public reply, when there is one;
- ``item.closed`` at the closing date, when the status is a closing one (``afgehandeld``,
  ``afgewezen``: resolution ``afgehandeld``; ``ingetrokken``: ``ingetrokken``).

An unknown status is rejected (``unknown_status``), as are bad dates, a closing status without a
closing date, and a team or column that names no configured municipality. Subjects and ids are
keyed HMACs of the report number (``p.subject("fixi", number)``, ``p.event_id("fixi", number,
type)``), so an export that overlaps an earlier one gives the same events again: duplicates that
the monitor ignores; a report closed since adds only its new events. The free-text and reporter
columns of an export are never read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from events.vocabulary import CHANNELS, RESOLUTIONS
from sources.calls.common import Columns, MissingColumns
from sources.pseudonym import Pseudonymiser
from sources.records import BadValue, LocalTimes, Municipalities, Reject, Skip, cloud_event, label

__all__ = ["DEFAULT_MAPPING", "FixiMapping", "FixiProfile", "MappingError", "MissingColumns"]

DEFAULT_MAPPING: Final = Path(__file__).with_name("fixi_mapping.yaml")
SYSTEM: Final = "fixi"


class MappingError(ValueError):
    """The mapping file cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FixiColumns(_Strict):
    report_number: str
    created: str
    status: str
    first_reply: str | None = None
    closed: str | None = None
    category: str | None = None
    subcategory: str | None = None
    team: str | None = None
    channel: str | None = None
    municipality: str | None = None


class Close(_Strict):
    close: str

    @field_validator("close")
    @classmethod
    def _resolution(cls, value: str) -> str:
        if value not in RESOLUTIONS:
            raise ValueError(f"must be one of {', '.join(sorted(RESOLUTIONS))}")
        return value


class FixiMapping(_Strict):
    """Which column holds what, and what each status and source means."""

    columns: FixiColumns
    statuses: dict[str, Literal["open"] | Close] = Field(min_length=1)
    channels: dict[str, str] = Field(default_factory=dict)
    default_channel: str = "webformulier"

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = sorted(v for v in value.values() if v not in CHANNELS)
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: not a contract channel")
        return {k.strip().lower(): v for k, v in value.items()}

    @field_validator("default_channel")
    @classmethod
    def _default_channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"{value}: not a contract channel")
        return value

    @classmethod
    def load(cls, path: Path | None = None) -> FixiMapping:
        """The mapping in ``path`` (default: the shipped one); MappingError names what is wrong."""
        path = DEFAULT_MAPPING if path is None else path
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise MappingError(f"cannot read the mapping file {path} ({error.strerror})") from None
        except yaml.YAMLError as error:
            raise MappingError(f"the mapping file {path} is not YAML: {error}") from None
        try:
            return cls.model_validate(raw)
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise MappingError(f"the mapping file {path}: {where}: {first['msg']}") from None

    def required(self) -> list[str]:
        c = self.columns
        return [c.report_number, c.created, c.status, *([c.closed] if c.closed else [])]

    def optional(self) -> list[str]:
        c = self.columns
        names = (c.first_reply, c.category, c.subcategory, c.team, c.channel, c.municipality)
        return [n for n in names if n]


class FixiProfile:
    """Maps rows of a Fixi export with a `FixiMapping`."""

    name = "fixi"

    def __init__(
        self,
        mapping: FixiMapping,
        pseudonymiser: Pseudonymiser,
        municipalities: Municipalities,
        times: LocalTimes,
        *,
        municipality: str | None = None,
    ) -> None:
        self.mapping = mapping
        self.p = pseudonymiser
        self.municipalities = municipalities
        self.times = times
        self.fixed_municipality = municipality
        self.statuses: dict[str, str | None] = {
            k.strip().lower(): (None if v == "open" else v.close)
            for k, v in mapping.statuses.items()
        }
        self.columns: Columns | None = None

    def header(self, header: Sequence[str]) -> None:
        """Check the header; MissingColumns names the columns the mapping needs and lacks."""
        self.columns = Columns(header, self.mapping.required(), self.mapping.optional())

    def row(self, row: Sequence[str]) -> list[dict[str, Any]] | Reject | Skip:
        assert self.columns is not None, "header() first"
        try:
            return self._events(row, self.columns)
        except BadValue as bad:
            return bad.reject

    def _events(self, row: Sequence[str], c: Columns) -> list[dict[str, Any]]:
        names = self.mapping.columns
        number = c.get(row, names.report_number).strip()
        if not number:
            raise BadValue("missing_value", names.report_number, "is empty")
        status_text = c.get(row, names.status).strip().lower()
        if status_text not in self.statuses:
            if not status_text:
                raise BadValue("missing_value", names.status, "is empty")
            raise BadValue("unknown_status", names.status, "is not a status the mapping knows")
        closing = self.statuses[status_text]
        team = c.get(row, names.team).strip() if names.team else ""
        municipality = self._municipality(row, c, team)
        created = self.times.epoch(c.get(row, names.created), names.created)
        reply_text = c.get(row, names.first_reply) if names.first_reply else ""
        replied = (
            self.times.epoch(reply_text, names.first_reply or "") if reply_text.strip() else None
        )
        closed = None
        if closing is not None:
            if not names.closed or not c.get(row, names.closed).strip():
                field = names.closed or "closed"
                raise BadValue("missing_value", field, "is empty for a closing status")
            closed = self.times.epoch(c.get(row, names.closed), names.closed)
        for moment, column in ((replied, names.first_reply), (closed, names.closed)):
            if moment is not None and moment < created:
                raise BadValue("bad_order", column, "lies before the report was made")
        category = c.get(row, names.subcategory).strip() if names.subcategory else ""
        if not category and names.category:
            category = c.get(row, names.category).strip()
        channel_text = c.get(row, names.channel).strip().lower() if names.channel else ""
        opened: dict[str, Any] = {
            "kind": "melding",
            "channel": self.mapping.channels.get(channel_text, self.mapping.default_channel),
            "category": label(category) if category else "overig",
            "source_system": SYSTEM,
        }
        if team:
            opened["team"] = label(team)
        subject = self.p.subject(SYSTEM, number)
        out = [self._event(number, subject, "item.opened", created, municipality, opened)]
        if replied is not None:
            out.append(self._event(number, subject, "item.responded", replied, municipality, {}))
        if closed is not None and closing is not None:
            resolution = {"resolution": closing}
            out.append(
                self._event(number, subject, "item.closed", closed, municipality, resolution)
            )
        return out

    def _municipality(self, row: Sequence[str], c: Columns, team: str) -> str:
        if self.fixed_municipality is not None:
            return self.fixed_municipality
        column = self.mapping.columns.municipality
        text, field = (c.get(row, column), column) if column else (team, self.mapping.columns.team)
        slug = self.municipalities.of(text) or self.municipalities.within(text)
        if slug is None:
            if not text.strip():
                raise BadValue("missing_value", field, "is empty: it names the municipality")
            raise BadValue("unknown_municipality", field, "names none of the municipalities")
        return slug

    def _event(
        self,
        number: str,
        subject: str,
        type: str,
        moment: float,
        municipality: str,
        data: Mapping[str, Any],
    ) -> dict[str, Any]:
        return cloud_event(
            event_id=self.p.event_id(SYSTEM, number, type),
            source=f"urn:nld:gemeente:{municipality}:{SYSTEM}",
            type=type,
            time=self.times.text(moment),
            subject=subject,
            data={"municipality": municipality, **data},
        )
