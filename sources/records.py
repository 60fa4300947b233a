"""What the importers build from source records: contract events, and rejections with a reason.

Shared by the file and poll mappings (`sources.calls`, `sources.fixi`, `sources.signalen`), all
pure: a record in, a list of events (dicts in the contract's CloudEvents shape) or a `Reject` out.

- `Reject` says why a record cannot be mapped: a machine-readable reason (``bad_date``,
  ``unknown_status``, ...), the field (a column name) and a fixed sentence. Never a value from
  the record, so it can be logged and written to a rejects file beside the record's line number.
- `LocalTimes` reads the time stamps of exports (``2024-03-04 09:15:02``, ``04-03-2024 09:15``,
  with or without an offset) as local time of the calendar's zone (years 2000 to 2099), and
  writes them as RFC 3339 with the offset of that moment; each local hour is computed once.
- `Municipalities` turns what a source calls a municipality (a slug, a name, a team or queue
  label that starts with or contains one) into the contract's slug.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from events.vocabulary import MAX_LABEL_LENGTH, TYPE_PREFIX

__all__ = [
    "DEFAULT_ZONE",
    "BadValue",
    "LocalTimes",
    "Municipalities",
    "Reject",
    "Skip",
    "cloud_event",
    "label",
    "parse_bool",
    "parse_seconds",
]

DEFAULT_ZONE: Final = "Europe/Amsterdam"

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reject:
    """Why a record gives no events: a reason code, the field (column) and a fixed sentence."""

    reason: str
    field: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Skip:
    """A record that holds no contract event (an agent logging in, a note): not an error."""

    why: str


class BadValue(ValueError):
    """A value that cannot be read; carries the `Reject` to report."""

    def __init__(self, reason: str, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.reject = Reject(reason, field, detail)


def cloud_event(
    *,
    event_id: str,
    source: str,
    type: str,
    time: str,
    subject: str,
    data: Mapping[str, Any],
) -> Event:
    """One contract event (structured-mode CloudEvent) with the given attributes."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": TYPE_PREFIX + type,
        "time": time,
        "subject": subject,
        "datacontenttype": "application/json",
        "data": dict(data),
    }


# Day-first dates are what Dutch exports write (04-03-2024); ISO is what systems write.
_DATE_FORMATS: Final = (
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "%Y-%m-%d"),
    (re.compile(r"^\d{1,2}-\d{1,2}-\d{4}$"), "%d-%m-%Y"),
    (re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$"), "%d/%m/%Y"),
)
_TIME_FORMATS: Final = ("%H:%M:%S", "%H:%M")
MIN_YEAR: Final = 2000
MAX_YEAR: Final = 2099
_SIXTY: Final = {f"{n:02d}": n for n in range(60)}  # checks and converts minutes and seconds
_MINUTES_SECONDS: Final = [f"{n // 60:02d}:{n % 60:02d}" for n in range(3600)]
_UNKNOWN: Final = ("", "")
_DATE_DETAIL: Final = "is not a date and time (YYYY-MM-DD HH:MM[:SS] or DD-MM-YYYY HH:MM[:SS])"


class LocalTimes:
    """Reads export time stamps as local time of one zone; writes RFC 3339 with the offset.

    Times travel as UTC epoch seconds (`epoch`, `text`), so adding a wait is an addition and a
    DST change needs no care. Both directions keep the work per local hour: the epoch at which
    an hour starts and the offset in force are computed once (a month's export holds a few
    hundred hours), so a row costs slices and dict lookups instead of zone conversions.
    """

    __slots__ = ("_hour_starts", "_hours", "zone")

    def __init__(self, zone: str = DEFAULT_ZONE) -> None:
        self.zone = ZoneInfo(zone)
        self._hour_starts: dict[str, float] = {}
        self._hours: dict[int, tuple[str, str] | None] = {}

    def parse(self, text: str, field: str, *, default_utc: bool = False) -> datetime:
        """An aware datetime for ``text``; without an offset it is local time of the zone (UTC
        with ``default_utc``). Raises `BadValue` (``missing_value``, ``bad_date``)."""
        text = text.strip()
        if not text:
            raise BadValue("missing_value", field, "is empty")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = self._day_first(text, field)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC if default_utc else self.zone)
        if not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise BadValue("bad_date", field, f"lies outside the years {MIN_YEAR} to {MAX_YEAR}")
        return moment

    def epoch(self, text: str, field: str, *, default_utc: bool = False) -> float:
        """UTC epoch seconds of ``text`` (see `parse`); ``YYYY-MM-DD HH:MM:SS`` the fast way."""
        if len(text) == 19 and text[13] == ":" and text[16] == ":":
            minute = _SIXTY.get(text[14:16])
            second = _SIXTY.get(text[17:19])
            if minute is not None and second is not None:
                hour = text[:13]
                start = self._hour_starts.get(hour)
                if start is None:
                    start = self.parse(hour + ":00:00", field, default_utc=default_utc).timestamp()
                    if len(self._hour_starts) < 100_000:
                        self._hour_starts[hour] = start
                return start + minute * 60 + second
        return self.parse(text, field, default_utc=default_utc).timestamp()

    def _day_first(self, text: str, field: str) -> datetime:
        day, _, clock = text.replace("T", " ").partition(" ")
        for pattern, day_format in _DATE_FORMATS:
            if pattern.match(day):
                for time_format in _TIME_FORMATS if clock else ("",):
                    try:
                        fmt = f"{day_format} {time_format}" if clock else day_format
                        return datetime.strptime(text.replace("T", " "), fmt)
                    except ValueError:
                        continue
        raise BadValue("bad_date", field, _DATE_DETAIL)

    def rfc3339(self, moment: datetime) -> str:
        """``moment`` in the zone as ``YYYY-MM-DDTHH:MM:SS±HH:MM`` (whole seconds)."""
        return moment.astimezone(self.zone).isoformat(timespec="seconds")

    def text(self, epoch: float) -> str:
        """RFC 3339 in the zone of UTC epoch seconds (whole seconds, rounded down)."""
        seconds = int(epoch // 1)
        hour, rest = divmod(seconds, 3600)
        known = self._hours.get(hour, _UNKNOWN)
        if known is _UNKNOWN:
            local = datetime.fromtimestamp(hour * 3600, self.zone).isoformat(timespec="seconds")
            # an offset of part of an hour moves the minutes: no shortcut for that hour
            known = (local[:14], local[19:]) if local[14:19] == "00:00" else None
            if len(self._hours) < 100_000:
                self._hours[hour] = known
        if known is None:
            return datetime.fromtimestamp(seconds, self.zone).isoformat(timespec="seconds")
        return known[0] + _MINUTES_SECONDS[rest] + known[1]


def parse_seconds(text: str, field: str) -> float | None:
    """A duration in seconds (``12``, ``12.5``, ``0:01:05``); None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            value = 0.0
            for part in parts:
                value = value * 60 + part
        else:
            value = float(text.replace(",", "."))
    except ValueError:
        raise BadValue("bad_number", field, "is not a number of seconds") from None
    if not 0 <= value < 1e7:
        raise BadValue("bad_number", field, "is not a number of seconds from 0 up")
    return value


_TRUE: Final = frozenset({"1", "true", "ja", "yes", "y", "j", "waar"})
_FALSE: Final = frozenset({"0", "false", "nee", "no", "n", "onwaar"})


def parse_bool(text: str, field: str) -> bool | None:
    """``ja``/``nee``, ``true``/``false``, ``1``/``0`` (any case); None when empty."""
    value = text.strip().lower()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadValue("bad_value", field, "is not a yes/no value (ja, nee, true, false, 1, 0)")


_NOT_SLUG: Final = re.compile(r"[^a-z0-9]+")


def label(text: str) -> str:
    """A category or queue label from a source's name: lower case ASCII (accents dropped: ``é``
    is ``e``), words joined by ``-``."""
    plain = unicodedata.normalize("NFKD", text.strip().lower()).encode("ascii", "ignore")
    slug = _NOT_SLUG.sub("-", plain.decode("ascii")).strip("-")
    return slug[:MAX_LABEL_LENGTH] or "overig"


class Municipalities:
    """The contract's slug for what a source calls a municipality.

    ``names`` maps each slug to its display name (``bergen`` → ``Bergen (NH)``). `of` accepts
    the slug or the name (any case); `within` finds one at the start of, or as a word in, a
    label such as a team (``Castricum - Groen``) or a queue (``castricum-kcc``, ``KCC Heiloo``).
    """

    def __init__(self, names: Mapping[str, str], aliases: Mapping[str, str] | None = None) -> None:
        self._exact: dict[str, str] = {}
        for slug, name in names.items():
            self._exact[slug.lower()] = slug
            self._exact[name.lower()] = slug
            short = re.sub(r"\s*\(.*\)$", "", name).lower()
            self._exact.setdefault(short, slug)
        for alias, slug in (aliases or {}).items():
            self._exact[alias.strip().lower()] = slug
        words = sorted(self._exact, key=len, reverse=True)
        self._word = re.compile(
            r"(?<![a-z0-9])(" + "|".join(re.escape(w) for w in words) + r")(?![a-z0-9])"
        )
        self._cache: dict[str, str | None] = {}

    @property
    def slugs(self) -> Iterable[str]:
        return sorted(set(self._exact.values()))

    def of(self, text: str) -> str | None:
        """The slug ``text`` names exactly (slug, name or alias, any case), or None."""
        return self._exact.get(text.strip().lower())

    def within(self, text: str) -> str | None:
        """The slug of the first municipality named in ``text`` as a word, or None."""
        found = self._cache.get(text)
        if found is None and text not in self._cache:
            match = self._word.search(text.strip().lower())
            found = self._exact[match.group(1)] if match else None
            if len(self._cache) < 10_000:
                self._cache[text] = found
        return found
